//! Component tests for issue 20: lifecycle hooks run through the engine in the right order
//! (`post_start` after the containers start, `pre_stop` before the stop of a leaving instance),
//! and the notification pipeline queues one `warning` and one `resolved` for an essential
//! container's exit, nothing for a scale-in, and keeps an open incident in the store.
//! FakeEngine, in-memory store, paused time.

mod common;

use common::*;
use sprout_store::{NotifyTarget, Store};

fn write_hooks(h: &Harness) {
    let yaml = "hooks:\n  app:\n    pre_stop: {command: [\"/agent\", \"retire\"], timeout: 5}\n    post_start: {command: [\"/agent\", \"hello\"], timeout: 5}\n";
    std::fs::write(h.ctx.settings.data_dir.join("bundle").join("sprout.yaml"), yaml).unwrap();
}

async fn add_webhook(h: &Harness, events: &str) {
    let target = NotifyTarget {
        id: format!("n-{events}"),
        app: "shop".into(),
        env: None,
        url: "http://127.0.0.1:9/".into(),
        format: "json".into(),
        events: events.into(),
        sealed_secret: None,
        created_at: h.ctx.clock.now(),
    };
    h.ctx.store.add_notify_target(&target).await.unwrap();
}

/// (webhook, severity, message) of every queued delivery, in queue order.
async fn queued(h: &Harness) -> Vec<(String, String, String)> {
    let store: &dyn Store = &*h.ctx.store;
    store
        .pending_deliveries(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
            (d.target_id, d.severity, v["message"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn post_start_runs_after_the_start_and_pre_stop_before_the_stop() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    write_hooks(&h);
    create_env(&h, "v1", 2).await;
    until("Ready with 2", || ready(&h, "v1", 2)).await;
    let ids: Vec<String> = instances(&h.fake, None).into_iter().collect();
    let calls = h.fake.calls();
    for id in &ids {
        let app = format!("sprout-shop-prod-{id}-app");
        let start = calls.iter().position(|c| *c == format!("start_container {app}")).unwrap();
        let hello = calls.iter().position(|c| *c == format!("exec {app} /agent hello")).expect("post_start ran");
        assert!(start < hello, "{calls:#?}");
    }

    change_env(&h, |e| e.desired_instances = 1).await;
    h.ctx.kick.notify_waiters();
    until("one left", || async { instances(&h.fake, None).len() == 1 }).await;
    let gone = ids.iter().find(|i| !instances(&h.fake, None).contains(*i)).unwrap();
    let app = format!("sprout-shop-prod-{gone}-app");
    let calls = h.fake.calls();
    let retire = calls.iter().position(|c| *c == format!("exec {app} /agent retire")).expect("pre_stop ran");
    let stop = calls.iter().position(|c| *c == format!("stop_container {app}")).unwrap();
    assert!(retire < stop, "pre_stop before SIGTERM: {calls:#?}");
    let log = std::fs::read_to_string(h.ctx.settings.instance_dir("shop", "prod", gone).join("hooks/app.log")).unwrap();
    assert!(log.contains("pre_stop [\"/agent\",\"retire\"]") && log.contains("pre_stop succeeded"), "{log}");
    let events = h.ctx.store.recent_events("shop", Some("prod"), 50).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "HookSucceeded"
            && e.message.contains(&format!("pre_stop of container app on instance {gone}")))
    );
}

#[tokio::test(start_paused = true)]
async fn an_essential_exit_queues_one_warning_and_one_resolved_and_a_scale_in_only_info() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    add_webhook(&h, "alerts").await;
    add_webhook(&h, "all").await;
    create_env(&h, "v1", 2).await;
    until("Ready with 2", || ready(&h, "v1", 2)).await;

    change_env(&h, |e| e.desired_instances = 1).await;
    h.ctx.kick.notify_waiters();
    until("one left", || async { instances(&h.fake, None).len() == 1 }).await;
    until("the scale-in said as info", || async { queued(&h).await.iter().any(|q| q.2.contains("(scale-in)")) }).await;
    assert!(queued(&h).await.iter().all(|(to, sev, _)| to == "n-all" && sev == "info"), "{:#?}", queued(&h).await);

    // Replacements fail their probes for a while: the incident stays open, kept in the store.
    let id = instances(&h.fake, None).into_iter().next().unwrap();
    *h.prober.fail_all.lock().unwrap() = true;
    h.fake.exit_container(&format!("sprout-shop-prod-{id}-app"), 137);
    until("an incident kept in the store", || async {
        h.ctx.store.get_alert_memory("shop", "prod").await.unwrap().is_some_and(|m| m.contains("availability"))
    })
    .await;
    until("its alert queued", || async { queued(&h).await.iter().any(|q| q.0 == "n-alerts") }).await;
    *h.prober.fail_all.lock().unwrap() = false;
    until("resolved queued", || async { queued(&h).await.iter().any(|q| q.1 == "resolved") }).await;
    let alerts: Vec<(String, String, String)> = queued(&h).await.into_iter().filter(|q| q.0 == "n-alerts").collect();
    let sev: Vec<&str> = alerts.iter().map(|q| q.1.as_str()).collect();
    assert_eq!(sev, vec!["critical", "resolved"], "the only instance lost is Severe health: {alerts:#?}");
    assert!(alerts[0].2.contains(&id) && alerts[0].2.contains("137"), "{}", alerts[0].2);
    assert_eq!(h.ctx.store.get_alert_memory("shop", "prod").await.unwrap(), None, "closed incidents are forgotten");
}
