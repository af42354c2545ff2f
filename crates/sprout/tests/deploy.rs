//! Deploys against the real engine: a version that never becomes healthy is rolled back while
//! the old version keeps serving, and a server killed (SIGKILL) in the middle of a rolling
//! deploy finishes it after a restart, leaving no container of another version. (Reusing a
//! label with other content is covered in e2e.rs.)
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::path::Path;

use common::*;

/// A copy of the example bundle, with `edit` applied to the named file.
fn bundle_copy(dir: &Path, file: &str, edit: impl Fn(String) -> String) {
    for f in std::fs::read_dir(example_bundle()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    std::fs::write(&p, edit(text)).unwrap();
}

/// Labels `sprout.version` of every container of the application.
fn container_versions(app: &str) -> Vec<String> {
    docker(&["ps", "-a", "--filter", &format!("label=sprout.app={app}"), "--format", "{{.Label \"sprout.version\"}}"])
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_version_that_never_becomes_healthy_is_rolled_back_and_the_old_one_keeps_serving() {
    require_example_images();
    let app = unique_app("dbad");
    let server = Server::start(&app);
    let good = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", good.to_str().unwrap(), "--instances", "2", "--label", "good"]);

    // nginx of the bad version proxies to a port nothing listens on: every probe gets a 502.
    let bad = tempfile::tempdir().unwrap();
    bundle_copy(bad.path(), "nginx.conf", |c| c.replace("server app:8080;", "server app:9999;"));
    let load = std::thread::scope(|s| {
        let deploy = s.spawn(|| {
            server.cli(&[
                "deploy",
                "web",
                "--bundle",
                bad.path().to_str().unwrap(),
                "--label",
                "bad",
                "--timeout",
                "20",
                "--policy",
                "rolling",
                "--batch-size",
                "1",
            ])
        });
        // Meanwhile the environment keeps answering.
        let (mut ok, mut total) = (0, 0);
        while !deploy.is_finished() && total < 2000 {
            total += 1;
            if server.get("web", "/").map(|r| r.0).ok() == Some(200) {
                ok += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        (deploy.join().unwrap(), ok, total)
    });
    let (out, ok, total) = load;
    assert!(!out.status.success(), "a deploy that was rolled back exits non-zero");
    let err = text(&out.stderr);
    assert!(err.contains("rolled back to good"), "{err}");
    assert!(ok * 10 >= total * 9, "the old version kept serving: {ok} of {total} requests answered 200");

    let s = server.status("web");
    assert_eq!(s["version"], "good");
    assert_eq!(s["status"], "Ready");
    assert!(s["last_error"].as_str().unwrap_or("").contains("bad"), "{s:#}");
    assert_eq!(server.get("web", "/").unwrap().0, 200);
    eventually("no container of the bad version left", 30, || container_versions(&app).iter().all(|v| v == "good"));
    let events = server.cli_ok(&["events", "web", "--limit", "200"]);
    assert!(events.contains("Rolling back to good"), "{events}");
    server.cli_ok(&["terminate", "web", "--force"]);
}

#[test]
fn a_server_killed_during_a_rolling_deploy_finishes_it_after_a_restart() {
    require_example_images();
    let app = unique_app("dkill");
    let mut server = Server::start(&app);
    let one = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", one.to_str().unwrap(), "--instances", "3", "--label", "one"]);

    let two = tempfile::tempdir().unwrap();
    bundle_copy(two.path(), "VERSION", |_| "two\n".into());
    server.cli_ok(&[
        "deploy",
        "web",
        "--bundle",
        two.path().to_str().unwrap(),
        "--label",
        "two",
        "--no-wait",
        "--batch-size",
        "1",
    ]);
    // Kill the server once the first batch is under way (an instance of `two` exists).
    eventually("the first batch launched", 60, || container_versions(&app).iter().any(|v| v == "two"));
    server.stop(true);
    let s_versions = container_versions(&app);
    assert!(s_versions.iter().any(|v| v == "one"), "killed mid-deploy: {s_versions:?}");

    server.spawn();
    let finished = || {
        let s = server.status("web");
        s["status"] == "Ready" && s["version"] == "two" && s["in_service"] == 3
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        finished(),
        "the deploy did not finish after the restart:\n{:#}\nevents:\n{}\nserver log:\n{}",
        server.status("web"),
        server.cli_ok(&["events", "web", "--limit", "100"]),
        tail(&server.log(), 40)
    );
    let s = server.status("web");
    assert!(s["instances"].as_array().unwrap().iter().all(|i| i["version"] == "two"), "{s:#}");
    eventually("no container of another version left", 60, || {
        let v = container_versions(&app);
        v.len() == 12 && v.iter().all(|v| v == "two")
    });
    let events = server.cli_ok(&["events", "web", "--limit", "300"]);
    assert!(events.contains("Deploying batch 1 of 3"), "{events}");
    server.cli_ok(&["terminate", "web", "--force"]);
}
