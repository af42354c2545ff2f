//! `GET /metrics` end to end on loopback: requests through the real load balancer to a tiny
//! backend, then a scrape of the API router without any token, checked for names and values.
#![allow(clippy::disallowed_methods)] // closes the load balancer's wall-clock second by hand

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sprout_engine::{Engine, FakeEngine};
use sprout_lb::{LbConfig, LoadBalancer, Route, RoutingTable, Upstream};
use sprout_server::clock::SystemClock;
use sprout_server::{Ctx, Settings};
use sprout_store::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

async fn backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let status = if req.uri().path() == "/missing" { 404 } else { 200 };
                    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"hi\n")));
                    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(response)
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

async fn get(client: &Client<HttpConnector, Empty<Bytes>>, url: String, host: &str) -> (u16, String) {
    let request = Request::get(url).header("host", host).body(Empty::new()).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn scrape_shows_requests_latency_and_connect_errors_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let engine: Arc<dyn Engine> = Arc::new(FakeEngine::new());
    let settings = Settings::new(dir.path().to_path_buf(), "mtest".into());
    let ctx = Ctx::new(store, engine, Arc::new(SystemClock), LoadBalancer::new(LbConfig::default()), settings);

    // One live instance and one that refuses connections: every request to the dead one is
    // retried on the live one and counted as a connect error.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let live = backend().await;
    let mut table = RoutingTable::empty();
    let upstreams =
        vec![Upstream { instance: "i-live".into(), addr: live }, Upstream { instance: "i-dead".into(), addr: dead }];
    table.insert(
        "shop.example",
        Route {
            app: "shop".into(),
            env: "prod".into(),
            upstreams,
            hold: None,
            balance: None,
            https: Default::default(),
            idle_timeout: None,
            ignore_5xx: Default::default(),
        },
    );
    ctx.lb.publish(table);
    let shutdown = CancellationToken::new();
    let lb_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb_addr = lb_listener.local_addr().unwrap();
    tokio::spawn(ctx.lb.clone().serve(lb_listener, shutdown.clone()));

    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    for _ in 0..4 {
        assert_eq!(get(&client, format!("http://{lb_addr}/"), "shop.example").await.0, 200);
    }
    assert_eq!(get(&client, format!("http://{lb_addr}/missing"), "shop.example").await.0, 404);
    // Close the current second now rather than waiting for the load balancer's clock.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    ctx.lb.metrics().close_second(now);

    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api_listener.local_addr().unwrap();
    let router = sprout_server::api::router(ctx.clone());
    tokio::spawn(async move { axum::serve(api_listener, router).await });
    let (status, text) = get(&client, format!("http://{api_addr}/metrics"), "localhost").await;
    assert_eq!(status, 200, "{text}");

    let value = |prefix: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value(r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-live",code_class="2xx"}"#), 4.0);
    assert_eq!(value(r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-live",code_class="4xx"}"#), 1.0);
    assert_eq!(value(r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-dead",code_class="2xx"}"#), 0.0);
    assert_eq!(value(r#"sprout_lb_request_duration_seconds_count{app="shop",env="prod"}"#), 5.0);
    assert_eq!(value(r#"sprout_lb_request_duration_seconds_bucket{le="+Inf",app="shop",env="prod"}"#), 5.0);
    assert_eq!(value(r#"sprout_lb_in_flight{app="shop",env="prod"}"#), 0.0);
    let errors = value(r#"sprout_lb_upstream_connect_errors_total{app="shop",env="prod",instance="i-dead"}"#);
    assert!(errors >= 1.0, "the dead instance was tried at least once: {errors}");
    assert!(text.contains("# TYPE sprout_instances gauge"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    // The rest of the API still wants a token.
    let (status, _) = get(&client, format!("http://{api_addr}/api/v1/apps"), "localhost").await;
    assert_eq!(status, 401);
    shutdown.cancel();
}
