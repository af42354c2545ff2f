//! Watching the engine's events, so quiet environments need not be looked at every second.
//!
//! Every controller pass needs its environment's containers and networks; the engine does work
//! proportional to all the containers it has for each list, so with hundreds of instances one
//! pass per environment per second kept Docker busy (72% of a core at 300 instances, enough to
//! time out the example's own Docker health checks) and the server at 11%. Lists are now shared
//! by all controllers (`instance::look`, none used older than `LIST_AGE`), and an event here
//! also tells that environment's next pass to use a list taken after it. While the engine's
//! event stream is live, a container that dies, is killed, starts, goes or changes health wakes
//! its environment's controller at once, and a *quiet* environment (Ready, nothing launching
//! or leaving, health Ok, no live traffic) is looked at when its next health check is due
//! (its instances' checks fall due together: `sprout_plan::checks::probes_to_start`) and at
//! least every `QUIET_EVERY`, instead of every tick. What would end the quiet wakes it: an
//! engine event, a user's change (`Ctx::wake`), a failed check, or requests (`Quiet`, told by
//! the autoscaler's look each second). Without the stream (FakeEngine, an engine that
//! restarts) every environment keeps the ordinary pace; when the stream breaks or comes back,
//! every controller looks once, in case something happened meanwhile.
//!
//! Not here: the pass itself (`env`), which stays level-triggered: an event only brings it sooner.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sprout_model::names::{LABEL_APP, LABEL_ENV, LABEL_SERVER};
use sprout_plan::pass::Next;
use sprout_plan::scaling::MetricSample;
use tokio_util::sync::CancellationToken;

use crate::context::{Ctx, EnvKey};

/// The longest a quiet environment waits for its next pass while the engine's events are live
/// (the default health check interval: with the defaults, one pass per check).
pub const QUIET_EVERY: Duration = Duration::from_secs(15);
/// The oldest shared list a pass uses while the engine's events are live: the bound on how long
/// a change nobody announced goes unseen by a pass that looks.
pub const LIST_AGE: Duration = Duration::from_secs(5);
/// The wait before subscribing again after the stream broke.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Whether the engine's event stream is live (shared by the watcher and the controllers).
#[derive(Debug, Clone, Default)]
pub struct EventsLive(Arc<AtomicBool>);

impl EventsLive {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    fn set(&self, live: bool) {
        self.0.store(live, Ordering::Relaxed);
    }
}

/// Follow the engine's container events until cancelled, waking the environment each concerns.
/// Ends at once on an engine that reports no events.
pub async fn run(ctx: Ctx, cancel: CancellationToken) {
    let filter = BTreeMap::from([(LABEL_SERVER.to_string(), ctx.settings.server_id.clone())]);
    loop {
        let mut events = match ctx.engine.events(&filter).await {
            Ok(events) => events,
            Err(sprout_engine::EngineError::Permanent { .. }) => return,
            Err(e) => {
                tracing::debug!("cannot follow the engine's events: {e}");
                ctx.events_live.set(false);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => continue,
                }
            }
        };
        // Whatever happened while nobody listened is found by one look everywhere, on a list
        // taken from now on (`instance::look`: the last one may predate the break).
        ctx.look.note_all_changed();
        ctx.events_live.set(true);
        ctx.kick.notify_waiters();
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return,
                event = events.next() => event,
            };
            match event {
                Some(Ok(event)) if !event.changes_state() => {}
                Some(Ok(event)) => {
                    if let (Some(app), Some(env)) = (event.labels.get(LABEL_APP), event.labels.get(LABEL_ENV)) {
                        ctx.look.note_change(app, env);
                        ctx.wake(app, env);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!("the engine's event stream broke: {e}");
                    break;
                }
                None => break,
            }
        }
        // Quiet controllers wait long only while events are live: each looks now, at the
        // ordinary pace.
        ctx.events_live.set(false);
        ctx.kick.notify_waiters();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}

/// The environments whose controllers wait long because they are quiet: requests to one end
/// its quiet (its health reads its traffic), and nothing else would say so in time.
#[derive(Debug, Clone, Default)]
pub struct Quiet(Arc<Mutex<HashSet<EnvKey>>>);

impl Quiet {
    /// Notes whether `key`'s controller now waits as a quiet environment.
    pub fn set(&self, key: &EnvKey, quiet: bool) {
        let mut set = self.0.lock().unwrap();
        if quiet {
            set.insert(key.clone());
        } else {
            set.remove(key);
        }
    }

    /// The quiet environments that served requests in the last second (`samples`, the
    /// autoscaler's reading of it), no longer noted as quiet: their controllers are to be woken.
    pub fn take_busy(&self, samples: &HashMap<EnvKey, MetricSample>) -> Vec<EnvKey> {
        let mut set = self.0.lock().unwrap();
        let busy: Vec<EnvKey> =
            set.iter().filter(|key| samples.get(*key).is_some_and(|s| s.requests > 0.0)).cloned().collect();
        for key in &busy {
            set.remove(key);
        }
        busy
    }
}

/// When a pass that asked to look again after `next` should: later if the environment is quiet
/// and events are live, but no later than its next health check (`next_probe`).
pub fn pace(next: Next, quiet: bool, live: bool, next_probe: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Next {
    match next {
        Next::After(d) if quiet && live && d < QUIET_EVERY => {
            let until_probe = next_probe.map(|t| (t - now).to_std().unwrap_or(Duration::ZERO));
            Next::After(until_probe.map_or(QUIET_EVERY, |p| p.clamp(d, QUIET_EVERY)))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn requests_end_the_quiet_of_the_environment_they_go_to() {
        let quiet = Quiet::default();
        let (a, b, c) = (EnvKey::new("app", "a"), EnvKey::new("app", "b"), EnvKey::new("app", "c"));
        quiet.set(&a, true);
        quiet.set(&b, true);
        quiet.set(&c, true);
        quiet.set(&c, false);
        let sample = |requests| MetricSample { at: at(0), requests, ..Default::default() };
        let samples = HashMap::from([(a.clone(), sample(3.0)), (b.clone(), sample(0.0)), (c.clone(), sample(9.0))]);
        assert_eq!(quiet.take_busy(&samples), [a], "c is not quiet: its controller looks each tick anyway");
        assert!(quiet.take_busy(&samples).is_empty(), "woken once, until it is quiet again");
        assert_eq!(quiet.take_busy(&HashMap::from([(b.clone(), sample(1.0))])), [b]);
    }

    #[test]
    fn a_quiet_environment_waits_longer_but_not_past_its_next_check() {
        let tick = Next::After(Duration::from_secs(1));
        assert_eq!(pace(tick, true, true, None, at(0)), Next::After(QUIET_EVERY));
        assert_eq!(pace(tick, true, true, Some(at(2_500)), at(0)), Next::After(Duration::from_millis(2_500)));
        assert_eq!(pace(tick, true, true, Some(at(-100)), at(0)), tick, "a check overdue: the ordinary pace");
        assert_eq!(pace(tick, true, true, Some(at(60_000)), at(0)), Next::After(QUIET_EVERY));
        // Not quiet, no events, a busy pass, or done: as asked.
        assert_eq!(pace(tick, false, true, None, at(0)), tick);
        assert_eq!(pace(tick, true, false, None, at(0)), tick);
        let busy = Next::After(Duration::from_millis(100));
        assert_eq!(pace(busy, false, true, None, at(0)), busy);
        assert_eq!(pace(Next::Done, true, true, None, at(0)), Next::Done);
    }
}
