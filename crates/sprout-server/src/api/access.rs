//! Who may call what: the scope each route needs and the limits of a token, decided from the
//! route's template, its method and the names in its path. Pure, so the whole table is tested
//! without a server.
//!
//! - **read**: every GET.
//! - **deploy**: uploading versions, deploying, aborting, scaling, schedules, properties,
//!   secrets, one-off commands (`exec`, `run`): the day-to-day work of CI.
//! - **admin**: everything else (terminate, create, clone, swap, tokens, policies, registry
//!   credentials, backups, options).
//!
//! A token limited to an application (`--limit-app`) reaches only routes of that application,
//! plus the server-wide lists it is shown filtered (`/apps`, `/environments`, `/info`); limited to
//! an environment (`--limit-env`), it changes only that environment (and may upload versions of
//! its application, which a deploy needs), while it may still read the application.

use axum::http::Method;
use sprout_store::{Scope, TokenRecord};

/// What one call concerns: the route's template (as the router matched it, without `/api/v1`)
/// and the application and environment named in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call<'a> {
    pub method: &'a Method,
    pub route: &'a str,
    pub app: Option<&'a str>,
    pub env: Option<&'a str>,
}

/// Routes a deploy token may call with a method other than GET (templates as the router has
/// them). Anything not listed needs admin, so a new route is safe until someone decides.
const DEPLOY_ROUTES: &[&str] = &[
    "/apps/{app}/versions",
    "/apps/{app}/environments/{env}/deploy",
    "/apps/{app}/environments/{env}/abort",
    "/apps/{app}/environments/{env}/scaling",
    "/apps/{app}/environments/{env}/schedules",
    "/apps/{app}/environments/{env}/schedules/{name}",
    "/apps/{app}/environments/{env}/schedules/{name}/suspend",
    "/apps/{app}/environments/{env}/schedules/{name}/resume",
    "/apps/{app}/environments/{env}/variables",
    "/apps/{app}/environments/{env}/secrets/{name}",
    "/apps/{app}/environments/{env}/exec",
    "/apps/{app}/environments/{env}/run",
];

/// Server-wide GET routes a token limited to an application may call: their handlers show only
/// what the token may see.
const FILTERED_LISTS: &[&str] = &["/info", "/apps", "/environments"];

/// Admin-only even to read: they show who may do what, or private keys.
const ADMIN_READS: &[&str] = &["/tokens", "/certificates/served"];

/// The scope a call needs.
pub fn needed(call: &Call) -> Scope {
    if *call.method == Method::GET {
        if ADMIN_READS.contains(&call.route) { Scope::Admin } else { Scope::Read }
    } else if DEPLOY_ROUTES.contains(&call.route) {
        Scope::Deploy
    } else {
        Scope::Admin
    }
}

/// Whether `token` may make `call`; otherwise what to tell the caller.
pub fn allow(token: &TokenRecord, call: &Call) -> Result<(), String> {
    let need = needed(call);
    if !token.scope.allows(need) {
        return Err(format!(
            "{} {} needs a token of scope {}; token '{}' has scope {}",
            call.method,
            call.route,
            need.as_str(),
            token.name,
            token.scope.as_str()
        ));
    }
    if let Some(limit) = &token.limit_app {
        match call.app {
            Some(app) if app == limit => {}
            Some(app) => {
                return Err(format!("token '{}' is limited to application {limit}, not {app}", token.name));
            }
            None if *call.method == Method::GET && FILTERED_LISTS.contains(&call.route) => {}
            None => {
                return Err(format!(
                    "token '{}' is limited to application {limit}: {} {} is server-wide",
                    token.name, call.method, call.route
                ));
            }
        }
    }
    if let Some(limit) = &token.limit_env
        && *call.method != Method::GET
    {
        match call.env {
            Some(env) if env == limit => {}
            Some(env) => {
                return Err(format!("token '{}' is limited to environment {limit}, not {env}", token.name));
            }
            // A deploy needs its version uploaded first: that is the one change to the
            // application as a whole such a token makes.
            None if call.route == "/apps/{app}/versions" => {}
            None => {
                return Err(format!(
                    "token '{}' is limited to environment {limit}: {} {} concerns more than one environment",
                    token.name, call.method, call.route
                ));
            }
        }
    }
    Ok(())
}

/// Whether a token limited as `token` is may see `app` (and, for environments, `env`) in a
/// server-wide list.
pub fn shows(token: &TokenRecord, app: &str) -> bool {
    token.limit_app.as_deref().is_none_or(|limit| limit == app)
}

/// The application and environment a concrete path names, read by aligning it with its
/// template (`{app}` and `{env}` segments).
pub fn names_in<'p>(route: &str, path: &'p str) -> (Option<&'p str>, Option<&'p str>) {
    let (mut app, mut env) = (None, None);
    for (t, p) in route.split('/').zip(path.split('/')) {
        match t {
            "{app}" => app = Some(p),
            "{env}" => env = Some(p),
            _ => {}
        }
    }
    (app, env)
}

#[cfg(test)]
mod tests;
