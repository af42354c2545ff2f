//! `GET /api/v1/routing`: the routing table the server's load balancer serves now, so that
//! `sprout proxy` (the load balancer as its own process) can serve the same one.
//!
//! Read-only and token-protected like the rest of `/api/v1`: it names every instance's
//! address. This module converts between the wire form and `sprout_lb::RoutingTable`; it does
//! not decide what is in service (the controllers do).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sprout_lb::hold::HoldConfig;
use sprout_lb::{HttpsPolicy, Route, RoutingTable, Upstream};

use super::error::ApiError;
use crate::context::Ctx;

/// The routing table on the wire: routes sorted by host, so equal tables compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingView {
    pub routes: Vec<RouteView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    /// Lowercase, without port.
    pub host: String,
    pub app: String,
    pub env: String,
    pub upstreams: Vec<UpstreamView>,
    /// Requests held while the environment has no in-service instance; absent: the load
    /// balancer's default. (Optional on the wire, so an older server's table still reads.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldView>,
    /// The environment's balancing (`least_outstanding_requests`, `round_robin`); absent: the
    /// load balancer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<sprout_model::options::Algorithm>,
    /// Plain HTTP answered with a 308 to HTTPS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub https_redirect: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<u64>,
    /// The environment's client idle timeout in milliseconds; absent: the listener's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// 5xx codes the environment's health does not count; absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_codes: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    pub max_requests: usize,
    pub max_wait_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamView {
    pub instance: String,
    pub addr: SocketAddr,
}

impl RoutingView {
    pub fn from_table(table: &RoutingTable) -> Self {
        let mut routes: Vec<RouteView> = table
            .routes
            .iter()
            .map(|(host, route)| RouteView {
                host: host.clone(),
                app: route.app.clone(),
                env: route.env.clone(),
                upstreams: route
                    .upstreams
                    .iter()
                    .map(|u| UpstreamView { instance: u.instance.clone(), addr: u.addr })
                    .collect(),
                hold: route.hold.map(|h| HoldView {
                    max_requests: h.max_requests,
                    max_wait_ms: h.max_wait.as_millis() as u64,
                    instance_limit: h.instance_limit,
                }),
                balance: route.balance.map(|b| match b {
                    sprout_lb::Balance::LeastOutstanding => sprout_model::options::Algorithm::LeastOutstandingRequests,
                    sprout_lb::Balance::RoundRobin => sprout_model::options::Algorithm::RoundRobin,
                }),
                https_redirect: route.https.redirect,
                hsts_max_age: route.https.hsts_max_age,
                idle_timeout_ms: route.idle_timeout.map(|t| t.as_millis() as u64),
                ignore_codes: route.ignore_5xx.codes(),
            })
            .collect();
        routes.sort_by(|a, b| a.host.cmp(&b.host));
        Self { routes }
    }

    pub fn to_table(&self) -> RoutingTable {
        let mut table = RoutingTable::empty();
        for route in &self.routes {
            let upstreams =
                route.upstreams.iter().map(|u| Upstream { instance: u.instance.clone(), addr: u.addr }).collect();
            let hold = route.hold.map(|h| HoldConfig {
                max_requests: h.max_requests,
                max_wait: Duration::from_millis(h.max_wait_ms),
                instance_limit: h.instance_limit,
            });
            let balance = route.balance.map(crate::routing::balance_of);
            let https = HttpsPolicy { redirect: route.https_redirect, hsts_max_age: route.hsts_max_age };
            table.insert(
                &route.host,
                Route {
                    app: route.app.clone(),
                    env: route.env.clone(),
                    upstreams,
                    hold,
                    balance,
                    https,
                    idle_timeout: route.idle_timeout_ms.map(Duration::from_millis),
                    ignore_5xx: sprout_lb::Ignored5xx::from_codes(&route.ignore_codes),
                },
            );
        }
        table
    }
}

/// The table, once it is whole: right after a restart the environment controllers have not yet
/// judged their instances, and the table is missing them. `sprout proxy` would publish that
/// and refuse traffic to healthy instances, so until every environment has been judged once
/// this answers 503 and the proxy keeps serving the table it had.
pub async fn show(State(ctx): State<Ctx>) -> Result<Json<RoutingView>, ApiError> {
    let envs = ctx.store.list_environments(None).await?;
    let judged = ctx.snapshots.lock().unwrap().keys().cloned().collect::<std::collections::HashSet<_>>();
    let waiting: Vec<String> =
        envs.iter().filter(|e| !judged.contains(&e.id())).map(|e| format!("{}/{}", e.app, e.name)).collect();
    if !waiting.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "the routing table is not complete yet: {} not yet judged since the server started ({}); retry in a second",
            waiting.len(),
            waiting.join(", ")
        )));
    }
    Ok(Json(RoutingView::from_table(&ctx.lb.table())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut table = RoutingTable::empty();
        let upstreams = vec![
            Upstream { instance: "i-2".into(), addr: "127.0.0.1:40002".parse().unwrap() },
            Upstream { instance: "i-1".into(), addr: "[::1]:40001".parse().unwrap() },
        ];
        let hold = Some(HoldConfig { max_requests: 7, max_wait: Duration::from_millis(1500), instance_limit: Some(3) });
        let https = HttpsPolicy { redirect: true, hsts_max_age: Some(300) };
        table.insert(
            "Web.Shop.localhost",
            Route {
                app: "shop".into(),
                env: "web".into(),
                upstreams,
                hold,
                balance: Some(sprout_lb::Balance::RoundRobin),
                https,
                idle_timeout: Some(Duration::from_secs(75)),
                ignore_5xx: sprout_lb::Ignored5xx::from_codes(&[503]),
            },
        );
        table.insert(
            "a.example",
            Route {
                app: "a".into(),
                env: "prod".into(),
                upstreams: vec![],
                hold: None,
                balance: None,
                https: Default::default(),
                idle_timeout: None,
                ignore_5xx: Default::default(),
            },
        );
        let view = RoutingView::from_table(&table);
        assert_eq!(view.routes[0].host, "a.example", "sorted by host");
        let json = serde_json::to_string(&view).unwrap();
        let back: RoutingView = serde_json::from_str(&json).unwrap();
        assert_eq!(back, view);
        let rebuilt = back.to_table();
        assert_eq!(rebuilt.routes.len(), 2);
        let route = rebuilt.lookup("web.shop.localhost").unwrap();
        assert_eq!(route.upstreams[1].instance, "i-1", "instance order kept");
        assert_eq!(route.upstreams[1].addr, "[::1]:40001".parse().unwrap());
        assert_eq!(route.hold, hold, "queue bounds travel too");
        assert_eq!(route.https, https, "and the HTTPS options");
        assert_eq!(rebuilt.lookup("a.example").unwrap().hold, None);
    }
}
