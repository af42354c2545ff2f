//! Clone and swap on FakeEngine: a clone copies version, options, variables and count; a swap
//! moves both host names in one routing-table publish.

mod common;

use axum::Json;
use axum::extract::{Path, State};
use common::*;
use sprout_server::api::clone::{CloneRequest, clone};
use sprout_server::api::swap::{SwapRequest, swap};

fn route_env(h: &Harness, host: &str) -> Option<String> {
    h.ctx.lb.table().lookup(host).map(|r| r.env.clone())
}

#[tokio::test(start_paused = true)]
async fn clone_copies_the_environment_and_swap_exchanges_host_names() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("prod Ready", || ready(&h, "v1", 2)).await;

    let (_, Json(view)) = clone(
        State(h.ctx.clone()),
        Path(("shop".to_string(), "prod".to_string())),
        Json(CloneRequest { name: "green".into(), timeout_s: None }),
    )
    .await
    .expect("clone accepted");
    assert_eq!(view.version, "v1");
    assert_eq!(view.desired_instances, 2);
    let green = h.ctx.store.get_environment("shop", "green").await.unwrap();
    assert_eq!(green.variables.get("STAGE").map(String::as_str), Some("prod"), "variables copied");
    until("green in service", || async {
        h.ctx.lb.table().lookup("green.shop.localhost").is_some_and(|r| r.upstreams.len() == 2)
    })
    .await;
    assert_eq!(route_env(&h, "prod.shop.localhost").as_deref(), Some("prod"));

    // Swap: each host name now reaches the other environment, in one publish.
    let Json(swapped) = swap(
        State(h.ctx.clone()),
        Path("shop".to_string()),
        Json(SwapRequest { source: "green".into(), destination: "prod".into() }),
    )
    .await
    .expect("swap accepted");
    assert!(swapped.source.url.contains("prod.shop.localhost"), "{}", swapped.source.url);
    assert_eq!(route_env(&h, "prod.shop.localhost").as_deref(), Some("green"));
    assert_eq!(route_env(&h, "green.shop.localhost").as_deref(), Some("prod"));
    // Controllers keep the swap (it is in the store), tick after tick.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(route_env(&h, "prod.shop.localhost").as_deref(), Some("green"));
    let prod = h.ctx.store.get_environment("shop", "prod").await.unwrap();
    assert_eq!(prod.options.routing.cname.as_deref(), Some("green"));

    // Swapping back restores each environment's own name.
    let Json(back) = swap(
        State(h.ctx.clone()),
        Path("shop".to_string()),
        Json(SwapRequest { source: "prod".into(), destination: "green".into() }),
    )
    .await
    .unwrap();
    assert!(back.source.url.contains("prod.shop.localhost"), "{}", back.source.url);
    assert_eq!(route_env(&h, "prod.shop.localhost").as_deref(), Some("prod"));
    assert_eq!(h.ctx.store.get_environment("shop", "prod").await.unwrap().options.routing.cname, None);

    // A clone may not take a name another environment answers to, nor an existing one.
    let err = clone(
        State(h.ctx.clone()),
        Path(("shop".to_string(), "prod".to_string())),
        Json(CloneRequest { name: "green".into(), timeout_s: None }),
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = swap(
        State(h.ctx.clone()),
        Path("shop".to_string()),
        Json(SwapRequest { source: "prod".into(), destination: "prod".into() }),
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("two different"), "{err}");
}
