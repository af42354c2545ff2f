//! The suite's event checks: append order, filtering by environment, paging, the newest few,
//! and history surviving its environment.

use sprout_store::{EventLevel, EventRecord, NewEvent, Store};

use super::{at, environment};

fn event(app: &str, env: Option<&str>, seconds: i64, message: &str) -> NewEvent {
    NewEvent {
        app: app.to_string(),
        env: env.map(str::to_string),
        at: at(seconds),
        level: if message.contains("fail") { EventLevel::Error } else { EventLevel::Info },
        kind: "Test".to_string(),
        message: message.to_string(),
    }
}

fn messages(events: Vec<EventRecord>) -> Vec<String> {
    events.into_iter().map(|e| e.message).collect()
}

pub(super) async fn events(store: &dyn Store) {
    assert_eq!(store.list_events("adserver", None, 0, 100).await.unwrap(), vec![]);
    assert_eq!(store.recent_events("adserver", None, 100).await.unwrap(), vec![]);

    // Interleaved across environments and applications; `at` deliberately not in id order, since
    // a clock can step backwards while the append order still holds.
    let appended = [
        event("adserver", Some("production"), 1, "deploy started"),
        event("adserver", Some("canary"), 2, "canary launching"),
        event("billing", Some("production"), 3, "billing event"),
        event("adserver", None, 4, "application-wide notice"),
        event("adserver", Some("production"), 0, "instance 1 started"),
        event("adserver", Some("canary"), 6, "canary failed"),
        event("adserver", Some("production"), 7, "deploy finished"),
    ];
    let mut ids = Vec::new();
    for new in &appended {
        ids.push(store.append_event(new).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let production = store.list_events("adserver", Some("production"), 0, 100).await.unwrap();
    assert_eq!(production.len(), 3);
    let first = &production[0];
    assert_eq!(
        (first.id, &first.app, first.env.as_deref(), first.at, first.level, &first.kind),
        (ids[0], &"adserver".to_string(), Some("production"), at(1), EventLevel::Info, &"Test".to_string())
    );
    assert_eq!(messages(production), ["deploy started", "instance 1 started", "deploy finished"]);
    assert_eq!(
        messages(store.list_events("adserver", None, 0, 100).await.unwrap()),
        [
            "deploy started",
            "canary launching",
            "application-wide notice",
            "instance 1 started",
            "canary failed",
            "deploy finished"
        ],
        "every event of the application, including application-wide ones, oldest first"
    );
    assert_eq!(messages(store.list_events("billing", None, 0, 100).await.unwrap()), ["billing event"]);
    assert_eq!(store.list_events("adserver", Some("nope"), 0, 100).await.unwrap(), vec![]);

    // Paging: strictly after `after_id`, at most `limit`.
    assert_eq!(
        messages(store.list_events("adserver", Some("production"), ids[0], 100).await.unwrap()),
        ["instance 1 started", "deploy finished"]
    );
    assert_eq!(
        messages(store.list_events("adserver", None, ids[1], 2).await.unwrap()),
        ["application-wide notice", "instance 1 started"]
    );
    assert_eq!(store.list_events("adserver", None, ids[6], 100).await.unwrap(), vec![]);
    assert_eq!(store.list_events("adserver", None, 0, 0).await.unwrap(), vec![]);

    // The newest `limit`, oldest first.
    assert_eq!(
        messages(store.recent_events("adserver", Some("production"), 2).await.unwrap()),
        ["instance 1 started", "deploy finished"]
    );
    assert_eq!(
        messages(store.recent_events("adserver", None, 3).await.unwrap()),
        ["instance 1 started", "canary failed", "deploy finished"]
    );
    assert_eq!(store.recent_events("adserver", Some("canary"), 100).await.unwrap().len(), 2);
    let canary = store.recent_events("adserver", Some("canary"), 1).await.unwrap();
    assert_eq!(canary[0].level, EventLevel::Error);
    assert_eq!(canary[0].id, ids[5]);

    // Deleting an environment keeps its history.
    store.create_environment(&environment("adserver", "canary")).await.unwrap();
    store.delete_environment("adserver", "canary").await.unwrap();
    assert_eq!(
        messages(store.list_events("adserver", Some("canary"), 0, 100).await.unwrap()),
        ["canary launching", "canary failed"]
    );
    let later = store.append_event(&event("adserver", Some("production"), 8, "later")).await.unwrap();
    assert!(later > ids[6], "ids keep increasing");
}
