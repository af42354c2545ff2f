//! Signing in with an API token and out again. The sign-in form's CSRF token is a random value
//! in both a short-lived cookie and the form (there is no session yet to hold it); sign-out is a
//! POST with the session's CSRF token and ends the session on the server.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::session::{
    COOKIE_NAME, PRE_COOKIE, SignedIn, check_token, cookie, random_id, same_secret, see_other, set_cookie,
};

#[derive(Template, WebTemplate)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
}

fn page(st: &ConsoleState, status: StatusCode, error: Option<String>) -> Response {
    let csrf = random_id();
    let mut r = (status, SignInPage { csrf: csrf.clone(), error }).into_response();
    r.headers_mut().append(axum::http::header::SET_COOKIE, set_cookie(PRE_COOKIE, &csrf, st.secure, 3600));
    r
}

pub async fn form(State(st): State<ConsoleState>) -> Response {
    page(&st, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

pub async fn sign_in(State(st): State<ConsoleState>, headers: HeaderMap, Form(f): Form<SignIn>) -> Response {
    let expected = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &f.csrf) {
        return page(&st, StatusCode::FORBIDDEN, Some("the form had expired: sign in again".into()));
    }
    if f.token.trim().is_empty() {
        return page(&st, StatusCode::UNPROCESSABLE_ENTITY, Some("paste an API token (`sprout tokens create`)".into()));
    }
    match check_token(&st, &f.token).await {
        Ok(record) => {
            let s = match st.sessions.start(record, st.ctx.clock.now()).await {
                Ok(s) => s,
                Err(e) => return page(&st, StatusCode::SERVICE_UNAVAILABLE, Some(e)),
            };
            see_other(
                "/console/",
                vec![set_cookie(COOKIE_NAME, &s.id, st.secure, 12 * 3600), set_cookie(PRE_COOKIE, "", st.secure, 0)],
            )
        }
        Err(why) => page(&st, StatusCode::UNAUTHORIZED, Some(why)),
    }
}

#[derive(Deserialize)]
pub struct Csrf {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(State(st): State<ConsoleState>, SignedIn(s): SignedIn, Form(f): Form<Csrf>) -> Response {
    if !same_secret(&s.csrf, &f.csrf) {
        return (StatusCode::FORBIDDEN, "refused: the form has no valid CSRF token\n").into_response();
    }
    st.sessions.end(&s.id).await;
    see_other("/console/sign-in", vec![set_cookie(COOKIE_NAME, "", st.secure, 0)])
}
