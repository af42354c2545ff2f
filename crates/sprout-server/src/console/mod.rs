//! The web console, served by `sprout server` on the API address under `/console/`:
//! server-rendered pages (askama templates compiled into the binary), a small embedded script
//! for the live parts (graphs over server-sent events), no build step and no CDN. Reading works
//! without JavaScript.
//!
//! Every read and every operation goes through the API router with the session's token
//! (`client`), so the console checks nothing the API does not and says what the CLI says. A token's
//! scope decides which forms a page shows (`client::can`, `api::access`'s table); every form carries
//! the session's CSRF token, and a POST without it is refused before anything else.

mod admin;
pub mod client;
mod env_ops;
mod forms;
pub mod history;
mod lists;
mod live;
mod logs;
mod overview;
mod page;
pub mod session;
mod sign;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::context::Ctx;

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    pub ctx: Ctx,
    /// The API router the console calls (`client::call`).
    pub api: Router,
    pub sessions: Arc<session::Sessions>,
    /// Cookies get `Secure` when the API is served over HTTPS.
    pub secure: bool,
    /// Instances in service and desired, held requests: one point per second per environment.
    pub history: Arc<history::History>,
}

/// The console's routes, to merge beside the API's (`api`: the router forms are sent to).
pub fn router(ctx: Ctx, api: Router, secure: bool, history: Arc<history::History>) -> Router {
    let sessions = Arc::new(session::Sessions::new(ctx.store.clone()));
    let st = ConsoleState { ctx, api, sessions, secure, history };
    Router::new()
        .route("/console", get(|| async { axum::response::Redirect::to("/console/") }))
        .route("/console/", get(overview::show))
        .route("/console/sign-in", get(sign::form).post(sign::sign_in))
        .route("/console/sign-out", post(sign::sign_out))
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .route("/console/apps/{app}/{env}", get(page::show))
        .route("/console/static/admin.js", get(admin_js))
        .route("/console/tokens", get(admin::tokens::show))
        .route("/console/tokens/create", post(admin::tokens::create))
        .route("/console/tokens/{name}/revoke", post(admin::tokens::revoke))
        .route("/console/registries", get(admin::registries::show))
        .route("/console/registries/login", post(admin::registries::login))
        .route("/console/registries/logout", post(admin::registries::logout))
        .route("/console/policy/{app}", get(admin::policy::show))
        .route("/console/policy/{app}/set", post(admin::policy::set))
        .route("/console/certificates", get(admin::certificates::show))
        .route("/console/certificates/add", post(admin::certificates::add))
        .route("/console/certificates/{id}/{op}", post(admin::certificates::change))
        .route("/console/domains/{app}", get(admin::domains::show))
        .route("/console/domains/{app}/{op}", post(admin::domains::change))
        .route("/console/apps/{app}/{env}/logs", get(logs::show))
        .route("/console/apps/{app}/{env}/logs/tail", get(logs::tail))
        .route("/console/apps/{app}/{env}/logs/bundle", post(logs::bundle))
        .route("/console/apps/{app}/{env}/usage", get(page::usage))
        .route("/console/apps/{app}/{env}/upload", post(upload::upload))
        .route("/console/apps/{app}/{env}/live", get(live::stream))
        .route("/console/apps/{app}/{env}/preview", get(forms::preview))
        .route("/console/apps/{app}/{env}/{op}", post(forms::submit))
        .route("/console/apps/{app}/{env}/schedules/{name}/{op}", post(forms::schedule_op))
        .layer(axum::middleware::map_response(protect))
        .with_state(st)
}

/// Every console answer: scripts and styles from the console only (no inline script), never in
/// a frame, no type guessing, and no caching of pages that show a session's data.
async fn protect(mut r: axum::response::Response) -> axum::response::Response {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, axum::http::HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    r
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../templates/console/console.css"))
}

async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../templates/console/console.js"))
}

async fn admin_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../templates/console/admin.js"))
}
