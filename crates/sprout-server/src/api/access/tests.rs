//! The access table: every scope and limit against the calls CI and people make.

use super::*;

fn token(scope: Scope, app: Option<&str>, env: Option<&str>) -> TokenRecord {
    let mut t = TokenRecord::unlimited("t", "sha256:x".into(), scope, chrono::DateTime::UNIX_EPOCH);
    t.limit_app = app.map(String::from);
    t.limit_env = env.map(String::from);
    t
}

fn call<'a>(method: &'a Method, route: &'a str, path: &'a str) -> Call<'a> {
    let (app, env) = names_in(route, path);
    Call { method, route, app, env }
}

const DEPLOY: &str = "/apps/{app}/environments/{env}/deploy";
const ENV: &str = "/apps/{app}/environments/{env}";

#[test]
fn names_come_from_the_template() {
    assert_eq!(names_in(DEPLOY, "/apps/ads/environments/prod/deploy"), (Some("ads"), Some("prod")));
    assert_eq!(names_in("/apps/{app}/versions", "/apps/ads/versions"), (Some("ads"), None));
    assert_eq!(names_in("/tokens", "/tokens"), (None, None));
}

#[test]
fn scopes_rank_read_deploy_admin() {
    let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
    let deploy = call(&post, DEPLOY, "/apps/ads/environments/prod/deploy");
    let read_env = call(&get, ENV, "/apps/ads/environments/prod");
    let terminate = call(&delete, ENV, "/apps/ads/environments/prod");
    let create_token = call(&post, "/tokens", "/tokens");
    let list_tokens = call(&get, "/tokens", "/tokens");

    let read = token(Scope::Read, None, None);
    assert!(allow(&read, &read_env).is_ok());
    let refused = allow(&read, &deploy).unwrap_err();
    assert!(refused.contains("needs a token of scope deploy") && refused.contains("has scope read"), "{refused}");

    let ci = token(Scope::Deploy, None, None);
    assert!(allow(&ci, &deploy).is_ok());
    assert!(allow(&ci, &read_env).is_ok());
    assert!(allow(&ci, &terminate).unwrap_err().contains("scope admin"));
    assert!(allow(&ci, &create_token).is_err());
    assert!(allow(&ci, &list_tokens).is_err(), "who holds which token is for admins");

    let admin = token(Scope::Admin, None, None);
    for c in [&deploy, &read_env, &terminate, &create_token, &list_tokens] {
        assert!(allow(&admin, c).is_ok(), "{c:?}");
    }
}

#[test]
fn an_unknown_route_needs_admin_until_someone_decides() {
    let post = Method::POST;
    assert_eq!(needed(&call(&post, "/apps/{app}/something-new", "/apps/a/something-new")), Scope::Admin);
}

#[test]
fn an_application_limit_keeps_the_token_in_its_application() {
    let (get, post) = (Method::GET, Method::POST);
    let ci = token(Scope::Deploy, Some("ads"), None);
    assert!(allow(&ci, &call(&post, DEPLOY, "/apps/ads/environments/prod/deploy")).is_ok());
    let other = allow(&ci, &call(&get, ENV, "/apps/billing/environments/prod")).unwrap_err();
    assert!(other.contains("limited to application ads, not billing"), "{other}");
    assert!(allow(&ci, &call(&get, "/apps", "/apps")).is_ok(), "a filtered list");
    assert!(allow(&ci, &call(&get, "/routing", "/routing")).unwrap_err().contains("server-wide"));
}

#[test]
fn an_environment_limit_changes_that_environment_only() {
    let (get, post) = (Method::GET, Method::POST);
    let ci = token(Scope::Deploy, Some("ads"), Some("staging"));
    assert!(allow(&ci, &call(&post, DEPLOY, "/apps/ads/environments/staging/deploy")).is_ok());
    assert!(allow(&ci, &call(&post, "/apps/{app}/versions", "/apps/ads/versions")).is_ok(), "uploads its version");
    let prod = allow(&ci, &call(&post, DEPLOY, "/apps/ads/environments/prod/deploy")).unwrap_err();
    assert!(prod.contains("limited to environment staging, not prod"), "{prod}");
    assert!(allow(&ci, &call(&get, ENV, "/apps/ads/environments/prod")).is_ok(), "reading stays open");
    let schedule = call(&post, "/apps/{app}/environments/{env}/schedules", "/apps/ads/environments/prod/schedules");
    assert!(allow(&ci, &schedule).is_err());
}
