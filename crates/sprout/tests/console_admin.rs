//! The console's admin pages in a real browser (Debian's chromium, headless, over WebDriver)
//! against a real server: a registry credential is added from its form, its password never shown
//! again, and removed; a domain is added to an environment, answers for it through the load
//! balancer, and is removed. (The token page is in `console.rs`; every admin form's scopes and
//! CSRF rules are tested without a browser in sprout-server's `console_admin`.)
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{admin_browser, submit, text_of};
use common::*;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_registry_credential_whose_password_is_never_shown_and_removes_it() {
    let server = Server::start(&unique_app("conreg"));
    let (b, base) = admin_browser(&server.api, &server.token()).await;
    let c = &b.client;

    c.goto(&format!("{base}/console/registries")).await.unwrap();
    let password = "s3cret-typed-in-the-browser";
    for (id, value) in
        [("registry-host", "registry.test:5000"), ("registry-username", "ci"), ("registry-password", password)]
    {
        c.find(Locator::Id(id)).await.unwrap().send_keys(value).await.unwrap();
    }
    submit(c, "registry-login-submit", "credential for registry.test:5000 stored for user ci").await;
    let row = text_of(c, "#list").await;
    assert!(row.contains("registry.test:5000") && row.contains("ci"), "{row}");
    assert!(!c.source().await.unwrap().contains(password), "the password is not on the page");
    let listed = server.cli_ok(&["registry", "list", "--output", "json"]);
    assert!(listed.contains("registry.test:5000") && !listed.contains(password), "{listed}");

    submit(c, "logout-0", "1 credential(s) for registry.test:5000 removed").await;
    let listed = server.cli_ok(&["registry", "list", "--output", "json"]);
    assert!(!listed.contains("registry.test:5000"), "{listed}");
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_domain_that_answers_for_its_environment_and_removes_it() {
    require_busybox_image();
    let app = unique_app("condom");
    let server = Server::start(&app);
    let dir = busybox_web_bundle("one");
    server.cli_ok(&["create", "web", "--bundle", dir.path().to_str().unwrap(), "--label", "one"]);
    let (b, base) = admin_browser(&server.api, &server.token()).await;
    let c = &b.client;

    c.goto(&format!("{base}/console/domains/{app}")).await.unwrap();
    c.find(Locator::Id("domain-hosts")).await.unwrap().send_keys("shop.example.test").await.unwrap();
    submit(c, "domain-add-submit", "shop.example.test added to web").await;
    assert!(text_of(c, "#list").await.contains("shop.example.test"));
    let listed = server.cli_ok(&["domains", "list"]);
    assert!(listed.contains("shop.example.test") && listed.contains("web"), "{listed}");
    // The name now reaches the environment through the load balancer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        // The instance's httpd answers "ok" from /www/index.html; nothing else does.
        let answer = http_get(&server.http, "shop.example.test", "/");
        if matches!(&answer, Ok((200, body)) if body.trim() == "ok") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "shop.example.test never reached web: {answer:?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    submit(c, "remove-shop.example.test", "shop.example.test removed from web").await;
    let listed = server.cli_ok(&["domains", "list"]);
    assert!(!listed.contains("shop.example.test"), "{listed}");
    b.client.clone().close().await.unwrap();
}
