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

async fn console(envs: usize) -> (Router, Ctx) {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let engine: Arc<dyn Engine> = Arc::new(FakeEngine::new());
    let ctx = Ctx::new(
        store,
        engine,
        Arc::new(SystemClock),
        LoadBalancer::new(LbConfig::default()),
        Settings::new(dir, "c".into()),
    );
    let now = ctx.clock.now();
    for (name, token, scope) in [("admin", ADMIN, Scope::Admin), ("ci", DEPLOY, Scope::Deploy)] {
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
