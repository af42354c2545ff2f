//! End to end: the `sprout` binary, the real Docker engine, the example application (four
//! containers per instance) and real HTTP through Sprout's load balancer.

mod common;

use common::*;

#[test]
fn example_lifecycle_create_serve_deploy_replace_adopt_terminate() {
    require_example_images();
    let app = unique_app("e2e");
    let mut server = Server::start(&app);
    let bundle = example_bundle();

    // Create: returns once Ready.
    let out = server.cli_ok(&[
        "create",
        "production",
        "--bundle",
        bundle.to_str().unwrap(),
        "--instances",
        "2",
        "--label",
        "one",
        "--output",
        "json",
    ]);
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["status"], "Ready", "{created:#}");
    assert_eq!(created["version"], "one");
    let s = server.status("production");
    assert_eq!(instance_ids(&s).len(), 2);
    for i in s["instances"].as_array().unwrap() {
        assert_eq!(i["containers"].as_array().unwrap().len(), 4, "four containers per instance: {i:#}");
        assert_eq!(i["in_service"], true);
    }
    assert_eq!(containers_of(&app).len(), 8);

    // Serve through the load balancer, on both instances.
    for _ in 0..6 {
        let (code, body) = server.get("production", "/").unwrap();
        assert_eq!(code, 200, "{body}");
    }
    let (code, body) = server.get("production", "/ad?slot=banner").unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(&server.http, &format!("nope.{app}.localhost"), "/").unwrap();
    assert_eq!(code, 404, "unknown host: {body}");

    // Deploy a second version (other content) and see every instance replaced.
    let v2 = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&bundle).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, v2.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(v2.path().join("VERSION"), "two\n").unwrap();
    let before = instance_ids(&server.status("production"));
    server.cli_ok(&["deploy", "production", "--bundle", v2.path().to_str().unwrap(), "--label", "two"]);
    let s = server.status("production");
    assert_eq!(s["version"], "two");
    let after = instance_ids(&s);
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|i| !before.contains(i)), "all instances replaced: {before:?} -> {after:?}");
    assert!(s["instances"].as_array().unwrap().iter().all(|i| i["version"] == "two"));
    assert_eq!(server.get("production", "/").unwrap().0, 200);

    // Reusing a label with other content is refused.
    let out = server.cli(&["deploy", "production", "--bundle", bundle.to_str().unwrap(), "--label", "two"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));

    // Kill an essential container: the instance is replaced.
    let victim = after[0].clone();
    docker(&["kill", &format!("sprout-{app}-production-{victim}-app")]);
    eventually("the killed instance replaced and the environment healthy again", 90, || {
        let s = server.status("production");
        let ids = instance_ids(&s);
        !ids.contains(&victim) && ids.len() == 2 && s["in_service"] == 2 && s["health"] == "Green"
    });
    let events = server.cli_ok(&["events", "production"]);
    assert!(events.contains("unhealthy") && events.contains(&victim), "{events}");

    // Restart the server: it adopts its instances and serves again.
    let before = instance_ids(&server.status("production"));
    server.stop(false);
    server.spawn();
    eventually("instances adopted and in service after restart", 30, || {
        let s = server.status("production");
        s["in_service"] == 2 && server.get("production", "/").map(|r| r.0).ok() == Some(200)
    });
    assert_eq!(instance_ids(&server.status("production")), before, "same instances adopted, none replaced");

    // Terminate: nothing with Sprout's labels is left.
    server.cli_ok(&["terminate", "production", "--force"]);
    assert!(containers_of(&app).is_empty(), "containers left: {:?}", containers_of(&app));
    assert!(networks_of(&app).is_empty(), "networks left: {:?}", networks_of(&app));
    let out = server.cli(&["status", "production"]);
    assert!(!out.status.success());
}
