//! Which retired instances' logs have been kept long enough (`logs.retention`).
//!
//! An instance's log directory outlives it (`sprout logs --all`), so without a bound a host that
//! scales in and out all day fills its disk with logs nobody reads. Like Elastic Beanstalk's
//! CloudWatch Logs retention (`RetentionInDays`, 7 by default), a retired instance's logs are
//! removed once its last write is older than its environment's retention. An instance that still
//! runs is never touched, whatever the age of its files, and an environment that no longer exists
//! keeps the server's default retention (terminating does not delete logs at once).

use chrono::{DateTime, Duration, Utc};
pub use sprout_model::options::{DEFAULT_LOG_RETENTION_DAYS, MAX_LOG_RETENTION_DAYS};

/// One instance directory found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLogs {
    pub instance: String,
    /// The latest write to the directory (its retirement, for a retired instance).
    pub last_written: DateTime<Utc>,
    /// The instance still exists on the engine.
    pub live: bool,
}

/// The instances whose logs are due for removal at `now` under `retention_days`, in the order
/// given.
pub fn expired(kept: &[KeptLogs], now: DateTime<Utc>, retention_days: u32) -> Vec<String> {
    let bound = now - Duration::days(i64::from(retention_days));
    kept.iter().filter(|k| !k.live && k.last_written < bound).map(|k| k.instance.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(days_ago) - Duration::minutes(1)
    }

    #[test]
    fn only_retired_instances_past_the_retention_go() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T04:00:00Z").unwrap().with_timezone(&Utc);
        let kept = vec![
            KeptLogs { instance: "i-old".into(), last_written: at(8, now), live: false },
            KeptLogs { instance: "i-recent".into(), last_written: at(6, now), live: false },
            KeptLogs { instance: "i-old-but-running".into(), last_written: at(30, now), live: true },
            KeptLogs { instance: "i-exactly".into(), last_written: now - Duration::days(7), live: false },
        ];
        assert_eq!(expired(&kept, now, 7), vec!["i-old".to_string()]);
        assert_eq!(expired(&kept, now, 1), vec!["i-old".to_string(), "i-recent".to_string(), "i-exactly".to_string()]);
        assert!(expired(&kept, now, 30).is_empty());
    }
}
