//! The access log: one JSON line per request, to `$LOG_DIR/access.log` (which the logship
//! container tails through the `awseb-logs-app` volume) and to stdout (`docker logs`).
//!
//! Not here: rotation. The volume belongs to one instance and goes away with it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub struct AccessLog {
    file: Option<Mutex<File>>,
}

impl AccessLog {
    /// Open `dir/access.log` for appending. An unwritable directory is a warning, not a reason
    /// to refuse traffic: the lines still reach stdout.
    pub fn open(dir: Option<&Path>) -> AccessLog {
        let file = dir.and_then(|dir| {
            let path = dir.join("access.log");
            let opened =
                fs::create_dir_all(dir).and_then(|()| OpenOptions::new().create(true).append(true).open(&path));
            match opened {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    eprintln!("adserver: warning: cannot write {}: {e}; logging to stdout only", path.display());
                    None
                }
            }
        });
        AccessLog { file }
    }

    pub fn write(&self, entry: &Value) {
        let mut line = entry.to_string();
        line.push('\n');
        // O_APPEND plus one write per line keeps lines whole even with many request threads.
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(line.as_bytes());
        }
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_millis())
}

/// Format Unix seconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`; std has no calendar, and a date crate
/// would be most of this binary's dependencies.
pub fn rfc3339(secs: i64, millis: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_735_689_599, 999), "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn writes_json_lines_to_the_file() {
        let dir = std::env::temp_dir().join(format!("adserver-log-test-{}", std::process::id()));
        let log = AccessLog::open(Some(&dir));
        log.write(&serde_json::json!({"path": "/a"}));
        log.write(&serde_json::json!({"path": "/b"}));
        let text = fs::read_to_string(dir.join("access.log")).unwrap();
        assert_eq!(text, "{\"path\":\"/a\"}\n{\"path\":\"/b\"}\n");
        fs::remove_dir_all(dir).unwrap();
    }
}
