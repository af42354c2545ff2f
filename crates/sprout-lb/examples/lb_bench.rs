//! The two processes `scripts/bench-lb` needs besides nginx and wrk:
//!
//! - `lb_bench backend ADDR`: a tiny static HTTP/1.1 server (keep-alive, a 13-byte body), the
//!   instance every variant of the benchmark reaches;
//! - `lb_bench proxy LISTEN BACKEND [round-robin]`: Sprout's load balancer alone, with a fixed
//!   routing table sending every host (`bench.localhost` and the address itself) to BACKEND;
//!   `LB_BENCH_WORKERS=N` overrides its worker threads (default one per core);
//! - `lb_bench relay LISTEN BACKEND`: a byte-copying TCP relay, the floor any proxy stands on.
//!
//! Loopback only; a benchmark fixture, not part of Sprout's runtime.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sprout_lb::{Balance, LbConfig, LoadBalancer, Route, RoutingTable, Upstream};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn loopback(arg: Option<String>, what: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr =
        arg.ok_or_else(|| anyhow::anyhow!("missing {what} address (e.g. 127.0.0.1:18081)"))?.parse()?;
    anyhow::ensure!(addr.ip().is_loopback(), "{what} {addr} is not a loopback address; benchmarks stay on loopback");
    Ok(addr)
}

async fn backend(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello, world\n"))))
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn proxy(listen: SocketAddr, backend: SocketAddr, balance: Balance) -> anyhow::Result<()> {
    let mut config = LbConfig { balance, ..LbConfig::default() };
    if let Some(workers) = std::env::var("LB_BENCH_WORKERS").ok().and_then(|w| w.parse().ok()) {
        config.workers = workers;
    }
    let lb = LoadBalancer::new(config);
    let route = Route {
        app: "bench".into(),
        env: "lb".into(),
        upstreams: vec![Upstream { instance: "i-bench".into(), addr: backend }],
        hold: None,
        balance: None,
        https: Default::default(),
        idle_timeout: None,
        ignore_5xx: Default::default(),
    };
    let mut table = RoutingTable::empty();
    table.insert("bench.localhost", route.clone());
    table.insert(&listen.ip().to_string(), route);
    lb.publish(table);
    let listener = TcpListener::bind(listen).await?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let served = lb.clone();
    served.serve(listener, shutdown).await?;
    let summary = lb.metrics().summary("bench", "lb", 3600);
    eprintln!(
        "sprout lb: {} requests in the last closed seconds, p99 {:?}",
        summary.requests,
        summary.latency.quantile(0.99)
    );
    Ok(())
}

/// A plain TCP relay, one backend connection per client connection, bytes copied both ways and
/// never parsed: the least work any user-space proxy can do per request, so the ceiling for the
/// share of direct throughput a proxy can reach on this machine.
async fn relay(listen: SocketAddr, backend: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (mut client, _) = listener.accept().await?;
        let _ = client.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                return;
            };
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

/// Writes a self-signed certificate for `localhost` and its key (`cert.pem`, `key.pem`) into
/// `dir`: the one both nginx and Sprout serve in `scripts/bench tls`.
fn make_cert(dir: &std::path::Path) -> anyhow::Result<()> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem())?;
    Ok(())
}

/// Sprout's HTTPS listener in front of `backend`, serving the certificate in `dir`.
async fn https(listen: SocketAddr, backend: SocketAddr, dir: &std::path::Path) -> anyhow::Result<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(dir.join("cert.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem"))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let key = rustls::sign::CertifiedKey::from_der(chain, key, &provider)?;
    let lb = LoadBalancer::new(LbConfig::default());
    lb.certificates().publish(vec![sprout_lb::ServedCert {
        names: vec!["localhost".into()],
        key: std::sync::Arc::new(key),
        not_after: i64::MAX,
    }]);
    let mut table = RoutingTable::empty();
    let route = Route {
        app: "bench".into(),
        env: "tls".into(),
        upstreams: vec![Upstream { instance: "i-bench".into(), addr: backend }],
        hold: None,
        balance: None,
        https: Default::default(),
        idle_timeout: None,
        ignore_5xx: Default::default(),
    };
    table.insert("localhost", route);
    lb.publish(table);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    lb.serve_listeners(None, Some(listener), CancellationToken::new()).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("backend") => backend(loopback(args.next(), "backend")?).await,
        Some("relay") => {
            let listen = loopback(args.next(), "listen")?;
            let upstream = loopback(args.next(), "backend")?;
            relay(listen, upstream).await
        }
        Some("proxy") => {
            let listen = loopback(args.next(), "listen")?;
            let upstream = loopback(args.next(), "backend")?;
            let balance = match args.next().as_deref() {
                Some("round-robin") => Balance::RoundRobin,
                _ => Balance::LeastOutstanding,
            };
            proxy(listen, upstream, balance).await
        }
        Some("cert") => make_cert(std::path::Path::new(&args.next().unwrap_or_else(|| ".".into()))),
        Some("https") => {
            let listen = loopback(args.next(), "listen")?;
            let upstream = loopback(args.next(), "backend")?;
            let dir = args.next().unwrap_or_else(|| ".".into());
            https(listen, upstream, std::path::Path::new(&dir)).await
        }
        _ => anyhow::bail!(
            "usage: lb_bench backend ADDR | lb_bench proxy LISTEN BACKEND [round-robin] | lb_bench relay LISTEN BACKEND | lb_bench cert DIR | lb_bench https LISTEN BACKEND DIR"
        ),
    }
}
