//! `GET /api/v1/apps/{app}/environments/{env}/health`: enhanced health as `eb health` shows it.
//! Per instance and for the environment: status, colour, causes, requests per second, answers by
//! status class and latency percentiles over the last 10 s, and each container's CPU and memory.
//!
//! It reads the controller's last snapshot, the load balancer's metrics and the engine's stats;
//! it judges nothing itself (see `sprout_plan::enhanced`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use sprout_engine::ContainerUsage;

use super::error::ApiError;
use crate::context::Ctx;
use crate::routing::EnvKey;
use sprout_plan::enhanced::HealthStatus;
use sprout_plan::enhanced::TRAFFIC_WINDOW_S;
use sprout_plan::snapshot::Colour;

/// The percentiles shown, as (label, quantile), slowest first like `eb health`.
const PERCENTILES: [(&str, f64); 7] =
    [("p99.9", 0.999), ("p99", 0.99), ("p95", 0.95), ("p90", 0.90), ("p75", 0.75), ("p50", 0.50), ("p10", 0.10)];

#[derive(Debug, Serialize)]
pub struct Traffic {
    pub requests: u64,
    pub requests_per_s: f64,
    #[serde(rename = "2xx")]
    pub status_2xx: u64,
    #[serde(rename = "3xx")]
    pub status_3xx: u64,
    #[serde(rename = "4xx")]
    pub status_4xx: u64,
    #[serde(rename = "5xx")]
    pub status_5xx: u64,
    pub connect_errors: u64,
    pub in_flight: i64,
    /// Percentile label to milliseconds; absent when there was no request.
    pub latency_ms: BTreeMap<&'static str, f64>,
}

impl Traffic {
    fn from(summary: &sprout_lb::Second, in_flight: i64) -> Self {
        let latency_ms = PERCENTILES
            .iter()
            .filter_map(|(label, q)| Some((*label, summary.latency.quantile(*q)?.as_secs_f64() * 1000.0)))
            .collect();
        Traffic {
            requests: summary.requests,
            requests_per_s: summary.requests as f64 / f64::from(TRAFFIC_WINDOW_S),
            status_2xx: summary.status[1],
            status_3xx: summary.status[2],
            status_4xx: summary.status[3],
            status_5xx: summary.status[4],
            connect_errors: summary.connect_errors,
            in_flight,
            latency_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ContainerHealth {
    pub name: String,
    pub state: String,
    /// None when the engine could not tell (stopped container, engine without stats).
    pub usage: Option<ContainerUsage>,
}

#[derive(Debug, Serialize)]
pub struct InstanceHealthView {
    pub id: String,
    pub version: String,
    pub status: HealthStatus,
    pub colour: Colour,
    pub causes: Vec<String>,
    pub in_service: bool,
    pub launched_at: i64,
    pub traffic: Traffic,
    pub containers: Vec<ContainerHealth>,
}

#[derive(Debug, Serialize)]
pub struct EnvHealthView {
    pub app: String,
    pub env: String,
    pub status: HealthStatus,
    pub colour: Colour,
    pub causes: Vec<String>,
    /// The span the traffic figures cover.
    pub window_s: u32,
    pub observed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub traffic: Traffic,
    pub instances: Vec<InstanceHealthView>,
}

pub async fn show(
    State(ctx): State<Ctx>,
    Path((app, env)): Path<(String, String)>,
) -> Result<Json<EnvHealthView>, ApiError> {
    ctx.store.get_environment(&app, &env).await?;
    let snapshot = ctx.snapshots.lock().unwrap_or_else(|p| p.into_inner()).get(&EnvKey::new(&app, &env)).cloned();
    let metrics = ctx.lb.metrics();
    let summary = metrics.summary(&app, &env, TRAFFIC_WINDOW_S);
    let traffic = Traffic::from(&summary, metrics.in_flight(&app, &env));
    let Some(snapshot) = snapshot else {
        return Ok(Json(EnvHealthView {
            app,
            env,
            status: HealthStatus::Unknown,
            colour: Colour::Grey,
            causes: vec!["not observed yet: the server started moments ago".into()],
            window_s: TRAFFIC_WINDOW_S,
            observed_at: None,
            traffic,
            instances: Vec::new(),
        }));
    };

    // Docker takes about a second per stats sample: ask for every container at once.
    let stats = snapshot.instances.iter().flat_map(|inst| {
        inst.containers.iter().map(|c| {
            let name = sprout_model::names::container_name(&app, &env, &inst.id, &c.name);
            let engine = ctx.engine.clone();
            let running = c.state == "running";
            async move { if running { engine.container_stats(&name).await.ok() } else { None } }
        })
    });
    let mut usages = futures_util::future::join_all(stats).await.into_iter();

    let instances = snapshot
        .instances
        .iter()
        .map(|inst| {
            let summary = metrics.instance_summary(&app, &env, &inst.id, TRAFFIC_WINDOW_S);
            InstanceHealthView {
                id: inst.id.clone(),
                version: inst.version.clone(),
                status: inst.status,
                colour: inst.status.colour(),
                causes: inst.causes.clone(),
                in_service: inst.in_service,
                launched_at: inst.launched_at,
                traffic: Traffic::from(&summary, metrics.instance_in_flight(&app, &env, &inst.id)),
                containers: inst
                    .containers
                    .iter()
                    .map(|c| ContainerHealth {
                        name: c.name.clone(),
                        state: c.state.clone(),
                        usage: usages.next().flatten(),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Json(EnvHealthView {
        app,
        env,
        status: snapshot.status,
        colour: snapshot.colour,
        causes: snapshot.causes,
        window_s: TRAFFIC_WINDOW_S,
        observed_at: Some(snapshot.observed_at),
        traffic,
        instances,
    }))
}
