//! Tokens, scopes, the audit trail and secrets end to end (issue 14), on a real server and
//! Docker: a deploy token limited to one application deploys but cannot terminate, create
//! tokens or read another application; a read token cannot deploy; expired and revoked tokens
//! get 401; every change is in `sprout audit`. A secret reaches the container's environment and
//! nowhere else: not the data directory (database included), the server's log, events, API
//! answers or CLI output.

#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

/// The CLI as the holder of `token` (not the admin).
fn cli_as(server: &Server, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", token)
        .env("SPROUT_APP", &server.app)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run sprout")
}

fn refused(out: &Output, says: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains(says), "expected a refusal saying {says:?}; stderr:\n{err}");
}

fn new_token(server: &Server, args: &[&str]) -> String {
    let out = server.cli_ok(&[&["tokens", "create"], args, &["--output", "json"]].concat());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["token"].as_str().expect("the token, once").to_string()
}

#[test]
fn tokens_do_what_their_scope_and_limits_allow_and_every_change_is_audited() {
    require_example_images();
    let app = unique_app("tok");
    let server = Server::start(&app);
    let bundle = hog_bundle(None);
    let bundle = bundle.path().to_str().unwrap();
    server.cli_ok(&["create", "prod", "--bundle", bundle, "--label", "one", "--instances", "1"]);
    let other = format!("{app}-other");
    server.cli_ok(&["--app", &other, "init", &other]);

    let ci = new_token(&server, &["ci", "--scope", "deploy", "--limit-app", &app]);
    let read = new_token(&server, &["viewer", "--scope", "read"]);

    // The deploy token uploads and deploys, non-interactively, the result as JSON on stdout.
    let out = cli_as(&server, &ci, &["deploy", "prod", "--bundle", bundle, "--label", "two", "--output", "json"]);
    assert!(out.status.success(), "deploy with the CI token:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    let result: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON on stdout");
    assert_eq!(result["version"], "two");

    refused(&cli_as(&server, &ci, &["terminate", "prod", "--force", "--no-wait"]), "needs a token of scope admin");
    refused(&cli_as(&server, &ci, &["tokens", "create", "more", "--scope", "admin"]), "scope admin");
    refused(
        &cli_as(&server, &ci, &["--app", &other, "versions"]),
        &format!("limited to application {app}, not {other}"),
    );
    let listed = text(&cli_as(&server, &ci, &["list", "--output", "json"]).stdout);
    assert!(!listed.contains(&other), "a limited token sees its application only: {listed}");

    refused(
        &cli_as(&server, &read, &["deploy", "prod", "--version", "one", "--no-wait"]),
        "needs a token of scope deploy",
    );
    assert!(cli_as(&server, &read, &["status", "prod"]).status.success(), "a read token reads");

    // Expired, then revoked: 401 with why.
    let brief = new_token(&server, &["brief", "--scope", "read", "--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    refused(&cli_as(&server, &brief, &["status", "prod"]), "token 'brief' expired at");
    server.cli_ok(&["tokens", "revoke", "ci"]);
    refused(&cli_as(&server, &ci, &["status", "prod"]), "unknown or revoked API token");
    refused(&server.cli(&["tokens", "revoke", "admin"]), "last unlimited admin token");

    let tokens = server.cli_ok(&["tokens", "list"]);
    assert!(tokens.contains("viewer") && !tokens.contains("sprout_"), "names, never tokens: {tokens}");
    let audit = server.cli_ok(&["audit", "--env", "prod"]);
    let deploy_line = audit
        .lines()
        .find(|l| l.contains("/environments/prod/deploy") && l.contains(" ci "))
        .unwrap_or_else(|| panic!("the CI deploy is audited:\n{audit}"));
    assert!(deploy_line.contains("-> 200"), "{deploy_line}");
    assert!(
        audit.lines().any(|l| l.contains("DELETE") && l.contains("-> 403")),
        "refused calls are audited too:\n{audit}"
    );
}

#[test]
fn a_secret_reaches_the_container_and_nowhere_else() {
    require_example_images();
    let app = unique_app("sec");
    let server = Server::start(&app);
    let bundle = hog_bundle(None);
    server.cli_ok(&[
        "create",
        "prod",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--label",
        "one",
        "--instances",
        "1",
    ]);
    let before = instance_ids(&server.status("prod"));
    let value = format!("hunter2-{}", unique_app("v"));

    let mut set = Command::new(BIN)
        .args(["secrets", "set", "prod", "DB_PASSWORD", "--value-stdin", "--timeout", "180"])
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", server.token())
        .env("SPROUT_APP", &app)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin.take().unwrap().write_all(format!("{value}\n").as_bytes()).unwrap();
    let out = set.wait_with_output().unwrap();
    let mut cli_output = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "secrets set:\n{cli_output}\n{}", tail(&server.log(), 40));

    let status = server.status("prod");
    let after = instance_ids(&status);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "the instance was replaced to take the secret");
    let container = containers_of(&app).into_iter().next().expect("a container");
    let env = docker(&["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", &container]);
    assert!(env.lines().any(|l| l == format!("DB_PASSWORD={value}")), "in the container's environment:\n{env}");

    for args in [
        &["secrets", "list", "prod"][..],
        &["printenv", "prod"],
        &["events", "prod", "--limit", "100"],
        &["status", "prod", "--output", "json"],
        &["health", "prod"],
        &["audit"],
    ] {
        let out = server.cli(args);
        cli_output.push_str(&text(&out.stdout));
        cli_output.push_str(&text(&out.stderr));
    }
    assert!(cli_output.contains("DB_PASSWORD = ****"), "printenv masks it:\n{cli_output}");
    assert!(cli_output.contains("secret DB_PASSWORD changed"), "the event names it:\n{cli_output}");
    assert!(!cli_output.contains(&value), "no CLI output or API answer holds the value");
    assert!(!server.log().contains(&value), "the server's log does not hold it");
    let mut files = Vec::new();
    let mut stack = vec![server.data_dir.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                files.push(e.path());
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("sprout.db")), "the database is among the files: {files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()), "{} holds the value", f.display());
    }

    // A backup keeps it sealed too, and says what restoring takes.
    let backup = server.data_dir.with_extension("backup.db");
    let out = server.cli(&["admin", "backup", backup.to_str().unwrap()]);
    assert!(out.status.success() && text(&out.stderr).contains("needs this server's key"), "{}", text(&out.stderr));
    let bytes = std::fs::read(&backup).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"), "a SQLite database");
    assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()), "the backup holds the value");
    assert!(bytes.windows(11).any(|w| w == b"DB_PASSWORD"), "the backup holds the secret, sealed");

    // A deploy of a version naming a secret the environment lacks is refused before anything is replaced.
    let named = tempfile::tempdir().unwrap();
    let def = std::fs::read_to_string(bundle.path().join("Dockerrun.aws.json")).unwrap().replace(
        r#""essential":true,"#,
        r#""essential":true,"secrets":[{"name":"API_KEY","valueFrom":"sprout:api-key"}],"#,
    );
    std::fs::write(named.path().join("Dockerrun.aws.json"), def).unwrap();
    let out = server.cli(&["deploy", "prod", "--bundle", named.path().to_str().unwrap(), "--label", "two"]);
    refused(&out, "names secrets that environment prod does not have: api-key");
    assert_eq!(instance_ids(&server.status("prod")), after, "nothing was replaced");

    // A clone takes the secrets with it.
    server.cli_ok(&["clone", "prod", "copy", "--timeout", "180"]);
    let copy =
        docker(&["ps", "-q", "--filter", &format!("label=sprout.app={app}"), "--filter", "label=sprout.env=copy"]);
    let copy = copy.lines().next().expect("the clone's container");
    let env = docker(&["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", copy]);
    assert!(env.lines().any(|l| l == format!("DB_PASSWORD={value}")), "the clone has the secret:\n{env}");
}
