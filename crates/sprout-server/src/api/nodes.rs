//! `GET /nodes`: the machines of the swarm instances run on (`sprout nodes`), with their state,
//! availability, Sprout's instances on each and the memory those reserve. Read scope; a token
//! limited to an application cannot call it (it shows every application's instances).

use axum::Json;
use axum::extract::State;
use sprout_engine::{EngineError, NodeStatus};

use super::error::{ApiError, bad};
use crate::context::Ctx;

pub async fn list(State(ctx): State<Ctx>) -> Result<Json<Vec<NodeStatus>>, ApiError> {
    match ctx.engine.nodes().await {
        Ok(nodes) => Ok(Json(nodes)),
        Err(EngineError::Permanent { operation: "nodes", message, .. }) => Err(bad(
            message,
            Some("start the server with `sprout server --engine swarm` on a swarm manager".to_string()),
        )),
        Err(e) => Err(e.into()),
    }
}
