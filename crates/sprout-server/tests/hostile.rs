//! Hostile requests from a holder of a valid token (issue 11): names that would build paths
//! outside the data directory, numbers that would overflow, variables and labels no container
//! or file can carry. Each is refused with a 422 that says why, and the server keeps answering.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer};
use sprout_server::clock::SystemClock;
use sprout_server::{Ctx, Settings};
use sprout_store::{Application, EnvStatus, EnvironmentRecord, MemoryStore, Store};
use tokio::net::TcpListener;

struct Api {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

async fn api() -> Api {
    api_on(FakeEngine::new()).await
}

async fn api_on(engine: FakeEngine) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    store.create_application(&Application { name: "shop".into(), created_at: now }).await.unwrap();
    let env = EnvironmentRecord {
        last_good_version: Some("v1".into()),
        status: EnvStatus::Ready,
        ..EnvironmentRecord::launching("shop", "prod", "v1", 1, now)
    };
    store.create_environment(&env).await.unwrap();
    let token = sprout_server::api::auth::ensure_admin_token(&*store, &dir.path().join("admin.token"), now)
        .await
        .unwrap()
        .unwrap();
    let engine: Arc<dyn Engine> = Arc::new(engine);
    let settings = Settings::new(dir.path().to_path_buf(), "stest".into());
    let ctx = Ctx::new(store.clone(), engine, Arc::new(SystemClock), LoadBalancer::new(LbConfig::default()), settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sprout_server::api::router(ctx)).await });
    let client = Client::builder(TokioExecutor::new()).build_http();
    Api { addr, store, token, client, _dir: dir }
}

#[tokio::test]
async fn names_that_would_leave_the_data_directory_are_refused() {
    let api = api().await;
    for path in [
        "/api/v1/apps/shop/environments/%2Ftmp%2Fx/logs?all=true",
        "/api/v1/apps/shop/environments/..%2F..%2F..%2Fetc/logs?all=true",
        "/api/v1/apps/..%2F..%2Fetc/environments/prod/logs",
        "/api/v1/apps/shop/environments/..",
    ] {
        let (status, body) = api.send("GET", path, "").await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body.contains("is not valid"), "{path}: {body}");
    }
    let (status, body) = api.send("DELETE", "/api/v1/apps/shop/versions/a%00b", "").await;
    assert_eq!(status, 422, "a label with NUL: {body}");
    // The well-formed request still works.
    assert_eq!(api.send("GET", "/api/v1/apps/shop/environments/prod", "").await.0, 200);
}

#[tokio::test]
async fn numbers_out_of_range_are_refused_with_the_range() {
    let api = api().await;
    let path = "/api/v1/apps/shop/environments/prod/options/deploy";
    for body in [r#"{"timeout_s": 18446744073709551615}"#, r#"{"timeout_s": 10000000000000000}"#, r#"{"timeout_s": 0}"#]
    {
        let (status, text) = api.send("PUT", path, body).await;
        assert_eq!(status, 422, "{body}: {text}");
        assert!(text.contains("1 to 86400"), "{body}: {text}");
    }
    let (status, text) =
        api.send("PUT", "/api/v1/apps/shop/environments/prod/scaling", r#"{"queue_max_requests": 4000000000}"#).await;
    assert_eq!(status, 422, "{text}");
    let (status, text) =
        api.send("PUT", "/api/v1/apps/shop/environments/prod/scaling", r#"{"scale_in_window_s": 4000000000}"#).await;
    assert_eq!(status, 422, "{text}");
    let overflowing = r#"{"version": "v1", "timeout_s": 18446744073709551615}"#;
    let (status, text) = api.send("POST", "/api/v1/apps/shop/environments/prod/deploy", overflowing).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("1 to 86400"), "{text}");
    assert_eq!(api.send("GET", "/api/v1/apps/shop/environments/prod", "").await.0, 200, "still answering");
}

#[tokio::test]
async fn variables_no_container_can_carry_are_refused_at_create() {
    let api = api().await;
    for vars in [r#"{"": "x"}"#, r#"{"A=B": "1"}"#, r#"{"OK": "a\u0000b"}"#] {
        let body = format!(r#"{{"name": "staging", "version": "v1", "variables": {vars}}}"#);
        let (status, text) = api.send("POST", "/api/v1/apps/shop/environments", &body).await;
        assert_eq!(status, 422, "{vars}: {text}");
    }
    let (status, text) =
        api.send("PATCH", "/api/v1/apps/shop/environments/prod/variables", r#"{"set": {"OK": "a\u0000b"}}"#).await;
    assert_eq!(status, 422, "{text}");
}

/// A version that mounts the Docker socket, and one whose bundle path climbs out of the bundle.
async fn add_version(store: &dyn Store, label: &str, source_path: &str, privileged: bool) {
    let text = format!(
        r#"{{"AWSEBDockerrunVersion": 2, "volumes": [{{"name": "v", "host": {{"sourcePath": "{source_path}"}}}}],
            "containerDefinitions": [{{"name": "agent", "image": "agent:1", "memory": 32, "privileged": {privileged},
              "portMappings": [{{"hostPort": 80, "containerPort": 80}}],
              "mountPoints": [{{"sourceVolume": "v", "containerPath": "/mnt"}}]}}]}}"#
    );
    let def = sprout_model::load_dockerrun("Dockerrun.aws.json", &text).unwrap().dockerrun;
    let version = sprout_store::VersionRecord {
        app: "shop".into(),
        label: label.into(),
        description: String::new(),
        bundle_digest: format!("sha256:{label}"),
        bundle_path: "/nonexistent".into(),
        definition: serde_json::to_string(&def).unwrap(),
        created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    };
    store.create_version(&version).await.unwrap();
}

#[tokio::test]
async fn host_access_is_refused_unless_the_policy_allows_exactly_it() {
    let api = api().await;
    let deploy = |label: &str| format!(r#"{{"version": "{label}"}}"#);
    let path = "/api/v1/apps/shop/environments/prod/deploy";
    add_version(&*api.store, "sock", "/var/run/docker.sock", false).await;
    add_version(&*api.store, "climb", "/var/app/current/../../../etc", false).await;
    add_version(&*api.store, "root", "/", false).await;
    add_version(&*api.store, "priv", "/var/app/current/conf", true).await;

    for label in ["sock", "climb", "root", "priv"] {
        let (status, text) = api.send("POST", path, &deploy(label)).await;
        assert_eq!(status, 422, "{label}: {text}");
        assert!(text.contains("host access") && text.contains("containerDefinitions[0]"), "{label}: {text}");
    }
    let (_, text) = api.send("POST", path, &deploy("sock")).await;
    assert!(text.contains("sprout policy set shop --allow-host-path /var/run/docker.sock"), "{text}");

    // The seed's monitoring agent: exactly the socket and /proc.
    let policy = r#"{"allow_host_paths": ["/var/run/docker.sock", "/proc"], "allow_privileged": false}"#;
    let (status, text) = api.send("PUT", "/api/v1/apps/shop/policy", policy).await;
    assert_eq!(status, 200, "{text}");
    let (_, text) = api.send("POST", path, &deploy("sock")).await;
    assert!(!text.contains("host access"), "allowed now (what stops it is the missing image): {text}");
    for label in ["climb", "root", "priv"] {
        let (status, text) = api.send("POST", path, &deploy(label)).await;
        assert_eq!(status, 422, "{label}: {text}");
        assert!(text.contains("host access"), "{label} still refused: {text}");
    }
    let (status, _) = api.send("PUT", "/api/v1/apps/shop/policy", r#"{"allow_host_paths": ["/var/../etc"]}"#).await;
    assert_eq!(status, 422, "an allowance with .. is refused");
    assert_eq!(api.send("DELETE", "/api/v1/apps/shop/policy", "").await.0, 200);
    let (status, _) = api.send("POST", path, &deploy("sock")).await;
    assert_eq!(status, 422, "refused again after the reset");
}

#[tokio::test]
async fn privileged_is_refused_at_create_and_deploy_on_an_engine_that_cannot_run_it() {
    let engine = FakeEngine::new();
    engine.refuse_privileged("Swarm services have no privileged mode");
    let swarm = api_on(engine).await;
    add_version(&*swarm.store, "priv", "/var/app/current/conf", true).await;
    add_version(&*swarm.store, "plain", "/var/app/current/conf", false).await;
    // The policy allows it: the engine still cannot run it, and says so before anything launches.
    let allow = r#"{"allow_privileged": true}"#;
    assert_eq!(swarm.send("PUT", "/api/v1/apps/shop/policy", allow).await.0, 200);
    let deploy = "/api/v1/apps/shop/environments/prod/deploy";
    let (status, text) = swarm.send("POST", deploy, r#"{"version": "priv"}"#).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("container agent (containerDefinitions[0].privileged)"), "{text}");
    assert!(text.contains("Swarm services have no privileged mode"), "the engine's reason: {text}");
    let create = r#"{"name": "staging", "version": "priv"}"#;
    let (status, text) = swarm.send("POST", "/api/v1/apps/shop/environments", create).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("Swarm services have no privileged mode"), "{text}");
    assert!(swarm.store.get_environment("shop", "staging").await.is_err(), "no environment was created");
    let (_, text) = swarm.send("POST", deploy, r#"{"version": "plain"}"#).await;
    assert!(!text.contains("privileged"), "a version without one passes this check: {text}");

    // An engine that can run it (the local engine) lets the policy decide.
    let local = api().await;
    add_version(&*local.store, "priv", "/var/app/current/conf", true).await;
    assert_eq!(local.send("PUT", "/api/v1/apps/shop/policy", allow).await.0, 200);
    let (_, text) = local.send("POST", deploy, r#"{"version": "priv"}"#).await;
    assert!(!text.contains("cannot run on this server's engine"), "{text}");
}
