//! An environment's measures: its last wake is kept per environment, replaced by the next, in
//! milliseconds, and goes with the environment.

use std::time::Duration;

use sprout_store::Store;

use super::{environment, t0};

pub async fn measures(store: &dyn Store) {
    store.create_environment(&environment("adserver", "preview")).await.unwrap();
    assert_eq!(store.get_wake_time("adserver", "preview").await.unwrap(), None, "none measured yet");

    store.set_wake_time("adserver", "preview", Duration::from_micros(2_345_678), t0()).await.unwrap();
    assert_eq!(store.get_wake_time("adserver", "preview").await.unwrap(), Some(Duration::from_millis(2_345)));
    store.set_wake_time("adserver", "preview", Duration::from_millis(900), t0()).await.unwrap();
    assert_eq!(store.get_wake_time("adserver", "preview").await.unwrap(), Some(Duration::from_millis(900)), "replaced");
    assert_eq!(store.get_wake_time("adserver", "production").await.unwrap(), None, "per environment");

    store.delete_environment("adserver", "preview").await.unwrap();
    assert_eq!(store.get_wake_time("adserver", "preview").await.unwrap(), None, "gone with its environment");
}
