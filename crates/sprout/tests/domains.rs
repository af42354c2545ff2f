//! `sprout domains` on the real Docker engine: custom domains (exact and one-level wildcards)
//! route through the load balancer, a name held by one environment is refused to another
//! naming the holder, bad names are refused, and `sprout swap` moves domains with the host names.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// The server's published routing table: host -> environment.
fn routes(server: &Server) -> Vec<(String, String)> {
    let mut s = TcpStream::connect(&server.api).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/v1/routing HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.token()
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let t = text(&buf);
    let body = t.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    v["routes"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| (r["host"].as_str().unwrap().to_string(), r["env"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn owner(server: &Server, host: &str) -> Option<String> {
    routes(server).into_iter().find(|(h, _)| h == host).map(|(_, e)| e)
}

fn status_of(server: &Server, host: &str) -> u16 {
    http_get(&server.http, host, "/").map(|r| r.0).unwrap_or(0)
}

#[test]
fn custom_domains_route_clash_and_move_with_swap() {
    require_example_images();
    let app = unique_app("domains");
    let server = Server::start(&app);
    let bundle = hog_bundle(None);
    let bundle = bundle.path().to_str().unwrap();
    server.cli_ok(&["create", "blue", "--bundle", bundle, "--instances", "1"]);
    server.cli_ok(&["create", "green", "--bundle", bundle, "--instances", "1"]);
    eventually("both environments serve", 90, || {
        server.get("blue", "/").map(|r| r.0 == 200).unwrap_or(false)
            && server.get("green", "/").map(|r| r.0 == 200).unwrap_or(false)
    });
    assert_eq!(status_of(&server, "ads.example.com"), 404, "no route before the domain is added");

    server.cli_ok(&["domains", "add", "blue", "Ads.Example.com", "*.ads.example.com"]);
    assert_eq!(status_of(&server, "ads.example.com"), 200);
    assert_eq!(status_of(&server, "ads.example.com:8443"), 200, "the Host's port is ignored");
    assert_eq!(status_of(&server, "eu.ads.example.com"), 200, "the wildcard answers one level below");
    assert_eq!(status_of(&server, "a.eu.ads.example.com"), 404, "but not two");
    assert_eq!(owner(&server, "ads.example.com").as_deref(), Some("blue"));
    assert_eq!(owner(&server, "*.ads.example.com").as_deref(), Some("blue"));

    // One owner at a time: refused naming the holder, and nothing changes.
    let clash = server.cli(&["domains", "add", "green", "eu.example.org", "ads.example.com"]);
    assert!(!clash.status.success());
    let said = text(&clash.stderr);
    assert!(said.contains("ads.example.com belongs to environment") && said.contains("/blue"), "{said}");
    assert_eq!(owner(&server, "eu.example.org"), None, "all or nothing: the free name was not added either");
    for bad in ["not a host", "*.com", "a.*.example.com", "web.shop.localhost"] {
        let out = server.cli(&["domains", "add", "green", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(text(&out.stderr).contains("not a valid domain"), "{bad}: {}", text(&out.stderr));
    }

    let listed: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["domains", "list", "--output", "json"])).unwrap();
    let listed: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["host"].as_str().unwrap().into(), d["env"].as_str().unwrap().into()))
        .collect();
    assert_eq!(listed, vec![("*.ads.example.com".into(), "blue".into()), ("ads.example.com".into(), "blue".into())]);
    assert_eq!(server.cli_ok(&["domains", "list", "green", "--output", "json"]).trim(), "[]");

    // Swap: the domains go with the host names, in one publish.
    server.cli_ok(&["swap", "blue", "green"]);
    assert_eq!(owner(&server, "ads.example.com").as_deref(), Some("green"));
    assert_eq!(owner(&server, "*.ads.example.com").as_deref(), Some("green"));
    assert_eq!(status_of(&server, "ads.example.com"), 200);
    let listed = server.cli_ok(&["domains", "list", "green"]);
    assert!(listed.contains("ads.example.com"), "{listed}");
    // And the controller's next passes keep them there (its pass publishes the stored names).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(owner(&server, "ads.example.com").as_deref(), Some("green"));

    let gone = server.cli(&["domains", "remove", "blue", "ads.example.com"]);
    assert!(!gone.status.success(), "blue no longer holds it");
    server.cli_ok(&["domains", "remove", "green", "ads.example.com"]);
    assert_eq!(status_of(&server, "ads.example.com"), 404);
    assert_eq!(status_of(&server, "eu.ads.example.com"), 200, "the wildcard stays");
    let events = server.cli_ok(&["events", "green"]);
    assert!(events.contains("no longer answers ads.example.com"), "{events}");
}
