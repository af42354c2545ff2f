//! `sprout proxy`: Sprout's load balancer as its own process, fed by the server's routing table.
//!
//! It asks the server for the table every second (`GET /api/v1/routing`) and publishes it when it
//! changed. When the server does not answer (restarting, upgraded, crashed) it keeps serving the
//! last table it had: instances keep running while the control plane is away, so restarting
//! `sprout server` drops no request that goes through `sprout proxy`. It does not judge health or
//! drain instances; the server does, and the next table says so.
//!
//! With `--https ADDR` it serves HTTPS too, with the server's certificates (uploaded or from
//! ACME), asked for every 10 s (`GET /api/v1/certificates/served`: keys in the clear, so an
//! admin token, over loopback or an API with TLS); a renewed certificate takes over at the next
//! ask. ACME challenges are answered by the server's own HTTP listener, not by the proxy.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::api::certs::ServedPem;
use sprout_server::api::routing::RoutingView;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cmd::Context;

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address to serve on (loopback unless you mean it)
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: String,
    /// How often to ask the server for its routing table, in milliseconds
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// A proxy in front of this one (address or CIDR, repeatable) whose X-Forwarded-For is kept
    /// and extended; from any other client it is replaced
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client connections served at once; more wait until one closes
    #[arg(long, default_value_t = sprout_lb::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(usize))]
    pub max_connections: usize,
    /// Seconds a client connection may stay open without a request; it is then closed gracefully
    #[arg(long, value_name = "SECONDS", default_value_t = sprout_lb::DEFAULT_CLIENT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub client_idle_timeout: u64,
    /// Also serve HTTPS here, with the server's certificates (needs an admin token)
    #[arg(long, value_name = "ADDR")]
    pub https: Option<String>,
}

/// How often the proxy asks the server for its certificates.
const CERTS_POLL: Duration = Duration::from_secs(10);

pub async fn run(c: &Context, a: ProxyArgs) -> Result<u8> {
    let listener = TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using it? pass --listen ADDR", a.listen))?;
    let https = match &a.https {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}: is another process using it? pass --https ADDR"))?,
        ),
        None => None,
    };
    let lb = LoadBalancer::new(LbConfig {
        trusted_proxies: a.trusted_proxies.clone(),
        max_connections: a.max_connections.max(1),
        client_idle_timeout: Duration::from_secs(a.client_idle_timeout),
        https_port: https.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port()),
        ..LbConfig::default()
    });
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let mut follower = Follower::default();
    // Start with the server's table when it answers; otherwise serve 404s until it does.
    follower.apply(&lb, fetch(&c.client).await);
    eprintln!(
        "sprout proxy: serving on {} with {} route(s) from {}",
        a.listen,
        lb.table().routes.len(),
        c.resolved.url
    );
    let poll = Duration::from_millis(a.poll_ms.max(50));
    let (lb_poll, stop) = (lb.clone(), shutdown.clone());
    let client = crate::client::Client::new(&c.resolved.url, c.resolved.token.clone())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(poll) => {}
            }
            follower.apply(&lb_poll, fetch(&client).await);
        }
    });
    if https.is_some() {
        let (lb_certs, stop) = (lb.clone(), shutdown.clone());
        let client = crate::client::Client::new(&c.resolved.url, c.resolved.token.clone())?;
        let mut certs = CertFollower::default();
        certs.apply(&lb_certs, fetch_certs(&client).await);
        eprintln!(
            "sprout proxy: serving HTTPS on {} with {} certificate(s)",
            a.https.as_deref().unwrap_or(""),
            certs.served
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(CERTS_POLL) => {}
                }
                certs.apply(&lb_certs, fetch_certs(&client).await);
            }
        });
    }
    lb.serve_listeners(Some(listener), https, shutdown).await.context("load balancer stopped")?;
    Ok(0)
}

/// The server's certificates with their keys, bounded in time like the table.
async fn fetch_certs(client: &crate::client::Client) -> Result<Vec<ServedPem>> {
    tokio::time::timeout(Duration::from_secs(5), client.get("/certificates/served"))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the server did not answer within 5 s")))
}

/// Publishes fetched certificates, keeping the last ones while the server is away.
#[derive(Default)]
struct CertFollower {
    last: Option<Vec<(Vec<String>, String)>>,
    failing: bool,
    served: usize,
}

impl CertFollower {
    fn apply(&mut self, lb: &Arc<LoadBalancer>, fetched: Result<Vec<ServedPem>>) {
        let list = match fetched {
            Ok(list) => list,
            Err(err) => {
                if !self.failing {
                    eprintln!("sprout proxy: cannot read the certificates ({err:#}); serving the last ones");
                    self.failing = true;
                }
                return;
            }
        };
        self.failing = false;
        let key: Vec<(Vec<String>, String)> = list.iter().map(|c| (c.names.clone(), c.chain_pem.clone())).collect();
        if self.last.as_ref() == Some(&key) {
            return;
        }
        let now = chrono::Utc::now();
        let mut served = Vec::new();
        for c in &list {
            match sprout_server::certs::check(&c.chain_pem, &c.key_pem, now, sprout_store::CertSource::Upload) {
                Ok(checked) => served.push(checked.served),
                Err(e) => eprintln!("sprout proxy: the certificate for {} is not served: {e}", c.names.join(", ")),
            }
        }
        self.served = served.len();
        lb.certificates().publish(served);
        self.last = Some(key);
    }
}

/// The server's table, bounded in time: a server that accepts but never answers must not
/// leave the proxy without news forever.
async fn fetch(client: &crate::client::Client) -> Result<RoutingView> {
    tokio::time::timeout(Duration::from_secs(5), client.get("/routing"))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the server did not answer within 5 s")))
}

/// Publishes fetched tables, keeping the last one while the server is away.
#[derive(Default)]
pub struct Follower {
    last: Option<RoutingView>,
    failing: bool,
}

impl Follower {
    /// Publishes `fetched` if it differs from what is served; on an error keeps serving and
    /// says so once (not every second) until the server answers again.
    pub fn apply(&mut self, lb: &Arc<LoadBalancer>, fetched: Result<RoutingView>) {
        match fetched {
            Ok(view) => {
                if self.failing {
                    eprintln!("sprout proxy: server answers again");
                    self.failing = false;
                }
                if self.last.as_ref() != Some(&view) {
                    lb.publish(view.to_table());
                    self.last = Some(view);
                }
            }
            Err(err) => {
                if !self.failing {
                    eprintln!("sprout proxy: cannot read the routing table ({err:#}); serving the last one");
                    self.failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprout_server::api::routing::{RouteView, UpstreamView};

    fn view(instances: &[&str]) -> RoutingView {
        let upstreams = instances
            .iter()
            .enumerate()
            .map(|(i, id)| UpstreamView {
                instance: (*id).into(),
                addr: format!("127.0.0.1:{}", 40000 + i).parse().unwrap(),
            })
            .collect();
        RoutingView {
            routes: vec![RouteView {
                host: "web.shop.localhost".into(),
                app: "shop".into(),
                env: "web".into(),
                upstreams,
                hold: None,
                balance: None,
                https_redirect: false,
                hsts_max_age: None,
                idle_timeout_ms: None,
                ignore_codes: Vec::new(),
            }],
        }
    }

    #[test]
    fn keeps_the_last_table_while_the_server_is_away() {
        let lb = LoadBalancer::new(LbConfig { workers: 0, ..LbConfig::default() });
        let mut follower = Follower::default();
        follower.apply(&lb, Ok(view(&["i-1", "i-2"])));
        assert_eq!(lb.table().routes["web.shop.localhost"].upstreams.len(), 2);
        follower.apply(&lb, Err(anyhow::anyhow!("connection refused")));
        assert!(follower.failing);
        assert_eq!(lb.table().routes["web.shop.localhost"].upstreams.len(), 2, "still serving");
        follower.apply(&lb, Ok(view(&["i-3"])));
        assert!(!follower.failing);
        assert_eq!(lb.table().routes["web.shop.localhost"].upstreams[0].instance, "i-3");
    }
}
