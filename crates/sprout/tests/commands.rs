//! `sprout exec` and `sprout run` end to end (issue 16): a real server and Docker, the CLI as a
//! process with its stdin piped: input reaches the command, stdout and stderr come back apart,
//! the exit code is the CLI's, a one-off instance has the environment's properties and is gone
//! afterwards, and each command is an event.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

/// The busybox web server on host port 80, with VERSION=`version` in its environment.
fn bundle(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerrun.aws.json"),
        format!(
            r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{{"name":"web","image":"{BUSYBOX_IMAGE}",
                "essential":true,"memory":32,"command":["httpd","-f","-p","8080","-h","/www"],
                "portMappings":[{{"hostPort":80,"containerPort":8080}}],
                "environment":[{{"name":"VERSION","value":"{version}"}}]}}]}}"#
        ),
    )
    .unwrap();
    dir
}

/// The CLI with `input` on its stdin.
fn cli_with_input(server: &Server, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("SPROUT_URL", format!("http://{}", server.api))
        .env("SPROUT_TOKEN", server.token())
        .env("SPROUT_APP", &server.app)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: the command echoes as it reads, so writing all before reading
    // could fill both pipes.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn run_containers(app: &str) -> usize {
    docker(&["ps", "-aq", "--filter", &format!("label=sprout.app={app}"), "--filter", "label=sprout.role=run"])
        .lines()
        .count()
}

#[test]
fn exec_and_run_pass_stdin_stdout_stderr_and_the_exit_code() {
    require_busybox_image();
    let server = Server::start(&unique_app("cmds"));
    let b = bundle("v1");
    server.cli_ok(&[
        "create",
        "prod",
        "--bundle",
        b.path().to_str().unwrap(),
        "--label",
        "v1",
        "--var",
        "GREETING=hello",
    ]);

    // exec: in the running container, with its environment.
    let script = r#"read line; echo "got $line"; echo "err $GREETING $VERSION" >&2; exit 7"#;
    let out = cli_with_input(&server, &["exec", "prod", "--", "sh", "-c", script], b"ping\n");
    assert_eq!(text(&out.stdout), "got ping\n", "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "err hello v1\n");
    assert_eq!(out.status.code(), Some(7));
    let instance = instance_ids(&server.status("prod")).remove(0);
    let out = server.cli(&["exec", "prod", "--instance", &instance, "--container", "web", "--", "sh", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = server.cli(&["exec", "prod", "--container", "db", "--", "true"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no container definition is named db"), "{}", text(&out.stderr));
    let out = server.cli(&["exec", "prod", "-t", "--", "sh", "-c", "[ -t 1 ] && echo terminal"]);
    assert_eq!((text(&out.stdout).trim(), out.status.code()), ("terminal", Some(0)), "{}", text(&out.stderr));

    // run: a one-off instance of the environment's version, input streamed through `cat`
    // (more than one frame's worth, so it is streamed, not buffered whole).
    let input: Vec<u8> = (0..20_000).flat_map(|n| format!("line {n}\n").into_bytes()).collect();
    let script = r#"cat; echo "version $VERSION greeting $GREETING" >&2; exit 4"#;
    let out = cli_with_input(&server, &["run", "prod", "--", "sh", "-c", script], &input);
    assert_eq!(out.stdout.len(), input.len(), "stderr: {}", text(&out.stderr));
    assert!(out.stdout == input, "the input came back whole and in order");
    assert_eq!(text(&out.stderr), "version v1 greeting hello\n");
    assert_eq!(out.status.code(), Some(4));
    eventually("the one-off instance is removed", 30, || run_containers(&server.app) == 0);
    let out = server.cli(&["run", "prod", "--version", "v9", "--", "true"]);
    assert!(!out.status.success() && text(&out.stderr).contains("v9"), "{}", text(&out.stderr));

    // Both are recorded (the record is written as the stream ends, so it is read until it shows).
    let ran = || -> Vec<String> {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(&server.cli_ok(&["events", "prod", "--limit", "100", "--output", "json"])).unwrap();
        events
            .iter()
            .filter(|e| e["kind"] == "CommandRan")
            .filter_map(|e| e["message"].as_str().map(String::from))
            .collect()
    };
    eventually("the exec and the run are both recorded", 30, || {
        let ran = ran();
        ran.iter().any(|m| m.contains("(exec)") && m.contains("exit code 7"))
            && ran.iter().any(|m| m.contains("(run (version v1))") && m.contains("exit code 4"))
    });
    let audit = server.cli_ok(&["audit", "--env", "prod"]);
    assert!(audit.contains("/exec") && audit.contains("/run"), "{audit}");
}
