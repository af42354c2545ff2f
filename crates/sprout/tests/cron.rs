//! Periodic jobs end to end (issue 16): a real server, real Docker, the CLI. A worker environment
//! of two instances whose version has a `cron.yaml` with `timezone: Asia/Kolkata`: each scheduled
//! minute is POSTed exactly once, to one instance's container on host port 80, with Elastic
//! Beanstalk's `X-Aws-Sqsd-*` headers, and recorded as an event; a server that is down across a
//! scheduled second sends that instant once when it is back. A bad `cron.yaml` is refused at
//! upload with every error at its path.
//!
//! The job is a CGI script of busybox's httpd that appends one line per request to a file on a
//! host directory the test allows, so runs are counted outside Sprout. Bounded: two or three
//! scheduled minutes.
#![allow(clippy::disallowed_methods)] // end-to-end tests wait on real Docker in real time

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};

const JOB_SETUP: &str = r#"busybox mkdir -p /w/cgi-bin && busybox cp /www/index.html /w/ && busybox printf '#!/bin/sh\necho "$HTTP_X_AWS_SQSD_TASKNAME $HTTP_X_AWS_SQSD_SCHEDULED_AT $REQUEST_METHOD $HOSTNAME" >> /marker/runs\necho Content-Type: text/plain\necho\necho done\n' > /w/cgi-bin/job && busybox chmod +x /w/cgi-bin/job && exec httpd -f -p 8080 -h /w"#;

/// A bundle of busybox's httpd on host port 80 serving the job script, the marker directory at
/// /marker, and `cron_yaml` beside it.
fn bundle(marker: &Path, cron_yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let def = json!({
        "AWSEBDockerrunVersion": 2,
        "volumes": [{"name": "marker", "host": {"sourcePath": marker.to_str().unwrap()}}],
        "containerDefinitions": [{
            "name": "web", "image": BUSYBOX_IMAGE, "essential": true, "memory": 32,
            "command": ["sh", "-c", JOB_SETUP],
            "portMappings": [{"hostPort": 80, "containerPort": 8080}],
            "mountPoints": [{"sourceVolume": "marker", "containerPath": "/marker"}]
        }]
    });
    std::fs::write(dir.path().join("Dockerrun.aws.json"), def.to_string()).unwrap();
    std::fs::write(dir.path().join("cron.yaml"), cron_yaml).unwrap();
    dir
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The hour in Kolkata now (UTC+05:30, no daylight saving) and the next one: a schedule on them
/// runs only when read on Kolkata's wall clock (UTC's hour is 5 or 6 behind).
fn kolkata_hours() -> String {
    let h = ((unix_now() + 5 * 3600 + 1800) / 3600) % 24;
    format!("{h},{}", (h + 1) % 24)
}

fn lines(marker: &Path) -> Vec<String> {
    std::fs::read_to_string(marker.join("runs")).unwrap_or_default().lines().map(String::from).collect()
}

fn events(server: &Server, env: &str) -> Vec<Value> {
    serde_json::from_str(&server.cli_ok(&["events", env, "--limit", "500", "--output", "json"])).unwrap()
}

/// Sleeps until `at_s` (Unix seconds) plus `plus_ms`.
fn sleep_until(at_s: u64, plus_ms: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let target = Duration::from_secs(at_s) + Duration::from_millis(plus_ms);
    if target > now {
        std::thread::sleep(target - now);
    }
}

#[test]
fn a_job_runs_once_per_minute_on_one_instance_in_its_time_zone_across_a_restart() {
    require_busybox_image();
    let server = Server::start(&unique_app("cron"));
    let marker = tempfile::tempdir().unwrap();

    // A bad file is refused at upload, every error at its path (this also creates the app).
    let bad = bundle(
        marker.path(),
        "version: 1\ntimezone: Mars/Olympus\ncron:\n  - name: a\n    url: job\n    schedule: \"61 * * * *\"\n",
    );
    let out = server.cli(&["create", "bad", "--bundle", bad.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for needle in ["cron.yaml", "Mars/Olympus", "cron[0].url", "cron[0].schedule"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }

    server.cli_ok(&["policy", "set", &server.app, "--allow-host-path", marker.path().to_str().unwrap()]);
    let cron = format!(
        "version: 1\ntimezone: Asia/Kolkata\ncron:\n  - name: tick\n    url: /cgi-bin/job\n    schedule: \"* {} * * *\"\n",
        kolkata_hours()
    );
    let good = bundle(marker.path(), &cron);
    let path = good.path().to_str().unwrap();
    server.cli_ok(&["create", "jobs", "--bundle", path, "--tier", "worker", "--instances", "2", "--timeout", "120"]);
    let listed = server.cli_ok(&["cron", "list", "jobs"]);
    assert!(listed.contains("tick") && listed.contains("Asia/Kolkata") && listed.contains("next:"), "{listed}");

    // Down across a scheduled second: stopped 2 s before the minute, started 2 s after it.
    let mut server = server;
    let boundary = (unix_now() / 60 + 1) * 60;
    let boundary = if boundary - unix_now() < 5 { boundary + 60 } else { boundary };
    sleep_until(boundary - 2, 0);
    server.stop(true);
    sleep_until(boundary + 2, 0);
    assert!(lines(marker.path()).is_empty(), "nothing ran while the server was down: {:?}", lines(marker.path()));
    server.spawn();
    let at = |s: u64| {
        let secs = s % 86_400;
        format!("{:02}:{:02}:00Z", secs / 3600, (secs % 3600) / 60)
    };
    let missed = at(boundary);
    eventually("the instant missed while down runs once the server is back", 30, || {
        lines(marker.path()).iter().any(|l| l.contains(&missed))
    });
    // And the next minute in the ordinary way.
    let next = at(boundary + 60);
    eventually("the next minute runs", 90, || lines(marker.path()).iter().any(|l| l.contains(&next)));
    std::thread::sleep(Duration::from_secs(3));

    // Each instant once (a minute that came before the restart ran too, once), on one instance.
    let runs = lines(marker.path());
    let mut instants: Vec<&str> = Vec::new();
    for line in &runs {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 4, "{line}");
        assert_eq!(fields[0], "tick", "X-Aws-Sqsd-Taskname: {line}");
        assert_eq!(fields[2], "POST", "{line}");
        assert!(!instants.contains(&fields[1]), "instant {} ran twice: {runs:?}", fields[1]);
        instants.push(fields[1]);
    }
    assert!(instants.iter().any(|i| i.ends_with(&missed)) && instants.iter().any(|i| i.ends_with(&next)), "{runs:?}");
    let all = events(&server, "jobs");
    let ran: Vec<&Value> = all.iter().filter(|e| e["kind"] == "CronJobSucceeded").collect();
    assert_eq!(ran.len(), runs.len(), "{all:#?}");
    for e in &ran {
        let m = e["message"].as_str().unwrap_or("");
        assert!(m.contains("Cron job tick") && m.contains("returned 200"), "{m}");
    }
    let listed = server.cli_ok(&["cron", "list", "jobs"]);
    assert!(listed.contains("succeeded") && listed.contains("returned 200"), "{listed}");
}
