//! Component tests: the controllers against FakeEngine, an in-memory store and a scripted
//! prober. Real time with short ticks; every wait is bounded, nothing asserts on durations.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use sprout_engine::Engine;
use sprout_store::EnvStatus;

mod common;

use common::*;

#[tokio::test(start_paused = true)]
async fn launches_instances_with_labels_links_and_variables_and_routes_them() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("environment Ready with 2 instances in service", || ready(&h, "v1", 2)).await;

    let e = env(&h).await.unwrap();
    assert_eq!(e.last_good_version.as_deref(), Some("v1"));
    let ids = instances(&h.fake, Some("v1"));
    assert_eq!(ids.len(), 2);
    let id = ids.iter().next().unwrap();
    let web = h.fake.container_spec(&format!("sprout-shop-prod-{id}-web")).expect("web container");
    let app = h.fake.container_spec(&format!("sprout-shop-prod-{id}-app")).expect("app container");
    assert!(app.aliases.contains(&"backend".to_string()), "link alias on the target: {:?}", app.aliases);
    assert!(web.env.contains(&("STAGE".to_string(), "prod".to_string())));
    assert_eq!(web.labels.get("sprout.server").map(String::as_str), Some("stest"));
    assert_eq!(web.ports[0].host_ip, "127.0.0.1");
    assert!(web.binds.iter().any(|b| b.target == "/var/log/nginx" && b.source.contains(id.as_str())));
    assert_eq!(app.memory_bytes, Some(64 * 1024 * 1024));
    // The app starts before the web container that links to it.
    let calls = h.fake.calls_matching("start_container");
    let pos = |n: &str| calls.iter().position(|c| c.ends_with(&format!("{id}-{n}"))).unwrap();
    assert!(pos("app") < pos("web"));
}

#[tokio::test(start_paused = true)]
async fn an_essential_container_that_exits_gets_its_instance_replaced_a_job_exit_does_not() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 1).await;
    until("Ready", || ready(&h, "v1", 1)).await;
    let first = instances(&h.fake, None).into_iter().next().unwrap();

    h.fake.exit_container(&format!("sprout-shop-prod-{first}-job"), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(instances(&h.fake, None).contains(&first), "a non-essential exit is not a failure");

    h.fake.exit_container(&format!("sprout-shop-prod-{first}-app"), 137);
    until("a replacement in service and the failed instance gone", || async {
        let now = instances(&h.fake, None);
        now.len() == 1 && !now.contains(&first) && ready(&h, "v1", 1).await
    })
    .await;
    let events = h.ctx.store.recent_events("shop", Some("prod"), 100).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "InstanceUnhealthy" && e.message.contains("exited with code 137")),
        "{events:#?}"
    );
    assert!(h.fake.networks().iter().all(|n| !n.name.contains(&first)), "the failed instance's network is removed");
}

#[tokio::test(start_paused = true)]
async fn deploy_replaces_every_instance_and_keeps_serving_meanwhile() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "v2", "app:2").await;
    create_env(&h, "v1", 2).await;
    until("v1 Ready", || ready(&h, "v1", 2)).await;

    start_deploy(&h, "v2", 60_000).await;
    // Throughout the deploy the route never empties.
    for _ in 0..400 {
        let r = h.ctx.lb.table().lookup("prod.shop.localhost").cloned().unwrap();
        assert!(!r.upstreams.is_empty(), "no in-service instance during the deploy");
        if ready(&h, "v2", 2).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready(&h, "v2", 2).await);
    assert!(instances(&h.fake, Some("v1")).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_version_that_never_passes_health_checks_is_rolled_back() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_version(&h, "bad", "app:2").await;
    create_env(&h, "v1", 1).await;
    until("v1 Ready", || ready(&h, "v1", 1)).await;
    let good = instances(&h.fake, None);
    let good_addr: HashSet<SocketAddr> =
        h.ctx.lb.table().lookup("prod.shop.localhost").unwrap().upstreams.iter().map(|u| u.addr).collect();

    // Every probe fails except the good instance's.
    *h.prober.fail_all.lock().unwrap() = false;
    // New instances get other addresses: only the good one passes its probes.
    *h.prober.only.lock().unwrap() = Some(good_addr);
    start_deploy(&h, "bad", 800).await;
    until("rolled back to v1 with an error recorded", || async {
        env(&h).await.is_some_and(|e| e.version_label == "v1" && e.last_error.is_some() && e.status == EnvStatus::Ready)
    })
    .await;
    assert_eq!(instances(&h.fake, Some("v1")), good, "the good instance kept serving throughout");
    let err = env(&h).await.unwrap().last_error.unwrap();
    assert!(err.contains("bad"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn terminate_removes_everything_and_orphans_are_swept() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("Ready", || ready(&h, "v1", 2)).await;

    change_env(&h, |e| e.status = EnvStatus::Terminating).await;
    h.ctx.kick.notify_waiters();
    until("environment gone", || async { env(&h).await.is_none() }).await;
    until("no container or network left", || async { h.fake.containers().is_empty() && h.fake.networks().is_empty() })
        .await;
    assert!(h.ctx.lb.table().lookup("prod.shop.localhost").is_none(), "the host answers 404 afterwards");

    // An instance of this server for an environment the store does not know is an orphan.
    let mut spec = sprout_engine::ContainerSpec {
        name: "sprout-shop-gone-i-1-app".into(),
        image: "app:1".into(),
        network: "n-orphan".into(),
        ..Default::default()
    };
    for (k, v) in
        [("sprout.server", "stest"), ("sprout.app", "shop"), ("sprout.env", "gone"), ("sprout.instance", "i-1")]
    {
        spec.labels.insert(k.into(), v.into());
    }
    h.fake.create_network(&sprout_engine::NetworkSpec { name: "n-orphan".into(), ..Default::default() }).await.unwrap();
    h.fake.create_container(&spec).await.unwrap();
    sprout_server::controller::sweep_orphans(&h.ctx, &Default::default()).await;
    assert!(h.fake.containers().is_empty());
}

/// Health probes run on their own: one instance whose check hangs far past its timeout does not
/// hold up the pass that takes another instance, whose essential container died, out of rotation.
#[tokio::test(start_paused = true)]
async fn a_hanging_health_check_does_not_delay_taking_a_dead_instance_out() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("Ready with 2 in service", || ready(&h, "v1", 2)).await;
    // Checks every second, each allowed a minute: a pass that waited on one would stall.
    change_env(&h, |e| {
        e.options.health.interval_s = 1;
        e.options.health.timeout_s = 60;
    })
    .await;
    let upstreams = h.ctx.lb.table().lookup("prod.shop.localhost").unwrap().upstreams.clone();
    let (slow, dead) = (&upstreams[0], &upstreams[1]);
    h.prober.hanging.lock().unwrap().insert(slow.addr);
    // Let a probe of the slow instance start and hang.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    h.fake.exit_container(&format!("sprout-shop-prod-{}-app", dead.instance), 137);
    until_within(5, "the dead instance out of the routing table", || async {
        let table = h.ctx.lb.table();
        let routed = table
            .lookup("prod.shop.localhost")
            .map(|r| r.upstreams.iter().map(|u| u.instance.clone()).collect::<Vec<_>>());
        routed.is_some_and(|ids| !ids.contains(&dead.instance) && ids.contains(&slow.instance))
    })
    .await;
}
