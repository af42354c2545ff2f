//! The routing table: which environment answers for which host, and its in-service instances.
//!
//! This module is data only. It does not forward requests (see `proxy`) and it does not decide
//! which instances are in service: the control plane builds a [`RoutingTable`] and publishes it
//! through [`crate::LoadBalancer::publish`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// One in-service instance of an environment, as the load balancer reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The instance id, used in stats and error bodies.
    pub instance: String,
    /// Where the instance's port-80 container is published.
    pub addr: SocketAddr,
}

/// Where one host's requests go: an environment and its instances.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    pub app: String,
    pub env: String,
    pub upstreams: Vec<Upstream>,
    /// The environment's own bounds for requests held while it has no in-service instance;
    /// None: the load balancer's default (`LbConfig::hold`).
    pub hold: Option<crate::hold::HoldConfig>,
    /// The environment's own balancing; None: the load balancer's (`LbConfig::balance`).
    pub balance: Option<crate::Balance>,
    /// What the environment asks of plain HTTP and HTTPS (redirect, HSTS).
    pub https: HttpsPolicy,
    /// The environment's own client idle timeout; None: the load balancer's
    /// (`LbConfig::client_idle_timeout`).
    pub idle_timeout: Option<std::time::Duration>,
    /// 5xx codes the environment's health does not count (`health.ignore_codes`).
    pub ignore_5xx: crate::metrics::Ignored5xx,
}

/// An environment's HTTPS options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpsPolicy {
    /// Answer plain-HTTP requests with a 308 to the same URL over HTTPS (ACME's HTTP-01
    /// challenges excepted).
    pub redirect: bool,
    /// `Strict-Transport-Security: max-age=N` on answers over HTTPS.
    pub hsts_max_age: Option<u64>,
}

/// Host (lowercase, without port) to route; a key `*.example.com` is a one-level wildcard that
/// answers any host one label below `example.com` that has no route of its own. Built whole and
/// published whole.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    pub routes: HashMap<String, Arc<Route>>,
}

impl RoutingTable {
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds or replaces the route for `host`. The host is normalised the same way request hosts
    /// are, so callers may pass `Example.COM:80` and still match.
    pub fn insert(&mut self, host: &str, route: Route) -> &mut Self {
        self.routes.insert(normalize_host(host), Arc::new(route));
        self
    }

    /// The route for a request host, normalising it first: its own, else the wildcard one level
    /// up.
    pub fn lookup(&self, host: &str) -> Option<&Arc<Route>> {
        let host = normalize_host(host);
        self.routes.get(&host).or_else(|| {
            let (first, parent) = host.split_once('.')?;
            if first.is_empty() { None } else { self.routes.get(&format!("*.{parent}")) }
        })
    }
}

/// Lowercases a host and strips its port and any trailing dot.
///
/// Handles bracketed IPv6 literals (`[::1]:8080` -> `[::1]`); a bare IPv6 address (several
/// colons, no brackets) is kept whole because there is no way to tell its port apart.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    without_port.strip_suffix('.').unwrap_or(without_port).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_hosts() {
        for (input, want) in [
            ("example.com", "example.com"),
            ("Example.COM:8080", "example.com"),
            ("example.com.", "example.com"),
            ("[::1]:80", "[::1]"),
            ("[::1]", "[::1]"),
            ("::1", "::1"),
            ("127.0.0.1:3000", "127.0.0.1"),
            ("  spaced.example ", "spaced.example"),
        ] {
            assert_eq!(normalize_host(input), want, "input {input:?}");
        }
    }

    #[test]
    fn insert_normalizes_and_lookup_matches() {
        let mut table = RoutingTable::empty();
        table.insert(
            "Prod.Example.com:80",
            Route {
                app: "a".into(),
                env: "prod".into(),
                upstreams: vec![],
                hold: None,
                balance: None,
                https: Default::default(),
                idle_timeout: None,
                ignore_5xx: Default::default(),
            },
        );
        assert!(table.routes.contains_key("prod.example.com"));
        assert_eq!(table.lookup("PROD.example.com:1234").unwrap().env, "prod");
        assert!(table.lookup("staging.example.com").is_none());
    }

    #[test]
    fn wildcards_answer_one_level_below_unless_a_host_has_its_own() {
        let route = |env: &str| Route {
            app: "a".into(),
            env: env.into(),
            upstreams: vec![],
            hold: None,
            balance: None,
            https: Default::default(),
            idle_timeout: None,
            ignore_5xx: Default::default(),
        };
        let mut table = RoutingTable::empty();
        table.insert("*.ads.example.com", route("wild"));
        table.insert("special.ads.example.com", route("exact"));
        assert_eq!(table.lookup("x.ads.example.com").unwrap().env, "wild");
        assert_eq!(table.lookup("special.ads.example.com").unwrap().env, "exact");
        assert!(table.lookup("ads.example.com").is_none());
        assert!(table.lookup("y.x.ads.example.com").is_none());
    }
}
