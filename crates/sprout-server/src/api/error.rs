//! API errors: one enum, one function mapping it to an HTTP status and a JSON body
//! `{"error": ..., "hint": ..., "diagnostics": [...]}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sprout_engine::EngineError;
use sprout_model::Diagnostic;
use sprout_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    BadRequest { message: String, hint: Option<String> },
    #[error("the definition file is not valid ({} error(s))", .0.iter().filter(|d| d.severity == sprout_model::Severity::Error).count())]
    InvalidDefinition(Vec<Diagnostic>),
    /// No token, an unknown or revoked one, or an expired one: why.
    #[error("{0}")]
    Unauthorized(String),
    /// A known token whose scope or limits do not allow the call: what it needed.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
    /// Not ready to answer yet (the server is starting); try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// The data directory's disk is full; nothing was stored.
    #[error("{0}")]
    InsufficientStorage(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            other => ApiError::Store(other),
        }
    }
}

#[derive(Serialize)]
struct Body {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diagnostics: Vec<Diagnostic>,
}

fn status_of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::BadRequest { .. } | ApiError::InvalidDefinition(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Engine(EngineError::Pull { .. } | EngineError::Auth { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Engine(EngineError::Unavailable { .. }) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Store(StoreError::Busy { .. }) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Store(StoreError::Full) | ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
        // Only after `revision::retry` gave up: the environment kept changing under the request.
        ApiError::Store(StoreError::Stale { .. }) => StatusCode::CONFLICT,
        ApiError::Engine(_) | ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let (hint, diagnostics) = match &self {
            ApiError::BadRequest { hint, .. } => (hint.clone(), Vec::new()),
            ApiError::InvalidDefinition(d) => (Some("run `sprout validate PATH` to see each error with its source line".into()), d.clone()),
            ApiError::Unauthorized(_) => (Some("pass `Authorization: Bearer <token>`; the admin token is in the server's data directory, admin.token".into()), Vec::new()),
            _ => (None, Vec::new()),
        };
        (status, Json(Body { error: self.to_string(), hint, diagnostics })).into_response()
    }
}

pub fn bad(message: impl Into<String>, hint: impl Into<Option<String>>) -> ApiError {
    ApiError::BadRequest { message: message.into(), hint: hint.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_503_and_a_full_disk_507_each_saying_nothing_changed() {
        let busy = ApiError::from(StoreError::Busy { waited_s: 5 });
        assert_eq!(status_of(&busy), StatusCode::SERVICE_UNAVAILABLE);
        assert!(busy.to_string().contains("nothing was changed"));
        let full = ApiError::from(StoreError::Full);
        assert_eq!(status_of(&full), StatusCode::INSUFFICIENT_STORAGE);
        assert!(full.to_string().contains("free space"));
        assert_eq!(status_of(&ApiError::InsufficientStorage("x".into())), StatusCode::INSUFFICIENT_STORAGE);
    }
}
