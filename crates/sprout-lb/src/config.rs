//! How the load balancer is set up: timeouts, balancing, worker threads, request holding, and
//! the default drain deadline. Plain settings with their defaults. Not here: routing (published
//! at run time through `LoadBalancer::publish`) or anything that reads the settings.

use std::time::Duration;

use crate::balance::Balance;
use crate::hold;

/// How long `serve` lets in-flight requests finish after shutdown is requested.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How long a client connection may go without a request by default: nginx's `keepalive_timeout`
/// default (75 s), which HTTP clients' pools are used to.
pub const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Client connections served at once by default: well under the usual 1 048 576 file
/// descriptors a service gets, and each keeps an upstream connection too.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// The load balancer's settings, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct LbConfig {
    /// Time to open a TCP connection to an instance; past it the attempt counts as refused.
    pub connect_timeout: Duration,
    /// Time from sending a request to receiving the instance's response head (504 past it).
    pub response_timeout: Duration,
    /// Time a client has to send a complete request head (HTTP/1).
    pub client_header_timeout: Duration,
    /// How requests are spread over an environment's instances.
    pub balance: Balance,
    /// Threads serving client connections, each with its own single-threaded runtime (see
    /// `workers.rs` for why). 0 serves on the runtime that calls `serve`. Default: one per core.
    pub workers: usize,
    /// Requests for an environment without an in-service instance wait this long, this many
    /// at most, for one to appear (see `hold.rs`).
    pub hold: hold::HoldConfig,
    /// Proxies in front of this load balancer whose `X-Forwarded-For` is believed and extended;
    /// from any other client that header is replaced by the client's own address, so an
    /// application never reads an address the client made up.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A client connection on which no request has started for this long is closed gracefully
    /// (HTTP/2: GOAWAY after its open streams; HTTP/1: after the response in progress).
    pub client_idle_timeout: Duration,
    /// Client connections served at once, across all workers. At the cap no more are accepted
    /// (new clients wait in the kernel's backlog) until one closes, so a flood of idle
    /// connections cannot exhaust the process's file descriptors.
    pub max_connections: usize,
    /// The port clients reach the HTTPS listener on, for redirects from plain HTTP (left out of
    /// the URL when 443). None: 443.
    pub https_port: Option<u16>,
}

impl Default for LbConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            client_header_timeout: Duration::from_secs(10),
            client_idle_timeout: DEFAULT_CLIENT_IDLE_TIMEOUT,
            balance: Balance::default(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hold: hold::HoldConfig::default(),
            trusted_proxies: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            https_port: None,
        }
    }
}
