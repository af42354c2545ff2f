//! Forwarding one request: pick an instance, rewrite headers, send it over the pooled client,
//! retry once on a connect failure, and stream the answer back.
//!
//! Bodies are never buffered. The request body sits in a [`ReclaimBody`] so that, when the
//! connection to the first instance fails before any byte of it was read, the same body can go to
//! another instance. This module does not accept connections (see `server`) nor choose which
//! instances are in service (the published routing table does).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;

use crate::error::{ProxyError, error_response};
use crate::headers;
use crate::routing::normalize_host;
use crate::{LoadBalancer, RouteState};

/// The body of every response the load balancer sends: streamed from an instance, or its own.
pub type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// Attempts per request at most: the first instance and one other after a connect failure.
const MAX_ATTEMPTS: usize = 2;

/// Handles one client request end to end; never fails, errors become responses.
pub(crate) async fn handle(
    lb: &LoadBalancer,
    req: Request<Incoming>,
    client: SocketAddr,
) -> Response<ProxyBody> {
    let Some(host) = request_host(&req) else {
        return unrouted(lb, &ProxyError::MissingHost);
    };
    let published = lb.published.load_full();
    let Some(state) = published.routes.get(&host) else {
        return unrouted(lb, &ProxyError::UnknownHost { host });
    };
    let response = forward(lb, state, req, client).await.unwrap_or_else(|err| {
        tracing::debug!(%host, error = %err, "load balancer answered itself");
        error_response(&err)
    });
    state.totals.record(response.status());
    response
}

fn unrouted(lb: &LoadBalancer, err: &ProxyError) -> Response<ProxyBody> {
    let response = error_response(err);
    lb.unrouted.record(response.status());
    response
}

/// The request's host, lowercase and without port: the URI authority (HTTP/2 `:authority`, or an
/// absolute-form HTTP/1 target, which RFC 9112 says wins over `Host`), else the `Host` header.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    if let Some(authority) = req.uri().authority() {
        return Some(normalize_host(authority.host()));
    }
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let host = normalize_host(host);
    (!host.is_empty()).then_some(host)
}

async fn forward(
    lb: &LoadBalancer,
    state: &RouteState,
    mut req: Request<Incoming>,
    client: SocketAddr,
) -> Result<Response<ProxyBody>, ProxyError> {
    let route = &state.route;
    if route.upstreams.is_empty() {
        return Err(ProxyError::NoInstance {
            app: route.app.clone(),
            env: route.env.clone(),
        });
    }
    let upgrade = headers::requested_upgrade(req.headers())
        .filter(|_| req.version() == Version::HTTP_11)
        .map(|protocol| (protocol, hyper::upgrade::on(&mut req)));

    let (mut parts, body) = req.into_parts();
    let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
        let authority = parts.uri.authority()?;
        HeaderValue::from_str(authority.as_str()).ok()
    });
    headers::strip_hop_by_hop(&mut parts.headers);
    // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`; instances expect `a.b.c.d`.
    let client_ip = client.ip().to_canonical();
    headers::add_forwarding(&mut parts.headers, client_ip, original_host.as_ref());
    if let Some(host) = &original_host {
        // HTTP/2 clients send `:authority` instead of `Host`; instances speak HTTP/1.1.
        parts.headers.insert(header::HOST, host.clone());
    }
    if let Some((protocol, _)) = &upgrade {
        headers::restore_upgrade(&mut parts.headers, protocol.clone());
    }

    let slot = Arc::new(Mutex::new(Some(body)));
    let count = route.upstreams.len();
    let first = state.next.fetch_add(1, Ordering::Relaxed);
    let attempts = count.min(MAX_ATTEMPTS);
    for attempt in 0..attempts {
        let index = (first + attempt) % count;
        let upstream = &route.upstreams[index];
        let counters = &state.upstreams[index];
        let outgoing = upstream_request(&parts, upstream.addr, ReclaimBody::new(slot.clone()))?;
        let sent = tokio::time::timeout(lb.config.response_timeout, lb.client.request(outgoing));
        let result = match sent.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(source)) if source.is_connect() => {
                counters.record_connect_failure();
                let can_retry = attempt + 1 < attempts && lock(&slot).is_some();
                if can_retry {
                    tracing::debug!(instance = %upstream.instance, error = %source, "connect failed, trying another instance");
                    continue;
                }
                Err(ProxyError::Connect {
                    instance: upstream.instance.clone(),
                    source,
                })
            }
            Ok(Err(source)) => Err(ProxyError::Upstream {
                instance: upstream.instance.clone(),
                source,
            }),
            Err(_elapsed) => Err(ProxyError::Timeout {
                instance: upstream.instance.clone(),
                after: lb.config.response_timeout,
            }),
        };
        return match result {
            Ok(response) => {
                counters.record(response.status());
                Ok(client_response(
                    response,
                    upgrade.map(|(_, on_upgrade)| on_upgrade),
                ))
            }
            Err(err) => {
                counters.record(err.status());
                Err(err)
            }
        };
    }
    unreachable!("the last attempt always returns")
}

/// Builds the request to one instance from the client request's (already rewritten) head.
fn upstream_request(
    parts: &Parts,
    addr: SocketAddr,
    body: ReclaimBody,
) -> Result<Request<ReclaimBody>, ProxyError> {
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let uri = Uri::builder()
        .scheme("http")
        .authority(addr.to_string())
        .path_and_query(path)
        .build()
        .map_err(|_| ProxyError::InvalidTarget)?;
    let mut request = Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    // Instances speak HTTP/1.1 whatever the client spoke.
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = parts.headers.clone();
    Ok(request)
}

/// Turns an instance's response into the client's: hop-by-hop headers out, body streamed, and
/// for a `101 Switching Protocols` the two upgraded connections joined.
fn client_response(
    mut response: Response<Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ProxyBody> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let protocol = response.headers().get(header::UPGRADE).cloned();
    headers::strip_hop_by_hop(response.headers_mut());
    if let (true, Some(client_upgrade), Some(protocol)) = (switching, client_upgrade, protocol) {
        headers::restore_upgrade(response.headers_mut(), protocol);
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
    }
    response.map(|body| body.boxed_unsync())
}

/// Copies bytes both ways between an upgraded client connection and an upgraded instance
/// connection until either side closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(err) => {
            tracing::debug!(error = %err, "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %err, "upgraded connection ended with an error");
    }
}

fn lock(slot: &Mutex<Option<Incoming>>) -> MutexGuard<'_, Option<Incoming>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request body that stays in a shared slot until the client first polls it.
///
/// The legacy client polls the body only once it has a connection, so after a connect failure
/// the body is still in the slot and the next attempt can take it. The lock is per request and
/// never contended: attempts run one after another.
pub(crate) struct ReclaimBody {
    slot: Arc<Mutex<Option<Incoming>>>,
    taken: Option<Incoming>,
}

impl ReclaimBody {
    fn new(slot: Arc<Mutex<Option<Incoming>>>) -> Self {
        Self { slot, taken: None }
    }
}

impl Body for ReclaimBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if this.taken.is_none() {
            this.taken = lock(&this.slot).take();
        }
        match &mut this.taken {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.taken {
            Some(body) => body.is_end_stream(),
            None => lock(&self.slot).as_ref().is_none_or(Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.taken {
            Some(body) => body.size_hint(),
            None => lock(&self.slot)
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), Body::size_hint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_from_authority_then_header() {
        let req = Request::builder()
            .uri("http://Abs.Example:81/x")
            .header("host", "other.example")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req).unwrap(), "abs.example");
        let req = Request::builder()
            .uri("/x")
            .header("host", "App.Example:8080")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req).unwrap(), "app.example");
        let req = Request::builder().uri("/x").body(()).unwrap();
        assert!(request_host(&req).is_none());
        let req = Request::builder()
            .uri("/x")
            .header("host", "")
            .body(())
            .unwrap();
        assert!(request_host(&req).is_none());
    }
}
