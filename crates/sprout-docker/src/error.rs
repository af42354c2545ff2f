//! Turning bollard errors into `EngineError`: the one place that decides what a Docker failure
//! means to Sprout (404 NotFound, 409 Conflict, no connection Unavailable, 5xx Transient, the rest
//! Permanent), plus the pull-specific Auth/Pull split.
//!
//! Not here: per-call exceptions that make an error a success (stop of a stopped container,
//! remove of a missing one); those live beside the call in `lib.rs`, where the reason is visible.

use bollard::errors::Error as BollardError;
use sprout_engine::EngineError;

/// What the failed call was about, so errors say what and where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub operation: &'static str,
    /// "container", "network" or "image".
    pub kind: &'static str,
    pub name: &'a str,
    pub endpoint: &'a str,
}

/// The HTTP status Docker answered with, if the error is a Docker answer at all.
pub(crate) fn status_code(err: &BollardError) -> Option<u16> {
    match err {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Docker's own message when it sent one, else bollard's description.
pub(crate) fn message(err: &BollardError) -> String {
    match err {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        BollardError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Is this a failure to reach the daemon at all (as opposed to the daemon saying no)?
pub(crate) fn is_connection_error(err: &BollardError) -> bool {
    matches!(
        err,
        BollardError::SocketNotFoundError(_)
            | BollardError::IOError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::HyperLegacyError { .. }
            | BollardError::UnsupportedURISchemeError { .. }
    )
}

/// The message for an unreachable daemon, with what to do about it.
pub(crate) fn unavailable(endpoint: &str, err: &BollardError) -> EngineError {
    EngineError::Unavailable {
        endpoint: endpoint.to_string(),
        message: format!(
            "{} (start Docker with `systemctl start docker`, or run `dockerd`; set DOCKER_HOST=unix:///path/to/docker.sock if it listens elsewhere)",
            message(err)
        ),
    }
}

/// Classify any bollard error for `target`.
pub(crate) fn classify(err: BollardError, target: Target<'_>) -> EngineError {
    if is_connection_error(&err) {
        return unavailable(target.endpoint, &err);
    }
    let name = target.name.to_string();
    let operation = target.operation;
    let text = message(&err);
    match status_code(&err) {
        Some(404) => EngineError::NotFound { kind: target.kind, name },
        Some(409) => EngineError::Conflict { kind: target.kind, name },
        Some(500..=599) => EngineError::Transient { operation, name, message: text },
        // A slow daemon may answer next time; bollard gave up waiting, Docker did not refuse.
        None if matches!(err, BollardError::RequestTimeoutError) => {
            EngineError::Transient { operation, name, message: text }
        }
        _ => EngineError::Permanent { operation, name, message: text },
    }
}

/// Classify a failed network creation. Docker 20.10 answers 404 when its default address pools
/// have no subnet left ("could not find an available, non-overlapping IPv4 address pool"):
/// that is the engine refusing the step, not a missing network, and saying "network ... not
/// found" sent users looking for the wrong thing.
pub(crate) fn classify_create_network(err: BollardError, target: Target<'_>) -> EngineError {
    match status_code(&err) {
        Some(404) => EngineError::Permanent {
            operation: target.operation,
            name: target.name.to_string(),
            message: message(&err),
        },
        _ => classify(err, target),
    }
}

/// Does Docker's message say the registry refused our credentials (or lack of them)?
pub(crate) fn is_auth_message(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["unauthorized", "denied", "authentication required", "no basic auth credentials"]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// Does Docker's message say the registry did not answer, or failed in a way that may pass?
pub(crate) fn is_transient_registry_message(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "connection refused",
        "connection reset",
        "i/o timeout",
        "timeout exceeded",
        "tls handshake timeout",
        "no route to host",
        "server misbehaving",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "toomanyrequests",
        "unexpected eof",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Classify a pull failure: Auth when the registry refused, Transient when it did not answer or
/// failed in a way that may pass, Pull otherwise (with Docker's message), Unavailable when the
/// daemon itself is unreachable.
pub(crate) fn classify_pull(err: BollardError, image: &str, endpoint: &str) -> EngineError {
    if is_connection_error(&err) {
        return unavailable(endpoint, &err);
    }
    let text = message(&err);
    let auth_status = matches!(status_code(&err), Some(401 | 403));
    if auth_status || is_auth_message(&text) {
        EngineError::Auth { image: image.to_string(), message: text }
    } else if matches!(status_code(&err), Some(502..=504)) || is_transient_registry_message(&text) {
        EngineError::Transient { operation: "pull_image", name: image.to_string(), message: text }
    } else {
        EngineError::Pull { image: image.to_string(), message: text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError { status_code, message: message.to_string() }
    }

    const T: Target<'static> =
        Target { operation: "start_container", kind: "container", name: "web", endpoint: "unix:///x" };

    #[test]
    fn statuses_classify() {
        assert_eq!(
            classify(server(404, "No such container: web"), T),
            EngineError::NotFound { kind: "container", name: "web".into() }
        );
        assert_eq!(
            classify(server(409, "name in use"), T),
            EngineError::Conflict { kind: "container", name: "web".into() }
        );
        assert!(matches!(classify(server(500, "x"), T), EngineError::Transient { .. }));
        assert!(matches!(classify(server(503, "x"), T), EngineError::Transient { .. }));
        assert!(matches!(classify(server(400, "bad"), T), EngineError::Permanent { .. }));
        assert!(matches!(classify(server(403, "endpoints"), T), EngineError::Permanent { .. }));
        assert!(matches!(classify(BollardError::RequestTimeoutError, T), EngineError::Transient { .. }));
    }

    #[test]
    fn an_exhausted_address_pool_is_the_network_creation_refused_not_a_missing_network() {
        let target = Target { operation: "create_network", kind: "network", name: "sprout-a-b-i-1", endpoint: "e" };
        let pool = "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network";
        let err = classify_create_network(server(404, pool), target);
        assert_eq!(err.to_string(), format!("container engine refused create_network on sprout-a-b-i-1: {pool}"));
        let overlap =
            classify_create_network(server(403, "Pool overlaps with other one on this address space"), target);
        assert!(matches!(overlap, EngineError::Permanent { .. }), "{overlap}");
        assert!(matches!(classify_create_network(server(409, "exists"), target), EngineError::Conflict { .. }));
    }

    #[test]
    fn missing_socket_is_unavailable_with_a_hint() {
        let err = classify(BollardError::SocketNotFoundError("/x".into()), T);
        let EngineError::Unavailable { endpoint, message } = &err else { panic!("{err:?}") };
        assert_eq!(endpoint, "unix:///x");
        assert!(message.contains("systemctl start docker"), "{message}");
    }

    #[test]
    fn pull_errors_split_auth_from_the_rest() {
        let denied = server(
            404,
            "pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
        );
        assert!(matches!(classify_pull(denied, "nope", "e"), EngineError::Auth { .. }));
        assert!(matches!(classify_pull(server(401, "x"), "nope", "e"), EngineError::Auth { .. }));
        let dns = BollardError::DockerStreamError { error: "dial tcp: lookup registry: no such host".into() };
        let refused =
            server(500, "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused");
        assert!(matches!(classify_pull(refused, "nope", "e"), EngineError::Transient { .. }));
        let err = classify_pull(dns, "nope", "e");
        assert_eq!(
            err,
            EngineError::Pull { image: "nope".into(), message: "dial tcp: lookup registry: no such host".into() }
        );
    }
}
