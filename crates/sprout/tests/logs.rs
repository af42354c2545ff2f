//! End to end, logs: the example's access log read through `sprout logs` while it runs, the
//! engine log of each container, and both still readable (`--all`, `--bundle`) after the
//! environment is terminated. Also the version commands against the same server.

mod common;

use common::*;

#[test]
fn logs_are_readable_live_and_after_terminate() {
    require_example_images();
    let app = unique_app("logs");
    let server = Server::start(&app);
    let bundle = example_bundle();
    server.cli_ok(&["create", "web", "--bundle", bundle.to_str().unwrap(), "--label", "one"]);

    let marker = format!("/ad?slot=banner&marker={app}");
    for _ in 0..3 {
        let (code, body) = server.get("web", &marker).unwrap();
        assert_eq!(code, 200, "{body}");
    }

    // The access log file (awseb-logs-app volume) and the app's stdout (engine log).
    let mut out = String::new();
    eventually("the request in the app's access log", 20, || {
        out = server.cli_ok(&["logs", "web", "--container", "app", "--tail", "50"]);
        out.contains("logs/app/access.log") && out.matches(&app).count() >= 2
    });
    assert!(out.contains("(docker)"), "the engine log too: {out}");
    assert!(!out.contains("nginx/"), "--container app shows only the app: {out}");

    let json: serde_json::Value = serde_json::from_str(&server.cli_ok(&["logs", "web", "--output", "json"])).unwrap();
    let chunks = json["logs"].as_array().unwrap();
    let instance = chunks[0]["instance"].as_str().unwrap().to_string();
    for c in ["app", "nginx", "logship", "monitor"] {
        assert!(
            chunks.iter().any(|ch| ch["container"] == c && ch["source"] == "docker" && ch["live"] == true),
            "engine log of {c}: {json:#}"
        );
    }

    // Versions: size report, in-use marker, delete refused while deployed.
    let versions = server.cli_ok(&["versions"]);
    assert!(versions.contains("one") && versions.contains("MB") && versions.contains("[web]"), "{versions}");
    let refused = server.cli(&["versions", "delete", "one"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("in use by environment(s) web"), "{}", text(&refused.stderr));
    let listed: serde_json::Value = serde_json::from_str(&server.cli_ok(&["versions", "--output", "json"])).unwrap();
    let recorded = listed[0]["resolved_images"]["sprout-example/adserver:latest"]["id"].as_str().unwrap().to_string();
    let running = docker(&["inspect", "-f", "{{.Config.Image}}", &format!("sprout-{app}-web-{instance}-app")]);
    assert_eq!(running.trim(), recorded, "the container runs the recorded image id");

    // Terminate: the instance is gone, its logs are not.
    server.cli_ok(&["terminate", "web", "--force"]);
    assert!(containers_of(&app).is_empty());
    let gone = server.cli_ok(&["logs", "web"]);
    assert!(!gone.contains(&app), "without --all only running instances: {gone}");
    let all = server.cli_ok(&["logs", "web", "--all", "--tail", "1000"]);
    assert!(all.contains("logs/app/access.log") && all.contains(&app), "access log kept: {all}");
    assert!(all.contains(&format!("{instance}/app (docker, gone)")), "saved engine log: {all}");

    let tarfile = server.data_dir.with_extension("logs.tar");
    server.cli_ok(&["logs", "web", "--bundle", tarfile.to_str().unwrap()]);
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&tarfile).unwrap());
    for e in archive.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in [format!("web/{instance}/logs/app/access.log"), format!("web/{instance}/docker-logs/nginx.log")] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }

    // With the environment gone, the version can go, and the lifecycle policy can be set.
    server.cli_ok(&["versions", "delete", "one"]);
    let listed: serde_json::Value = serde_json::from_str(&server.cli_ok(&["versions", "--output", "json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed:#}");
    let policy = server.cli_ok(&["versions", "lifecycle", "--max-count", "5", "--max-age", "30"]);
    assert!(policy.contains("at most 5") && policy.contains("30 days"), "{policy}");
    assert!(server.cli_ok(&["versions", "lifecycle"]).contains("at most 5"));
}
