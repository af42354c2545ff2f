//! A database locked by another process (issue 19): a write waits out the busy bound, then fails
//! as `Busy` (the API's 503) having changed nothing; once the lock goes, writes succeed again.

use sprout_store::{Application, SqliteStore, Store, StoreError};
use sqlx::Connection;

#[tokio::test]
async fn a_locked_database_fails_writes_as_busy_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sprout.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();

    // Another process holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();
    let err = store.create_application(&Application { name: "shop".into(), created_at: now }).await.unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert!(matches!(store.get_application("shop").await, Err(StoreError::NotFound { .. })));
    store.create_application(&Application { name: "shop".into(), created_at: now }).await.unwrap();
    assert_eq!(store.get_application("shop").await.unwrap().name, "shop");
}
