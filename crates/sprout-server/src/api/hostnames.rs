//! Host names environments answer to, as API requests must respect them: a new environment may
//! not take a name another environment answers to since a swap.

use super::error::ApiError;
use crate::context::Ctx;

/// Refuse a new environment whose own host name another environment answers after a swap.
pub async fn check_host_free(ctx: &Ctx, app: &str, name: &str) -> Result<(), ApiError> {
    for e in ctx.store.list_environments(Some(app)).await? {
        if e.options.routing.prefix(&e.name) == name && e.name != name {
            return Err(ApiError::Conflict(format!(
                "environment {} answers to {name}.{app} since a swap; swap it back (`sprout swap {} {name}`) or pick another name",
                e.name, e.name
            )));
        }
    }
    Ok(())
}
