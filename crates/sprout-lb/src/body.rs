//! The body type of every response the load balancer sends, and the error a body may end with.
//! One boxed type, so a streamed answer from an instance and the load balancer's own answers
//! (`error`) travel the same way; in a module of its own so `proxy` and `error` both name it
//! without importing each other. Not here: how bodies stream or are metered (`pool`, `direct`,
//! `flight`).

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

/// The body of every response the load balancer sends: streamed from an instance, or its own.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// Why a response body stopped early, from whichever path carried it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
