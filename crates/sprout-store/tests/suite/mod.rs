//! The store suite: what every `Store` implementation must do, written against `&dyn Store`.
//!
//! Each runner (SQLite here; PostgreSQL when it is available) hands `run` a fresh, empty store.
//! Not here: backend details such as files, pragmas or corrupt rows (see the runners).

mod cron;
mod environments;
mod events;
mod lifecycle;
mod measures;
mod notify;
mod registry;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use sprout_store::{Application, EnvStatus, EnvironmentRecord, Scope, Store, StoreError, TokenRecord, VersionRecord};

/// A fixed instant with microsecond precision, which every backend keeps exactly.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_750_000_000_123_456).expect("a valid instant")
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

/// Runs every check, in an order where later ones build on the data earlier ones wrote.
pub async fn run(store: &dyn Store) {
    applications(store).await;
    versions(store).await;
    lifecycle::lifecycle(store).await;
    environments::environments(store).await;
    events::events(store).await;
    tokens(store).await;
    registry::registry(store).await;
    notify::notify(store).await;
    cron::cron(store).await;
    measures::measures(store).await;
}

fn app(name: &str, seconds: i64) -> Application {
    Application { name: name.to_string(), created_at: at(seconds) }
}

fn version(app: &str, label: &str, seconds: i64) -> VersionRecord {
    VersionRecord {
        app: app.to_string(),
        label: label.to_string(),
        description: format!("build {label}: \"quoted\", ünïcode"),
        bundle_digest: format!("sha256:{label:0>64}"),
        bundle_path: format!("/var/lib/sprout/bundles/{app}/{label}"),
        definition: r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[]}"#.to_string(),
        created_at: at(seconds),
    }
}

pub fn environment(app: &str, name: &str) -> EnvironmentRecord {
    EnvironmentRecord {
        app: app.to_string(),
        name: name.to_string(),
        version_label: "v1".to_string(),
        last_good_version: None,
        desired_instances: 2,
        status: EnvStatus::Launching,
        variables: BTreeMap::from([
            ("DATABASE_URL".to_string(), "postgres://db/ads".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]),
        deploy_deadline: Some(at(600)),
        last_error: None,
        options: Default::default(),
        deploy_state: None,
        created_at: at(10),
        updated_at: at(10),
        revision: 0,
    }
}

fn assert_conflict(result: sprout_store::Result<()>, kind: &str, name: &str) {
    match result {
        Err(StoreError::Conflict { kind: k, name: n }) if k == kind && n == name => {}
        other => panic!("expected Conflict {{ {kind}, {name} }}, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: sprout_store::Result<T>, kind: &str, name: &str) {
    match result {
        Err(StoreError::NotFound { kind: k, name: n }) if k == kind && n == name => {}
        other => panic!("expected NotFound {{ {kind}, {name} }}, got {other:?}"),
    }
}

async fn applications(store: &dyn Store) {
    assert_eq!(store.list_applications().await.unwrap(), vec![]);
    store.create_application(&app("billing", 1)).await.unwrap();
    store.create_application(&app("adserver", 0)).await.unwrap();

    assert_eq!(store.get_application("adserver").await.unwrap(), app("adserver", 0));
    assert_eq!(
        store.list_applications().await.unwrap(),
        vec![app("adserver", 0), app("billing", 1)],
        "ordered by name"
    );
    assert_conflict(store.create_application(&app("adserver", 5)).await, "application", "adserver");
    assert_eq!(store.get_application("adserver").await.unwrap(), app("adserver", 0), "unchanged");
    assert_not_found(store.get_application("nope").await, "application", "nope");
}

async fn versions(store: &dyn Store) {
    assert_eq!(store.list_versions("adserver").await.unwrap(), vec![]);
    // Created out of label order so that "newest first" cannot pass by sorting labels.
    for (label, seconds) in [("v2", 20), ("v1", 10), ("v3", 30)] {
        store.create_version(&version("adserver", label, seconds)).await.unwrap();
    }
    store.create_version(&version("billing", "v1", 5)).await.unwrap();

    assert_eq!(store.get_version("adserver", "v2").await.unwrap(), version("adserver", "v2", 20));
    let labels: Vec<String> = store.list_versions("adserver").await.unwrap().into_iter().map(|v| v.label).collect();
    assert_eq!(labels, ["v3", "v2", "v1"], "newest first");
    assert_eq!(store.list_versions("billing").await.unwrap(), vec![version("billing", "v1", 5)]);
    assert_eq!(store.list_versions("nope").await.unwrap(), vec![]);

    assert_conflict(store.create_version(&version("adserver", "v1", 99)).await, "version", "adserver/v1");
    assert_eq!(store.get_version("adserver", "v1").await.unwrap(), version("adserver", "v1", 10));
    assert_not_found(store.get_version("adserver", "v9").await, "version", "adserver/v9");
    assert_not_found(store.get_version("nope", "v1").await, "version", "nope/v1");
    assert_not_found(store.create_version(&version("nope", "v1", 0)).await, "application", "nope");
}

async fn tokens(store: &dyn Store) {
    assert_eq!(store.count_tokens().await.unwrap(), 0);
    let token = |name: &str, scope: Scope| TokenRecord::unlimited(name, format!("sha256:{name:0>64}"), scope, at(50));
    let admin = token("admin", Scope::Admin);
    let ci = token("ci", Scope::Deploy);
    let viewer = token("viewer", Scope::Read);
    assert_eq!(store.find_token(&admin.hash).await.unwrap(), None);
    for t in [&admin, &ci, &viewer] {
        store.insert_token(t).await.unwrap();
    }

    assert_eq!(store.find_token(&ci.hash).await.unwrap(), Some(ci.clone()));
    assert_eq!(store.find_token(&admin.hash).await.unwrap(), Some(admin.clone()));
    assert_eq!(store.find_token(&viewer.hash).await.unwrap(), Some(viewer.clone()));
    assert_eq!(store.find_token("sha256:unknown").await.unwrap(), None);
    assert_eq!(store.find_token("").await.unwrap(), None);
    assert_eq!(store.count_tokens().await.unwrap(), 3);

    let same_hash = TokenRecord { name: "impostor".to_string(), ..ci.clone() };
    assert_conflict(store.insert_token(&same_hash).await, "token", "impostor");
    assert_eq!(store.find_token(&ci.hash).await.unwrap(), Some(ci.clone()), "the first one stays");
    assert_eq!(store.count_tokens().await.unwrap(), 3);
    let same_name = TokenRecord { hash: "sha256:other".into(), ..ci.clone() };
    assert_conflict(store.insert_token(&same_name).await, "token", "ci");

    // Limits and expiry come back as stored; a use is noted; a revoked token is gone.
    let mut limited = token("deployer", Scope::Deploy);
    limited.limit_app = Some("adserver".into());
    limited.limit_env = Some("staging".into());
    limited.expires_at = Some(at(90));
    store.insert_token(&limited).await.unwrap();
    store.touch_token("deployer", at(60)).await.unwrap();
    let found = store.find_token(&limited.hash).await.unwrap().unwrap();
    assert_eq!(found, TokenRecord { last_used_at: Some(at(60)), ..limited });
    let names: Vec<String> = store.list_tokens().await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["admin", "ci", "deployer", "viewer"]);
    assert!(store.delete_token("ci").await.unwrap());
    assert!(!store.delete_token("ci").await.unwrap());
    assert_eq!(store.find_token(&ci.hash).await.unwrap(), None);
    audit_and_secrets(store).await;
    certificates(store).await;
    console_sessions(store).await;
}

async fn console_sessions(store: &dyn Store) {
    use sprout_store::ConsoleSessionRecord;
    let session = |id: &str, seconds: i64| ConsoleSessionRecord {
        id_hash: format!("sha256:{id:0>64}"),
        token_hash: "sha256:admin".into(),
        csrf: format!("csrf-{id}"),
        started_at: at(seconds),
    };
    let (old, new, other) = (session("old", 10), session("new", 100), session("other", 200));
    assert_eq!(store.get_console_session(&old.id_hash).await.unwrap(), None);
    for s in [&old, &new, &other] {
        store.put_console_session(s).await.unwrap();
    }
    assert_eq!(store.get_console_session(&new.id_hash).await.unwrap(), Some(new.clone()));
    let replaced = ConsoleSessionRecord { csrf: "csrf-again".into(), ..new.clone() };
    store.put_console_session(&replaced).await.unwrap();
    assert_eq!(store.get_console_session(&new.id_hash).await.unwrap(), Some(replaced));
    // Ending one session also removes those started before the cut, and only those.
    store.delete_console_sessions(&other.id_hash, at(50)).await.unwrap();
    assert_eq!(store.get_console_session(&other.id_hash).await.unwrap(), None);
    assert_eq!(store.get_console_session(&old.id_hash).await.unwrap(), None);
    assert!(store.get_console_session(&new.id_hash).await.unwrap().is_some());
}

async fn certificates(store: &dyn Store) {
    use sprout_store::{CertSource, CertificateRecord};
    let cert = CertificateRecord {
        id: "ab12".into(),
        names: vec!["ads.example.com".into(), "*.ads.example.com".into()],
        issuer: "CN=Test CA".into(),
        not_before: at(0),
        not_after: at(1000),
        source: CertSource::Upload,
        chain_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
        added_at: at(1),
        last_attempt: None,
        last_error: None,
        sealed_key: b"sealed key".to_vec(),
    };
    store.put_certificate(&cert).await.unwrap();
    assert_eq!(store.list_certificates().await.unwrap(), vec![cert.clone()], "the sealed key comes back too");
    let failed = CertificateRecord { last_attempt: Some(at(5)), last_error: Some("refused".into()), ..cert.clone() };
    store.put_certificate(&failed).await.unwrap();
    assert_eq!(store.list_certificates().await.unwrap(), vec![failed], "replaced by id");
    assert!(store.delete_certificate("ab12").await.unwrap());
    assert!(!store.delete_certificate("ab12").await.unwrap());
    assert!(store.list_certificates().await.unwrap().is_empty());

    use sprout_store::AcmeRecord;
    let account = AcmeRecord { key: "account https://acme/dir".into(), meta: String::new(), sealed: b"creds".to_vec() };
    let name = AcmeRecord { key: "name ads.example.com".into(), meta: r#"{"failures":1}"#.into(), sealed: Vec::new() };
    store.put_acme_record(&name).await.unwrap();
    store.put_acme_record(&account).await.unwrap();
    assert_eq!(store.list_acme_records().await.unwrap(), vec![account.clone(), name.clone()], "by key");
    let again = AcmeRecord { meta: r#"{"failures":0}"#.into(), ..name.clone() };
    store.put_acme_record(&again).await.unwrap();
    assert_eq!(store.list_acme_records().await.unwrap(), vec![account, again], "replaced by key");
    assert!(store.delete_acme_record("name ads.example.com").await.unwrap());
    assert!(!store.delete_acme_record("name ads.example.com").await.unwrap());
}

async fn audit_and_secrets(store: &dyn Store) {
    use sprout_store::NewAudit;
    let call = |n: i64, app: Option<&str>, env: Option<&str>| NewAudit {
        at: at(n),
        token: "ci".into(),
        scope: "deploy".into(),
        method: "POST".into(),
        path: format!("/call/{n}"),
        app: app.map(String::from),
        env: env.map(String::from),
        status: 200,
    };
    store.append_audit(&call(1, Some("ads"), Some("prod"))).await.unwrap();
    store.append_audit(&call(2, Some("ads"), None)).await.unwrap();
    store.append_audit(&call(3, None, None)).await.unwrap();
    store.append_audit(&call(4, Some("ads"), Some("prod"))).await.unwrap();
    let paths = |list: Vec<sprout_store::AuditRecord>| list.into_iter().map(|r| r.call.path).collect::<Vec<_>>();
    assert_eq!(paths(store.list_audit(None, None, 10).await.unwrap()), ["/call/1", "/call/2", "/call/3", "/call/4"]);
    assert_eq!(paths(store.list_audit(Some("ads"), Some("prod"), 10).await.unwrap()), ["/call/1", "/call/4"]);
    assert_eq!(
        paths(store.list_audit(Some("ads"), None, 2).await.unwrap()),
        ["/call/2", "/call/4"],
        "the newest, oldest first"
    );

    assert_eq!(store.put_secret("ads", "prod", "DB", b"sealed-1", at(5)).await.unwrap(), 1);
    assert_eq!(store.put_secret("ads", "prod", "DB", b"sealed-2", at(6)).await.unwrap(), 2, "versions count the sets");
    assert_eq!(store.put_secret("ads", "staging", "DB", b"other", at(6)).await.unwrap(), 1);
    let prod = store.list_secrets("ads", "prod").await.unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!((prod[0].version, prod[0].sealed.as_slice(), prod[0].set_at), (2, &b"sealed-2"[..], at(6)));
    assert!(store.delete_secret("ads", "prod", "DB").await.unwrap());
    assert!(!store.delete_secret("ads", "prod", "DB").await.unwrap());
    assert_eq!(store.list_secrets("ads", "prod").await.unwrap(), vec![], "a read after a delete sees it");
    assert_eq!(store.list_secrets("ads", "staging").await.unwrap().len(), 1, "another environment's stay");
    // Read (and so possibly kept by a cache), then set again: the next read has the new version.
    assert_eq!(store.put_secret("ads", "staging", "DB", b"other-2", at(7)).await.unwrap(), 2);
    assert_eq!(store.list_secrets("ads", "staging").await.unwrap()[0].version, 2);
}
