//! `logs.retention` on FakeEngine: the sweep removes retired instances' log directories past their
//! environment's retention (or the default for an environment that is gone), never a live
//! instance's, whatever the age of its files.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use sprout_server::log_sweep::sweep_once;

/// An instance directory as retirement leaves it, every entry last written `days_ago`.
fn kept_logs(dir: &Path, days_ago: u64, now: SystemTime) {
    let logs = dir.join("docker-logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("web.log"), "served\n").unwrap();
    let then = now - Duration::from_secs(days_ago * 86_400 + 60);
    for p in [logs.join("web.log"), logs, dir.to_path_buf()] {
        std::fs::File::open(&p).unwrap().set_modified(then).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn retired_logs_past_the_retention_go_live_ones_stay() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 1).await;
    until("Ready", || ready(&h, "v1", 1)).await;
    let now = SystemTime::from(h.ctx.clock.now());
    let root = h.ctx.settings.data_dir.join("instances");
    let live = instances(&h.fake, None).into_iter().next().unwrap();
    kept_logs(&root.join("shop/prod").join(&live), 30, now);
    kept_logs(&root.join("shop/prod/i-old"), 8, now);
    kept_logs(&root.join("shop/prod/i-recent"), 2, now);
    kept_logs(&root.join("shop/terminated/i-gone"), 8, now);

    let mut removed = sweep_once(&h.ctx).await;
    removed.sort();
    assert_eq!(removed, ["shop/prod/i-old", "shop/terminated/i-gone"], "the default retention is 7 days");
    assert!(root.join("shop/prod").join(&live).exists(), "a live instance's logs are never removed");
    assert!(root.join("shop/prod/i-recent").exists());

    change_env(&h, |e| e.options.logs.retention_days = 1).await;
    assert_eq!(sweep_once(&h.ctx).await, ["shop/prod/i-recent"], "the environment's own retention");
    assert!(root.join("shop/prod").join(&live).exists());
}
