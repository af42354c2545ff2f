//! Waking an environment that has no instance in service: requests held by the load balancer
//! are demand the moment they arrive, not at the next closed second. Without this an
//! environment scaled to zero stays there for good: held requests end as 503s, and a closed
//! second with a request or two never reaches a target's threshold.
//!
//! Pure: the autoscale controller calls it when the load balancer signals demand, with how many
//! requests wait and how many instances serve, and writes what it says.

use std::time::Duration;

use sprout_model::environment::{EnvStatus, EnvironmentRecord};
use sprout_model::options::Tier;
use sprout_model::scaling::MAX_QUEUE_WAIT_MS;

use super::band_of;

/// The desired count that serves `held` waiting requests when `in_service` instances serve
/// (none, or the waiting requests will find one): one instance per target's worth of them
/// (all of them counted as one second's load), at least one, within the band. None when
/// nothing should change: an instance serves, enough are ordered already, the band's maximum
/// is 0 (turned off on purpose), or the environment is terminating.
pub fn decide_wake(env: &EnvironmentRecord, held: usize, in_service: usize) -> Option<(u32, String)> {
    if held == 0 || in_service > 0 || env.status == EnvStatus::Terminating {
        return None;
    }
    let band = band_of(env);
    if band.max == 0 {
        return None;
    }
    let per_instance = env.options.scaling.target_rps.filter(|t| *t > 0.0);
    let wanted = per_instance.map_or(1, |t| ((held as f64 / t) - 1e-9).ceil().max(1.0) as u32);
    let to = band.clamp(wanted.max(1)).max(1);
    (to > env.desired_instances).then(|| {
        let why = format!(
            "{held} request(s) waiting with no instance in service: woken from {} to {to}",
            env.desired_instances
        );
        (to, why)
    })
}

/// How long a request is held while no instance is in service, before its first instance
/// could have come: until the environment's last measured wake (order to first passing health
/// check), unmeasured yet (a new or restarted server).
pub const UNMEASURED_WAKE: Duration = Duration::from_secs(8);

/// The hold bound, in milliseconds, while nothing serves and an instance is coming: the
/// measured wake plus a margin (half of it, at least a second), never less than the configured
/// bound and never more than `MAX_QUEUE_WAIT_MS`. A configured bound of 0 (refuse at once)
/// stays 0.
pub fn hold_bound_ms(measured: Option<Duration>, configured_ms: u64) -> u64 {
    if configured_ms == 0 {
        return 0;
    }
    let wake = measured.unwrap_or(UNMEASURED_WAKE);
    let margin = (wake / 2).max(Duration::from_secs(1));
    ((wake + margin).as_millis() as u64).max(configured_ms).min(MAX_QUEUE_WAIT_MS)
}

/// `hold_bound_ms` in words, for `sprout status`.
pub fn describe_hold(measured: Option<Duration>, configured_ms: u64) -> String {
    let bound = hold_bound_ms(measured, configured_ms) as f64 / 1000.0;
    match measured {
        Some(m) => {
            format!("requests held up to {bound:.1} s: its measured wake {:.1} s plus a margin", m.as_secs_f64())
        }
        None => format!("requests held up to {bound:.1} s until a wake is measured"),
    }
}

/// What `sprout status` and `sprout health` say of an environment scaled to zero: what wakes
/// it, how long a web environment's requests are held meanwhile, and its stopped warm
/// instances. A worker has no requests to hold: a queue reading above zero wakes it, or, with
/// no queue to read, a scheduled action or a `sprout scale`.
pub fn at_zero_causes(env: &EnvironmentRecord, measured: Option<Duration>, stopped: usize) -> Vec<String> {
    let s = &env.options.scaling;
    let (wakes, start) = match env.options.tier {
        Tier::Web => ("scaled to zero, wakes on the next request", "on the next request"),
        Tier::Worker if s.queue_url.is_some() && s.target_queue_per_instance.is_some() => {
            ("scaled to zero, wakes when the queue has work", "when the queue has work")
        }
        Tier::Worker => ("scaled to zero, wakes at a scheduled action or `sprout scale`", "when it wakes"),
    };
    let mut causes = vec![wakes.to_string()];
    if env.options.tier == Tier::Web {
        causes.push(describe_hold(measured, s.queue.max_wait_ms));
    }
    if stopped > 0 {
        causes.push(format!("{stopped} stopped warm instance(s) start {start}"));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_bound_follows_the_measured_wake() {
        assert_eq!(hold_bound_ms(Some(Duration::from_millis(1200)), 3000), 3000, "never below the configured");
        assert_eq!(hold_bound_ms(Some(Duration::from_secs(4)), 3000), 6000);
        assert_eq!(hold_bound_ms(None, 3000), 12_000);
        assert_eq!(hold_bound_ms(Some(Duration::from_secs(60)), 3000), MAX_QUEUE_WAIT_MS);
        assert_eq!(hold_bound_ms(Some(Duration::from_secs(4)), 0), 0, "refuse at once stays");
    }
    use sprout_model::options::CapacityOptions;

    fn env(desired: u32, min: u32, max: u32, target: Option<f64>) -> EnvironmentRecord {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut e = EnvironmentRecord::launching("shop", "preview", "v1", desired, now);
        e.status = EnvStatus::Ready;
        e.options.capacity = CapacityOptions { min: Some(min), max: Some(max) };
        e.options.scaling.target_rps = target;
        e
    }

    #[test]
    fn at_zero_a_web_environment_waits_for_a_request_and_a_worker_for_its_queue() {
        let web = env(0, 0, 4, Some(5.0));
        let causes = at_zero_causes(&web, Some(Duration::from_secs(2)), 1);
        assert_eq!(causes[0], "scaled to zero, wakes on the next request");
        assert!(causes[1].starts_with("requests held up to 3.0 s"), "{causes:?}");
        assert_eq!(causes[2], "1 stopped warm instance(s) start on the next request");
        let mut worker = env(0, 0, 4, None);
        worker.options.tier = Tier::Worker;
        worker.options.scaling.queue_url = Some("http://127.0.0.1:9/depth".into());
        worker.options.scaling.target_queue_per_instance = Some(10.0);
        assert_eq!(at_zero_causes(&worker, None, 0), ["scaled to zero, wakes when the queue has work"]);
        worker.options.scaling.queue_url = None;
        assert_eq!(at_zero_causes(&worker, None, 0), ["scaled to zero, wakes at a scheduled action or `sprout scale`"]);
    }

    #[test]
    fn one_held_request_wakes_one_instance() {
        let (to, why) = decide_wake(&env(0, 0, 4, Some(5.0)), 1, 0).unwrap();
        assert_eq!(to, 1);
        assert_eq!(why, "1 request(s) waiting with no instance in service: woken from 0 to 1");
    }

    #[test]
    fn many_held_requests_wake_what_the_target_asks_for_within_the_band() {
        assert_eq!(decide_wake(&env(0, 0, 20, Some(25.0)), 50, 0).map(|w| w.0), Some(2));
        assert_eq!(decide_wake(&env(0, 0, 3, Some(1.0)), 50, 0).map(|w| w.0), Some(3), "capped at the band");
        assert_eq!(decide_wake(&env(0, 0, 20, None), 50, 0).map(|w| w.0), Some(1), "without a target, one");
        assert_eq!(decide_wake(&env(1, 0, 20, Some(25.0)), 50, 0).map(|w| w.0), Some(2), "raised as more wait");
    }

    #[test]
    fn nothing_changes_when_an_instance_serves_or_enough_are_ordered_or_the_band_is_zero() {
        assert_eq!(decide_wake(&env(1, 0, 4, Some(5.0)), 3, 1), None);
        assert_eq!(decide_wake(&env(1, 0, 4, Some(5.0)), 3, 0), None);
        assert_eq!(decide_wake(&env(0, 0, 0, Some(5.0)), 3, 0), None);
        assert_eq!(decide_wake(&env(0, 0, 4, Some(5.0)), 0, 0), None);
        let mut gone = env(0, 0, 4, None);
        gone.status = EnvStatus::Terminating;
        assert_eq!(decide_wake(&gone, 3, 0), None);
    }
}
