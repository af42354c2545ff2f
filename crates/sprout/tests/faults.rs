//! Faults end to end (issue 19): an essential container killed for lack of memory a few seconds
//! after every start. Health turns from Ok to Degraded with the cause and the advice, the
//! replacements back off with one event per change of level, and a fixed version brings it back
//! to Ok.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use common::disk::{SmallDisk, fill};
use common::*;

fn health(server: &Server, env: &str) -> serde_json::Value {
    serde_json::from_str(&server.cli_ok(&["health", env, "--output", "json"])).unwrap()
}

fn events(server: &Server, env: &str) -> String {
    server.cli_ok(&["events", env, "--limit", "200"])
}

#[test]
fn an_oom_crash_loop_reads_degraded_backs_off_and_ends_with_a_fixed_version() {
    require_example_images();
    let app = unique_app("oom");
    let server = Server::start(&app);
    let hog = hog_bundle(Some(4));
    server.cli_ok(&["create", "loop", "--bundle", hog.path().to_str().unwrap(), "--label", "hog", "--instances", "2"]);

    let mut last = serde_json::Value::Null;
    eventually("health Degraded with the OOM cause", 180, || {
        last = health(&server, "loop");
        last["status"] == "Degraded"
    });
    let causes = last["causes"].to_string();
    assert!(causes.contains("killed for lack of memory (OOM, limit 16 MiB)"), "{causes}");
    assert!(causes.contains("raise `memory` of container hog (now 16 MiB)"), "{causes}");
    let said = events(&server, "loop");
    assert!(said.contains("Crash loop (Warning)") && said.contains("Crash loop (Degraded)"), "{said}");
    assert_eq!(said.matches("Crash loop (Degraded)").count(), 1, "one event per change of level: {said}");
    assert!(said.contains("the next replacement waits"), "{said}");

    let fixed = hog_bundle(None);
    server.cli_ok(&["deploy", "loop", "--bundle", fixed.path().to_str().unwrap(), "--label", "fixed"]);
    eventually("health Ok once the fixed version runs", 120, || {
        last = health(&server, "loop");
        last["status"] == "Ok"
    });
    let said = events(&server, "loop");
    println!("{said}");
    assert!(said.contains("Crash loop over"), "the loop's end is said");
    assert_eq!(server.get("loop", "/health").map(|r| r.0).unwrap_or(0), 200);
}

#[test]
fn a_full_data_disk_refuses_a_deploy_clearly_serves_on_and_recovers() {
    require_example_images();
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("data");
    let Some(_disk) = SmallDisk::mount(data.clone(), 32) else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must be able to mount a tmpfs");
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    };
    let app = unique_app("full");
    let server = Server::start_in(&app, data.clone());
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one", "--instances", "1"]);
    assert_eq!(server.get("web", "/ad?slot=banner").unwrap().0, 200);

    let filler = data.join("filler");
    let written = fill(&filler);
    println!("filled the data disk with {} MiB", written >> 20);
    // A new version: the example with one more file, so its digest is new.
    let v2 = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&bundle).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), v2.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(v2.path().join("release.txt"), "two").unwrap();
    let out = server.cli(&["deploy", "web", "--bundle", v2.path().to_str().unwrap(), "--label", "two"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a deploy onto a full disk succeeded: {}", text(&out.stdout));
    assert!(err.contains("is full") && err.contains("free space"), "{err}");
    for _ in 0..20 {
        assert_eq!(server.get("web", "/ad?slot=banner").unwrap().0, 200, "traffic is served while the disk is full");
    }
    let listed = server.cli_ok(&["versions", "--output", "json"]);
    assert!(!listed.contains("\"two\""), "no half-written version: {listed}");
    let leftovers: Vec<String> = std::fs::read_dir(data.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");

    // Space returns: the same deploy goes through, nothing to restart.
    std::fs::remove_file(&filler).unwrap();
    server.cli_ok(&["deploy", "web", "--bundle", v2.path().to_str().unwrap(), "--label", "two"]);
    assert_eq!(server.status("web")["version"], "two");
    assert_eq!(server.get("web", "/ad?slot=banner").unwrap().0, 200);
}
