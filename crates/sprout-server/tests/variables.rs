//! Environment properties on FakeEngine: changing them replaces every instance, and the new
//! containers carry the new values.

mod common;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use common::*;
use sprout_server::api::variables::{VariablesChange, change};

#[tokio::test(start_paused = true)]
async fn changing_a_property_replaces_the_instances_with_containers_that_carry_it() {
    let h = harness().await;
    add_version(&h, "v1", "app:1").await;
    create_env(&h, "v1", 2).await;
    until("Ready", || ready(&h, "v1", 2)).await;
    let before = instances(&h.fake, None);

    let req = VariablesChange {
        set: BTreeMap::from([("FEATURE".to_string(), "on".to_string())]),
        unset: vec!["STAGE".into()],
    };
    let Json(view) = change(State(h.ctx.clone()), Path(("shop".to_string(), "prod".to_string())), Json(req))
        .await
        .expect("accepted");
    assert_eq!(view.status, sprout_store::EnvStatus::Updating);
    until("every instance replaced and Ready", || async {
        let now = instances(&h.fake, None);
        now.is_disjoint(&before) && ready(&h, "v1", 2).await
    })
    .await;
    for id in instances(&h.fake, None) {
        let spec = h.fake.container_spec(&format!("sprout-shop-prod-{id}-app")).unwrap();
        assert!(spec.env.contains(&("FEATURE".to_string(), "on".to_string())), "{:?}", spec.env);
        assert!(!spec.env.iter().any(|(k, _)| k == "STAGE"), "removed property is gone: {:?}", spec.env);
    }

    let bad = VariablesChange { set: BTreeMap::from([("1BAD".to_string(), "x".to_string())]), unset: vec![] };
    let err = change(State(h.ctx.clone()), Path(("shop".to_string(), "prod".to_string())), Json(bad))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not a valid variable name"), "{err}");
}
