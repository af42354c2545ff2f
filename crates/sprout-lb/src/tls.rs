//! HTTPS: the TLS listener (rustls with the aws-lc-rs provider only; TLS 1.2 and 1.3; ALPN h2 and
//! http/1.1), the certificates it serves chosen by SNI from a set the control plane publishes
//! whole ([`Certificates`]), and what HTTPS changes in answers: 421 when a request's host is not
//! the connection's SNI (in `proxy`), the 308 from plain HTTP and HSTS per environment.
//!
//! Not here: where certificates come from or whether they are valid (the control plane checks
//! them before publishing), HTTP itself (`server`, `proxy`).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::LoadBalancer;
use crate::body::ProxyBody;
use crate::server::Connections;

/// Where ACME's HTTP-01 challenges are fetched: never redirected to HTTPS.
const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The ACME HTTP-01 challenges the control plane is answering now (token to key
/// authorization), served on the plain-HTTP listener whatever the host. The request path tests
/// one flag while there are none.
#[derive(Default)]
pub struct Challenges {
    any: std::sync::atomic::AtomicBool,
    answers: ArcSwap<HashMap<String, String>>,
    writer: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges").field("tokens", &self.answers.load().len()).finish()
    }
}

impl Challenges {
    /// Answer `GET /.well-known/acme-challenge/TOKEN` with `key_authorization` until removed.
    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.change(|m| {
            m.insert(token.to_string(), key_authorization.to_string());
        });
    }

    /// Stop answering `token`.
    pub fn remove(&self, token: &str) {
        self.change(|m| {
            m.remove(token);
        });
    }

    fn change(&self, edit: impl FnOnce(&mut HashMap<String, String>)) {
        let _one = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = HashMap::clone(&self.answers.load());
        edit(&mut next);
        self.any.store(!next.is_empty(), std::sync::atomic::Ordering::Release);
        self.answers.store(Arc::new(next));
    }

    /// The answer to a plain-HTTP request for `path`, if it is a challenge being answered.
    pub(crate) fn answer(&self, path: &str) -> Option<Response<ProxyBody>> {
        if !self.any.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let token = path.strip_prefix(ACME_CHALLENGE_PREFIX)?;
        let body = self.answers.load().get(token)?.clone();
        let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync());
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        Some(response)
    }
}

/// One certificate as the load balancer serves it: the names it answers (exact, or `*.parent`),
/// its chain and key, and when it expires (the later one wins where two cover a name).
#[derive(Clone)]
pub struct ServedCert {
    pub names: Vec<String>,
    pub key: Arc<CertifiedKey>,
    /// Unix seconds.
    pub not_after: i64,
}

impl std::fmt::Debug for ServedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedCert").field("names", &self.names).field("not_after", &self.not_after).finish()
    }
}

#[derive(Default)]
struct Index {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

/// The certificates served now, swapped whole; the handshake reads them without a lock.
#[derive(Default)]
pub struct Certificates {
    index: ArcSwap<Index>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = self.index.load();
        f.debug_struct("Certificates").field("names", &(index.exact.len() + index.wildcard.len())).finish()
    }
}

impl Certificates {
    /// Serves `certs` from the next handshake on; handshakes under way keep what they chose.
    pub fn publish(&self, mut certs: Vec<ServedCert>) {
        // Later expiry last, so it overwrites: a renewed certificate wins over the one it renews.
        certs.sort_by_key(|c| c.not_after);
        let mut index = Index::default();
        for cert in certs {
            for name in &cert.names {
                let name = name.to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(parent) => index.wildcard.insert(parent.to_string(), cert.key.clone()),
                    None => index.exact.insert(name, cert.key.clone()),
                };
            }
        }
        self.index.store(Arc::new(index));
    }

    /// The certificate for a server name: its own, else a wildcard one level up.
    pub fn find(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.to_ascii_lowercase();
        let index = self.index.load();
        if let Some(key) = index.exact.get(&name) {
            return Some(key.clone());
        }
        let (first, parent) = name.split_once('.')?;
        if first.is_empty() { None } else { index.wildcard.get(parent).cloned() }
    }
}

/// Picks the certificate by SNI; none (no SNI, or no certificate for it) fails the handshake
/// with an alert.
struct BySni(Arc<LoadBalancer>);

impl std::fmt::Debug for BySni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.certificates.fmt(f)
    }
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?;
        let found = self.0.certificates.find(name);
        if found.is_none() {
            tracing::debug!(sni = name, "TLS handshake for a name without a certificate");
        }
        found
    }
}

/// The one TLS configuration: aws-lc-rs, TLS 1.3 and 1.2, ALPN h2 then http/1.1.
pub(crate) fn server_config(lb: &Arc<LoadBalancer>) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni(lb.clone())));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS acceptor the HTTPS listener hands its connections with.
pub(crate) fn acceptor(lb: &Arc<LoadBalancer>) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    let config = server_config(lb).map_err(std::io::Error::other)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves one TLS client connection in its own task: the handshake (bounded by the client
/// header timeout), then HTTP as on the plain listener, with the connection's SNI.
pub(crate) fn serve_tls_connection(
    connections: &Connections,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    slot: OwnedSemaphorePermit,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    let _ = stream.set_nodelay(true);
    let closing = connections.closing().clone();
    let handshake_timeout = connections.handshake_timeout();
    let runner = connections.runner(peer, connections.client_addr(peer));
    connections.spawn(async move {
        let _slot = slot;
        let handshake = tokio::select! {
            () = closing.cancelled() => return,
            done = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)) => done,
        };
        let tls = match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => return tracing::debug!(%peer, error = %err, "TLS handshake failed"),
            Err(_) => return tracing::debug!(%peer, "TLS handshake did not finish in time"),
        };
        let sni: Option<Arc<str>> = tls.get_ref().1.server_name().map(|n| Arc::from(n.to_ascii_lowercase()));
        runner.over_tls(sni).serve(tls).await;
    });
}

/// Whether a path is an ACME HTTP-01 challenge (answered over plain HTTP whatever the
/// environment's redirect says).
pub(crate) fn is_acme_challenge(path: &str) -> bool {
    path.starts_with(ACME_CHALLENGE_PREFIX)
}

/// The 308 that sends a plain-HTTP request to the same URL over HTTPS, on the load balancer's
/// HTTPS port (left out when it is 443).
pub(crate) fn redirect_to_https(lb: &LoadBalancer, host: &str, uri: &Uri) -> Response<ProxyBody> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = match lb.config.https_port {
        Some(443) | None => format!("https://{host}{path}"),
        Some(port) => format!("https://{host}:{port}{path}"),
    };
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `Strict-Transport-Security` on an answer over HTTPS.
pub(crate) fn add_hsts(headers: &mut HeaderMap, max_age: u64) {
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}")) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, value);
    }
}
