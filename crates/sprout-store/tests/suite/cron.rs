//! Periodic jobs' runs: an instant is claimed once, only forward, and a try's outcome is kept
//! only for the instant it belongs to.

use chrono::{DateTime, TimeDelta, Utc};
use sprout_store::{CronRun, CronRunState, Store};

fn whole(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap() + TimeDelta::seconds(seconds)
}

fn run(job: &str, instant: i64, state: CronRunState) -> CronRun {
    CronRun {
        app: "cronapp".into(),
        env: "work".into(),
        job: job.into(),
        instant: whole(instant),
        state,
        attempts: u32::from(state != CronRunState::Baseline),
        outcome: String::new(),
        instance: String::new(),
        updated_at: whole(instant),
    }
}

pub async fn cron(store: &dyn Store) {
    assert!(store.list_cron_runs("cronapp", "work").await.unwrap().is_empty());
    assert!(store.claim_cron_run(&run("backup", 0, CronRunState::Baseline), true).await.unwrap());
    assert!(
        !store.claim_cron_run(&run("backup", 10, CronRunState::Baseline), true).await.unwrap(),
        "a baseline never overwrites"
    );
    assert!(store.claim_cron_run(&run("backup", 60, CronRunState::Sending), false).await.unwrap());
    assert!(
        !store.claim_cron_run(&run("backup", 60, CronRunState::Sending), false).await.unwrap(),
        "one instant is claimed once"
    );
    assert!(!store.claim_cron_run(&run("backup", 30, CronRunState::Sending), false).await.unwrap(), "never backwards");

    let mut done = run("backup", 60, CronRunState::Succeeded);
    done.outcome = "returned 200".into();
    done.instance = "i-1".into();
    store.update_cron_run(&done).await.unwrap();
    let stale = CronRun { outcome: "late".into(), ..run("backup", 0, CronRunState::Failed) };
    store.update_cron_run(&stale).await.unwrap();
    assert!(store.claim_cron_run(&run("report", 5, CronRunState::Baseline), true).await.unwrap());

    let runs = store.list_cron_runs("cronapp", "work").await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0], done, "the outcome of another instant is not written over the claimed one");
    assert_eq!(runs[1].job, "report");
    assert!(store.list_cron_runs("cronapp", "other").await.unwrap().is_empty());
}
