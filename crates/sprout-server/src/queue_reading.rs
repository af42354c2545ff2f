//! The queue reading of environments that set `scaling.queue_url`: a `GET` every
//! `QUEUE_POLL_EVERY_S` seconds, in the background, whose answer (2xx) is a number, the jobs
//! waiting. The autoscaler's look takes the latest reading into its second's sample; a reading
//! older than `STALE_AFTER` is no reading, so queue target tracking holds (pure, in
//! `sprout_plan::scaling`). A run of failures is said once as an event.
//!
//! Not here: deciding anything from the reading.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sprout_model::scaling::QUEUE_POLL_EVERY_S;
use sprout_store::EnvironmentRecord;
use tokio::time::Instant;

use crate::context::{Ctx, EnvKey};
use crate::events::Event;

/// How often the URL is read.
pub const POLL_EVERY: Duration = Duration::from_secs(QUEUE_POLL_EVERY_S);
/// A reading older than this is not used.
pub const STALE_AFTER: Duration = Duration::from_secs(3 * QUEUE_POLL_EVERY_S);
/// How long one read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(QUEUE_POLL_EVERY_S);

#[derive(Debug, Default)]
struct Reading {
    url: String,
    value: Option<f64>,
    read_at: Option<Instant>,
    started_at: Option<Instant>,
    in_flight: bool,
    /// Failing since the last success (the failure was said).
    failing: bool,
}

/// Every environment's reading.
#[derive(Debug, Clone, Default)]
pub struct QueueReadings {
    inner: Arc<Mutex<HashMap<EnvKey, Reading>>>,
}

impl QueueReadings {
    /// The environment's latest fresh reading; starts a read when one is due.
    pub fn look(&self, ctx: &Ctx, env: &EnvironmentRecord) -> Option<f64> {
        let key = env.id();
        let mut map = self.inner.lock().unwrap();
        let Some(url) = env.options.scaling.queue_url.clone() else {
            map.remove(&key);
            return None;
        };
        let now = Instant::now();
        let r = map.entry(key.clone()).or_default();
        if r.url != url {
            *r = Reading { url: url.clone(), ..Default::default() };
        }
        if !r.in_flight && r.started_at.is_none_or(|t| now.duration_since(t) >= POLL_EVERY) {
            r.in_flight = true;
            r.started_at = Some(now);
            tokio::spawn(read(ctx.clone(), self.inner.clone(), key, url));
        }
        r.value.filter(|_| r.read_at.is_some_and(|t| now.duration_since(t) <= STALE_AFTER))
    }

    /// Forget environments that are gone.
    pub fn retain(&self, keys: &HashSet<EnvKey>) {
        self.inner.lock().unwrap().retain(|k, _| keys.contains(k));
    }
}

/// The number a queue URL answered, or why not.
pub fn parse_depth(status: u16, body: &str) -> Result<f64, String> {
    if !(200..300).contains(&status) {
        return Err(format!("answered HTTP {status}"));
    }
    let text = body.trim();
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(format!("answered {:?}, not a number of jobs (give a plain number such as 42)", clip(text))),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

async fn read(ctx: Ctx, inner: Arc<Mutex<HashMap<EnvKey, Reading>>>, key: EnvKey, url: String) {
    let outcome = match crate::http_call::split_url(&url) {
        Ok((authority, path)) => crate::http_call::call(&authority, "GET", &path, &[], READ_TIMEOUT)
            .await
            .and_then(|a| parse_depth(a.status, &a.body)),
        Err(e) => Err(e),
    };
    let say = {
        let mut map = inner.lock().unwrap();
        let Some(r) = map.get_mut(&key).filter(|r| r.url == url) else { return };
        r.in_flight = false;
        match outcome {
            Ok(depth) => {
                r.value = Some(depth);
                r.read_at = Some(Instant::now());
                r.failing = false;
                None
            }
            Err(error) => {
                let first = !r.failing;
                r.failing = true;
                first.then_some(error)
            }
        }
    };
    if let Some(error) = say {
        tracing::warn!(app = %key.app, env = %key.env, "queue reading {url} failed: {error}");
        ctx.emit(&key.app, Some(&key.env), Event::QueueReadingFailed { url, error }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_a_plain_non_negative_number_from_a_2xx() {
        assert_eq!(parse_depth(200, " 42\n"), Ok(42.0));
        assert_eq!(parse_depth(200, "0.5"), Ok(0.5));
        assert!(parse_depth(500, "42").unwrap_err().contains("HTTP 500"));
        assert!(parse_depth(200, "{\"depth\": 4}").unwrap_err().contains("not a number"));
        assert!(parse_depth(200, "-1").is_err());
    }
}
