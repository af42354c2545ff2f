//! `GET /metrics`: the load balancer's request metrics and the instances' health, in the
//! Prometheus text format (OpenMetrics 1.0, which Prometheus scrapes natively).
//!
//! Unauthenticated, like `/healthz`: Prometheus scrapes without a bearer token, and what it shows
//! (request counts, latencies, instance health per application and environment) is what an
//! operator's dashboard shows anyway. The server binds the API to loopback unless told
//! otherwise; expose it further only behind a network policy you trust.
//!
//! Figures are cumulative since the load balancer started and come from closed seconds (so they
//! lag the live traffic by at most a second), except the in-flight gauge, which is read live.
//! This module only formats; `sprout_lb::Metrics` counts and the controllers judge health.

use std::fmt;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use sprout_lb::SeriesTotals;
use sprout_plan::InstanceHealth;

use crate::context::Ctx;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the exported latency buckets: Prometheus' usual web set, finer at
/// the low end where a proxy's answers sit.
const LATENCY_BOUNDS_S: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const CODE_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Instance label of answers the load balancer gave without reaching an instance (503).
const NO_INSTANCE: &str = "none";

/// How many instances of one environment are in one health state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCount {
    pub app: String,
    pub env: String,
    /// `healthy`, `pending` or `unhealthy`.
    pub health: &'static str,
    pub count: i64,
}

pub async fn show(State(ctx): State<Ctx>) -> Response {
    let totals = ctx.lb.metrics().totals();
    let instances = instance_counts(&ctx);
    let held = ctx.lb.held_requests().into_iter().map(|((app, env), n)| (app, env, n as i64)).collect();
    match render(totals, instances, held) {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(fmt::Error) => {
            tracing::error!("formatting /metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics could not be formatted\n").into_response()
        }
    }
}

/// Instances per environment and health state, from the controllers' latest snapshots. Every
/// state is listed, zeros included, so a query sees a series drop to 0 rather than vanish.
fn instance_counts(ctx: &Ctx) -> Vec<InstanceCount> {
    let snapshots = ctx.snapshots.lock().unwrap_or_else(|p| p.into_inner());
    let mut counts = Vec::new();
    for (sprout_model::environment::EnvId { app, env }, snapshot) in snapshots.iter() {
        let mut by_health = [("healthy", 0), ("pending", 0), ("unhealthy", 0)];
        for instance in &snapshot.instances {
            let slot = match instance.health {
                InstanceHealth::Healthy => 0,
                InstanceHealth::Pending => 1,
                InstanceHealth::Unhealthy(_) => 2,
            };
            by_health[slot].1 += 1;
        }
        counts.extend(by_health.into_iter().map(|(health, count)| InstanceCount {
            app: app.clone(),
            env: env.clone(),
            health,
            count,
        }));
    }
    counts.sort_by(|a, b| (&a.app, &a.env, a.health).cmp(&(&b.app, &b.env, b.health)));
    counts
}

/// The whole exposition for these figures.
pub fn render(
    totals: Vec<SeriesTotals>,
    instances: Vec<InstanceCount>,
    held: Vec<(String, String, i64)>,
) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { totals, instances, held }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// One scrape's figures, encoded by prometheus-client's collector interface: the counts already
/// exist in `sprout_lb::Metrics`, so they are written as constants rather than kept twice.
#[derive(Debug)]
struct Scrape {
    totals: Vec<SeriesTotals>,
    instances: Vec<InstanceCount>,
    /// (app, env, requests held now).
    held: Vec<(String, String, i64)>,
}

impl Scrape {
    fn envs(&self) -> impl Iterator<Item = &SeriesTotals> {
        self.totals.iter().filter(|t| t.instance.is_none())
    }

    fn instances_of<'a>(&'a self, env: &'a SeriesTotals) -> impl Iterator<Item = (&'a str, &'a SeriesTotals)> {
        self.totals.iter().filter_map(move |t| {
            let instance = t.instance.as_deref()?;
            (t.app == env.app && t.env == env.env).then_some((instance, t))
        })
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        // Requests per instance and status class. What the environment answered beyond its
        // instances' answers is the load balancer's own (503 with no instance in service).
        let help = "Requests answered, by instance and status class; instance \"none\" counts the load balancer's own answers when no instance was reached.";
        let mut family = encoder.encode_descriptor("sprout_lb_requests", help, None, MetricType::Counter)?;
        for env in self.envs() {
            for (class, name) in CODE_CLASSES.iter().enumerate() {
                let mut by_instances = 0;
                for (instance, series) in self.instances_of(env) {
                    let n = series.totals.status[class];
                    by_instances += n;
                    // 2xx and 5xx always, so rates and error ratios exist from the start.
                    if n > 0 || class == 1 || class == 4 {
                        let labels = [
                            ("app", env.app.as_str()),
                            ("env", &env.env),
                            ("instance", instance),
                            ("code_class", name),
                        ];
                        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
                    }
                }
                let own = env.totals.status[class].saturating_sub(by_instances);
                if own > 0 {
                    let labels =
                        [("app", env.app.as_str()), ("env", &env.env), ("instance", NO_INSTANCE), ("code_class", name)];
                    ConstCounter::new(own).encode(family.encode_family(&labels)?)?;
                }
            }
        }

        let help = "Time from receiving a request to sending its response head, per environment.";
        let mut family =
            encoder.encode_descriptor("sprout_lb_request_duration_seconds", help, None, MetricType::Histogram)?;
        for env in self.envs() {
            let latency = &env.totals.latency;
            let buckets = prometheus_buckets(latency.buckets());
            let labels = [("app", env.app.as_str()), ("env", &env.env)];
            family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                latency.sum().as_secs_f64(),
                latency.count(),
                &buckets,
                None,
            )?;
        }

        let help = "Requests in flight now, per environment.";
        let mut family = encoder.encode_descriptor("sprout_lb_in_flight", help, None, MetricType::Gauge)?;
        for env in self.envs() {
            let labels = [("app", env.app.as_str()), ("env", &env.env)];
            ConstGauge::new(env.in_flight).encode(family.encode_family(&labels)?)?;
        }

        let help = "Requests held now by the load balancer, per environment: waiting for an in-service instance, or for room under the per-instance limit, instead of refused.";
        let mut family = encoder.encode_descriptor("sprout_lb_held_requests", help, None, MetricType::Gauge)?;
        for (app, env, n) in &self.held {
            let labels = [("app", app.as_str()), ("env", env.as_str())];
            ConstGauge::new(*n).encode(family.encode_family(&labels)?)?;
        }

        let help = "Connections to an instance that could not be opened (refused or timed out), including those a retry on another instance then saved.";
        let mut family =
            encoder.encode_descriptor("sprout_lb_upstream_connect_errors", help, None, MetricType::Counter)?;
        for env in self.envs() {
            for (instance, series) in self.instances_of(env) {
                let labels = [("app", env.app.as_str()), ("env", &env.env), ("instance", instance)];
                ConstCounter::new(series.totals.connect_errors).encode(family.encode_family(&labels)?)?;
            }
        }

        let help = "Instances per environment and health: healthy (in service), pending (starting), unhealthy (to be replaced).";
        let mut family = encoder.encode_descriptor("sprout_instances", help, None, MetricType::Gauge)?;
        for count in &self.instances {
            let labels = [("app", count.app.as_str()), ("env", &count.env), ("health", count.health)];
            ConstGauge::new(count.count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Regroups the load balancer's fine buckets (upper bound in µs, count) under the exported
/// bounds. A fine bucket goes under the first exported bound at or above its own upper bound, so
/// a count is never reported faster than it was (at most one fine bucket, 12.5%, slower). The
/// last entry is `+Inf` (prometheus-client's `f64::MAX`).
fn prometheus_buckets(fine: impl Iterator<Item = (u64, u64)>) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = LATENCY_BOUNDS_S.iter().map(|&bound| (bound, 0)).collect();
    out.push((f64::MAX, 0));
    for (upper_micros, count) in fine {
        let upper_s = upper_micros as f64 / 1e6;
        let slot = LATENCY_BOUNDS_S.iter().position(|&bound| upper_s <= bound).unwrap_or(LATENCY_BOUNDS_S.len());
        out[slot].1 += count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn series(instance: Option<&str>, status: [u64; 5], connect_errors: u64, latencies: &[u64]) -> SeriesTotals {
        let totals = sprout_lb::Second {
            requests: status.iter().sum(),
            status,
            connect_errors,
            latency: sprout_lb::Histogram::from_latencies(latencies.iter().map(|&ms| Duration::from_millis(ms))),
            ..Default::default()
        };
        SeriesTotals {
            app: "shop".into(),
            env: "prod".into(),
            instance: instance.map(str::to_owned),
            totals,
            in_flight: 2,
        }
    }

    #[test]
    fn renders_every_family_with_values() {
        let totals =
            vec![series(None, [0, 5, 0, 1, 3], 0, &[1, 1, 1, 3, 200]), series(Some("i-1"), [0, 5, 0, 1, 1], 4, &[])];
        let instances = vec![
            InstanceCount { app: "shop".into(), env: "prod".into(), health: "healthy", count: 1 },
            InstanceCount { app: "shop".into(), env: "prod".into(), health: "unhealthy", count: 0 },
        ];
        let text = render(totals, instances, vec![("shop".into(), "prod".into(), 3)]).unwrap();
        for line in [
            "# TYPE sprout_lb_requests counter",
            r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-1",code_class="2xx"} 5"#,
            r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-1",code_class="4xx"} 1"#,
            r#"sprout_lb_requests_total{app="shop",env="prod",instance="i-1",code_class="5xx"} 1"#,
            // Two 5xx the load balancer answered itself.
            r#"sprout_lb_requests_total{app="shop",env="prod",instance="none",code_class="5xx"} 2"#,
            "# TYPE sprout_lb_request_duration_seconds histogram",
            r#"sprout_lb_request_duration_seconds_count{app="shop",env="prod"} 5"#,
            r#"sprout_lb_request_duration_seconds_bucket{le="0.0025",app="shop",env="prod"} 3"#,
            r#"sprout_lb_request_duration_seconds_bucket{le="0.005",app="shop",env="prod"} 4"#,
            r#"sprout_lb_request_duration_seconds_bucket{le="+Inf",app="shop",env="prod"} 5"#,
            r#"sprout_lb_in_flight{app="shop",env="prod"} 2"#,
            r#"sprout_lb_held_requests{app="shop",env="prod"} 3"#,
            r#"sprout_lb_upstream_connect_errors_total{app="shop",env="prod",instance="i-1"} 4"#,
            r#"sprout_instances{app="shop",env="prod",health="healthy"} 1"#,
            r#"sprout_instances{app="shop",env="prod",health="unhealthy"} 0"#,
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains(r#"instance="i-1",code_class="1xx""#), "zero 1xx is left out\n{text}");
    }

    #[test]
    fn buckets_never_report_faster_than_measured() {
        // 400 µs fits under 0.5 ms; a bucket ending at 1088 µs goes under 2.5 ms, not 1 ms.
        let out = prometheus_buckets([(400, 2), (1088, 1), (u64::from(u32::MAX), 1)].into_iter());
        assert_eq!(out[0], (0.0005, 2));
        assert_eq!(out[1], (0.001, 0));
        assert_eq!(out[2], (0.0025, 1));
        assert_eq!(out.last().unwrap(), &(f64::MAX, 1));
        assert_eq!(out.iter().map(|(_, n)| n).sum::<u64>(), 4);
    }
}
