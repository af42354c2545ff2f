//! Bad input end to end: each gets one clear message and a non-zero exit, and running
//! environments are untouched.

mod common;

use common::*;

#[test]
fn bad_requests_get_clear_errors() {
    let app = unique_app("bad");
    let server = Server::start(&app);
    let dir = tempfile::tempdir().unwrap();

    // A bundle directory without a definition file.
    let out = server.cli(&["create", "prod", "--bundle", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("has no Dockerrun.aws.json"), "{}", text(&out.stderr));

    // A bad definition: every error, with its field path.
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion": 2, "containerDefinitions": [{"name": "web", "image": "x", "ports": ["80:80"]}]}"#,
    )
    .unwrap();
    let out = server.cli(&["create", "prod", "--bundle", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("ports") && err.contains("portMappings"), "{err}");
    assert!(err.contains("memory"), "{err}");

    // An image that is not present and cannot be pulled.
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion": 2, "containerDefinitions": [{"name": "web", "image": "sprout-test/never-built:1", "memory": 32,
            "portMappings": [{"hostPort": 80, "containerPort": 80}]}]}"#,
    )
    .unwrap();
    let out = server.cli(&["create", "prod", "--bundle", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("sprout-test/never-built:1"), "{err}");

    // An unknown environment.
    let out = server.cli(&["status", "nosuch"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not found"), "{}", text(&out.stderr));

    // No token.
    let out = std::process::Command::new(BIN)
        .args(["list", "--url", &format!("http://{}", server.api)])
        .env("SPROUT_TOKEN", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("token"), "{}", text(&out.stderr));
}

#[test]
fn server_start_problems_are_explained() {
    // The API port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("d"))
        .args(["--api", &addr, "--http", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&addr) && err.contains("--api"), "{err}");

    // The data directory cannot be created (its parent is a file).
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(file.join("data"))
        .args(["--api", &format!("127.0.0.1:{}", free_port()), "--http", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("data directory"), "{}", text(&out.stderr));

    // No Docker daemon where DOCKER_HOST points.
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("d2"))
        .args(["--api", &format!("127.0.0.1:{}", free_port()), "--http", &format!("127.0.0.1:{}", free_port())])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("not reachable") && err.contains("dockerd"), "{err}");
}

/// Host access end to end: `validate` (which knows no policy) warns about the Docker socket and
/// passes; the server refuses the same bundle until `sprout policy set` allows exactly that path.
#[test]
fn host_access_needs_the_policy_and_validate_only_warns() {
    let app = unique_app("pol");
    let server = Server::start(&app);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        r#"{"AWSEBDockerrunVersion": 2, "volumes": [{"name": "sock", "host": {"sourcePath": "/var/run/docker.sock"}}],
            "containerDefinitions": [{"name": "web", "image": "sprout-test/none:1", "memory": 32,
              "portMappings": [{"hostPort": 80, "containerPort": 80}],
              "mountPoints": [{"sourceVolume": "sock", "containerPath": "/var/run/docker.sock"}]}]}"#,
    )
    .unwrap();
    let bundle = dir.path().to_str().unwrap();

    let out = server.cli(&["validate", bundle]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--allow-host-path /var/run/docker.sock"), "{}", text(&out.stderr));

    let out = server.cli(&["create", "prod", "--bundle", bundle]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("containerDefinitions[0].mountPoints[0]") && err.contains("policy set"), "{err}");

    let out = server.cli(&["policy", "set", &app, "--allow-host-path", "/var/run/docker.sock"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = server.cli(&["policy", "show", &app]);
    assert!(text(&out.stdout).contains("Host path allowed: /var/run/docker.sock"), "{}", text(&out.stdout));
    // Allowed now: what stops it is the image that is not on this machine.
    let out = server.cli(&["create", "prod", "--bundle", bundle, "--no-wait"]);
    let err = text(&out.stderr);
    assert!(!err.contains("host access"), "{err}");
    let out = server.cli(&["policy", "reset", &app]);
    assert!(text(&out.stdout).contains("none outside the bundle"), "{}", text(&out.stdout));
}
