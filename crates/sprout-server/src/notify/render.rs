//! A queued notice as a webhook body: Sprout's JSON (`severity`, the application and
//! environment, the message in words, a link to the environment's console page, the delivery id
//! for receivers that deduplicate) or a Slack-compatible message (`text`, mrkdwn). Pure.

use serde_json::json;
use sprout_plan::alerts::Notice;

/// What a body is about, beside the notice itself.
pub struct Envelope<'a> {
    pub delivery: i64,
    pub app: &'a str,
    pub env: &'a str,
    pub link: &'a str,
}

/// The body to POST for `format` (`json` or `slack`).
pub fn body(format: &str, notice: &Notice, e: &Envelope<'_>) -> String {
    let env = if e.env.is_empty() { None } else { Some(e.env) };
    if format == "slack" {
        let icon = match notice.severity.as_str() {
            "critical" => ":red_circle:",
            "warning" => ":warning:",
            "resolved" => ":white_check_mark:",
            _ => ":information_source:",
        };
        let place = env.map_or_else(|| e.app.to_string(), |env| format!("{}/{env}", e.app));
        let text = format!("{icon} *{}* [{place}] {} <{}|open>", notice.severity.as_str(), notice.message, e.link);
        return json!({ "text": text }).to_string();
    }
    json!({
        "id": e.delivery,
        "severity": notice.severity.as_str(),
        "app": e.app,
        "environment": env,
        "message": notice.message,
        "link": e.link,
        "kind": notice.kind,
        "incident": notice.incident,
        "count": notice.count,
        "at": notice.at.to_rfc3339(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprout_plan::alerts::Severity;

    fn notice() -> Notice {
        Notice {
            severity: Severity::Warning,
            incident: Some("availability".into()),
            kind: "incident".into(),
            message: "Instances lost: Instance i-1 is unhealthy".into(),
            at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            count: 2,
        }
    }

    #[test]
    fn json_carries_severity_environment_message_and_link() {
        let e = Envelope { delivery: 7, app: "adserver", env: "production", link: "http://x/console" };
        let v: serde_json::Value = serde_json::from_str(&body("json", &notice(), &e)).unwrap();
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["environment"], "production");
        assert_eq!(v["message"], "Instances lost: Instance i-1 is unhealthy");
        assert_eq!(v["link"], "http://x/console");
        assert_eq!(v["id"], 7);
        assert_eq!(v["count"], 2);
    }

    #[test]
    fn slack_is_one_text_with_the_link() {
        let e = Envelope { delivery: 7, app: "adserver", env: "production", link: "http://x/console" };
        let v: serde_json::Value = serde_json::from_str(&body("slack", &notice(), &e)).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with(":warning: *warning* [adserver/production] Instances lost"), "{text}");
        assert!(text.ends_with("<http://x/console|open>"), "{text}");
    }
}
