//! Waiting for an environment, printing its events as progress.

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

use sprout_api::{EnvView, ReleaseOutput};
use sprout_model::environment::EnvStatus;

use super::Context;
use crate::output::Format;

/// Poll until the environment runs `label` on all its instances and is Ready (Ok), or the
/// deploy failed or the timeout passed (Err with the last view and why). A failed deploy that
/// rolls back is followed until the rollback is Ready, so the error can say where it ended.
pub async fn wait_ready(
    c: &Context,
    app: &str,
    env: &str,
    label: &str,
    timeout_s: u64,
) -> Result<EnvView, (Option<EnvView>, String)> {
    let path = format!("/apps/{app}/environments/{env}");
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s + 5);
    let mut rolling_back = false;
    let mut last_event = latest_event_id(c, app, env).await;
    let mut last = None;
    let mut release = ReleaseFollow::default();
    loop {
        let events = print_new_events(c, app, env, &mut last_event).await;
        release.note_events(&events);
        match c.client.get::<EnvView>(&path).await {
            Ok(v) => {
                if c.fmt == Format::Text {
                    release.follow(c, app, env, &v).await;
                }
                let ready = v.is_ready_on(label);
                let mut outcome = None;
                if let Some(err) = v.last_error.clone() {
                    let settled = v.status == EnvStatus::Ready;
                    if settled && v.version != label {
                        let why = format!(
                            "{err}; rolled back to {}\n  see `sprout events {env}` and `sprout status {env}`",
                            v.version
                        );
                        outcome = Some(Err(why));
                    } else if settled && !ready {
                        let why = format!("{err}\n  see `sprout events {env}` and `sprout status {env}`");
                        outcome = Some(Err(why));
                    } else if !rolling_back && !settled && v.version != label {
                        // The rollback is a deploy too: give it its own time.
                        rolling_back = true;
                        deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s + 5);
                        eprintln!("  deploy failed ({err}); rolling back to {}", v.version);
                    }
                }
                if ready {
                    outcome = Some(Ok(()));
                }
                if let Some(outcome) = outcome {
                    // Events said meanwhile, and a release task's last lines, come before the end.
                    release.note_events(&print_new_events(c, app, env, &mut last_event).await);
                    if c.fmt == Format::Text {
                        release.follow(c, app, env, &v).await;
                    }
                    return match outcome {
                        Ok(()) => Ok(v),
                        Err(why) => Err((Some(v), why)),
                    };
                }
                last = Some(v);
            }
            Err(e) => return Err((last, e.to_string())),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err((
                last,
                format!(
                    "timed out after {timeout_s}s waiting for {env} to be Ready; the server carries on: follow with `sprout events {env} --follow`"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A release task's output printed as it comes, each line once: the instance is learnt from
/// the environment's view or from the task's start event, and read once more after its end
/// event (by then its container has exited, so the output is whole).
#[derive(Default)]
struct ReleaseFollow {
    instance: String,
    printed: usize,
    ended: bool,
    done: bool,
}

impl ReleaseFollow {
    fn note_events(&mut self, events: &[Value]) {
        for e in events {
            let message = e["message"].as_str().unwrap_or("");
            match e["kind"].as_str().unwrap_or("") {
                "ReleaseTaskStarted" => {
                    if let Some(id) = message.split_whitespace().find(|w| w.starts_with("r-")) {
                        self.switch(id);
                    }
                }
                "ReleaseTaskSucceeded" | "ReleaseTaskFailed" => self.ended = true,
                _ => {}
            }
        }
    }

    fn switch(&mut self, instance: &str) {
        if instance != self.instance {
            *self = ReleaseFollow { instance: instance.to_string(), ..Default::default() };
        }
    }

    async fn follow(&mut self, c: &Context, app: &str, env: &str, v: &EnvView) {
        if let Some(run) = &v.release {
            self.switch(&run.instance);
            self.ended |= run.is_done();
        }
        if self.instance.is_empty() || self.done {
            return;
        }
        self.done = self.ended;
        let path = format!("/apps/{app}/environments/{env}/release?instance={}", self.instance);
        let Ok(out) = c.client.get::<ReleaseOutput>(&path).await else { return };
        let lines: Vec<&str> = out.output.lines().collect();
        for line in lines.iter().skip(self.printed) {
            eprintln!("  release | {line}");
        }
        self.printed = self.printed.max(lines.len());
    }
}

/// Poll until the environment no longer exists.
pub async fn wait_gone(c: &Context, app: &str, env: &str, timeout_s: u64) -> Result<()> {
    let path = format!("/apps/{app}/environments/{env}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    let mut last_event = latest_event_id(c, app, env).await;
    loop {
        print_new_events(c, app, env, &mut last_event).await;
        if let Err(e) = c.client.get::<Value>(&path).await {
            if e.to_string().contains("not found") {
                print_new_events(c, app, env, &mut last_event).await;
                return Ok(());
            }
            return Err(e);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {timeout_s}s waiting for {env} to terminate; see `sprout events {env}`");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn latest_event_id(c: &Context, app: &str, env: &str) -> i64 {
    let list: Vec<Value> = c.client.get(&format!("/apps/{app}/events?env={env}&limit=1")).await.unwrap_or_default();
    list.last().and_then(|e| e["id"].as_i64()).unwrap_or(0)
}

/// Prints the events after `last` and moves it on; the events printed.
async fn print_new_events(c: &Context, app: &str, env: &str, last: &mut i64) -> Vec<Value> {
    let Ok(list) = c.client.get::<Vec<Value>>(&format!("/apps/{app}/events?env={env}&after={last}&limit=500")).await
    else {
        return Vec::new();
    };
    for e in &list {
        if c.fmt == Format::Text {
            eprint!("  ");
            print_event_stderr(e);
        }
        *last = e["id"].as_i64().unwrap_or(*last);
    }
    list
}

fn print_event_stderr(e: &Value) {
    let at = e["at"].as_str().unwrap_or("");
    let at = at.get(11..19).unwrap_or(at);
    eprintln!("{at}  {:<5} {}", e["level"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or(""));
}
