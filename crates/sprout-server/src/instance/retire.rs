//! Retiring an instance: stop its containers (SIGTERM, then SIGKILL after the stop timeout),
//! remove them and its network. Logs stay in the data directory after the instance is gone.

use std::time::Duration;

use sprout_engine::{Engine, EngineError};

/// Stop and remove the given containers (dependents first, so reverse start order) and the
/// network. Every step is tried even if an earlier one failed; the first error is returned.
pub async fn remove_instance_objects(
    engine: &dyn Engine,
    containers_in_start_order: &[String],
    network: &str,
    stop_timeout: Duration,
) -> Result<(), EngineError> {
    let mut first_err = None;
    for name in containers_in_start_order.iter().rev() {
        match engine.stop_container(name, stop_timeout).await {
            Ok(()) | Err(EngineError::NotFound { .. }) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = engine.remove_container(name).await {
            first_err.get_or_insert(e);
        }
    }
    if let Err(e) = engine.remove_network(network).await {
        first_err.get_or_insert(e);
    }
    match first_err {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Retire an instance known by its containers' engine names and its network.
pub async fn retire_instance(
    engine: &dyn Engine,
    containers: &[String],
    network: &str,
    stop_timeout: Duration,
    volume_dir: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    let r = remove_instance_objects(engine, containers, network, stop_timeout).await;
    if r.is_ok()
        && let Some(dir) = volume_dir
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}
