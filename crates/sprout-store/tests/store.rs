//! Runs the store suite on SQLite, in memory and in a file, plus what only SQLite has: opening
//! files, reopening them, pragmas, concurrent writers and rows corrupted behind the store's back.

mod suite;

use std::path::Path;
use std::sync::Arc;

use sprout_store::{EnvStatus, SqliteStore, Store, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};

/// A connection that bypasses the store, to look at or damage what it wrote.
async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path)).await.unwrap()
}

#[tokio::test]
async fn suite_on_the_memory_store() {
    suite::run(&sprout_store::MemoryStore::new()).await;
}

#[tokio::test]
async fn suite_in_memory() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    suite::run(&store).await;
}

#[tokio::test]
async fn in_memory_stores_are_separate() {
    let one = SqliteStore::open_in_memory().await.unwrap();
    let two = SqliteStore::open_in_memory().await.unwrap();
    one.insert_token(&sprout_store::TokenRecord::unlimited(
        "ci",
        "sha256:ci".to_string(),
        sprout_store::Scope::Deploy,
        suite::t0(),
    ))
    .await
    .unwrap();
    assert_eq!(one.count_tokens().await.unwrap(), 1);
    assert_eq!(two.count_tokens().await.unwrap(), 0);
}

#[tokio::test]
async fn suite_in_a_file_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sprout.db");
    assert!(!path.exists());

    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists(), "created when missing");
    suite::run(&store).await;
    store.close().await;

    // Twice, so that the second and third opens both find an up-to-date schema.
    for _ in 0..2 {
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.list_applications().await.unwrap().len(), 2);
        assert_eq!(store.list_versions("adserver").await.unwrap()[0].label, "v3");
        let production = store.get_environment("adserver", "production").await.unwrap();
        assert_eq!(production.status, EnvStatus::Ready);
        assert_eq!(production.last_good_version.as_deref(), Some("v2"));
        assert_eq!(store.list_events("adserver", None, 0, 100).await.unwrap().len(), 7);
        assert_eq!(store.count_tokens().await.unwrap(), 3);
        store.close().await;
    }

    let mut conn = raw(&path).await;
    let applied: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(applied, on_disk as i64, "each migration applied once");
}

#[tokio::test]
async fn file_is_in_wal_mode_with_foreign_keys_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sprout.db");
    let store = SqliteStore::open(&path).await.unwrap();

    // journal_mode=WAL is stored in the file itself, so a plain connection sees it.
    let mut conn = raw(&path).await;
    let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap().try_get(0).unwrap();
    assert_eq!(mode, "wal");

    let err = store.create_environment(&suite::environment("ghost", "production")).await.unwrap_err();
    assert!(matches!(&err, StoreError::NotFound { kind: "application", name } if name == "ghost"), "{err:?}");
}

#[tokio::test]
async fn open_in_an_unwritable_place_names_the_path() {
    // Tests run as root, where permissions do not stop writes; a directory that is really a
    // regular file stops everyone.
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().join("sub").join("sprout.db");
    let err = SqliteStore::open(&path).await.unwrap_err();
    let shown = path.display().to_string();
    match &err {
        StoreError::Open { location, .. } => assert_eq!(location, &shown),
        other => panic!("expected Open, got {other:?}"),
    }
    assert!(err.to_string().contains(&shown), "message names the path: {err}");
}

#[tokio::test]
async fn concurrent_appends_get_distinct_increasing_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("sprout.db")).await.unwrap());
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..25 {
                    let event = sprout_store::NewEvent {
                        app: "adserver".to_string(),
                        env: Some(format!("env{writer}")),
                        at: suite::t0(),
                        level: sprout_store::EventLevel::Info,
                        kind: "Test".to_string(),
                        message: format!("{writer}/{n}"),
                    };
                    ids.push(store.append_event(&event).await.unwrap());
                }
                ids
            })
        })
        .collect();
    let mut all = Vec::new();
    for writer in writers {
        let ids = writer.await.unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "one writer's ids increase: {ids:?}");
        all.extend(ids);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 200);
    assert_eq!(store.list_events("adserver", None, 0, 1000).await.unwrap().len(), 200);
}

/// Damages one column of the `production` environment, then expects reading it to be `Corrupt`
/// naming the environment and the column.
async fn assert_corrupt_environment(sql: &'static str, column: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sprout.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .create_application(&sprout_store::Application { name: "adserver".to_string(), created_at: suite::t0() })
        .await
        .unwrap();
    store.create_environment(&suite::environment("adserver", "production")).await.unwrap();

    sqlx::query(sql).execute(&mut raw(&path).await).await.unwrap();

    for err in [
        store.get_environment("adserver", "production").await.unwrap_err(),
        store.list_environments(None).await.unwrap_err(),
    ] {
        match &err {
            StoreError::Corrupt { what, .. } => {
                assert!(what.contains("adserver/production") && what.contains(column), "{err}")
            }
            other => panic!("expected Corrupt for {column}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unreadable_stored_values_are_corrupt() {
    assert_corrupt_environment("UPDATE environments SET variables = 'not json'", "variables").await;
    assert_corrupt_environment("UPDATE environments SET variables = '[1, 2]'", "variables").await;
    assert_corrupt_environment("UPDATE environments SET status = 'Exploded'", "status").await;
    assert_corrupt_environment("UPDATE environments SET desired_instances = 9999999999", "desired_instances").await;
    assert_corrupt_environment("UPDATE environments SET updated_at = 9223372036854775807", "updated_at").await;
}

#[tokio::test]
async fn timestamps_keep_microseconds_and_drop_nanoseconds() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    let precise = suite::t0() + chrono::TimeDelta::nanoseconds(789);
    store
        .create_application(&sprout_store::Application { name: "adserver".to_string(), created_at: precise })
        .await
        .unwrap();
    assert_eq!(store.get_application("adserver").await.unwrap().created_at, suite::t0());
}
