//! What each path answers: the ad server's small API.
//!
//! `GET /` (service info), `GET /ad?slot=` (pick an ad, count an impression), `GET /click?id=`
//! (count a click, redirect to the landing page), `GET /stats`, `GET /health`. Pure apart from
//! the counters, so the tests call it without a socket.

use serde_json::json;

use crate::catalogue::Catalogue;
use crate::http::{Request, Response};
use crate::stats::Stats;

/// Everything a request handler reads.
pub struct State {
    pub catalogue: Catalogue,
    pub stats: Stats,
    /// The container's hostname, returned in `X-Instance` so a load balancer's spread is visible.
    pub instance: String,
}

pub fn route(state: &State, req: &Request) -> Response {
    state.stats.request();
    if req.method != "GET" && req.method != "HEAD" {
        return error(405, "only GET and HEAD are served").with_header("Allow", "GET, HEAD");
    }
    match req.path.as_str() {
        "/" => index(state),
        "/ad" => ad(state, req),
        "/click" => click(state, req),
        "/stats" => Response::json(200, &state.stats.snapshot(&state.instance)),
        "/health" => Response::json(200, &json!({"status": "ok"})),
        _ => error(404, "no such path"),
    }
}

fn index(state: &State) -> Response {
    Response::json(
        200,
        &json!({
            "service": "adserver",
            "instance": state.instance,
            "slots": state.catalogue.slot_names().collect::<Vec<_>>(),
            "endpoints": ["/ad?slot=<slot>", "/click?id=<ad id>", "/stats", "/health"],
        }),
    )
}

fn ad(state: &State, req: &Request) -> Response {
    let Some(slot) = req.query_param("slot") else {
        return error(400, "missing ?slot=");
    };
    let Some(ad) = state.catalogue.pick(slot) else {
        return error(404, &format!("unknown slot `{slot}`"));
    };
    state.stats.impression(slot);
    Response::json(
        200,
        &json!({
            "id": ad.id,
            "slot": slot,
            "advertiser": ad.advertiser,
            "title": ad.title,
            "image": ad.image,
            "click_url": format!("/click?id={}", ad.id),
            "instance": state.instance,
        }),
    )
    // An impression must be counted each time, never answered from a cache.
    .with_header("Cache-Control", "no-store")
}

fn click(state: &State, req: &Request) -> Response {
    let Some(id) = req.query_param("id") else {
        return error(400, "missing ?id=");
    };
    let Some((slot, ad)) = state.catalogue.find(id) else {
        return error(404, &format!("unknown ad `{id}`"));
    };
    state.stats.click(slot);
    Response::json(302, &json!({"id": ad.id, "location": ad.landing}))
        .with_header("Location", &ad.landing)
        .with_header("Cache-Control", "no-store")
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"error": message}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;

    fn state() -> State {
        let catalogue = Catalogue::parse(include_str!("../../../adserver/catalogue.json")).unwrap();
        State { catalogue, stats: Stats::new(), instance: "i-test".into() }
    }

    fn get(state: &State, target: &str) -> (u16, serde_json::Value, Response) {
        let r = route(state, &parse_head(&format!("GET {target} HTTP/1.1")).unwrap());
        (r.status, serde_json::from_slice(&r.body).unwrap(), r)
    }

    #[test]
    fn index_lists_slots_and_instance() {
        let (status, body, _) = get(&state(), "/");
        assert_eq!(status, 200);
        assert_eq!(body["instance"], "i-test");
        assert_eq!(body["slots"], json!(["banner", "interstitial", "native"]));
    }

    #[test]
    fn ad_then_click_are_counted() {
        let s = state();
        let (status, ad, _) = get(&s, "/ad?slot=banner");
        assert_eq!(status, 200);
        assert_eq!(ad["id"], "bn-kayak");
        let (status, _, r) = get(&s, ad["click_url"].as_str().unwrap());
        assert_eq!(status, 302);
        assert!(r.headers.contains(&("Location".into(), "https://paddle.example.com/?utm_source=sprout".into())));
        let (_, stats, _) = get(&s, "/stats");
        assert_eq!(stats["impressions"], 1);
        assert_eq!(stats["clicks"], 1);
        assert_eq!(stats["requests"], 3);
        assert_eq!(stats["impressions_by_slot"]["banner"], 1);
    }

    #[test]
    fn errors() {
        let s = state();
        assert_eq!(get(&s, "/ad").0, 400);
        assert_eq!(get(&s, "/ad?slot=nope").0, 404);
        assert_eq!(get(&s, "/click?id=nope").0, 404);
        assert_eq!(get(&s, "/nope").0, 404);
        let r = route(&s, &parse_head("DELETE / HTTP/1.1").unwrap());
        assert_eq!(r.status, 405);
        assert_eq!(get(&s, "/stats").1["impressions"], 0, "failed requests count no impression");
    }
}
