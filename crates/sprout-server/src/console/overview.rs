//! The overview: every application and environment the token may see, with health colour and
//! status, version, instances in service and desired, requests per second with a one-minute
//! sparkline, and the last event. Also what every signed-in page shares (`Chrome`).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sprout_api::EnvView;
use sprout_store::EventRecord;

use super::ConsoleState;
use super::client::{call, scope_words, seg};
use super::session::{Session, SignedIn};

/// The header of every signed-in page: who, with what scope, and the sign-out form.
pub struct Chrome {
    pub who: String,
    pub scope: String,
    pub csrf: String,
    pub flash: Option<String>,
}

impl Chrome {
    pub fn of(st: &ConsoleState, s: &Session) -> Chrome {
        Chrome {
            who: s.record.name.clone(),
            scope: scope_words(s),
            csrf: s.csrf.clone(),
            flash: st.sessions.take_flash(&s.id),
        }
    }
}

pub struct Row {
    pub app: String,
    pub env: String,
    pub href: String,
    pub colour: String,
    pub status: String,
    pub version: String,
    pub in_service: usize,
    pub desired: u32,
    pub rps: String,
    pub spark: String,
    pub last: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/overview.html")]
pub struct Overview {
    pub chrome: Chrome,
    pub rows: Vec<Row>,
    pub error: Option<String>,
}

pub async fn show(State(st): State<ConsoleState>, SignedIn(s): SignedIn) -> Response {
    render(&st, &s).await.into_response()
}

/// The overview page for session `s` (also what the render benchmark times).
pub async fn render(st: &ConsoleState, s: &Session) -> Overview {
    let chrome = Chrome::of(st, s);
    let envs: Vec<EnvView> = match call(st, s, Method::GET, "/environments", None).await {
        Ok(e) => e,
        Err(e) => return Overview { chrome, rows: Vec::new(), error: Some(e) },
    };
    let mut last: HashMap<(String, String), EventRecord> = HashMap::new();
    let mut apps: Vec<&str> = envs.iter().map(|e| e.app.as_str()).collect();
    apps.dedup();
    for app in apps {
        // The newest events of the application: enough, most of the time, to find each
        // environment's last one without reading its whole history.
        let count = envs.iter().filter(|e| e.app == app).count();
        let path = format!("/apps/{}/events?limit={}", seg(app), (count * 10).clamp(20, 500));
        let events: Vec<EventRecord> = call(st, s, Method::GET, &path, None).await.unwrap_or_default();
        for e in events {
            let Some(env) = e.env.clone() else { continue };
            let key = (e.app.clone(), env);
            if last.get(&key).is_none_or(|old| old.id < e.id) {
                last.insert(key, e);
            }
        }
    }
    let now = st.ctx.clock.now();
    let metrics = st.ctx.lb.metrics();
    let closed = metrics.last_closed().unwrap_or(now.timestamp() - 1);
    let rows = envs
        .iter()
        .map(|e| {
            let series = metrics.series(&e.app, &e.name, 60);
            let mut per_s = [0u64; 60];
            for sec in &series {
                let i = 59 - (closed - sec.at).clamp(0, 59);
                per_s[i as usize] += sec.requests;
            }
            let rps = per_s[50..].iter().sum::<u64>() as f64 / 10.0;
            let last = last.get(&(e.app.clone(), e.name.clone()));
            Row {
                app: e.app.clone(),
                env: e.name.clone(),
                href: format!("/console/apps/{}/{}", seg(&e.app), seg(&e.name)),
                colour: format!("{:?}", e.health),
                status: e.status.as_str().to_string(),
                version: e.version.clone(),
                in_service: e.in_service,
                desired: e.desired_instances,
                rps: format!("{rps:.1}"),
                spark: sparkline(&per_s),
                last: last.map_or_else(
                    || format!("updated {}", ago(now, e.updated_at)),
                    |ev| format!("{} · {}", ago(now, ev.at), ev.message),
                ),
            }
        })
        .collect();
    Overview { chrome, rows, error: None }
}

/// SVG polyline points for per-second counts, 60 wide and 16 high, scaled to the largest.
pub fn sparkline(values: &[u64]) -> String {
    let top = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{i},{:.1}", 16.0 - 15.0 * (*v as f64) / top))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "12 s ago", "3 min ago", "5 h ago", "2 d ago".
pub fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_largest_second() {
        assert_eq!(sparkline(&[0, 2, 1]), "0,16.0 1,1.0 2,8.5");
        assert_eq!(sparkline(&[0, 0]), "0,16.0 1,16.0");
    }

    #[test]
    fn ago_in_words() {
        let now = DateTime::from_timestamp(100_000, 0).unwrap();
        assert_eq!(ago(now, DateTime::from_timestamp(99_990, 0).unwrap()), "10 s ago");
        assert_eq!(ago(now, DateTime::from_timestamp(99_000, 0).unwrap()), "16 min ago");
        assert_eq!(ago(now, DateTime::from_timestamp(0, 0).unwrap()), "1 d ago");
    }
}
