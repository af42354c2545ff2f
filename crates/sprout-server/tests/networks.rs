//! Component tests of instance networks on FakeEngine: a full instance network pool is one
//! clear launch failure and a health cause, not an event per try, and recovers when subnets
//! come free.

mod common;

use std::sync::Arc;

use common::*;
use sprout_plan::subnets::SubnetPool;
use sprout_store::MemoryStore;

async fn events(h: &Harness, kind: &str) -> Vec<String> {
    let all = h.ctx.store.recent_events("shop", Some("prod"), 500).await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).map(|e| e.message).collect()
}

fn causes(h: &Harness) -> Vec<String> {
    let snapshots = h.ctx.snapshots.lock().unwrap();
    snapshots.values().next().map(|s| s.causes.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_full_pool_is_said_once_shown_as_a_cause_and_recovers_when_instances_go() {
    let tiny = SubnetPool::new("100.80.0.0/27".parse().unwrap(), 28).unwrap();
    let h = harness_configured(Arc::new(MemoryStore::new()), |s| s.instance_pool = tiny).await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 3).await;

    // Two instances take the pool's two subnets; the third launch fails, and keeps failing.
    until_within(20, "a launch failed twice with the full pool", || async {
        causes(&h).iter().any(|c| c.starts_with("instances fail to launch (2 times since"))
    })
    .await;
    let failed = events(&h, "LaunchFailed").await;
    assert_eq!(failed.len(), 1, "said once: {failed:?}");
    assert!(
        failed[0].contains("the instance network pool 100.80.0.0/27 is full: all 2 subnets of /28 are in use"),
        "{}",
        failed[0]
    );
    assert!(failed[0].contains("--instance-network-pool"), "{}", failed[0]);
    let cause = causes(&h).into_iter().find(|c| c.contains("fail to launch")).unwrap();
    assert!(cause.contains("is full"), "{cause}");
    assert!(events(&h, "OrphanRemoved").await.is_empty());
    let mut subnets: Vec<String> = h.fake.networks().iter().filter_map(|n| n.subnet).map(|s| s.to_string()).collect();
    subnets.sort();
    assert_eq!(subnets, ["100.80.0.0/28", "100.80.0.16/28"]);

    // One instance fewer wanted: no launch is wanted any more, and the run is said with its count.
    change_env(&h, |e| e.desired_instances = 2).await;
    h.ctx.kick.notify_waiters();
    until("the failures said to be over", || async { !events(&h, "LaunchFailuresEnded").await.is_empty() }).await;
    let ended = events(&h, "LaunchFailuresEnded").await;
    assert!(ended[0].starts_with("Launch failure over after "), "{}", ended[0]);
    until("the cause gone", || async { !causes(&h).iter().any(|c| c.contains("fail to launch")) }).await;

    // A subnet freed: the third instance launches on it.
    change_env(&h, |e| e.desired_instances = 1).await;
    h.ctx.kick.notify_waiters();
    until("one network left", || async { h.fake.networks().len() == 1 }).await;
    change_env(&h, |e| e.desired_instances = 2).await;
    h.ctx.kick.notify_waiters();
    until("two instances again", || async { h.fake.networks().len() == 2 }).await;
    assert_eq!(events(&h, "LaunchFailed").await.len(), 1, "no new failure");
}
