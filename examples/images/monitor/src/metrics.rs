//! Turning two `/stats` samples into a metrics line: totals, click-through rate and the request
//! rate over the interval between them.

use std::time::Instant;

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub instance: String,
    pub requests: u64,
    pub impressions: u64,
    pub clicks: u64,
}

impl Sample {
    pub fn from_stats(body: &[u8], at: Instant) -> Result<Sample, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("stats are not JSON: {e}"))?;
        let n = |k: &str| v[k].as_u64().ok_or_else(|| format!("stats have no number `{k}`"));
        Ok(Sample {
            at,
            instance: v["instance"].as_str().unwrap_or("?").to_string(),
            requests: n("requests")?,
            impressions: n("impressions")?,
            clicks: n("clicks")?,
        })
    }
}

/// One line per poll. The rate needs the previous sample of the same process: after a restart
/// (counters went down, or another instance answered) it starts again.
pub fn line(prev: Option<&Sample>, cur: &Sample) -> String {
    let rps = match prev {
        Some(p) if p.instance == cur.instance && cur.requests >= p.requests => {
            let secs = cur.at.duration_since(p.at).as_secs_f64();
            if secs > 0.0 { format!("{:.1}", (cur.requests - p.requests) as f64 / secs) } else { "-".into() }
        }
        _ => "-".into(),
    };
    let ctr = if cur.impressions > 0 { cur.clicks as f64 * 100.0 / cur.impressions as f64 } else { 0.0 };
    format!(
        "monitor: instance={} requests={} impressions={} clicks={} ctr={ctr:.2}% rps={rps}",
        cur.instance, cur.requests, cur.impressions, cur.clicks
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_between_samples() {
        let t0 = Instant::now();
        let body = br#"{"instance":"i-1","requests":10,"impressions":4,"clicks":1}"#;
        let a = Sample::from_stats(body, t0).unwrap();
        assert_eq!(line(None, &a), "monitor: instance=i-1 requests=10 impressions=4 clicks=1 ctr=25.00% rps=-");
        let b = Sample { requests: 60, at: t0 + Duration::from_secs(5), ..a.clone() };
        assert!(line(Some(&a), &b).ends_with("rps=10.0"));
        let restarted = Sample { requests: 2, ..b.clone() };
        assert!(line(Some(&b), &restarted).ends_with("rps=-"));
    }

    #[test]
    fn bad_stats() {
        assert!(Sample::from_stats(b"nope", Instant::now()).is_err());
        assert!(Sample::from_stats(br#"{"requests":1}"#, Instant::now()).unwrap_err().contains("impressions"));
    }
}
