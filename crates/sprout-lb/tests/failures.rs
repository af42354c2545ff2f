//! Instance failures as clients see them: 502 for a dead instance, a retry that hides one dead
//! instance behind a live one (a refused connection, or a gateway error for a safe request),
//! 504 for an instance that never answers.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{Backend, Lb, client, get, route, send};
use http::Request;
use http_body_util::{BodyExt, Full};
use sprout_lb::{Balance, LbConfig, RoutingTable, Upstream};

/// A loopback address nothing listens on: bound, then released.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn only_instance_down_is_502() {
    let dead = Upstream { instance: "i-dead".into(), addr: closed_port().await };
    let mut table = RoutingTable::empty();
    table.insert("down.example", route("app", "prod", vec![dead]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let answer = get(lb.addr, "down.example", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("could not connect to instance i-dead"), "{}", answer.body);
    let stats = lb.lb.stats();
    assert_eq!(stats.routes["down.example"].upstreams["i-dead"].connect_failures, 1);
    assert_eq!(stats.routes["down.example"].totals.status_5xx, 1);
}

#[tokio::test]
async fn connect_failure_retries_on_the_live_instance() {
    let live = Backend::start("live").await;
    let dead = Upstream { instance: "dead".into(), addr: closed_port().await };
    let mut table = RoutingTable::empty();
    table.insert("half.example", route("app", "prod", vec![dead, live.upstream()]));
    let lb = Lb::start(LbConfig::default(), table).await;

    let client = client();
    for _ in 0..20 {
        let answer = send(&client, lb.addr, "half.example", "/").await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.backend(), "live");
    }
    // A request with a body is retried too: the body was not read before the connect failed.
    for _ in 0..6 {
        let request = Request::post(format!("http://{}/body", lb.addr))
            .header("host", "half.example")
            .body(Full::new(Bytes::from_static(b"payload survives the retry")))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"payload survives the retry");
    }
    let stats = lb.lb.stats();
    let route = &stats.routes["half.example"];
    assert_eq!(route.totals.status_2xx, 26);
    assert_eq!(route.upstreams["dead"].connect_failures, 13);
    assert_eq!(route.upstreams["live"].status_2xx, 26);
}

#[tokio::test]
async fn hanging_instance_is_504() {
    let hanging = Backend::start("sloth").await;
    let mut table = RoutingTable::empty();
    table.insert("slow.example", route("app", "prod", vec![hanging.upstream()]));
    let config = LbConfig { response_timeout: Duration::from_millis(200), ..LbConfig::default() };
    let lb = Lb::start(config, table).await;

    let answer = tokio::time::timeout(Duration::from_secs(10), get(lb.addr, "slow.example", "/hang"))
        .await
        .expect("the load balancer gives up long before this");
    assert_eq!(answer.status, 504);
    assert!(answer.body.contains("sloth"), "{}", answer.body);
    // A fast request on the same instance still works.
    assert_eq!(get(lb.addr, "slow.example", "/").await.status, 200);
}

/// An instance whose app just died answers 502 from its own front proxy until the controller
/// takes it out: a safe request goes once more to another instance; one with a body does not
/// (it may have had effects), and with no other instance the 502 stands.
#[tokio::test]
async fn a_gateway_error_sends_a_safe_request_elsewhere_once() {
    let (dying, live) = (Backend::start("dying").await, Backend::start("live").await);
    let mut table = RoutingTable::empty();
    table.insert("mixed.example", route("app", "prod", vec![dying.upstream(), live.upstream()]));
    table.insert("alone.example", route("app", "alone", vec![Backend::start("dying-alone").await.upstream()]));
    let config = LbConfig { balance: Balance::RoundRobin, ..LbConfig::default() };
    let lb = Lb::start(config, table).await;

    let client = client();
    for _ in 0..10 {
        let answer = send(&client, lb.addr, "mixed.example", "/").await.unwrap();
        assert_eq!((answer.status.as_u16(), answer.backend()), (200, "live"), "{}", answer.body);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let request = Request::post(format!("http://{}/body", lb.addr))
            .header("host", "mixed.example")
            .body(Full::new(Bytes::from_static(b"once")))
            .unwrap();
        statuses.push(client.request(request).await.unwrap().status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 502, 502], "a request with a body is never sent twice");
    assert_eq!(send(&client, lb.addr, "alone.example", "/").await.unwrap().status, 502);

    let stats = lb.lb.stats();
    let route = &stats.routes["mixed.example"];
    assert_eq!(route.upstreams["dying"].status_5xx, 7, "the dying instance's answers are counted against it");
    assert_eq!(route.totals.status_5xx, 2, "clients saw only the two POSTs' 502s");
}

/// 5xx with a code the environment's health ignores (`health.ignore_codes`) still count as 5xx,
/// and a second time as ignorable, for the environment and for the instance that answered.
#[tokio::test]
async fn ignored_5xx_codes_are_counted_apart() {
    let backend = Backend::start("shedding").await;
    let mut table = RoutingTable::empty();
    let route = sprout_lb::Route {
        ignore_5xx: sprout_lb::Ignored5xx::from_codes(&[503]),
        ..route("app", "shed", vec![backend.upstream()])
    };
    table.insert("shed.example", route);
    let lb = Lb::start(LbConfig::default(), table).await;
    for path in ["/status/503", "/status/503", "/status/503", "/status/500", "/"] {
        get(lb.addr, "shed.example", path).await;
    }
    #[allow(clippy::disallowed_methods)] // closes the load balancer's wall-clock second by hand
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    lb.lb.metrics().close_second(now + 1);
    let env = lb.lb.metrics().summary("app", "shed", 10);
    assert_eq!((env.requests, env.status_5xx(), env.ignored_5xx), (5, 4, 3));
    let instance = lb.lb.metrics().instance_summary("app", "shed", &backend.upstream().instance, 10);
    assert_eq!((instance.status_5xx(), instance.ignored_5xx), (4, 3));
}
