//! Why the load balancer answered a request itself, and the one place that turns that into HTTP.
//!
//! Bodies are short plain text naming the cause. They never list other hosts, addresses or
//! anything else a stranger should not learn; instance ids are fine, they are in our own logs.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::body::ProxyBody;

/// Longest host echoed back in a body; hosts come from the client and may be silly long.
const MAX_ECHOED_HOST: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("request names no host")]
    MissingHost,
    #[error("request target cannot be forwarded")]
    InvalidTarget,
    #[error("no environment answers for host {host}")]
    UnknownHost { host: String },
    /// Over HTTPS, the request's host is not the name the connection was opened for (SNI):
    /// another certificate may be needed for it, so the client must connect again (RFC 9110
    /// section 15.5.20).
    #[error("host {host} is not {sni}, the name this TLS connection was opened for")]
    Misdirected { host: String, sni: String },
    #[error("environment {app}/{env} has no in-service instance")]
    NoInstance { app: String, env: String },
    #[error("every instance of {app}/{env} has {limit} requests in flight")]
    Saturated { app: String, env: String, limit: u32 },
    #[error("could not connect to instance {instance}: {source}")]
    Connect {
        instance: String,
        #[source]
        source: crate::pool::UpstreamError,
    },
    #[error("instance {instance} did not answer within {after:?}")]
    Timeout { instance: String, after: Duration },
    #[error("instance {instance} failed: {source}")]
    Upstream {
        instance: String,
        #[source]
        source: crate::pool::UpstreamError,
    },
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::MissingHost | ProxyError::InvalidTarget => StatusCode::BAD_REQUEST,
            ProxyError::UnknownHost { .. } => StatusCode::NOT_FOUND,
            ProxyError::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::NoInstance { .. } | ProxyError::Saturated { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Connect { .. } | ProxyError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn body(&self) -> String {
        match self {
            ProxyError::MissingHost => "Sprout: the request names no host\n".to_owned(),
            ProxyError::InvalidTarget => "Sprout: the request target cannot be forwarded\n".to_owned(),
            ProxyError::UnknownHost { host } => {
                let host: String = host.chars().take(MAX_ECHOED_HOST).collect();
                format!("Sprout: no environment answers for host {host}\n")
            }
            ProxyError::Misdirected { host, sni } => {
                let host: String = host.chars().take(MAX_ECHOED_HOST).collect();
                format!(
                    "Sprout: host {host} is not {sni}, the name this TLS connection was opened for; open a new connection for it\n"
                )
            }
            ProxyError::NoInstance { app, env } => {
                format!("Sprout: environment {env} of {app} has no in-service instance; try again shortly\n")
            }
            ProxyError::Saturated { app, env, limit } => format!(
                "Sprout: every instance of environment {env} of {app} has {limit} requests in flight, its limit; try again shortly\n"
            ),
            ProxyError::Connect { instance, .. } => {
                format!("Sprout: could not connect to instance {instance}\n")
            }
            ProxyError::Timeout { instance, after } => {
                format!("Sprout: instance {instance} did not answer within {} ms\n", after.as_millis())
            }
            ProxyError::Upstream { instance, .. } => {
                format!("Sprout: instance {instance} failed before completing its response\n")
            }
        }
    }
}

/// Maps a proxy error to the response the client sees.
pub fn error_response(err: &ProxyError) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::from(err.body())).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if matches!(err, ProxyError::NoInstance { .. } | ProxyError::Saturated { .. }) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        let unknown = ProxyError::UnknownHost { host: "x.example".into() };
        assert_eq!(error_response(&unknown).status(), 404);
        let empty = ProxyError::NoInstance { app: "a".into(), env: "e".into() };
        let response = error_response(&empty);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let timeout = ProxyError::Timeout { instance: "i-1".into(), after: Duration::from_secs(1) };
        assert_eq!(error_response(&timeout).status(), 504);
        assert_eq!(error_response(&ProxyError::MissingHost).status(), 400);
    }

    #[test]
    fn long_hosts_are_truncated() {
        let err = ProxyError::UnknownHost { host: "a".repeat(10_000) };
        assert!(err.body().len() < MAX_ECHOED_HOST + 100);
    }
}
