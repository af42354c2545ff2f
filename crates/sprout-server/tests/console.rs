//! The console over its router, without Docker or a browser: sign-in and its cookie, a forged
//! POST refused, forms hidden by scope, and the render time of the overview and an environment
//! page with 100 environments (printed, not asserted: benchmarks measure, tests decide).
#![allow(clippy::disallowed_methods)] // prints wall-clock render times

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::api::auth::hash_token;
use sprout_server::clock::SystemClock;
use sprout_server::events::Event;
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvironmentRecord, Scope, SqliteStore, Store, TokenRecord};
use tower::ServiceExt;

const ADMIN: &str = "sprout_console_admin";
const DEPLOY: &str = "sprout_console_deploy";
const READ: &str = "sprout_console_read";

async fn console(envs: usize) -> (Router, Ctx) {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let fake = FakeEngine::new();
    fake.add_image("web:1");
    let engine: Arc<dyn Engine> = Arc::new(fake);
    let ctx = Ctx::new(
        store,
        engine,
        Arc::new(SystemClock),
        LoadBalancer::new(LbConfig::default()),
        Settings::new(dir, "c".into()),
    );
    let now = ctx.clock.now();
    for (name, token, scope) in
        [("admin", ADMIN, Scope::Admin), ("ci", DEPLOY, Scope::Deploy), ("viewer", READ, Scope::Read)]
    {
        ctx.store.insert_token(&TokenRecord::unlimited(name, hash_token(token), scope, now)).await.unwrap();
    }
    for a in 0..envs.div_ceil(10) {
        let app = format!("app{a}");
        ctx.store.create_application(&Application { name: app.clone(), created_at: now }).await.unwrap();
        for e in 0..10.min(envs - a * 10) {
            let env = format!("env{e}");
            ctx.store.create_environment(&EnvironmentRecord::launching(&app, &env, "v1", 2, now)).await.unwrap();
            ctx.emit(&app, Some(&env), Event::EnvironmentCreated { version: "v1".into(), instances: 2 }).await;
        }
    }
    let api = sprout_server::api::router(ctx.clone());
    let history = Arc::default();
    (api.clone().merge(sprout_server::console::router(ctx.clone(), api, false, history)), ctx)
}

struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
    bytes: Vec<u8>,
}

async fn send(r: &Router, method: &str, path: &str, cookie: &str, form: Option<&str>) -> Answer {
    send_with(r, Request::builder().method(method).uri(path), cookie, form.map(|f| f.as_bytes().to_vec())).await
}

async fn send_with(r: &Router, mut req: axum::http::request::Builder, cookie: &str, form: Option<Vec<u8>>) -> Answer {
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    if form.is_some() && !req.headers_ref().is_some_and(|h| h.contains_key(header::CONTENT_TYPE)) {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let resp = r.clone().oneshot(req.body(Body::from(form.unwrap_or_default())).unwrap()).await.unwrap();
    let cookies = resp.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let location = resp.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    Answer { status, cookies, location, body: String::from_utf8_lossy(&body).into_owned(), bytes: body.to_vec() }
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

async fn sign_in(r: &Router, token: &str) -> String {
    let form = send(r, "GET", "/console/sign-in", "", None).await;
    let pre = value_of(&form.cookies, "sprout_signin").to_string();
    let body = format!("csrf={}&token={token}", csrf_of(&form.body));
    let a = send(r, "POST", "/console/sign-in", &pre, Some(&body)).await;
    assert_eq!((a.status, a.location.as_deref()), (StatusCode::SEE_OTHER, Some("/console/")), "{}", a.body);
    let set = a.cookies.iter().find(|c| c.starts_with("sprout_session=")).unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "{set}");
    value_of(&a.cookies, "sprout_session").to_string()
}

#[tokio::test]
async fn sign_in_needs_a_known_token_and_the_form_token() {
    let (r, _) = console(1).await;
    let a = send(&r, "GET", "/console/", "", None).await;
    assert_eq!(a.location.as_deref(), Some("/console/sign-in"));
    let form = send(&r, "GET", "/console/sign-in", "", None).await;
    let pre = value_of(&form.cookies, "sprout_signin").to_string();
    let no_csrf = send(&r, "POST", "/console/sign-in", &pre, Some(&format!("token={ADMIN}"))).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let body = format!("csrf={}&token=sprout_nope", csrf_of(&form.body));
    let wrong = send(&r, "POST", "/console/sign-in", &pre, Some(&body)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("unknown or revoked API token"), "{}", wrong.body);

    let session = sign_in(&r, ADMIN).await;
    let page = send(&r, "GET", "/console/", &session, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("app0/<strong>env0</strong>"), "{}", page.body);
    // Sign-out is a POST with the CSRF token, and ends the session here.
    let out = send(&r, "POST", "/console/sign-out", &session, Some("csrf=bad")).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let out = send(&r, "POST", "/console/sign-out", &session, Some(&format!("csrf={}", csrf_of(&page.body)))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = send(&r, "GET", "/console/", &session, None).await;
    assert_eq!(after.location.as_deref(), Some("/console/sign-in"));
}

#[tokio::test]
async fn forms_follow_the_scope_and_a_forged_post_changes_nothing() {
    let (r, ctx) = console(1).await;
    let admin = sign_in(&r, ADMIN).await;
    let page = send(&r, "GET", "/console/apps/app0/env0", &admin, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("terminate-submit") && page.body.contains("config-submit"));

    let ci = sign_in(&r, DEPLOY).await;
    let page = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    assert!(
        page.body.contains("deploy-submit") && page.body.contains("scale-submit") && page.body.contains("sched-submit")
    );
    assert!(!page.body.contains("terminate-submit") && !page.body.contains("config-submit"));

    let forged = send(&r, "POST", "/console/apps/app0/env0/scaling", &admin, Some("min=1&max=9")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let e = ctx.store.get_environment("app0", "env0").await.unwrap();
    assert_ne!(e.options.capacity.max, Some(9), "nothing changed");

    // The API's own validation and words, through the form.
    let csrf = csrf_of(&page.body);
    let sent =
        send(&r, "POST", "/console/apps/app0/env0/scaling", &ci, Some(&format!("csrf={csrf}&min=5&max=2"))).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let shown = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    assert!(shown.body.contains("Refused: "), "{}", shown.body);
    let sent =
        send(&r, "POST", "/console/apps/app0/env0/scaling", &ci, Some(&format!("csrf={csrf}&min=1&max=4"))).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(ctx.store.get_environment("app0", "env0").await.unwrap().options.capacity.max, Some(4));

    // A secret set from the page is never sent back to a browser.
    let sent = send(
        &r,
        "POST",
        "/console/apps/app0/env0/secret",
        &ci,
        Some(&format!("csrf={csrf}&name=DB_PASSWORD&value=hunter2xyz")),
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let shown = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    assert!(shown.body.contains("secret DB_PASSWORD set") && shown.body.contains("DB_PASSWORD"), "{}", shown.body);
    assert!(!shown.body.contains("hunter2xyz"));

    // Read-only lists: what the API shows, to whom it shows it.
    let tokens = send(&r, "GET", "/console/tokens", &admin, None).await;
    assert!(tokens.body.contains("<td>ci</td>") && tokens.body.contains("<td>deploy</td>"), "{}", tokens.body);
    assert!(!tokens.body.contains(&hash_token(DEPLOY)) && !tokens.body.contains(DEPLOY), "no token, no hash");
    let tokens = send(&r, "GET", "/console/tokens", &ci, None).await;
    assert!(tokens.body.contains("needs a token of scope admin"), "{}", tokens.body);
}

/// Posts a console form as `session`; returns the message the next page shows.
async fn post(r: &Router, session: &str, path: &str, form: &str) -> String {
    let sent = send(r, "POST", path, session, Some(form)).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{path}: {}", sent.body);
    let to = sent.location.unwrap();
    let page = send(r, "GET", &to, session, None).await;
    let key = "id=\"flash\">";
    let at = page.body.find(key).unwrap_or_else(|| panic!("{to} shows a message: {}", page.body)) + key.len();
    page.body[at..].split("</p>").next().unwrap().to_string()
}

#[tokio::test]
async fn clone_swap_removals_and_saved_configurations_follow_the_scope() {
    let (r, ctx) = console(2).await;
    let admin = sign_in(&r, ADMIN).await;
    let ci = sign_in(&r, DEPLOY).await;
    let viewer = sign_in(&r, READ).await;
    let page = send(&r, "GET", "/console/apps/app0/env0", &admin, None).await;
    for id in ["clone-submit", "swap-submit", "save-submit", "upload-form"] {
        assert!(page.body.contains(id), "admin sees {id}");
    }
    let csrf = csrf_of(&page.body);
    let ci_page = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    for id in ["clone-submit", "swap-submit", "save-submit"] {
        assert!(!ci_page.body.contains(id), "a deploy token sees no {id}");
    }
    assert!(ci_page.body.contains("upload-form"), "a deploy token uploads");
    let ci_csrf = csrf_of(&ci_page.body);
    let read_page = send(&r, "GET", "/console/apps/app0/env0", &viewer, None).await;
    assert!(
        !read_page.body.contains("upload-form")
            && !read_page.body.contains("<form method=\"post\" action=\"/console/apps")
    );

    // Forged: nothing is cloned.
    let forged = send(&r, "POST", "/console/apps/app0/env0/clone", &admin, Some("name=copy")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(ctx.store.get_environment("app0", "copy").await.is_err());
    // The API refuses a deploy token, and says so in its words.
    let said = post(&r, &ci, "/console/apps/app0/env0/clone", &format!("csrf={ci_csrf}&name=copy")).await;
    assert!(said.starts_with("Refused: ") && said.contains("needs a token of scope admin"), "{said}");
    let said = post(&r, &admin, "/console/apps/app0/env0/clone", &format!("csrf={csrf}&name=env1")).await;
    assert!(said.contains("Refused: environment app0/env1 already exists"), "{said}");
    // A clone opens the new environment's page.
    let sent = send(&r, "POST", "/console/apps/app0/env0/clone", &admin, Some(&format!("csrf={csrf}&name=copy"))).await;
    assert_eq!(sent.location.as_deref(), Some("/console/apps/app0/copy"));
    let copy = ctx.store.get_environment("app0", "copy").await.unwrap();
    assert_eq!(copy.version_label, "v1");

    // Swap: the API's check, then the host names change places.
    let said = post(&r, &admin, "/console/apps/app0/env0/swap", &format!("csrf={csrf}&with=env0")).await;
    assert!(said.contains("Refused: swap needs two different environments"), "{said}");
    let said = post(&r, &ci, "/console/apps/app0/env0/swap", &format!("csrf={ci_csrf}&with=env1")).await;
    assert!(said.contains("needs a token of scope admin"), "{said}");
    let said = post(&r, &admin, "/console/apps/app0/env0/swap", &format!("csrf={csrf}&with=env1")).await;
    assert!(said.contains("host names swapped"), "{said}");
    let env0 = ctx.store.get_environment("app0", "env0").await.unwrap();
    assert_eq!(env0.options.routing.cname.as_deref(), Some("env1"));

    // Removing a secret and a property (deploy scope, like setting them).
    post(&r, &ci, "/console/apps/app0/env0/secret", &format!("csrf={ci_csrf}&name=API_KEY&value=s3cr3tvalue")).await;
    post(&r, &ci, "/console/apps/app0/env0/property", &format!("csrf={ci_csrf}&name=MODE&value=fast")).await;
    let page = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    assert!(page.body.contains("remove-secret-API_KEY") && page.body.contains("remove-property-MODE"));
    let read_page = send(&r, "GET", "/console/apps/app0/env0", &viewer, None).await;
    assert!(read_page.body.contains("API_KEY") && !read_page.body.contains("remove-secret-API_KEY"));
    let said = post(&r, &ci, "/console/apps/app0/env0/secret-remove", &format!("csrf={ci_csrf}&name=NOPE")).await;
    assert!(said.starts_with("Refused: "), "{said}");
    let said = post(&r, &ci, "/console/apps/app0/env0/secret-remove", &format!("csrf={ci_csrf}&name=API_KEY")).await;
    assert!(said.contains("secret API_KEY removed"), "{said}");
    assert!(ctx.store.list_secrets("app0", "env0").await.unwrap().is_empty());
    let said = post(&r, &ci, "/console/apps/app0/env0/property-remove", &format!("csrf={ci_csrf}&name=MODE")).await;
    assert!(said.contains("property MODE removed"), "{said}");
    assert!(!ctx.store.get_environment("app0", "env0").await.unwrap().variables.contains_key("MODE"));

    // Saved configurations: save (admin), listed, applied to another environment, deleted.
    let said = post(&r, &ci, "/console/apps/app0/env0/config-save", &format!("csrf={ci_csrf}&name=base")).await;
    assert!(said.contains("needs a token of scope admin"), "{said}");
    post(&r, &admin, "/console/apps/app0/env0/scaling", &format!("csrf={csrf}&min=2&max=7")).await;
    post(&r, &admin, "/console/apps/app0/env0/property", &format!("csrf={csrf}&name=TIER&value=gold")).await;
    let said = post(&r, &admin, "/console/apps/app0/env0/config-save", &format!("csrf={csrf}&name=base")).await;
    assert!(said.contains("configuration of env0 saved as base"), "{said}");
    let page = send(&r, "GET", "/console/apps/app0/env1", &admin, None).await;
    assert!(page.body.contains("apply-config-base") && page.body.contains("delete-config-base"), "{}", page.body);
    let ci_page = send(&r, "GET", "/console/apps/app0/env1", &ci, None).await;
    assert!(ci_page.body.contains("<code>base</code>") && !ci_page.body.contains("apply-config-base"));
    let said = post(&r, &admin, "/console/apps/app0/env1/config-apply", &format!("csrf={csrf}&name=nope")).await;
    assert!(said.contains("Refused: saved configuration nope of app0 not found"), "{said}");
    let said = post(&r, &admin, "/console/apps/app0/env1/config-apply", &format!("csrf={csrf}&name=base")).await;
    assert!(said.contains("saved configuration base applied to env1"), "{said}");
    let env1 = ctx.store.get_environment("app0", "env1").await.unwrap();
    assert_eq!((env1.options.capacity.max, env1.variables.get("TIER").map(String::as_str)), (Some(7), Some("gold")));
    let said = post(&r, &admin, "/console/apps/app0/env1/config-delete", &format!("csrf={csrf}&name=base")).await;
    assert!(said.contains("saved configuration base deleted"), "{said}");
    assert!(ctx.store.get_saved_configurations("app0").await.unwrap().is_empty());
}

/// A bundle holding only `Dockerrun.aws.json`, as a tar.
fn bundle() -> Vec<u8> {
    let def = r#"{"AWSEBDockerrunVersion": 2, "containerDefinitions": [
        {"name": "web", "image": "web:1", "essential": true, "memory": 32,
         "portMappings": [{"hostPort": 80, "containerPort": 80}]}]}"#;
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(def.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "Dockerrun.aws.json", def.as_bytes()).unwrap();
    tar.into_inner().unwrap()
}

#[tokio::test]
async fn a_bundle_uploaded_from_the_page_becomes_a_version_and_deploys() {
    let (r, ctx) = console(1).await;
    let ci = sign_in(&r, DEPLOY).await;
    let viewer = sign_in(&r, READ).await;
    let page = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    let csrf = csrf_of(&page.body);
    let upload = |session: &str, csrf: &str, query: &str, body: Vec<u8>| {
        let req = Request::post(format!("/console/apps/app0/env0/upload?{query}"))
            .header("x-csrf-token", csrf)
            .header(header::CONTENT_TYPE, "application/octet-stream");
        let session = session.to_string();
        let r = r.clone();
        async move { send_with(&r, req, &session, Some(body)).await }
    };
    let forged = upload(&ci, "wrong", "label=v2", bundle()).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(ctx.store.get_version("app0", "v2").await.is_err(), "nothing uploaded");
    let refused = upload(&ci, &csrf, "label=v2", b"not an archive".to_vec()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Refused: "), "{}", refused.body);
    let read_csrf = csrf_of(&send(&r, "GET", "/console/", &viewer, None).await.body);
    let refused = upload(&viewer, &read_csrf, "label=v2", bundle()).await;
    assert!(refused.body.contains("needs a token of scope deploy"), "{}", refused.body);

    let done = upload(&ci, &csrf, "label=v2&description=from+the+console&deploy=on", bundle()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("version v2 uploaded; deploying it to env0"), "{}", done.body);
    assert_eq!(ctx.store.get_version("app0", "v2").await.unwrap().description, "from the console");
    let shown = send(&r, "GET", "/console/apps/app0/env0", &ci, None).await;
    assert!(shown.body.contains("version v2 uploaded"), "the next page says so");
    assert_eq!(ctx.store.get_environment("app0", "env0").await.unwrap().version_label, "v2", "a deploy of v2 began");
}

#[tokio::test]
async fn logs_page_follows_and_downloads_the_bundle() {
    let (r, ctx) = console(1).await;
    // A retired instance's saved log: in the download (every log), not in the tail.
    let dir = ctx.settings.data_dir.join("instances/app0/env0/i-gone/logs/web");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("access.log"), "GET / 200\n").unwrap();
    let viewer = sign_in(&r, READ).await;
    let page = send(&r, "GET", "/console/apps/app0/env0/logs", &viewer, None).await;
    assert!(page.body.contains("id=\"follow\"") && page.body.contains("id=\"download\""), "{}", page.body);
    let tail = send(&r, "GET", "/console/apps/app0/env0/logs/tail", &viewer, None).await;
    let v: serde_json::Value = serde_json::from_str(&tail.body).unwrap();
    assert_eq!(v["logs"], serde_json::json!([]), "no running instance: {v}");

    let forged = send(&r, "POST", "/console/apps/app0/env0/logs/bundle", &viewer, Some("csrf=x")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = csrf_of(&page.body);
    let got = send(&r, "POST", "/console/apps/app0/env0/logs/bundle", &viewer, Some(&format!("csrf={csrf}"))).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let mut files = Vec::new();
    for entry in tar::Archive::new(&got.bytes[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        files.push((entry.path().unwrap().display().to_string(), text));
    }
    assert_eq!(files, [("env0/i-gone/logs/web/access.log".to_string(), "GET / 200\n".to_string())]);
}

#[tokio::test]
async fn render_times_with_100_environments() {
    let (r, _) = console(100).await;
    let session = sign_in(&r, ADMIN).await;
    for (what, path) in [("overview", "/console/"), ("environment page", "/console/apps/app3/env7")] {
        let first = send(&r, "GET", path, &session, None).await;
        assert_eq!(first.status, StatusCode::OK);
        let mut ms: Vec<f64> = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            send(&r, "GET", path, &session, None).await;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "console render, 100 environments, {what}: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms ({} bytes)",
            ms[15],
            ms[27],
            ms[29],
            first.body.len()
        );
    }
}

/// CPU time of this process so far, in seconds (Linux: /proc/self/stat, clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_of_open_environment_pages() {
    use http_body_util::BodyExt;
    let (r, ctx) = console(100).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(ctx.lb.clone().serve(listener, shutdown.clone()));
    let session = sign_in(&r, ADMIN).await;
    const PAGES: usize = 10;
    const SECONDS: u64 = 5;
    let idle_start = cpu_seconds();
    tokio::time::sleep(std::time::Duration::from_secs(SECONDS)).await;
    let idle = cpu_seconds() - idle_start;
    let start = cpu_seconds();
    let wall = Instant::now();
    let mut streams = Vec::new();
    for i in 0..PAGES {
        let req = Request::get(format!("/console/apps/app{i}/env0/live"))
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap();
        let resp = r.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        streams.push(tokio::spawn(async move {
            let mut body = resp.into_body();
            let mut frames = 0usize;
            let until = tokio::time::Instant::now() + std::time::Duration::from_secs(SECONDS);
            while let Ok(Some(Ok(_))) = tokio::time::timeout_at(until, body.frame()).await {
                frames += 1;
            }
            frames
        }));
    }
    let mut frames = 0;
    for s in streams {
        frames += s.await.unwrap();
    }
    let busy = cpu_seconds() - start;
    let secs = wall.elapsed().as_secs_f64();
    println!(
        "console live streams: {PAGES} open environment pages for {secs:.1} s: {:.2}% of a core per page \
         ({busy:.2} s CPU, {:.2} s with no page open over the same time; {frames} frames)",
        (busy - idle).max(0.0) / secs / PAGES as f64 * 100.0,
        idle
    );
    shutdown.cancel();
}
