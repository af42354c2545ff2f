//! Component tests of launches queued for a launch slot (FakeEngine): the time an instance waits
//! for a slot is not counted against its first health check.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sprout_store::MemoryStore;

#[tokio::test]
async fn an_instance_that_waited_for_a_slot_longer_than_the_launch_timeout_still_serves() {
    let h = harness_configured(Arc::new(MemoryStore::new()), |s| s.launch_timeout_s = 1).await;
    // Every slot taken (by launches of other environments, say) for longer than the timeout.
    let slots = h.ctx.settings.launch_concurrency as u32;
    let held = h.ctx.launch_slots.clone().acquire_many_owned(slots).await.unwrap();
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(h.fake.containers().is_empty(), "nothing launched while the slots are held");
    drop(held);

    until("the instance in service", || async { !h.ctx.routing.serving("shop", "prod").is_empty() }).await;
    let events = h.ctx.store.recent_events("shop", Some("prod"), 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(!kinds.contains(&"InstanceUnhealthy"), "not replaced for the time it queued: {kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "InstanceLaunched").count(), 1, "{kinds:?}");
}
