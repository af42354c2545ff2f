//! The web console in a real browser (Debian's chromium, headless, over WebDriver) against a
//! real server and Docker: sign in and out; the overview shows a new environment turning Green;
//! a deploy from the console rolls the environment to the chosen version; a schedule in
//! Europe/Berlin shows in the 7-day preview (and while typed); the scaling band changes;
//! containers' CPU and memory show; a clone from the console turns Ready and swaps host names
//! with its source; the logs page follows; the live stream delivers a new point each second.
//! Over plain HTTP: a deploy-scoped token sees no terminate form, and a POST without the CSRF
//! token is refused. An admin creates a token, sees it once, and revokes it by typing its name.
//! A bundle chosen in the page's file field is uploaded, becomes a version and is deployed.
//!
//! With `SPROUT_CONSOLE_SCREENSHOTS=1` the test saves the main pages under docs/console/.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::time::{Duration, Instant};

use browser::{Browser, admin_browser, read_stream, request, sign_in, submit, text_of, wait_text, wait_text_for};
use common::*;
use fantoccini::{Client, Locator};

/// Reloads `url` until `css`'s text satisfies `ok` (at most `secs`).
async fn until_text(c: &Client, url: &str, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        c.goto(url).await.unwrap();
        let t = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "gave up after {secs}s waiting on {url} for {css}; last text {t:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    if std::env::var_os("SPROUT_CONSOLE_SCREENSHOTS").is_none() {
        return;
    }
    let dir = repo_root().join("docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_shows_health_deploys_schedules_scales_and_streams() {
    require_busybox_image();
    let app = unique_app("cons");
    let server = Server::start(&app);
    let (one, two) = (busybox_web_bundle("one"), busybox_web_bundle("two"));
    let base = format!("http://{}", server.api);
    let b = Browser::start(1280, 1000).await;
    let c = &b.client;

    // Signing in: the page asks for a token; a wrong one is refused, saying so.
    c.goto(&format!("{base}/console/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/console/sign-in"));
    screenshot(c, "sign-in").await;
    c.find(Locator::Id("token")).await.unwrap().send_keys("sprout_wrong").await.unwrap();
    c.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    wait_text(c, "#error", "unknown or revoked").await;
    // By keyboard: the token, then Enter.
    let enter: char = fantoccini::key::Key::Enter.into();
    c.find(Locator::Id("token")).await.unwrap().send_keys(&format!("{}{enter}", server.token())).await.unwrap();
    wait_text(c, "nav.who", "admin").await;

    // A new environment shows on the overview and turns Green.
    server.cli_ok(&["create", "web", "--bundle", one.path().to_str().unwrap(), "--label", "one"]);
    let row = format!("tr[data-env='{app}/web'] .health");
    until_text(c, &format!("{base}/console/"), &row, 90, |t| t == "Green").await;
    screenshot(c, "overview").await;

    // A deploy from the console rolls the environment to the version chosen.
    server.cli_ok(&["deploy", "web", "--bundle", two.path().to_str().unwrap(), "--label", "two"]);
    let page = format!("{base}/console/apps/{app}/web");
    c.goto(&page).await.unwrap();
    assert_eq!(text_of(c, "#version").await, "two");
    c.find(Locator::Id("deploy-version")).await.unwrap().select_by_value("one").await.unwrap();
    c.find(Locator::Id("deploy-policy")).await.unwrap().select_by_value("AllAtOnce").await.unwrap();
    submit(c, "deploy-submit", "deploying one to web").await;
    assert_eq!(text_of(c, "#version").await, "one");
    until_text(c, &page, "#status", 90, |t| t == "Ready").await;
    let status = server.status("web");
    assert_eq!(status["version"], "one", "{status}");
    assert!(status["instances"].as_array().unwrap().iter().all(|i| i["version"] == "one"), "{status}");
    assert!(text_of(c, "#events").await.contains("one"), "the page's events show the deploy");

    // The live stream fills the graphs: the points counter grows.
    let points = |c: &Client| {
        let c = c.clone();
        async move {
            let v = c.find(Locator::Id("graphs")).await.unwrap().attr("data-points").await.unwrap();
            v.unwrap_or_default().parse::<u64>().unwrap_or(0)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while points(c).await == 0 {
        assert!(Instant::now() < deadline, "the graphs received no point");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = |c: &Client| {
        let c = c.clone();
        async move { c.find(Locator::Id("graphs")).await.unwrap().attr("data-last").await.unwrap().unwrap_or_default() }
    };
    let first_last = last(c).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while last(c).await == first_last {
        assert!(Instant::now() < deadline, "the graphs received no new second");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..20 {
        let _ = server.get("web", "/");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Each container's CPU and memory, from the engine's stats, shown after the page. Shown
    // afresh: the page loaded the moment the deploy ended may list the instances it retired.
    c.goto(&page).await.unwrap();
    wait_text(c, "#instances .usage", "memory").await;
    screenshot(c, "environment").await;

    // A schedule in Europe/Berlin: previewed while typed, listed and previewed once added.
    c.find(Locator::Id("sched-name")).await.unwrap().send_keys("evening").await.unwrap();
    c.find(Locator::Id("sched-tz")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Id("sched-tz")).await.unwrap().send_keys("Europe/Berlin").await.unwrap();
    c.find(Locator::Id("sched-max")).await.unwrap().send_keys("2").await.unwrap();
    c.find(Locator::Id("sched-cron")).await.unwrap().send_keys("0 18 * * *").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let draft = text_of(c, "#draft-preview").await;
        if draft.matches("evening").count() >= 7 {
            break;
        }
        assert!(Instant::now() < deadline, "no preview while typing; shows {draft:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    submit(c, "sched-submit", "scheduled action evening added").await;
    let schedules = text_of(c, "#schedules").await;
    assert!(schedules.contains("Europe/Berlin") && schedules.contains("0 18 * * *"), "{schedules}");
    let preview = text_of(c, "#preview").await;
    assert!(preview.matches("evening").count() >= 7, "7 evenings in the next 7 days: {preview}");
    assert!(preview.contains("18:00"), "local Berlin time shown: {preview}");

    // The scaling band.
    for (id, v) in [("scale-min", "1"), ("scale-max", "3")] {
        let e = c.find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(v).await.unwrap();
    }
    submit(c, "scale-submit", "min 1 max 3").await;
    assert_eq!(text_of(c, "#band-max").await, "3");
    let scale = server.cli_ok(&["scale", "web", "--output", "json"]);
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!((scale["min"].as_u64(), scale["max"].as_u64()), (Some(1), Some(3)), "{scale}");

    // Clone, then swap host names with the clone (blue/green); its cost is printed.
    let clone_started = Instant::now();
    c.find(Locator::Id("clone-name")).await.unwrap().send_keys("green").await.unwrap();
    submit(c, "clone-submit", "web cloned to green").await;
    assert!(c.current_url().await.unwrap().path().ends_with(&format!("/console/apps/{app}/green")));
    until_text(c, &format!("{base}/console/apps/{app}/green"), "#status", 90, |t| t == "Ready").await;
    assert_eq!(server.status("green")["version"], "one", "the clone runs the source's version");
    c.goto(&page).await.unwrap();
    c.find(Locator::Id("swap-with")).await.unwrap().select_by_value("green").await.unwrap();
    submit(c, "swap-submit", "host names swapped").await;
    let green_url = server.status("green")["url"].as_str().unwrap().to_string();
    assert!(green_url.contains(&format!("//web.{app}.")), "green answers web's host name: {green_url}");
    println!("console browser test: clone to Ready, then swap: {:.1} s", clone_started.elapsed().as_secs_f64());

    // The live stream itself: a points event each second, each a later second.
    let session = format!("sprout_session={}", c.get_named_cookie("sprout_session").await.unwrap().value());
    let stream = read_stream(&server.api, &format!("/console/apps/{app}/web/live"), &session, 20, |s| {
        s.matches("event: points").count() >= 4
    });
    let seconds: Vec<i64> = stream
        .split("\n\n")
        .filter(|block| block.lines().any(|l| l == "event: points"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .flat_map(|d| serde_json::from_str::<Vec<serde_json::Value>>(d).unwrap())
        .filter_map(|p| p["t"].as_i64())
        .collect();
    assert!(seconds.len() > 600, "the stream starts with the last 15 minutes: {} points", seconds.len());
    assert!(seconds.windows(2).all(|w| w[1] == w[0] + 1), "one point per second, in order");
    let batches = stream.matches("event: points").count();
    assert!(batches >= 4, "after the 15 minutes, new seconds keep coming ({batches} batches)");
    assert!(stream.contains("event: minutes"), "the 24 hours per minute, once");

    // On a phone-sized screen the page reflows: nothing wider than the window.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&page).await.unwrap();
    let fits = c.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await.unwrap();
    assert_eq!(fits, serde_json::json!(true), "the environment page fits a phone's width");
    screenshot(c, "environment-phone").await;
    c.goto(&format!("{base}/console/apps/{app}/web/logs")).await.unwrap();
    assert!(text_of(c, "h1").await.contains("Logs of"));
    // Following: the page's script looks once a second and says when it last did.
    c.find(Locator::Id("follow")).await.unwrap().click().await.unwrap();
    wait_text(c, "#follow-note", "Following").await;
    assert_eq!(text_of(c, "#follow").await, "Stop following");

    // Signing out ends the session on the server: its cookie no longer opens a page.
    c.find(Locator::Id("sign-out")).await.unwrap().click().await.unwrap();
    // A form's navigation may finish after the click returns.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.current_url().await.unwrap().path().ends_with("/console/sign-in") {
        assert!(Instant::now() < deadline, "sign-out did not lead to the sign-in page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = request(&server.api, "GET", "/console/", &session, None);
    assert_eq!((after.status, after.header("location").as_deref()), (303, Some("/console/sign-in")));
    b.client.clone().close().await.unwrap();
}

#[test]
fn a_deploy_token_sees_no_terminate_form_and_a_post_without_csrf_is_refused() {
    require_busybox_image();
    let app = unique_app("consa");
    let server = Server::start(&app);
    let one = busybox_web_bundle("one");
    server.cli_ok(&["create", "web", "--bundle", one.path().to_str().unwrap(), "--label", "one"]);
    let out = server.cli_ok(&["tokens", "create", "ci", "--scope", "deploy", "--output", "json"]);
    let token: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cookie = sign_in(&server.api, token["token"].as_str().unwrap());

    let page = request(&server.api, "GET", &format!("/console/apps/{app}/web"), &cookie, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"deploy-submit\""), "a deploy token may deploy");
    assert!(!page.body.contains("terminate-submit"), "but sees no terminate button");
    assert!(page.head.contains("HttpOnly") || !page.head.contains("Set-Cookie"));

    // Forged: no CSRF token, then a wrong one. Refused before anything happens.
    let path = format!("/console/apps/{app}/web/terminate");
    let forged = request(&server.api, "POST", &path, &cookie, Some("confirm=web"));
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = request(&server.api, "POST", &path, &cookie, Some("confirm=web&csrf=00"));
    assert_eq!(forged.status, 403);
    // With the right CSRF token, the API still refuses: terminate needs admin.
    let csrf = browser::csrf_of(&page.body);
    let sent = request(&server.api, "POST", &path, &cookie, Some(&format!("confirm=web&csrf={csrf}")));
    assert_eq!(sent.status, 303);
    let next = request(&server.api, "GET", &format!("/console/apps/{app}/web"), &cookie, None);
    assert!(next.body.contains("needs a token of scope admin"), "{}", next.body);
    assert_eq!(server.status("web")["status"], "Ready", "the environment is still there");

    // The cookie's attributes.
    let form = request(&server.api, "GET", "/console/sign-in", "", None);
    let set = form.header("set-cookie").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
}

/// Tokens in the browser: an admin creates one from the form, reads it once on the next page
/// (and it signs in), then revokes it by typing its name (the button is enabled only then); the
/// revoked token no longer signs in. No Docker needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_token_sees_it_once_and_revokes_it() {
    let server = Server::start(&unique_app("const"));
    let (b, base) = admin_browser(&server.api, &server.token()).await;
    let c = &b.client;

    c.goto(&format!("{base}/console/tokens")).await.unwrap();
    c.find(Locator::Id("token-name")).await.unwrap().send_keys("browser-ci").await.unwrap();
    c.find(Locator::Id("token-scope")).await.unwrap().select_by_value("deploy").await.unwrap();
    c.find(Locator::Id("token-expires")).await.unwrap().send_keys("12h").await.unwrap();
    submit(c, "token-create-submit", "token browser-ci created with scope deploy").await;
    let token = text_of(c, "#new-token").await;
    assert!(token.starts_with("sprout_"), "{token}");
    screenshot(c, "tokens").await;
    sign_in(&server.api, &token);
    c.refresh().await.unwrap();
    assert!(c.find(Locator::Id("new-token")).await.is_err(), "the token is shown once");
    let listed = server.cli_ok(&["tokens", "list", "--output", "json"]);
    assert!(listed.contains("browser-ci") && !listed.contains(&token), "{listed}");

    let revoke = c.find(Locator::Id("revoke-browser-ci")).await.unwrap();
    assert!(!revoke.is_enabled().await.unwrap(), "revoking needs the name typed");
    c.find(Locator::Id("revoke-browser-ci-confirm")).await.unwrap().send_keys("browser-ci").await.unwrap();
    assert!(revoke.is_enabled().await.unwrap());
    submit(c, "revoke-browser-ci", "token browser-ci revoked").await;
    let listed = server.cli_ok(&["tokens", "list", "--output", "json"]);
    assert!(!listed.contains("browser-ci"), "{listed}");
    let form = request(&server.api, "GET", "/console/sign-in", "", None);
    let pre = form.cookie("sprout_signin").unwrap();
    let body = format!("csrf={}&token={token}", browser::csrf_of(&form.body));
    let refused = request(&server.api, "POST", "/console/sign-in", &format!("sprout_signin={pre}"), Some(&body));
    assert_eq!(refused.status, 401, "a revoked token no longer signs in: {}", refused.body);
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_uploaded_in_the_browser_becomes_a_version_and_is_deployed() {
    require_busybox_image();
    let app = unique_app("conup");
    let server = Server::start(&app);
    let one = busybox_web_bundle("one");
    server.cli_ok(&["create", "web", "--bundle", one.path().to_str().unwrap(), "--label", "one"]);
    // The bundle as a user has it: a zip of the definition, on the browser's own disk.
    let three = busybox_web_bundle("three");
    let zip_path = three.path().join("three.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    w.start_file("Dockerrun.aws.json", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut w, &std::fs::read(three.path().join("Dockerrun.aws.json")).unwrap()).unwrap();
    w.finish().unwrap();

    let (b, base) = admin_browser(&server.api, &server.token()).await;
    let c = &b.client;
    let page = format!("{base}/console/apps/{app}/web");
    until_text(c, &page, "#status", 90, |t| t == "Ready").await;

    c.find(Locator::Id("upload-label")).await.unwrap().send_keys("three").await.unwrap();
    c.find(Locator::Id("upload-description")).await.unwrap().send_keys("from the browser").await.unwrap();
    c.find(Locator::Id("upload-file")).await.unwrap().send_keys(zip_path.to_str().unwrap()).await.unwrap();
    c.find(Locator::Id("upload-submit")).await.unwrap().click().await.unwrap();
    // The script sends the file and shows the page again, which names the new version (not
    // reloaded meanwhile: that would cut the upload short).
    wait_text_for(c, "#version", "three", 90).await;
    until_text(c, &page, "#status", 90, |t| t == "Ready").await;
    let status = server.status("web");
    assert_eq!(status["version"], "three", "{status}");
    assert!(status["instances"].as_array().unwrap().iter().all(|i| i["version"] == "three"), "{status}");
    let versions = server.cli_ok(&["versions", "--output", "json"]);
    assert!(versions.contains("from the browser"), "the description is kept: {versions}");
    b.client.clone().close().await.unwrap();
}
