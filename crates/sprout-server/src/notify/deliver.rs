//! The sender: takes queued deliveries from the store and POSTs them to their webhooks. Per
//! webhook and environment, only the oldest pending delivery is tried, so they arrive in order;
//! a failed try waits a back-off (1 s doubling to `MAX_BACKOFF`) and is tried again until
//! `GIVE_UP` after it was queued, then marked failed and the next goes. A delivery is marked
//! delivered only after a 2xx answer, so a crash in between sends it again: at least once (the
//! body's `id` lets a receiver drop a repeat). Each try runs in its own task with a timeout, so a
//! slow receiver holds up only its own queue.
//!
//! `http://` URLs are posted on a fresh connection of their own; `https://` ones with the
//! server's HTTPS client (`outbound`: rustls with aws-lc-rs, the system's certificate
//! authorities plus those in `SPROUT_CA_FILE`), the certificate checked against the URL's host.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sprout_plan::alerts::Notice;
use sprout_store::{DeliveryAttempt, DeliveryRecord, DeliveryStatus, NotifyTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::render::{Envelope, body};
use crate::context::Ctx;

/// The longest wait between two tries of one delivery.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long after it was queued a delivery is still tried.
pub const GIVE_UP: chrono::Duration = chrono::Duration::hours(6);
/// How long one try may take, connect to answer.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pending deliveries looked at per round.
const ROUND: u32 = 1000;
/// The longest the sender sleeps without a wake-up.
const IDLE: Duration = Duration::from_secs(5);

/// A webhook URL: `http[s]://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
    /// `https://`: sent over TLS.
    pub tls: bool,
}

/// Parse and check a webhook URL; the error says what is wrong in words.
pub fn parse_url(url: &str) -> Result<WebhookUrl, String> {
    let (rest, tls) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        _ => return Err(format!("{url}: a webhook URL starts with https:// or http://")),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    if authority.contains('@') {
        return Err(format!("{url}: credentials in the URL are not supported; use --secret-stdin to sign instead"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, p.parse().map_err(|_| format!("{url}: bad port `{p}`"))?)
        }
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("{url}: needs a host, and a path without spaces"));
    }
    Ok(WebhookUrl { host: host.trim_matches(['[', ']']).to_string(), port, path: path.to_string(), tls })
}

/// The wait before the next try after `attempts` failed ones.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.saturating_sub(1).min(10)).min(MAX_BACKOFF)
}

/// Deliveries being tried, and those whose try has ended and been recorded. A try leaves
/// `trying` only at the start of a round, before the queue is read again: a round that read
/// the queue before a try was recorded must not start that delivery a second time.
#[derive(Default)]
struct Tries {
    trying: HashSet<i64>,
    ended: Vec<i64>,
}

/// Run until cancelled.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    let inflight: Arc<Mutex<Tries>> = Arc::default();
    loop {
        {
            let mut t = inflight.lock().unwrap();
            let ended = std::mem::take(&mut t.ended);
            for id in ended {
                t.trying.remove(&id);
            }
        }
        let wait = round(&ctx, &inflight).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ctx.notifier.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Start a try of every due head of queue; how long until one is due.
async fn round(ctx: &Ctx, inflight: &Arc<Mutex<Tries>>) -> Duration {
    let (pending, targets) =
        match (ctx.store.pending_deliveries(ROUND).await, ctx.store.list_notify_targets(None).await) {
            (Ok(p), Ok(t)) => (p, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("the notification sender cannot read the queue: {e}");
                return IDLE;
            }
        };
    let targets: HashMap<String, NotifyTarget> = targets.into_iter().map(|t| (t.id.clone(), t)).collect();
    let mut heads: BTreeMap<(String, String), DeliveryRecord> = BTreeMap::new();
    for d in pending {
        heads.entry((d.target_id.clone(), d.env.clone())).or_insert(d);
    }
    let now = ctx.clock.now();
    let mut wait = IDLE;
    for d in heads.into_values() {
        if inflight.lock().unwrap().trying.contains(&d.id) {
            continue;
        }
        if d.next_at > now {
            wait = wait.min((d.next_at - now).to_std().unwrap_or_default());
            continue;
        }
        inflight.lock().unwrap().trying.insert(d.id);
        let (ctx, inflight, target) = (ctx.clone(), inflight.clone(), targets.get(&d.target_id).cloned());
        tokio::spawn(async move {
            let id = d.id;
            let attempt = try_once(&ctx, &d, target.as_ref()).await;
            if let Err(e) = ctx.store.record_delivery(id, &attempt).await {
                tracing::warn!("could not record delivery {id}: {e}");
            }
            inflight.lock().unwrap().ended.push(id);
            ctx.notifier.wake.notify_one();
        });
    }
    wait
}

/// One try of delivery `d`; what to record.
async fn try_once(ctx: &Ctx, d: &DeliveryRecord, target: Option<&NotifyTarget>) -> DeliveryAttempt {
    let attempts = d.attempts + 1;
    let Some(target) = target else {
        let now = ctx.clock.now();
        return DeliveryAttempt {
            status: DeliveryStatus::Failed,
            attempts: d.attempts,
            next_at: now,
            last_error: Some("the webhook was removed".into()),
            done_at: Some(now),
        };
    };
    let result = send(ctx, d, target).await;
    let now = ctx.clock.now();
    match result {
        Ok(()) => DeliveryAttempt {
            status: DeliveryStatus::Delivered,
            attempts,
            next_at: now,
            last_error: None,
            done_at: Some(now),
        },
        Err(e) => {
            tracing::info!(webhook = %target.id, delivery = d.id, attempts, "notification not delivered: {e}");
            retry_or_give_up(d.created_at, attempts, e, now)
        }
    }
}

/// A failed try: tried again after its back-off, or given up once `GIVE_UP` has passed.
pub fn retry_or_give_up(
    created_at: DateTime<Utc>,
    attempts: u32,
    error: String,
    now: DateTime<Utc>,
) -> DeliveryAttempt {
    let next_at = now + chrono::Duration::from_std(backoff(attempts)).unwrap_or_default();
    if next_at - created_at > GIVE_UP {
        return DeliveryAttempt {
            status: DeliveryStatus::Failed,
            attempts,
            next_at: now,
            last_error: Some(format!("{error} (gave up after {attempts} tries)")),
            done_at: Some(now),
        };
    }
    DeliveryAttempt { status: DeliveryStatus::Pending, attempts, next_at, last_error: Some(error), done_at: None }
}

/// Render, sign and POST; Ok on a 2xx answer.
async fn send(ctx: &Ctx, d: &DeliveryRecord, target: &NotifyTarget) -> Result<(), String> {
    let url = parse_url(&target.url)?;
    let notice: Notice = serde_json::from_str(&d.body).map_err(|e| format!("the queued notice does not parse: {e}"))?;
    let link = ctx.settings.console_url(&d.app, &d.env);
    let text = body(&target.format, &notice, &Envelope { delivery: d.id, app: &d.app, env: &d.env, link: &link });
    let signature = match &target.sealed_secret {
        None => None,
        Some(sealed) => {
            let context = super::seal_context(&target.id, &target.app);
            let secret = ctx
                .registries
                .key
                .open(sealed, &context, &format!("webhook {}", target.id))
                .map_err(|e| e.to_string())?;
            Some(super::hmac::signature(secret.expose_secret().as_bytes(), text.as_bytes()))
        }
    };
    let sent = if url.tls {
        post_tls(&target.url, d.id, text, signature.as_deref())
    } else {
        Box::pin(post(&url, d.id, &text, signature.as_deref()))
    };
    match tokio::time::timeout(TRY_TIMEOUT, sent).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", TRY_TIMEOUT.as_secs())),
    }
}

type Sending<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;

/// The server's HTTPS client for webhooks, made on first use (`SPROUT_CA_FILE` read then).
fn https_client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let ca = crate::outbound::ca_file_from_env();
            crate::outbound::client(ca.as_deref(), TRY_TIMEOUT)
                .map_err(|e| format!("{e} ({})", crate::outbound::CA_FILE_ENV))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One POST over HTTPS; Ok on a 2xx answer.
fn post_tls<'a>(url: &'a str, id: i64, body: String, signature: Option<&'a str>) -> Sending<'a> {
    Box::pin(async move {
        let client = https_client()?;
        let mut req = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "sprout-notify")
            .header("X-Sprout-Delivery", id.to_string())
            .body(body);
        if let Some(sig) = signature {
            req = req.header("X-Sprout-Signature", sig);
        }
        let answer = req.send().await.map_err(|e| format!("{url}: {}", error_chain(&e)))?;
        let status = answer.status();
        if status.is_success() { Ok(()) } else { Err(format!("{url} answered {}", status.as_u16())) }
    })
}

/// An error with its causes (reqwest's own says little: "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut words = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        words.push_str(": ");
        words.push_str(&c.to_string());
        cause = c.source();
    }
    words
}

/// One POST on a fresh connection; the status line is all that is read.
async fn post(url: &WebhookUrl, id: i64, body: &str, signature: Option<&str>) -> Result<(), String> {
    let addr = format!("{}:{}", url.host, url.port);
    let mut s = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("connect to {addr}: {e}"))?;
    let host = if url.port == 80 { url.host.clone() } else { addr.clone() };
    let sig = signature.map(|s| format!("X-Sprout-Signature: {s}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sprout-notify\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Sprout-Delivery: {id}\r\n{sig}Connection: close\r\n\r\n",
        url.path,
        body.len()
    );
    s.write_all(head.as_bytes()).await.map_err(|e| format!("send to {addr}: {e}"))?;
    s.write_all(body.as_bytes()).await.map_err(|e| format!("send to {addr}: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).await.map_err(|e| format!("read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{addr} gave no HTTP status line"))?;
    if (200..300).contains(&status) { Ok(()) } else { Err(format!("{addr} answered {status}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9000/hook").unwrap(),
            WebhookUrl { host: "127.0.0.1".into(), port: 9000, path: "/hook".into(), tls: false }
        );
        assert_eq!(parse_url("http://alerts.example").unwrap().path, "/");
        let slack = parse_url("https://hooks.slack.com/x").unwrap();
        assert_eq!((slack.port, slack.tls, slack.host.as_str()), (443, true, "hooks.slack.com"));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://u:p@x/").is_err());
        assert!(parse_url("http://x:port/").is_err());
        assert!(parse_url("http:///x").is_err());
    }

    #[test]
    fn back_off_doubles_to_its_bound_and_gives_up_in_time() {
        let b: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(b, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let soon = retry_or_give_up(t0, 3, "refused".into(), t0 + chrono::Duration::minutes(1));
        assert_eq!(soon.status, DeliveryStatus::Pending);
        assert_eq!(soon.next_at, t0 + chrono::Duration::seconds(64));
        let late = retry_or_give_up(t0, 700, "refused".into(), t0 + GIVE_UP);
        assert_eq!(late.status, DeliveryStatus::Failed);
        assert!(late.last_error.unwrap().contains("gave up after 700 tries"));
    }
}
