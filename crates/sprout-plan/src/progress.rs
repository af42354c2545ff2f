//! The environment's status moves on after a pass: `Launching`/`Updating` become `Ready` when the
//! plan has nothing left to do; a deploy that overran its deadline is rolled back to the last
//! good version (itself a deploy, under the same policy and timeout), or, with nothing to roll
//! back to, stops being waited for.
//!
//! Pure: it changes the record and names the event; the controller writes the record and says
//! the event once the write has landed.

use chrono::{DateTime, Utc};
use sprout_model::environment::{EnvStatus, EnvironmentRecord};
use sprout_model::event::Event;

/// Moves `env` on given whether the plan is done (`ready`) and why instances are not healthy
/// (`causes`, for the deploy failure's reason). The event to say, if the status moved.
pub fn advance(env: &mut EnvironmentRecord, ready: bool, causes: &[String], now: DateTime<Utc>) -> Option<Event> {
    if !matches!(env.status, EnvStatus::Launching | EnvStatus::Updating) {
        return None;
    }
    if ready {
        env.status = EnvStatus::Ready;
        env.last_good_version = Some(env.version_label.clone());
        env.deploy_deadline = None;
        env.deploy_state = None;
        return Some(Event::EnvironmentReady { version: env.version_label.clone(), instances: env.desired_instances });
    }
    if env.deploy_deadline.is_none_or(|d| now <= d) {
        return None;
    }
    let reason =
        if causes.is_empty() { "instances did not become healthy in time".to_string() } else { causes.join("; ") };
    let failed = env.version_label.clone();
    let rollback_to = roll_back(env, format!("deploy of version {failed} did not complete: {reason}"), now);
    Some(Event::DeployFailed { version: failed, reason, rollback_to })
}

/// Ends the deploy in progress (overrun, or aborted by the user, `why` says which): back to the
/// last good version as a new deploy under the same policy and timeout, or, with nothing to go
/// back to, no longer waited for (the controller keeps trying with backoff). The version rolled
/// back to, if any.
pub fn roll_back(env: &mut EnvironmentRecord, why: String, now: DateTime<Utc>) -> Option<String> {
    let rollback_to = env.last_good_version.clone().filter(|g| *g != env.version_label);
    env.last_error = Some(why);
    match &rollback_to {
        Some(good) => {
            env.version_label = good.clone();
            env.status = EnvStatus::Updating;
            env.deploy_deadline = Some(now + chrono::Duration::seconds(env.options.deploy.timeout_s as i64));
        }
        None => {
            env.status = EnvStatus::Ready;
            env.deploy_deadline = None;
            env.deploy_state = None;
        }
    }
    rollback_to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn updating(version: &str, good: Option<&str>, deadline: i64) -> EnvironmentRecord {
        EnvironmentRecord {
            last_good_version: good.map(String::from),
            status: EnvStatus::Updating,
            deploy_deadline: Some(at(deadline)),
            deploy_state: Some(serde_json::json!({"batch": 1})),
            revision: 3,
            ..EnvironmentRecord::launching("shop", "prod", version, 2, at(0))
        }
    }

    #[test]
    fn a_finished_plan_makes_the_version_good() {
        let mut env = updating("v2", Some("v1"), 600);
        let event = advance(&mut env, true, &[], at(10));
        assert!(matches!(event, Some(Event::EnvironmentReady { ref version, instances: 2 }) if version == "v2"));
        assert_eq!((env.status, env.last_good_version.as_deref()), (EnvStatus::Ready, Some("v2")));
        assert_eq!((env.deploy_deadline, env.deploy_state), (None, None));
    }

    #[test]
    fn an_overrun_deploy_rolls_back_to_the_good_version_with_a_new_deadline() {
        let mut env = updating("v2", Some("v1"), 600);
        let causes = vec!["2 of 2 instances failing health checks: GET / returned 500".to_string()];
        let event = advance(&mut env, false, &causes, at(601));
        match event {
            Some(Event::DeployFailed { version, reason, rollback_to }) => {
                assert_eq!((version.as_str(), rollback_to.as_deref()), ("v2", Some("v1")));
                assert!(reason.contains("GET / returned 500"), "{reason}");
            }
            other => panic!("expected DeployFailed, got {other:?}"),
        }
        assert_eq!((env.version_label.as_str(), env.status), ("v1", EnvStatus::Updating));
        let timeout = env.options.deploy.timeout_s as i64;
        assert_eq!(env.deploy_deadline, Some(at(601 + timeout)));
        assert!(env.last_error.as_deref().unwrap().starts_with("deploy of version v2 did not complete"));
    }

    #[test]
    fn an_overrun_first_deploy_stops_being_waited_for() {
        let mut env = updating("v1", None, 600);
        let event = advance(&mut env, false, &[], at(601));
        assert!(
            matches!(event, Some(Event::DeployFailed { rollback_to: None, ref reason, .. }) if reason.contains("did not become healthy"))
        );
        assert_eq!((env.version_label.as_str(), env.status, env.deploy_deadline), ("v1", EnvStatus::Ready, None));
    }

    #[test]
    fn nothing_moves_before_the_deadline_or_outside_a_deploy() {
        let mut env = updating("v2", Some("v1"), 600);
        let before = env.clone();
        assert!(advance(&mut env, false, &[], at(600)).is_none());
        assert_eq!(env, before);
        let mut ready = EnvironmentRecord { status: EnvStatus::Ready, deploy_deadline: None, ..before };
        let unchanged = ready.clone();
        assert!(advance(&mut ready, true, &[], at(601)).is_none());
        assert_eq!(ready, unchanged);
    }
}
