//! Forwarding one request: pick an instance, rewrite headers in place, send it over a pooled
//! connection (the direct path of `direct.rs` for requests without a body, hyper's client for the
//! rest), retry once on a connect failure (and, for a safe request without a body, on a 502, 503
//! or 504 from the instance), stream the answer back, and record it in the metrics.
//!
//! Bodies are never buffered. A connection to the instance is obtained before the request is
//! built, so when connecting fails nothing of the request has been touched and it can go to
//! another instance as it is. This module does not accept connections (see `server`), keep
//! connections (see `pool`) nor choose which instances are in service (the published table does).

use std::borrow::Cow;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;

use crate::LoadBalancer;
use crate::body::{BoxError, ProxyBody};
use crate::direct::{self, DirectBody, DirectConn};
use crate::error::{ProxyError, error_response};
use crate::flight::{Flight, MeteredBody};
use crate::pool::{self, PooledBody};
use crate::published::RouteState;
use crate::routing::normalize_host;
use crate::{balance, headers};
use hyper::client::conn::http1::SendRequest;

/// A connection to an instance: hyper's client for requests with a body or an upgrade, the
/// direct path (`direct.rs`) for the rest; `bool` says the direct one was reused.
enum Conn {
    Hyper(SendRequest<Incoming>),
    Direct(DirectConn, bool),
}

/// An instance's response head, with its body still to stream.
enum Answer {
    Hyper(Response<PooledBody>),
    Direct(Response<DirectBody>),
}

impl Answer {
    fn status(&self) -> StatusCode {
        match self {
            Answer::Hyper(r) => r.status(),
            Answer::Direct(r) => r.status(),
        }
    }
}

/// Attempts per request at most: the first instance and one other after a connect failure.
const MAX_ATTEMPTS: usize = 2;

/// Handles one client request end to end; never fails, errors become responses.
///
/// `client_ip` is the client's address already rendered as a header value, once per connection.
pub(crate) async fn handle(
    lb: &LoadBalancer,
    req: Request<Incoming>,
    client_ip: &crate::headers::ClientAddr,
    activity: Option<&crate::idle::Activity>,
) -> Response<ProxyBody> {
    if !client_ip.https
        && let Some(answer) = lb.challenges.answer(req.uri().path())
    {
        return answer;
    }
    let published = lb.published.load();
    let held;
    let Some(host) = request_host(&req) else {
        return unrouted(lb, &ProxyError::MissingHost);
    };
    if client_ip.https
        && let Some(sni) = &client_ip.sni
        && **sni != *host
    {
        return unrouted(lb, &ProxyError::Misdirected { host: host.into_owned(), sni: sni.to_string() });
    }
    let mut state = match published.find(host.as_ref()) {
        Some(state) => state,
        None => {
            let host = host.into_owned();
            return unrouted(lb, &ProxyError::UnknownHost { host });
        }
    };
    if let Some(activity) = activity {
        activity.routed(state.route.idle_timeout);
    }
    if state.route.https.redirect && !client_ip.https && !crate::tls::is_acme_challenge(req.uri().path()) {
        let response = crate::tls::redirect_to_https(lb, &host, req.uri());
        state.totals.record(response.status());
        return response;
    }
    drop(host);
    // Latency counts from here, so time spent held is part of it.
    let started = tokio::time::Instant::now();
    let limit = state.route.hold.and_then(|h| h.instance_limit);
    let mut refusal = None;
    if !crate::hold::has_room(state) {
        // Capacity may be starting: wait (bounded) for an instance, or for room on one,
        // rather than refuse. Without an instance, `forward` answers the 503 itself.
        let host = request_host(&req).map(Cow::into_owned).unwrap_or_default();
        match crate::hold::wait_for_instance(lb, &host, state).await {
            Some(p) => {
                held = p;
                if let Some(s) = held.find(host.as_str()) {
                    state = s;
                }
            }
            None if !state.route.upstreams.is_empty() => {
                let (app, env) = (state.route.app.clone(), state.route.env.clone());
                refusal = Some(ProxyError::Saturated { app, env, limit: limit.unwrap_or(0) });
            }
            None => {}
        }
    }
    let bytes_in = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    let mut flight = Some(Flight::start(&state.series, limit.map(|_| &state.queue)));
    let result = match refusal {
        Some(err) => Err(err),
        None => forward(lb, state, req, client_ip, started, &mut flight).await,
    };
    let mut response = result.unwrap_or_else(|err| {
        tracing::debug!(app = %state.route.app, env = %state.route.env, error = %err, "load balancer answered itself");
        error_response(&err)
    });
    if client_ip.https
        && let Some(max_age) = state.route.https.hsts_max_age
    {
        crate::tls::add_hsts(response.headers_mut(), max_age);
    }
    state.totals.record(response.status());
    state.series.record(response.status(), started.elapsed());
    state.series.add_bytes(bytes_in, 0);
    // An answer of the load balancer's own ends the flight here; a forwarded one carries it.
    drop(flight);
    response
}

fn unrouted(lb: &LoadBalancer, err: &ProxyError) -> Response<ProxyBody> {
    let response = error_response(err);
    lb.unrouted.record(response.status());
    response
}

/// The request's host, lowercase and without port: the URI authority (HTTP/2 `:authority`, or an
/// absolute-form HTTP/1 target, which RFC 9112 says wins over `Host`), else the `Host` header.
///
/// Borrowed when the client already sent it in normal form (the usual case), so routing a request
/// allocates nothing.
fn request_host<B>(req: &Request<B>) -> Option<Cow<'_, str>> {
    if let Some(authority) = req.uri().authority() {
        return Some(normalized(authority.host()));
    }
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let host = normalized(host);
    (!host.is_empty()).then_some(host)
}

fn normalized(host: &str) -> Cow<'_, str> {
    let plain =
        host.bytes().all(|b| !b.is_ascii_uppercase() && b != b':' && !b.is_ascii_whitespace()) && !host.ends_with('.');
    if plain { Cow::Borrowed(host) } else { Cow::Owned(normalize_host(host)) }
}

async fn forward(
    lb: &LoadBalancer,
    state: &RouteState,
    mut req: Request<Incoming>,
    client_ip: &crate::headers::ClientAddr,
    started: tokio::time::Instant,
    flight: &mut Option<Flight>,
) -> Result<Response<ProxyBody>, ProxyError> {
    let route = &state.route;
    if route.upstreams.is_empty() {
        return Err(ProxyError::NoInstance { app: route.app.clone(), env: route.env.clone() });
    }
    let upgrade = headers::requested_upgrade(req.headers())
        .filter(|_| req.version() == Version::HTTP_11)
        .map(|protocol| (protocol, hyper::upgrade::on(&mut req)));

    // The client's head becomes the instance's head, rewritten in place rather than copied.
    let (mut parts, body) = req.into_parts();
    // The host the instance sees is the one the request was routed on: the URI's authority
    // when there is one (HTTP/2, or an absolute-form target, which wins over `Host`), else
    // `Host`. Userinfo in an authority is never passed on.
    let original_host = match parts.uri.authority() {
        Some(authority) => {
            let text = authority.as_str();
            HeaderValue::from_str(text.rsplit_once('@').map_or(text, |(_, host)| host)).ok()
        }
        None => parts.headers.get(header::HOST).cloned(),
    };
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_forwarding_value(&mut parts.headers, client_ip, original_host.as_ref());
    if let Some(host) = original_host {
        // HTTP/2 clients send `:authority` instead of `Host`; instances speak HTTP/1.1.
        parts.headers.insert(header::HOST, host);
    }
    if let Some((protocol, _)) = &upgrade {
        headers::restore_upgrade(&mut parts.headers, protocol.clone());
    }
    // Instances get origin-form targets (`/path?query`) over HTTP/1.1 whatever the client spoke.
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(path);
    }
    parts.version = Version::HTTP_11;
    let direct = direct::eligible(&parts, &body, upgrade.is_some());

    let count = route.upstreams.len();
    let turn = state.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let attempts = count.min(MAX_ATTEMPTS);
    let mut tried = None;
    let (index, sender) = loop {
        let index = balance::pick(state.route.balance.unwrap_or(lb.config.balance), count, turn, tried, |i| {
            state.upstream_series[i].in_flight()
        });
        let series = &state.upstream_series[index];
        if let Some(flight) = flight.as_mut() {
            flight.on_instance(series);
        }
        let pool = &state.pools[index];
        let (connect, idle) = (lb.config.connect_timeout, UPSTREAM_IDLE_TIMEOUT);
        let checkout = if direct {
            let safe = parts.method.is_safe();
            let checkout = pool.checkout_direct(connect, idle, safe).await;
            checkout.map(|(conn, reused)| Conn::Direct(conn, reused))
        } else {
            pool.checkout(connect, idle).await.map(Conn::Hyper)
        };
        match checkout {
            Ok(conn) => break (index, conn),
            Err(source) => {
                let upstream = &route.upstreams[index];
                state.upstreams[index].record_connect_failure();
                series.record_connect_error();
                let attempt = usize::from(tried.is_some()) + 1;
                if attempt < attempts {
                    tracing::debug!(instance = %upstream.instance, error = %source, "connect failed, trying another instance");
                    tried = Some(index);
                    continue;
                }
                let err = ProxyError::Connect { instance: upstream.instance.clone(), source };
                state.upstreams[index].record(err.status());
                series.record(err.status(), started.elapsed());
                return Err(err);
            }
        }
    };

    let upstream = &route.upstreams[index];
    let pool = &state.pools[index];
    let connect_timeout = lb.config.connect_timeout;
    let sent = async move {
        match sender {
            Conn::Hyper(sender) => {
                let request = Request::from_parts(parts, body);
                let response = pool::send(pool, sender, request, connect_timeout).await?;
                Ok((index, Answer::Hyper(response)))
            }
            Conn::Direct(conn, reused) => {
                let answer = match direct::exchange(conn, pool, &parts).await {
                    // The instance closed a kept-alive connection just as we used it; a request
                    // that is safe to repeat goes out once more on a new connection.
                    Err(err) if err.unsent && reused && parts.method.is_safe() => {
                        tracing::debug!(error = %err, "pooled connection was closed; using a new one");
                        let conn = pool.connect_direct(connect_timeout).await?;
                        direct::exchange(conn, pool, &parts).await?
                    }
                    answer => answer?,
                };
                if tried.is_none()
                    && count > 1
                    && parts.method.is_safe()
                    && bad_gateway(answer.status())
                    && let Some(second) = elsewhere(lb, state, &parts, (index, answer.status(), started), turn).await
                {
                    return Ok(second);
                }
                Ok::<_, pool::UpstreamError>((index, Answer::Direct(answer)))
            }
        }
    };
    let result = match tokio::time::timeout(lb.config.response_timeout, sent).await {
        Ok(Ok((index, response))) => Ok((index, response)),
        Ok(Err(source)) => Err(ProxyError::Upstream { instance: upstream.instance.clone(), source }),
        Err(_elapsed) => {
            Err(ProxyError::Timeout { instance: upstream.instance.clone(), after: lb.config.response_timeout })
        }
    };
    match result {
        Ok((index, response)) => {
            state.upstreams[index].record(response.status());
            state.upstream_series[index].record(response.status(), started.elapsed());
            Ok(client_response(response, upgrade.map(|(_, on_upgrade)| on_upgrade), flight.take()))
        }
        Err(err) => {
            state.upstreams[index].record(err.status());
            state.upstream_series[index].record(err.status(), started.elapsed());
            Err(err)
        }
    }
}

/// Statuses an instance's own front proxy answers when what stands behind it is gone or
/// overwhelmed: typically in the moment between an instance's app dying and the controller
/// taking the instance out. A safe request without a body is worth one more try elsewhere
/// (nginx's `proxy_next_upstream http_502 http_503 http_504`).
fn bad_gateway(status: StatusCode) -> bool {
    matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

/// Sends a safe request once more, to another instance than `first`, after `first` answered it
/// with `bad_gateway`. Counts the first answer against `first`. None when no other instance
/// could be reached or answered: the caller then gives the client the first answer.
async fn elsewhere(
    lb: &LoadBalancer,
    state: &RouteState,
    parts: &http::request::Parts,
    (first, first_status, started): (usize, StatusCode, tokio::time::Instant),
    turn: usize,
) -> Option<(usize, Answer)> {
    let first_latency = started.elapsed();
    let count = state.route.upstreams.len();
    let other = balance::pick(state.route.balance.unwrap_or(lb.config.balance), count, turn, Some(first), |i| {
        state.upstream_series[i].in_flight()
    });
    if other == first {
        return None;
    }
    let pool = &state.pools[other];
    let (conn, _) = pool.checkout_direct(lb.config.connect_timeout, UPSTREAM_IDLE_TIMEOUT, true).await.ok()?;
    let answer = direct::exchange(conn, pool, parts).await.ok()?;
    tracing::debug!(instance = %state.route.upstreams[first].instance, "answered a gateway error; the request went to another instance");
    state.upstreams[first].record(first_status);
    state.upstream_series[first].record(first_status, first_latency);
    Some((other, Answer::Direct(answer)))
}

/// Idle connections to an instance are closed after this; below nginx's 75 s keep-alive so the
/// instance rarely closes a connection we are about to reuse.
const UPSTREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Turns an instance's response into the client's: hop-by-hop headers out, body streamed, and
/// for a `101 Switching Protocols` the two upgraded connections joined.
fn client_response(
    answer: Answer,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    flight: Option<Flight>,
) -> Response<ProxyBody> {
    match answer {
        Answer::Hyper(response) => stream_back(response, client_upgrade, flight),
        // The direct path never carries an upgrade.
        Answer::Direct(response) => stream_back(response, None, flight),
    }
}

fn stream_back<B>(
    mut response: Response<B>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    flight: Option<Flight>,
) -> Response<ProxyBody>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let protocol = switching.then(|| response.headers().get(header::UPGRADE).cloned()).flatten();
    headers::strip_hop_by_hop(response.headers_mut());
    if let (true, Some(client_upgrade), Some(protocol)) = (switching, client_upgrade, protocol) {
        headers::restore_upgrade(response.headers_mut(), protocol);
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
    }
    match flight {
        Some(flight) => response.map(|body| MeteredBody::new(body, flight).map_err(Into::into).boxed_unsync()),
        None => response.map(|body| body.map_err(Into::into).boxed_unsync()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_from_authority_then_header() {
        let req = Request::builder().uri("http://Abs.Example:81/x").header("host", "other.example").body(()).unwrap();
        assert_eq!(request_host(&req).unwrap(), "abs.example");
        let req = Request::builder().uri("/x").header("host", "App.Example:8080").body(()).unwrap();
        assert_eq!(request_host(&req).unwrap(), "app.example");
        let req = Request::builder().uri("/x").body(()).unwrap();
        assert!(request_host(&req).is_none());
        let req = Request::builder().uri("/x").header("host", "").body(()).unwrap();
        assert!(request_host(&req).is_none());
    }
}
