use chrono::TimeZone;

use super::*;

fn load(text: &str) -> Result<CronFile, Vec<String>> {
    load_cron_yaml(text, true).map(|(f, _)| f).map_err(|d| d.iter().map(|d| d.to_string()).collect())
}

#[test]
fn loads_elastic_beanstalks_file_with_a_time_zone() {
    let f = load(
        "version: 1\ntimezone: Europe/Berlin\ncron:\n  - name: \"backup-job\"\n    url: \"/backup\"\n    schedule: \"0 */12 * * *\"\n  - name: report\n    url: /report?full=1\n    schedule: \"30 3 * * 1-5\"\n",
    )
    .unwrap();
    assert_eq!(f.timezone, "Europe/Berlin");
    assert_eq!(f.jobs.len(), 2);
    assert_eq!(
        f.jobs[0],
        CronJob { name: "backup-job".into(), url: "/backup".into(), schedule: "0 */12 * * *".into() }
    );
    let utc = load("version: 1\ncron:\n  - {name: a, url: /a, schedule: '* * * * *'}\n").unwrap();
    assert_eq!(utc.timezone, "UTC");
}

#[test]
fn every_problem_is_reported_at_its_path() {
    let errors = load(
        "version: 2\ntimezone: Mars/Olympus\nextra: 1\ncron:\n  - name: a\n    url: backup\n    schedule: \"0 * * *\"\n  - name: a\n    url: /b\n    schedule: \"0 0 * * * *\"\n    every: 5\n  - url: /c\n    schedule: \"61 * * * *\"\n",
    )
    .unwrap_err();
    let all = errors.join("\n");
    for needle in [
        "version 2 is not supported",
        "Mars/Olympus",
        "unknown key `extra`",
        "cron[0].url",
        "cron[0].schedule",
        "has 4 field(s)",
        "two jobs are named \"a\"",
        "cron[1].schedule",
        "cron[1].every",
        "cron[2].name",
        "cron[2].schedule",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn jobs_need_a_container_on_host_port_80() {
    let diags =
        load_cron_yaml("version: 1\ncron:\n  - {name: a, url: /a, schedule: '* * * * *'}\n", false).unwrap_err();
    assert!(diags[0].to_string().contains("host port 80"), "{}", diags[0]);
    assert!(load("cron: []\nversion: 1\n").unwrap().jobs.is_empty());
    assert!(load("version: 1\n").unwrap_err()[0].contains("no `cron` list"));
    assert!(load("version: 1\ncron: [").unwrap_err()[0].contains("invalid YAML"));
}

fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 28, h, m, s).unwrap()
}

fn run(instant: DateTime<Utc>, state: CronRunState, attempts: u32, updated_at: DateTime<Utc>) -> CronRun {
    CronRun {
        app: "a".into(),
        env: "w".into(),
        job: "j".into(),
        instant,
        state,
        attempts,
        outcome: String::new(),
        instance: String::new(),
        updated_at,
    }
}

fn every(schedule: &str, tz: &str) -> Schedule {
    Schedule::of(&CronJob { name: "j".into(), url: "/j".into(), schedule: schedule.into() }, tz).unwrap()
}

#[test]
fn a_new_job_starts_from_now_and_sends_each_instant_once() {
    let s = every("*/5 * * * *", "UTC");
    assert_eq!(decide_job(&s, None, utc(10, 2, 0)), CronStep::Baseline);
    let base = run(utc(10, 2, 0), CronRunState::Baseline, 0, utc(10, 2, 0));
    assert_eq!(decide_job(&s, Some(&base), utc(10, 4, 59)), CronStep::Wait);
    assert_eq!(decide_job(&s, Some(&base), utc(10, 5, 0)), CronStep::Send { instant: utc(10, 5, 0) });
    let sent = run(utc(10, 5, 0), CronRunState::Sending, 1, utc(10, 5, 0));
    assert_eq!(decide_job(&s, Some(&sent), utc(10, 5, 1)), CronStep::Wait, "an unknown outcome is not sent again");
    let ok = run(utc(10, 5, 0), CronRunState::Succeeded, 1, utc(10, 5, 1));
    assert_eq!(decide_job(&s, Some(&ok), utc(10, 9, 59)), CronStep::Wait);
}

#[test]
fn a_server_down_over_several_instants_sends_only_the_latest() {
    let s = every("* * * * *", "UTC");
    let ok = run(utc(10, 0, 0), CronRunState::Succeeded, 1, utc(10, 0, 1));
    assert_eq!(decide_job(&s, Some(&ok), utc(10, 7, 30)), CronStep::Send { instant: utc(10, 7, 0) });
    let long_ago = run(utc(10, 0, 0) - Duration::days(30), CronRunState::Succeeded, 1, utc(10, 0, 0));
    assert_eq!(decide_job(&s, Some(&long_ago), utc(10, 7, 30)), CronStep::Send { instant: utc(10, 7, 0) });
}

#[test]
fn a_failure_is_retried_with_back_off_until_the_next_run() {
    let s = every("*/10 * * * *", "UTC");
    let failed = run(utc(10, 0, 0), CronRunState::Failed, 1, utc(10, 0, 1));
    assert_eq!(decide_job(&s, Some(&failed), utc(10, 0, 2)), CronStep::Wait);
    assert_eq!(decide_job(&s, Some(&failed), utc(10, 0, 3)), CronStep::Retry { instant: utc(10, 0, 0), attempt: 2 });
    assert_eq!(retry_at(&s, &failed), Some(utc(10, 0, 3)));
    let many = run(utc(10, 0, 0), CronRunState::Failed, 9, utc(10, 9, 30));
    assert_eq!(retry_at(&s, &many), None, "the next run comes before the back-off ends");
    assert_eq!(decide_job(&s, Some(&many), utc(10, 10, 0)), CronStep::Send { instant: utc(10, 10, 0) });
    assert_eq!(backoff_s(1), 2);
    assert_eq!(backoff_s(30), MAX_BACKOFF_S);
}

#[test]
fn schedules_are_read_on_the_files_wall_clock() {
    // 03:30 in Berlin is 02:30 UTC in winter (before 29 March 2026) and 01:30 UTC in summer.
    let s = every("30 3 * * *", "Europe/Berlin");
    assert_eq!(s.upcoming(utc(0, 0, 0), 2), vec![utc(2, 30, 0), Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()]);
    // 02:30 does not exist on 29 March in Berlin: it runs once, when the clocks jump.
    let gap = every("30 2 * * *", "Europe/Berlin");
    assert_eq!(gap.next_after(utc(12, 0, 0)), Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()));
}
