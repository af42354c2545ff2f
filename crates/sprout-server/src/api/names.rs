//! Every name taken from a request path is checked before any handler sees it: applications and
//! environments by `check_name`, version labels by `check_label`. Handlers build file paths from
//! these names (logs, bundles, instance directories), so a name like `%2Ftmp%2Fx` or `..` must
//! never reach them.

use axum::extract::{RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sprout_model::names::{check_label, check_name};

use super::error::bad;

/// Refuses (400, naming the parameter) a request whose path names an invalid application,
/// environment or version.
pub async fn check_path_names(params: RawPathParams, request: Request, next: Next) -> Response {
    for (key, value) in &params {
        let checked = match key {
            "app" => check_name("application", value),
            "env" => check_name("environment", value),
            "label" => check_label(value),
            _ => Ok(()),
        };
        if let Err(message) = checked {
            return bad(message, None).into_response();
        }
    }
    next.run(request).await
}
