//! The environment page's live stream (server-sent events, one per open page): first the last
//! 15 minutes, one point per second, then each second the seconds the load balancer has closed
//! since, the environment's state (status, health, instances, version) and its new events.
//! Request figures are the load balancer's own (`sprout_lb::Metrics`); instances and held
//! requests are the console's sampler's (`history`). A second without requests is a point of
//! zeros, so the graphs move every second whatever the traffic. On opening, the stream also sends
//! the load balancer's one-minute buckets of the last 24 hours.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use sprout_api::EnvView;
use sprout_lb::Second;

use super::ConsoleState;
use super::client::{call, seg};
use super::history::{Capacity, KEPT};
use super::session::{Session, SignedIn, check_hash};
use crate::context::EnvKey;

/// One second of one environment, as the graphs draw it.
pub fn point(at: i64, sec: Option<&Second>, cap: Option<Capacity>) -> Value {
    let ms = |q: f64| sec.and_then(|s| s.latency.quantile(q)).map(|d| (d.as_secs_f64() * 1e5).round() / 100.0);
    let cap = cap.unwrap_or_default();
    json!({
        "t": at,
        "req": sec.map_or(0, |s| s.requests),
        "s": sec.map_or([0; 5], |s| s.status),
        "p50": ms(0.5),
        "p99": ms(0.99),
        "ins": cap.in_service,
        "des": cap.desired,
        "held": cap.held,
    })
}

struct Live {
    st: ConsoleState,
    session: Session,
    key: EnvKey,
    /// The last second sent.
    sent: i64,
    last_event: i64,
    ticks: u64,
    tick: tokio::time::Interval,
    ended: bool,
}

impl Live {
    /// The points of the seconds after `sent` up to the last closed one (at most 15 minutes).
    fn points(&mut self) -> Vec<Value> {
        let metrics = self.st.ctx.lb.metrics();
        let Some(closed) = metrics.last_closed() else { return Vec::new() };
        let from = (self.sent + 1).max(closed - KEPT as i64 + 1);
        if from > closed {
            return Vec::new();
        }
        let seconds = metrics.series(&self.key.app, &self.key.env, (closed - from + 2) as u32);
        let caps = self.st.history.since(&self.key, from - 1);
        let out = (from..=closed)
            .map(|t| {
                let sec = seconds.iter().find(|s| s.at == t);
                // The sampler's point of that second, else the latest before it.
                let cap = caps.iter().rev().find(|(at, _)| *at <= t).map(|(_, c)| *c);
                point(t, sec, cap)
            })
            .collect();
        self.sent = closed;
        out
    }

    /// What to send this second.
    async fn next(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.sent == 0 {
            // Once, on opening: the last 24 hours per minute (older than the 15 minutes).
            let minutes: Vec<Value> = self
                .st
                .ctx
                .lb
                .metrics()
                .minutes(&self.key.app, &self.key.env)
                .iter()
                .map(|m| json!({ "t": m.at, "req": m.requests, "s5": m.status_5xx() }))
                .collect();
            out.push(Event::default().event("minutes").data(Value::Array(minutes).to_string()));
        }
        let points = self.points();
        if !points.is_empty() {
            out.push(Event::default().event("points").data(Value::Array(points).to_string()));
        }
        let ctx = &self.st.ctx;
        if let Ok(e) = ctx.store.get_environment(&self.key.app, &self.key.env).await {
            let v = crate::api::view::view(ctx, &e);
            let state = json!({
                "status": v.status.as_str(), "health": format!("{:?}", v.health), "causes": v.causes,
                "version": v.version, "in_service": v.in_service, "desired": v.desired_instances,
            });
            out.push(Event::default().event("state").data(state.to_string()));
        }
        if let Ok(events) = ctx.store.list_events(&self.key.app, Some(&self.key.env), self.last_event, 50).await {
            for e in events {
                self.last_event = self.last_event.max(e.id);
                let data = json!({ "id": e.id, "at": e.at, "level": e.level.as_str(), "message": e.message });
                out.push(Event::default().event("event").data(data.to_string()));
            }
        }
        out
    }
}

pub async fn stream(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    // The API decides whether this token may read the environment (and that it exists).
    let path = format!("/apps/{}/environments/{}", seg(&app), seg(&env));
    let view: EnvView = match call(&st, &s, Method::GET, &path, None).await {
        Ok(v) => v,
        Err(e) => return (axum::http::StatusCode::FORBIDDEN, e).into_response(),
    };
    let last_event = st.ctx.store.recent_events(&app, Some(&env), 1).await.ok().and_then(|e| e.first().map(|e| e.id));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let live = Live {
        key: EnvKey::new(&view.app, &view.name),
        st,
        session: s,
        sent: 0,
        last_event: last_event.unwrap_or(0),
        ticks: 0,
        tick,
        ended: false,
    };
    Sse::new(events(live)).keep_alive(KeepAlive::default()).into_response()
}

fn events(live: Live) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(live, |mut live| async move {
        if live.ended {
            return None;
        }
        live.tick.tick().await;
        live.ticks += 1;
        // A revoked token or ended session stops its streams too (looked at every 10 s).
        if live.ticks % 10 == 0
            && (check_hash(&live.st, &live.session.token_hash).await.is_err()
                || !live.st.sessions.is_live(&live.session.id))
        {
            live.ended = true;
            return Some((vec![Event::default().event("end").data("signed out")], live));
        }
        let batch = live.next().await;
        Some((batch, live))
    })
    .flat_map(|batch| stream::iter(batch.into_iter().map(Ok)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprout_lb::Histogram;

    #[test]
    fn a_quiet_second_is_a_point_of_zeros() {
        let p = point(7, None, Some(Capacity { in_service: 2, desired: 3, held: 1 }));
        assert_eq!(
            p,
            json!({"t": 7, "req": 0, "s": [0,0,0,0,0], "p50": null, "p99": null, "ins": 2, "des": 3, "held": 1})
        );
    }

    #[test]
    fn a_busy_second_has_its_counts_and_quantiles() {
        let latency = Histogram::from_latencies([1, 2, 40].map(Duration::from_millis));
        let sec = Second { at: 9, span_s: 1, requests: 3, status: [0, 2, 0, 0, 1], latency, ..Default::default() };
        let p = point(9, Some(&sec), None);
        assert_eq!(p["req"], 3);
        assert_eq!(p["s"], json!([0, 2, 0, 0, 1]));
        assert!(p["p99"].as_f64().unwrap() >= p["p50"].as_f64().unwrap());
    }
}
