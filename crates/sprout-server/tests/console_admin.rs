//! The console's admin pages over its router, without Docker or a browser: for tokens, registry
//! credentials, host policy, domains and HTTPS settings, and certificates, each form is hidden
//! from a token whose scope may not use it, a POST without the session's CSRF token is refused
//! and changes nothing, a good form changes the store through the API, and the API's refusal is
//! shown in its words. Secrets (a new token, a registry password, a private key) never come back
//! in a page, except the new token once. And console sessions survive a server restart.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::api::auth::hash_token;
use sprout_server::clock::SystemClock;
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvironmentRecord, Scope, SqliteStore, Store, TokenRecord};
use tower::ServiceExt;

const ADMIN: &str = "sprout_console_admin";
const DEPLOY: &str = "sprout_console_deploy";
const APP_ADMIN: &str = "sprout_console_app_admin";

/// A console over a fake engine with applications app0 (environments env0, env1) and app1, and
/// three tokens: admin, deploy, and an admin limited to app0.
async fn console() -> (Router, Ctx) {
    let (r, ctx) = server_on(Arc::new(SqliteStore::open_in_memory().await.unwrap()));
    seed(&ctx).await;
    (r, ctx)
}

/// The API and console of one server process over `store`.
fn server_on(store: Arc<dyn Store>) -> (Router, Ctx) {
    let dir = tempfile::tempdir().unwrap().keep();
    let engine: Arc<dyn Engine> = Arc::new(FakeEngine::new());
    let ctx = Ctx::new(
        store,
        engine,
        Arc::new(SystemClock),
        LoadBalancer::new(LbConfig::default()),
        Settings::new(dir, "c".into()),
    );
    let api = sprout_server::api::router(ctx.clone());
    (api.clone().merge(sprout_server::console::router(ctx.clone(), api, false, Arc::default())), ctx)
}

async fn seed(ctx: &Ctx) {
    let now = ctx.clock.now();
    for (name, token, scope) in [("admin", ADMIN, Scope::Admin), ("ci", DEPLOY, Scope::Deploy)] {
        ctx.store.insert_token(&TokenRecord::unlimited(name, hash_token(token), scope, now)).await.unwrap();
    }
    let mut limited = TokenRecord::unlimited("app0-admin", hash_token(APP_ADMIN), Scope::Admin, now);
    limited.limit_app = Some("app0".into());
    ctx.store.insert_token(&limited).await.unwrap();
    for (app, envs) in [("app0", &["env0", "env1"][..]), ("app1", &["env0"][..])] {
        ctx.store.create_application(&Application { name: app.into(), created_at: now }).await.unwrap();
        for env in envs {
            ctx.store.create_environment(&EnvironmentRecord::launching(app, env, "v1", 1, now)).await.unwrap();
        }
    }
}

struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

async fn send(r: &Router, method: &str, path: &str, cookie: &str, form: Option<&str>) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let resp = r.clone().oneshot(req.body(Body::from(form.unwrap_or("").to_string())).unwrap()).await.unwrap();
    let cookies = resp.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let location = resp.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    Answer { status, cookies, location, body: String::from_utf8_lossy(&body).into_owned() }
}

fn csrf_of(page: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let at = page.find(key).expect("a CSRF field") + key.len();
    page[at..].split('"').next().unwrap().to_string()
}

fn value_of<'a>(cookies: &'a [String], name: &str) -> &'a str {
    let c = cookies.iter().find(|c| c.starts_with(&format!("{name}="))).expect(name);
    c.split(';').next().unwrap()
}

/// A signed-in session: its cookie and the CSRF token its forms carry.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(r: &Router, token: &str) -> Browser {
    let form = send(r, "GET", "/console/sign-in", "", None).await;
    let pre = value_of(&form.cookies, "sprout_signin").to_string();
    let body = format!("csrf={}&token={token}", csrf_of(&form.body));
    let a = send(r, "POST", "/console/sign-in", &pre, Some(&body)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let cookie = value_of(&a.cookies, "sprout_session").to_string();
    let page = send(r, "GET", "/console/", &cookie, None).await;
    Browser { csrf: csrf_of(&page.body), cookie }
}

impl Browser {
    async fn get(&self, r: &Router, path: &str) -> String {
        let a = send(r, "GET", path, &self.cookie, None).await;
        assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
        a.body
    }

    /// Posts `form` with the session's CSRF token and returns the page it leads to.
    async fn post(&self, r: &Router, path: &str, form: &str) -> String {
        let a = send(r, "POST", path, &self.cookie, Some(&format!("csrf={}&{form}", self.csrf))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "POST {path}: {}", a.body);
        self.get(r, a.location.as_deref().unwrap()).await
    }

    /// Posts `form` without a CSRF token, then with a wrong one: both refused with 403.
    async fn forge(&self, r: &Router, path: &str, form: &str) {
        for body in [form.to_string(), format!("csrf=0000&{form}")] {
            let a = send(r, "POST", path, &self.cookie, Some(&body)).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "forged POST {path}: {}", a.body);
        }
    }
}

/// Form values percent-encoded the way the console encodes a path segment (every byte but the
/// unreserved ones), which a form body accepts too.
fn enc(s: &str) -> String {
    sprout_server::console::client::seg(s)
}

#[tokio::test]
async fn tokens_are_created_shown_once_and_revoked() {
    let (r, ctx) = console().await;
    let (admin, ci, limited) = (sign_in(&r, ADMIN).await, sign_in(&r, DEPLOY).await, sign_in(&r, APP_ADMIN).await);
    let page = admin.get(&r, "/console/tokens").await;
    assert!(page.contains("token-create-submit") && page.contains("id=\"revoke-ci\""), "{page}");
    for other in [&ci, &limited] {
        let page = other.get(&r, "/console/tokens").await;
        assert!(!page.contains("token-create-submit") && !page.contains("revoke-ci"), "{page}");
        assert!(
            page.contains("Refused")
                || page.contains("needs a token of scope admin")
                || page.contains("limited to application"),
            "{page}"
        );
    }

    admin.forge(&r, "/console/tokens/create", "name=forged&scope=admin").await;
    admin.forge(&r, "/console/tokens/ci/revoke", "confirm=ci").await;
    let names: Vec<String> = ctx.store.list_tokens().await.unwrap().into_iter().map(|t| t.name).collect();
    assert!(!names.contains(&"forged".to_string()) && names.contains(&"ci".to_string()), "{names:?}");

    // The API's own refusals, in its words.
    let page = admin.post(&r, "/console/tokens/create", "name=x&scope=root").await;
    assert!(
        page.contains("Refused: unknown scope") && page.contains("the scopes are read, deploy and admin"),
        "{page}"
    );
    let page = admin.post(&r, "/console/tokens/create", "name=x&scope=read&limit_app=nope").await;
    assert!(page.contains("Refused: ") && page.contains("nope"), "{page}");
    let page = admin.post(&r, "/console/tokens/create", "name=x&scope=read&expires=3w").await;
    assert!(page.contains("Refused: expires &#34;3w&#34;: the unit is d, h, m or s"), "{page}");

    let page = admin.post(&r, "/console/tokens/create", "name=ci2&scope=deploy&limit_app=app0&expires=90d").await;
    assert!(page.contains("token ci2 created with scope deploy"), "{page}");
    let at = page.find("<pre id=\"new-token\">").expect("the new token, once") + "<pre id=\"new-token\">".len();
    let token = page[at..].split('<').next().unwrap().to_string();
    let record = ctx.store.find_token(&hash_token(&token)).await.unwrap().expect("the shown token is the stored one");
    assert_eq!((record.name.as_str(), record.scope, record.limit_app.as_deref()), ("ci2", Scope::Deploy, Some("app0")));
    assert!(record.expires_at.is_some());
    let again = admin.get(&r, "/console/tokens").await;
    assert!(!again.contains(&token) && !again.contains("new-token"), "shown once only");
    let audit = ctx.store.list_audit(None, None, 10).await.unwrap();
    assert!(audit.iter().any(|a| a.call.token == "admin" && a.call.path.ends_with("/tokens")), "{audit:?}");

    let page = admin.post(&r, "/console/tokens/ci2/revoke", "confirm=wrong").await;
    assert!(page.contains("Refused: type the token&#39;s name (ci2) to revoke it"), "{page}");
    let page = admin.post(&r, "/console/tokens/ci2/revoke", "confirm=ci2").await;
    assert!(page.contains("token ci2 revoked"), "{page}");
    assert!(ctx.store.find_token(&hash_token(&token)).await.unwrap().is_none());
    let page = admin.post(&r, "/console/tokens/admin/revoke", "confirm=admin").await;
    assert!(page.contains("Refused: token admin is the last unlimited admin token"), "{page}");
}

#[tokio::test]
async fn registry_credentials_are_added_and_removed_without_showing_the_password() {
    let (r, ctx) = console().await;
    let (admin, ci) = (sign_in(&r, ADMIN).await, sign_in(&r, DEPLOY).await);
    let page = ci.get(&r, "/console/registries").await;
    assert!(!page.contains("registry-login-submit"), "{page}");
    assert!(admin.get(&r, "/console/registries").await.contains("registry-login-submit"));

    let form = "host=registry.example.com%3A5000&username=deployer&password=s3cret-pw%20x&app=app0";
    admin.forge(&r, "/console/registries/login", form).await;
    assert!(ctx.store.list_registry_credentials().await.unwrap().is_empty());

    let page =
        admin.post(&r, "/console/registries/login", "host=registry.example.com&username=deployer&password=").await;
    assert!(page.contains("Refused: the password is empty"), "{page}");
    let page = admin.post(&r, "/console/registries/login", "host=bad%20host&username=u&password=p").await;
    assert!(page.contains("Refused: "), "{page}");

    let page = admin.post(&r, "/console/registries/login", form).await;
    assert!(page.contains("credential for registry.example.com:5000 stored for user deployer"), "{page}");
    assert!(page.contains("<td>deployer</td>") && page.contains("<td>app0</td>"), "{page}");
    assert!(!page.contains("s3cret-pw"), "the password never comes back");
    let stored = ctx.store.list_registry_credentials().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].key.host.as_str(), stored[0].key.app.as_deref()),
        ("registry.example.com:5000", Some("app0"))
    );
    let page = ci.get(&r, "/console/registries").await;
    assert!(page.contains("<td>deployer</td>") && !page.contains("logout-0"), "read, not remove: {page}");

    ci.forge(&r, "/console/registries/logout", "host=registry.example.com%3A5000&app=app0").await;
    let page = ci.post(&r, "/console/registries/logout", "host=registry.example.com%3A5000&app=app0").await;
    assert!(page.contains("Refused: ") && page.contains("needs a token of scope admin"), "{page}");
    let page = admin.post(&r, "/console/registries/logout", "host=registry.example.com%3A5000&app=app0").await;
    assert!(page.contains("1 credential(s) for registry.example.com:5000 removed"), "{page}");
    assert!(ctx.store.list_registry_credentials().await.unwrap().is_empty());
}

#[tokio::test]
async fn host_policy_is_shown_and_changed_by_an_admin() {
    let (r, ctx) = console().await;
    let (admin, ci, limited) = (sign_in(&r, ADMIN).await, sign_in(&r, DEPLOY).await, sign_in(&r, APP_ADMIN).await);
    let page = ci.get(&r, "/console/policy/app0").await;
    assert!(page.contains("<td>none</td>") && !page.contains("policy-set-submit"), "{page}");
    assert!(limited.get(&r, "/console/policy/app0").await.contains("policy-set-submit"));
    assert!(!limited.get(&r, "/console/policy/app1").await.contains("policy-set-submit"));

    admin.forge(&r, "/console/policy/app0/set", "paths=%2Fsrv&privileged=on").await;
    assert!(ctx.store.get_host_access("app0").await.unwrap().allow_host_paths.is_empty());

    let page = admin.post(&r, "/console/policy/app0/set", "paths=etc%2Fpasswd").await;
    assert!(page.contains("Refused: allowed host path &#34;etc/passwd&#34; must be absolute"), "{page}");
    let page = admin
        .post(&r, "/console/policy/app0/set", &format!("paths={}&privileged=on", enc("/srv/data/\n/var/log\n")))
        .await;
    assert!(page.contains("policy of app0 set: host paths /srv/data, /var/log; privileged allowed"), "{page}");
    let policy = ctx.store.get_host_access("app0").await.unwrap();
    assert_eq!(policy.allow_host_paths, ["/srv/data", "/var/log"]);
    assert!(policy.allow_privileged);
    let page = limited.post(&r, "/console/policy/app1/set", "paths=%2Fsrv").await;
    assert!(page.contains("Refused: token &#39;app0-admin&#39; is limited to application app0, not app1"), "{page}");
    let page = admin.post(&r, "/console/policy/app0/set", "paths=").await;
    assert!(page.contains("host paths none; privileged not allowed"), "{page}");
    assert!(!ctx.store.get_host_access("app0").await.unwrap().allow_privileged);
}

#[tokio::test]
async fn domains_and_https_settings_change_through_the_api() {
    let (r, ctx) = console().await;
    let (admin, ci) = (sign_in(&r, ADMIN).await, sign_in(&r, DEPLOY).await);
    let page = ci.get(&r, "/console/domains/app0").await;
    assert!(!page.contains("domain-add-submit") && !page.contains("https-env0-submit"), "{page}");
    let page = admin.get(&r, "/console/domains/app0").await;
    assert!(page.contains("domain-add-submit") && page.contains("https-env1-submit"), "{page}");

    admin.forge(&r, "/console/domains/app0/add", "env=env0&hosts=ads.example.com").await;
    assert!(ctx.store.get_environment("app0", "env0").await.unwrap().options.routing.domains.is_empty());

    let page = admin.post(&r, "/console/domains/app0/add", "env=env0&hosts=*.example.com&acme=on").await;
    assert!(page.contains("Refused: *.example.com: ACME certificates are obtained with HTTP-01"), "{page}");
    let page =
        admin.post(&r, "/console/domains/app0/add", "env=env0&hosts=ads.example.com%2C+www.example.com&acme=on").await;
    assert!(page.contains("ads.example.com, www.example.com added to env0 (certificates over ACME)"), "{page}");
    assert!(page.contains("<td>ads.example.com</td>") && page.contains("id=\"remove-ads.example.com\""), "{page}");
    let routing = ctx.store.get_environment("app0", "env0").await.unwrap().options.routing;
    assert_eq!(routing.domains, ["ads.example.com", "www.example.com"]);
    assert_eq!(routing.acme, ["ads.example.com", "www.example.com"]);
    // A name answers for one environment at a time: the API names the holder.
    let page = admin.post(&r, "/console/domains/app0/add", "env=env1&hosts=ads.example.com").await;
    assert!(page.contains("Refused: ads.example.com belongs to environment app0/env0"), "{page}");

    let page = admin.post(&r, "/console/domains/app0/https", "env=env0&redirect=on&hsts_max_age=999999999").await;
    assert!(page.contains("Refused: an HSTS max-age of more than"), "{page}");
    let page = admin.post(&r, "/console/domains/app0/https", "env=env0&redirect=on&hsts_max_age=31536000").await;
    assert!(page.contains("HTTPS of env0: redirect to HTTPS on, HSTS max-age=31536000"), "{page}");
    let routing = ctx.store.get_environment("app0", "env0").await.unwrap().options.routing;
    assert!(routing.https_redirect && routing.hsts_max_age == Some(31_536_000));
    let page = admin.get(&r, "/console/domains/app0").await;
    assert!(page.contains("Now: redirect to HTTPS on, HSTS max-age=31536000"), "as served: {page}");
    let page = admin.post(&r, "/console/domains/app0/https", "env=env0&redirect=&hsts_max_age=0").await;
    assert!(page.contains("redirect to HTTPS on, HSTS off"), "an empty field stays as it is: {page}");

    ci.forge(&r, "/console/domains/app0/remove", "env=env0&host=ads.example.com").await;
    let page = ci.post(&r, "/console/domains/app0/remove", "env=env0&host=ads.example.com").await;
    assert!(page.contains("Refused: ") && page.contains("needs a token of scope admin"), "{page}");
    let page = admin.post(&r, "/console/domains/app0/remove", "env=env0&host=ads.example.com").await;
    assert!(page.contains("ads.example.com removed from env0"), "{page}");
    let routing = ctx.store.get_environment("app0", "env0").await.unwrap().options.routing;
    assert_eq!(
        (routing.domains, routing.acme),
        (vec!["www.example.com".to_string()], vec!["www.example.com".to_string()])
    );
}

fn made(names: &[&str]) -> (String, String) {
    let params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn certificates_are_added_and_removed_and_the_key_never_comes_back() {
    let (r, ctx) = console().await;
    let (admin, ci) = (sign_in(&r, ADMIN).await, sign_in(&r, DEPLOY).await);
    assert!(!ci.get(&r, "/console/certificates").await.contains("cert-add-submit"));
    assert!(admin.get(&r, "/console/certificates").await.contains("cert-add-submit"));

    let (chain, key) = made(&["ads.example.com"]);
    let (_, other_key) = made(&["ads.example.com"]);
    let form = format!("chain_pem={}&key_pem={}", enc(&chain), enc(&key));
    admin.forge(&r, "/console/certificates/add", &form).await;
    assert!(ctx.store.list_certificates().await.unwrap().is_empty());

    let page = admin
        .post(&r, "/console/certificates/add", &format!("chain_pem={}&key_pem={}", enc(&chain), enc(&other_key)))
        .await;
    assert!(page.contains("Refused: certificate refused: ") && page.contains("does not match"), "{page}");
    let page = ci.post(&r, "/console/certificates/add", &form).await;
    assert!(page.contains("Refused: ") && page.contains("needs a token of scope admin"), "{page}");

    let page = admin.post(&r, "/console/certificates/add", &form).await;
    assert!(page.contains("added for ads.example.com (valid until"), "{page}");
    let key_body = key.lines().nth(1).unwrap();
    assert!(!page.contains(key_body), "the key never comes back");
    let stored = ctx.store.list_certificates().await.unwrap();
    assert_eq!(stored.len(), 1);
    let id = &stored[0].id[..12];
    assert!(page.contains(&format!("id=\"remove-{id}\"")) && !page.contains("renew-"), "{page}");
    let ci_page = ci.get(&r, "/console/certificates").await;
    assert!(ci_page.contains("<td>ads.example.com</td>") && !ci_page.contains("remove-"), "{ci_page}");

    // An uploaded certificate is not renewed over ACME: the API says so.
    let page = admin.post(&r, &format!("/console/certificates/{id}/renew"), "").await;
    assert!(page.contains("Refused: ") && page.contains("is not renewed over ACME"), "{page}");
    ci.forge(&r, &format!("/console/certificates/{id}/remove"), "").await;
    let page = admin.post(&r, &format!("/console/certificates/{id}/remove"), "").await;
    assert!(page.contains(&format!("certificate {id} removed")), "{page}");
    assert!(ctx.store.list_certificates().await.unwrap().is_empty());
}

#[tokio::test]
async fn sessions_survive_a_restart_and_still_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sprout.db");
    let (first, ctx) = server_on(Arc::new(SqliteStore::open(&db).await.unwrap()));
    seed(&ctx).await;
    let (admin, ci) = (sign_in(&first, ADMIN).await, sign_in(&first, DEPLOY).await);
    // The store keeps a hash of the session id and the token's hash: neither secret.
    let id = admin.cookie.strip_prefix("sprout_session=").unwrap();
    let kept = ctx.store.get_console_session(&hash_token(id)).await.unwrap().expect("the session is kept");
    assert_eq!(kept.token_hash, hash_token(ADMIN));
    drop((first, ctx));

    // A new process over the same database: the same cookie opens pages and its forms work.
    let (second, ctx) = server_on(Arc::new(SqliteStore::open(&db).await.unwrap()));
    assert!(admin.get(&second, "/console/").await.contains("app0/<strong>env0</strong>"));
    let page = admin.post(&second, "/console/policy/app0/set", "paths=%2Fsrv").await;
    assert!(page.contains("policy of app0 set: host paths /srv"), "{page}");
    let audit = ctx.store.list_audit(Some("app0"), None, 10).await.unwrap();
    assert!(audit.iter().any(|a| a.call.token == "admin" && a.call.path.ends_with("/policy")), "{audit:?}");
    admin.forge(&second, "/console/policy/app0/set", "paths=%2Fetc").await;

    // Signing out and revoking still end sessions, in this process and the next.
    let out = send(&second, "POST", "/console/sign-out", &admin.cookie, Some(&format!("csrf={}", admin.csrf))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    ctx.store.delete_token("ci").await.unwrap();
    let (third, ctx) = server_on(Arc::new(SqliteStore::open(&db).await.unwrap()));
    for b in [&admin, &ci] {
        let a = send(&third, "GET", "/console/", &b.cookie, None).await;
        assert_eq!(a.location.as_deref(), Some("/console/sign-in"), "{}", a.body);
    }
    assert_eq!(ctx.store.get_console_session(&hash_token(id)).await.unwrap(), None);

    // A session older than 12 hours is refused, wherever it was kept.
    let mut old = kept.clone();
    old.id_hash = hash_token("an-old-session");
    old.started_at = ctx.clock.now() - chrono::Duration::hours(13);
    ctx.store.put_console_session(&old).await.unwrap();
    let a = send(&third, "GET", "/console/", "sprout_session=an-old-session", None).await;
    assert_eq!(a.location.as_deref(), Some("/console/sign-in"));
    assert_eq!(ctx.store.get_console_session(&old.id_hash).await.unwrap(), None, "and removed");
}
