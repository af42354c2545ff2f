//! Component tests of deploys: each deployment policy, health-gated batches and their events,
//! abort, and retiring instances that ignore SIGTERM or cannot be stopped at all. FakeEngine, an
//! in-memory store and a scripted prober; real time with short ticks; every wait is bounded and
//! nothing asserts on durations.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::{Path, State};
use sprout_store::EnvStatus;
use sprout_store::options::{BatchSizeType, DeploymentPolicy};

mod common;

use common::*;

fn route_len(h: &Harness) -> usize {
    h.ctx.lb.table().lookup("prod.shop.localhost").map_or(0, |r| r.upstreams.len())
}

async fn set_policy(h: &Harness, policy: DeploymentPolicy, batch: u32) {
    change_env(h, |e| {
        e.options.deploy.policy = Some(policy);
        e.options.deploy.batch_size_type = BatchSizeType::Fixed;
        e.options.deploy.batch_size = batch;
    })
    .await;
}

/// Deploy v1 -> v2 on 3 instances under `policy`; return the fewest in-service instances seen.
async fn deploy_3(policy: DeploymentPolicy, batch: u32) -> (Harness, usize) {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 3).await;
    until("v1 Ready", || ready(&h, "v1", 3)).await;
    set_policy(&h, policy, batch).await;
    start_deploy(&h, "v2", 60_000).await;
    let mut low = usize::MAX;
    for _ in 0..2000 {
        low = low.min(route_len(&h));
        if ready(&h, "v2", 3).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(ready(&h, "v2", 3).await, "deploy under {policy:?} did not finish");
    assert!(instances(&h.fake, Some("v1")).is_empty());
    let e = env(&h).await.unwrap();
    assert_eq!(e.deploy_state, None, "progress is cleared once the deploy is done");
    assert_eq!(e.last_good_version.as_deref(), Some("v2"));
    (h, low)
}

async fn messages(h: &Harness, kind: &str) -> Vec<String> {
    let mut ev = h.ctx.store.recent_events("shop", Some("prod"), 500).await.unwrap();
    ev.retain(|e| e.kind == kind);
    ev.into_iter().map(|e| e.message).collect()
}

#[tokio::test(start_paused = true)]
async fn rolling_with_additional_batch_never_drops_capacity_and_names_its_batches() {
    let (h, low) = deploy_3(DeploymentPolicy::RollingWithAdditionalBatch, 1).await;
    assert_eq!(low, 3, "capacity never drops below desired");
    let started = messages(&h, "DeployBatchStarted").await;
    assert_eq!(started.len(), 3, "{started:#?}");
    assert!(started.iter().any(|m| m.starts_with("Deploying batch 2 of 3")), "{started:#?}");
    let healthy = messages(&h, "DeployBatchHealthy").await;
    assert!(healthy.iter().any(|m| m == "Batch 3 of 3 healthy"), "{healthy:#?}");
}

#[tokio::test(start_paused = true)]
async fn rolling_drops_capacity_by_at_most_one_batch() {
    let (h, low) = deploy_3(DeploymentPolicy::Rolling, 1).await;
    assert!(low >= 2, "in service fell to {low}");
    assert_eq!(messages(&h, "DeployBatchStarted").await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn immutable_keeps_the_old_set_until_the_new_set_is_healthy() {
    let (h, low) = deploy_3(DeploymentPolicy::Immutable, 1).await;
    assert_eq!(low, 3);
    let started = messages(&h, "DeployBatchStarted").await;
    assert_eq!(started.len(), 1, "{started:#?}");
    assert!(started[0].contains("launching 3 instance(s)"), "{started:#?}");
}

#[tokio::test(start_paused = true)]
async fn all_at_once_replaces_every_instance_in_one_batch() {
    let (h, _) = deploy_3(DeploymentPolicy::AllAtOnce, 1).await;
    let started = messages(&h, "DeployBatchStarted").await;
    assert_eq!(started.len(), 1, "{started:#?}");
    assert!(started[0].starts_with("Deploying batch 1 of 1: launching 3"), "{started:#?}");
}

/// Fail the probes of every instance of `version`.
fn fail_version(h: &Harness, version: &'static str) {
    h.prober.fail_versions.lock().unwrap().insert(version.to_string());
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_never_becomes_healthy_rolls_back_under_rolling() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "bad", "app:2").await;
    create_env(&h, "v1", 3).await;
    until("v1 Ready", || ready(&h, "v1", 3)).await;
    set_policy(&h, DeploymentPolicy::Rolling, 1).await;
    fail_version(&h, "bad");
    start_deploy(&h, "bad", 1500).await;
    until("rolled back to v1", || async {
        env(&h).await.is_some_and(|e| e.version_label == "v1" && e.status == EnvStatus::Ready && e.last_error.is_some())
    })
    .await;
    // The rolled-back instances leave rotation first, then drain and stop.
    until("no instance of the failed version left", || async { instances(&h.fake, Some("bad")).is_empty() }).await;
    assert_eq!(instances(&h.fake, Some("v1")).len(), 3);
    let failed = messages(&h, "DeployFailed").await;
    assert!(failed.iter().any(|m| m.contains("Rolling back to v1")), "{failed:#?}");
}

#[tokio::test(start_paused = true)]
async fn abort_rolls_back_to_the_last_good_version() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "bad", "app:2").await;
    create_env(&h, "v1", 2).await;
    until("v1 Ready", || ready(&h, "v1", 2)).await;
    let good = instances(&h.fake, Some("v1"));
    fail_version(&h, "bad");
    start_deploy(&h, "bad", 600_000).await;
    until("a bad instance launched", || async { !instances(&h.fake, Some("bad")).is_empty() }).await;

    let r =
        sprout_server::api::deploys::abort(State(h.ctx.clone()), Path(("shop".to_string(), "prod".to_string()))).await;
    assert!(r.is_ok(), "abort refused");
    until("back on v1, Ready, nothing of the aborted version left", || async {
        ready(&h, "v1", 2).await && instances(&h.fake, Some("bad")).is_empty()
    })
    .await;
    assert_eq!(instances(&h.fake, Some("v1")), good, "the good instances kept serving");
    assert!(messages(&h, "DeployAborted").await.iter().any(|m| m.contains("Rolling back to v1")));
    // Nothing to abort any more.
    let again =
        sprout_server::api::deploys::abort(State(h.ctx.clone()), Path(("shop".to_string(), "prod".to_string()))).await;
    assert!(again.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_container_that_ignores_sigterm_is_killed_after_the_stop_timeout() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 1).await;
    until("v1 Ready", || ready(&h, "v1", 1)).await;
    let old = instances(&h.fake, Some("v1")).into_iter().next().unwrap();
    let web = format!("sprout-shop-prod-{old}-web");
    h.fake.hang_on_stop(&web);
    start_deploy(&h, "v2", 60_000).await;
    until("v2 Ready and the old instance gone", || async {
        ready(&h, "v2", 1).await && h.fake.container(&web).is_none()
    })
    .await;
    assert!(h.fake.calls_matching("stop_container").iter().any(|c| c.ends_with(&web)));
    assert!(messages(&h, "InstanceQuarantined").await.is_empty(), "a kill after the timeout is a normal retirement");
}

#[tokio::test(start_paused = true)]
async fn an_instance_that_cannot_be_stopped_is_quarantined_and_the_deploy_finishes() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 2).await;
    until("v1 Ready", || ready(&h, "v1", 2)).await;
    let stuck = instances(&h.fake, Some("v1")).into_iter().next().unwrap();
    h.fake.fail_stop(&format!("sprout-shop-prod-{stuck}-app"), "Cannot allocate memory");
    start_deploy(&h, "v2", 60_000).await;
    until("an event says the instance is quarantined", || async {
        !messages(&h, "InstanceQuarantined").await.is_empty()
    })
    .await;
    until("v2 Ready with 2 in service", || async {
        env(&h).await.is_some_and(|e| e.status == EnvStatus::Ready && e.version_label == "v2") && route_len(&h) == 2
    })
    .await;
    let routed: HashSet<String> =
        h.ctx.lb.table().lookup("prod.shop.localhost").unwrap().upstreams.iter().map(|u| u.instance.clone()).collect();
    assert!(!routed.contains(&stuck), "the quarantined instance is out of rotation");
    assert_eq!(instances(&h.fake, Some("v2")).len(), 2, "and it was replaced");
    let q = messages(&h, "InstanceQuarantined").await;
    assert!(q[0].contains(&stuck) && q[0].contains("Cannot allocate memory"), "{q:#?}");
}
