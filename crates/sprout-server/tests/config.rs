//! `PATCH .../config` and bundle options on FakeEngine: options replace no instance, a dry run
//! changes nothing, the load balancing algorithm reaches the routing table, a value set by hand wins over the bundle's `options:`, and an option the
//! previous bundle set goes back to its default when the next bundle leaves it out.

mod common;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use common::*;
use sprout_api::{ConfigChange, DeployRequest};
use sprout_server::api::{config, environments, saved};
use std::sync::Arc;

fn path() -> Path<(String, String)> {
    Path(("shop".to_string(), "prod".to_string()))
}

fn options(pairs: &[(&str, Option<&str>)]) -> ConfigChange {
    let options: BTreeMap<String, Option<String>> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(String::from))).collect();
    ConfigChange { options, ..Default::default() }
}

async fn value(h: &Harness, key: &str) -> (Option<String>, String) {
    let Json(view) = config::show(State(h.ctx.clone()), path()).await.unwrap();
    let o = view.options.into_iter().find(|o| o.key == key).unwrap();
    (o.value, o.source)
}

#[tokio::test(start_paused = true)]
async fn options_replace_no_instance_and_a_dry_run_changes_nothing() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("Ready", || ready(&h, "v1", 2)).await;
    let before = instances(&h.fake, None);

    let dry = ConfigChange { dry_run: true, ..options(&[("health.path", Some("/health"))]) };
    let Json(view) = config::change(State(h.ctx.clone()), path(), Json(dry)).await.unwrap();
    assert_eq!((view.applied, view.replaces_instances, view.changed.len()), (false, false, 1));
    assert_eq!(value(&h, "health.path").await, (Some("/".into()), "default".into()));

    let req = options(&[("health.path", Some("/health")), ("scaling.min", Some("1")), ("scaling.max", Some("3"))]);
    let Json(view) = config::change(State(h.ctx.clone()), path(), Json(req)).await.unwrap();
    assert!(view.applied && !view.replaces_instances, "{view:?}");
    assert!(view.effects.iter().any(|e| e.contains("no instance is replaced")), "{:?}", view.effects);
    assert_eq!(value(&h, "health.path").await, (Some("/health".into()), "set by hand".into()));
    assert_eq!(env(&h).await.unwrap().options.health.path, "/health");

    // The same values again: nothing to apply.
    let again = options(&[("health.path", Some("/health"))]);
    let Json(view) = config::change(State(h.ctx.clone()), path(), Json(again)).await.unwrap();
    assert!(!view.applied && view.changed.is_empty(), "{view:?}");

    // Refused whole: one bad value among good ones changes nothing.
    let bad = options(&[("health.interval", Some("9")), ("health.unhealthy_threshold", Some("11"))]);
    let err = config::change(State(h.ctx.clone()), path(), Json(bad)).await.expect_err("refused");
    assert!(err.to_string().contains("health.unhealthy_threshold: 11 is out of range; give 1 to 10 checks"), "{err}");
    assert_eq!(value(&h, "health.interval").await.0.as_deref(), Some("15"));

    // The load balancing algorithm reaches the published routing table at the next pass.
    let rr = options(&[(
        "aws:elasticbeanstalk:environment:process:default:LoadBalancingAlgorithmType",
        Some("round_robin"),
    )]);
    let Json(view) = config::change(State(h.ctx.clone()), path(), Json(rr)).await.unwrap();
    assert_eq!(view.changed[0].key, "loadbalancer.algorithm");
    until("the route balances round-robin", || async {
        h.ctx.lb.table().routes.values().any(|r| r.env == "prod" && r.balance == Some(sprout_lb::Balance::RoundRobin))
    })
    .await;

    // Properties do replace instances, under the deployment policy.
    let vars = ConfigChange {
        variables: Some(BTreeMap::from([("A".into(), "1".into())])),
        dry_run: true,
        ..Default::default()
    };
    let Json(view) = config::change(State(h.ctx.clone()), path(), Json(vars)).await.unwrap();
    assert!(view.replaces_instances && view.variables_changed == ["A", "STAGE"], "{view:?}");
    assert_eq!(instances(&h.fake, None), before, "no instance was replaced");
}

#[tokio::test(start_paused = true)]
async fn bundle_options_yield_to_values_set_by_hand_and_leave_with_their_bundle() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 1).await;
    until("Ready", || ready(&h, "v1", 1)).await;
    let by_hand = options(&[("health.interval", Some("7"))]);
    let _ = config::change(State(h.ctx.clone()), path(), Json(by_hand)).await.unwrap();

    // The versions share one bundle directory here: what it holds is what the next deploy reads.
    let yaml = h.ctx.settings.data_dir.join("bundle").join("sprout.yaml");
    std::fs::write(&yaml, "options:\n  health.path: /ready\n  health.interval: 3\n").unwrap();
    let deploy =
        |version: &str| DeployRequest { version: version.into(), timeout_s: None, deploy: None, release: None };
    let _ = environments::deploy(State(h.ctx.clone()), path(), Json(deploy("v2"))).await.unwrap();
    assert_eq!(value(&h, "health.path").await, (Some("/ready".into()), "sprout.yaml of version v2".into()));
    assert_eq!(value(&h, "health.interval").await, (Some("7".into()), "set by hand".into()));
    until("v2 Ready", || ready(&h, "v2", 1)).await;

    std::fs::write(&yaml, "").unwrap();
    let _ = environments::deploy(State(h.ctx.clone()), path(), Json(deploy("v1"))).await.unwrap();
    assert_eq!(value(&h, "health.path").await, (Some("/".into()), "default".into()));
    assert_eq!(value(&h, "health.interval").await, (Some("7".into()), "set by hand".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saves_at_the_same_time_all_land() {
    let store: Arc<dyn sprout_store::Store> = Arc::new(sprout_store::SqliteStore::open_in_memory().await.unwrap());
    let h = harness_with(store).await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 1).await;
    // Saved configurations are one document per application: each save reads, changes and
    // writes it back, so without a single writer two saves at once keep only one.
    let saves = (0..24).map(|i| {
        let ctx = h.ctx.clone();
        tokio::spawn(async move {
            let req = sprout_api::SaveConfiguration { name: format!("cfg{i}"), env: "prod".into() };
            saved::save(State(ctx), Path("shop".to_string()), Json(req)).await.map(|_| ())
        })
    });
    for save in futures_util::future::join_all(saves).await {
        save.unwrap().unwrap();
    }
    let Json(all) = saved::list(State(h.ctx.clone()), Path("shop".to_string())).await.unwrap();
    assert_eq!(all.len(), 24, "every save landed: {:?}", all.iter().map(|c| &c.name).collect::<Vec<_>>());
}
