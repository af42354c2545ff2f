//! Notifications: webhooks per application, a delivery queue kept in order with each attempt
//! recorded, removal failing what was still queued, and the alert planner's memory.

use sprout_store::{DeliveryAttempt, DeliveryStatus, NewDelivery, NotifyTarget, Store, StoreError};

use super::at;

fn target(id: &str, app: &str, env: Option<&str>, secret: Option<&[u8]>, seconds: i64) -> NotifyTarget {
    NotifyTarget {
        id: id.into(),
        app: app.into(),
        env: env.map(Into::into),
        url: format!("http://127.0.0.1:9/{id}"),
        format: "json".into(),
        events: "alerts".into(),
        sealed_secret: secret.map(<[u8]>::to_vec),
        created_at: at(seconds),
    }
}

fn delivery(target: &str, env: &str, n: u32) -> NewDelivery {
    NewDelivery {
        target_id: target.into(),
        app: "adserver".into(),
        env: env.into(),
        created_at: at(100 + i64::from(n)),
        severity: "warning".into(),
        body: format!("{{\"n\":{n}}}"),
    }
}

pub async fn notify(store: &dyn Store) {
    assert!(store.list_notify_targets(None).await.unwrap().is_empty());
    let all = target("n-00000001", "adserver", None, Some(b"sealed"), 90);
    let prod = target("n-00000002", "adserver", Some("production"), None, 91);
    store.add_notify_target(&all).await.unwrap();
    store.add_notify_target(&prod).await.unwrap();
    store.add_notify_target(&target("n-00000003", "other", None, None, 92)).await.unwrap();
    assert!(matches!(store.add_notify_target(&all).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.list_notify_targets(Some("adserver")).await.unwrap(), vec![all.clone(), prod.clone()]);
    assert_eq!(store.list_notify_targets(None).await.unwrap().len(), 3);

    store.enqueue_deliveries(&[delivery(&all.id, "production", 1), delivery(&prod.id, "production", 2)]).await.unwrap();
    store.enqueue_deliveries(&[delivery(&all.id, "staging", 3)]).await.unwrap();
    let pending = store.pending_deliveries(10).await.unwrap();
    let bodies: Vec<&str> = pending.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, vec!["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], "queue order");
    assert!(pending.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
    assert_eq!(store.pending_deliveries(1).await.unwrap().len(), 1);

    let first = pending[0].id;
    let retry = DeliveryAttempt {
        status: DeliveryStatus::Pending,
        attempts: 1,
        next_at: at(200),
        last_error: Some("connection refused".into()),
        done_at: None,
    };
    store.record_delivery(first, &retry).await.unwrap();
    let again = &store.pending_deliveries(10).await.unwrap()[0];
    assert_eq!((again.id, again.attempts, again.next_at), (first, 1, at(200)));
    assert_eq!(again.last_error.as_deref(), Some("connection refused"));
    let done = DeliveryAttempt {
        status: DeliveryStatus::Delivered,
        attempts: 2,
        next_at: at(201),
        last_error: None,
        done_at: Some(at(201)),
    };
    store.record_delivery(first, &done).await.unwrap();
    assert_eq!(store.pending_deliveries(10).await.unwrap().len(), 2);

    // Removing a webhook fails what it still had queued; its delivered ones stay as they were.
    assert!(store.remove_notify_target("adserver", &all.id, at(300)).await.unwrap());
    assert!(!store.remove_notify_target("adserver", &all.id, at(300)).await.unwrap());
    assert!(!store.remove_notify_target("adserver", "n-00000003", at(300)).await.unwrap(), "another app's");
    let log = store.list_deliveries("adserver", 10).await.unwrap();
    let statuses: Vec<DeliveryStatus> = log.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        vec![DeliveryStatus::Failed, DeliveryStatus::Pending, DeliveryStatus::Delivered],
        "newest first"
    );
    assert_eq!(log[0].last_error.as_deref(), Some("the webhook was removed"));
    assert_eq!(log[2].done_at, Some(at(201)));

    assert_eq!(store.get_alert_memory("adserver", "production").await.unwrap(), None);
    store.set_alert_memory("adserver", "production", Some("{\"incidents\":{}}")).await.unwrap();
    store.set_alert_memory("adserver", "production", Some("{\"a\":1}")).await.unwrap();
    assert_eq!(store.get_alert_memory("adserver", "production").await.unwrap().as_deref(), Some("{\"a\":1}"));
    store.set_alert_memory("adserver", "production", None).await.unwrap();
    assert_eq!(store.get_alert_memory("adserver", "production").await.unwrap(), None);
}
