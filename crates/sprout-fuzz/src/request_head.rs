//! Target `request_head`: raw bytes as one client connection to the load balancer, through
//! hyper's server and the load balancer's own request handling (`sprout_lb::fuzzing`).
//!
//! The routing table sends every kind of request somewhere the load balancer answers itself, so
//! nothing leaves the process and each input takes well under a millisecond: `app.example` has
//! one instance that refuses connections (502 after the headers were rewritten for it),
//! `empty.example` has none (503), `full.example` has one at its limit of 0 requests (503 at
//! once, since holding is off), any other host is unknown (404) and no host is a 400. Each input
//! is served twice, from an ordinary client and from a trusted proxy, whose `X-Forwarded-For`
//! the load balancer extends rather than replaces.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use sprout_lb::hold::HoldConfig;
use sprout_lb::{LbConfig, LoadBalancer, Route, RoutingTable, Upstream};

/// Past this an input counts as a hang: the client has sent everything and closed its side, and
/// every route answers at once, so the load balancer has nothing left to wait for.
const ITERATION_LIMIT: Duration = Duration::from_secs(5);

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
/// In `TRUSTED_PROXIES`.
const PROXY: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
const TRUSTED_PROXIES: &str = "2001:db8::/32";

/// A load balancer, a runtime to drive it, and the port its only instance refuses on.
struct Harness {
    runtime: tokio::runtime::Runtime,
    lb: Arc<LoadBalancer>,
    /// Bound but never listening: the kernel refuses every connection to it, and no other
    /// process can take the port while this is held.
    _refusing: tokio::net::TcpSocket,
}

thread_local! {
    static HARNESS: Harness = Harness::new();
}

pub fn request_head(data: &[u8]) {
    HARNESS.with(|h| {
        for client in [CLIENT, PROXY] {
            let served = async {
                tokio::time::timeout(ITERATION_LIMIT, sprout_lb::fuzzing::serve_bytes(&h.lb, client, data)).await
            };
            if h.runtime.block_on(served).is_err() {
                panic!("the load balancer kept the connection open {ITERATION_LIMIT:?} after the client closed");
            }
        }
    });
}

impl Harness {
    fn new() -> Self {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime can be built");
        let refusing = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket can be made");
            socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("a loopback port can be bound");
            socket
        });
        let addr = refusing.local_addr().expect("a bound socket has an address");
        let config = LbConfig {
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(1),
            client_header_timeout: Duration::from_secs(1),
            workers: 0,
            // Holding would make a request without an instance wait for one that never comes.
            hold: HoldConfig { max_wait: Duration::ZERO, ..HoldConfig::default() },
            trusted_proxies: vec![TRUSTED_PROXIES.parse().expect("a valid network")],
            ..LbConfig::default()
        };
        let lb = LoadBalancer::new(config);
        lb.publish(table(addr));
        Harness { runtime, lb, _refusing: refusing }
    }
}

fn table(refusing: SocketAddr) -> RoutingTable {
    let instance = || vec![Upstream { instance: "i-refuses".into(), addr: refusing }];
    let route = |env: &str, upstreams, hold| Route {
        app: "app".into(),
        env: env.into(),
        upstreams,
        hold,
        balance: None,
        https: Default::default(),
        idle_timeout: None,
        ignore_5xx: Default::default(),
    };
    let full = HoldConfig { max_wait: Duration::ZERO, instance_limit: Some(0), ..HoldConfig::default() };
    let mut table = RoutingTable::empty();
    table
        .insert("app.example", route("prod", instance(), None))
        .insert("empty.example", route("empty", vec![], None))
        .insert("full.example", route("full", instance(), Some(full)))
        .insert("[2001:db8::80]", route("v6", instance(), None));
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status line the load balancer answers `head` with, served from `client`.
    fn status(client: IpAddr, head: &str) -> String {
        HARNESS.with(|h| {
            let out = h.runtime.block_on(sprout_lb::fuzzing::serve_bytes(&h.lb, client, head.as_bytes()));
            String::from_utf8_lossy(&out).lines().next().unwrap_or_default().to_owned()
        })
    }

    #[test]
    fn every_route_answers_without_leaving_the_process() {
        for (head, want) in [
            ("GET / HTTP/1.1\r\nHost: app.example\r\n\r\n", "HTTP/1.1 502"),
            ("GET http://App.Example:80/x HTTP/1.1\r\nHost: other.example\r\n\r\n", "HTTP/1.1 502"),
            ("GET / HTTP/1.1\r\nHost: [2001:db8::80]:8080\r\n\r\n", "HTTP/1.1 502"),
            ("GET / HTTP/1.1\r\nHost: empty.example\r\n\r\n", "HTTP/1.1 503"),
            ("GET / HTTP/1.1\r\nHost: full.example\r\n\r\n", "HTTP/1.1 503"),
            ("GET / HTTP/1.1\r\nHost: nowhere.example\r\n\r\n", "HTTP/1.1 404"),
            ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        ] {
            for client in [CLIENT, PROXY] {
                assert!(status(client, head).starts_with(want), "{head:?} from {client}: {}", status(client, head));
            }
        }
    }
}
