//! Sprout's load balancer: the data plane in front of every environment.
//!
//! It routes each request by host to one of the environment's in-service instances (least
//! outstanding requests by default, round-robin as an option), forwards it over pooled keep-alive
//! connections with bodies streamed both ways, and measures what it answered, per second, per
//! environment and per instance ([`Metrics`]). It serves HTTP/1.1 and HTTP/2 (prior knowledge) on plain TCP, and both (ALPN) over TLS with certificates
//! chosen by SNI (`tls`).
//!
//! It does not decide which instances are in service, run health checks or drain instances: the
//! control plane does that and publishes a whole new [`RoutingTable`] with
//! [`LoadBalancer::publish`]. The request path reads the table through an `ArcSwap` and takes no
//! lock.

mod balance;
mod balancer;
mod body;
mod config;
mod direct;
mod error;
mod flight;
/// Only for `crates/sprout-fuzz`.
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub mod hold;
mod idle;
mod metrics;
mod pool;
mod proxy;
mod published;
mod routing;
mod server;
mod stats;
mod tls;
mod workers;

pub use balance::Balance;
pub use balancer::LoadBalancer;
pub use body::ProxyBody;
pub use config::{DEFAULT_CLIENT_IDLE_TIMEOUT, DEFAULT_DRAIN_DEADLINE, DEFAULT_MAX_CONNECTIONS, LbConfig};
pub use error::{ProxyError, error_response};
pub use metrics::{Histogram, Ignored5xx, MINUTES_KEPT, Metrics, SECONDS_KEPT, Second, SeriesTotals};
pub use pool::UpstreamError;
pub use routing::{HttpsPolicy, Route, RoutingTable, Upstream, normalize_host};
pub use stats::{LbStats, RouteStats, StatusCounts};
pub use tls::{Certificates, Challenges, ServedCert};
