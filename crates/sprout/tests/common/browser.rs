//! The console's test helpers: Debian's chromium, headless, driven over WebDriver by
//! `fantoccini` through a `chromedriver` the test starts (and stops when dropped); and a plain
//! HTTP client for the console (sign in, cookies, form posts, the live stream) for what needs no
//! browser.
#![allow(dead_code)] // each test binary uses its own part of the helpers

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// A running chromedriver and a browser session in it.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless chromium with a window of `w`x`h`.
    pub async fn start(w: u32, h: u32) -> Browser {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is missing: run scripts/ensure-deps (apt-get install chromium chromium-driver)");
        let port = crate::common::free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port} within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size={w},{h}"), "--hide-scrollbars"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session through chromedriver");
        Browser { client, driver }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One HTTP/1.1 answer.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// A `Set-Cookie` value of the answer.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.head
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
            .filter_map(|c| c.split(';').next()?.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A request to the API address with `Connection: close`.
pub fn request(addr: &str, method: &str, path: &str, cookie: &str, form: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = form.unwrap_or("");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let t = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) =
        t.split_once("\r\n\r\n").map(|(h, b)| (h.to_string(), b.to_string())).unwrap_or((t, String::new()));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Answer { status, head, body }
}

/// The value of the hidden `csrf` field in a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

/// Signs in with `token` over plain HTTP; the session cookie (`sprout_session=...`).
pub fn sign_in(addr: &str, token: &str) -> String {
    let form = request(addr, "GET", "/console/sign-in", "", None);
    let pre = form.cookie("sprout_signin").expect("the sign-in form's cookie");
    let csrf = csrf_of(&form.body);
    let body = format!("csrf={csrf}&token={token}");
    let a = request(addr, "POST", "/console/sign-in", &format!("sprout_signin={pre}"), Some(&body));
    assert_eq!(a.status, 303, "sign-in refused: {}\n{}", a.head, a.body);
    format!("sprout_session={}", a.cookie("sprout_session").expect("a session cookie"))
}

/// Reads the live stream at `path` until `enough` says so of what came (or `secs` pass); the
/// raw event text.
pub fn read_stream(addr: &str, path: &str, cookie: &str, secs: u64, enough: impl Fn(&str) -> bool) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
        if enough(&String::from_utf8_lossy(&buf)) {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

pub async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Waits (at most 15 s) until `css` is on the page with text containing `expect`: a form's
/// navigation may finish after the click or key that sent it returns.
pub async fn wait_text(c: &Client, css: &str, expect: &str) -> String {
    wait_text_for(c, css, expect, 15).await
}

/// Like `wait_text`, waiting at most `secs`.
pub async fn wait_text_for(c: &Client, css: &str, expect: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(expect)
        {
            return t;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {css} to say {expect:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the button `id` and waits for the next page's message to say `expect`.
pub async fn submit(c: &Client, id: &str, expect: &str) {
    c.find(Locator::Id(id)).await.unwrap().click().await.unwrap();
    wait_text(c, "#flash", expect).await;
}

/// A browser (1280 x 1000) signed in to the console at `api` with `token` (typed, sent with
/// Enter), and the console's base URL.
pub async fn admin_browser(api: &str, token: &str) -> (Browser, String) {
    let base = format!("http://{api}");
    let b = Browser::start(1280, 1000).await;
    b.client.goto(&format!("{base}/console/sign-in")).await.unwrap();
    let enter: char = fantoccini::key::Key::Enter.into();
    b.client.find(Locator::Id("token")).await.unwrap().send_keys(&format!("{token}{enter}")).await.unwrap();
    wait_text(&b.client, "nav.who", "admin").await;
    (b, base)
}
