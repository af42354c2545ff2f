//! Retiring an instance: stop its containers (SIGTERM, then SIGKILL after the stop timeout),
//! remove them and its network. Logs stay in the data directory after the instance is gone:
//! the `awseb-logs-*` directories are never removed, and each container's engine log is saved
//! beside them before the container is removed.

use std::time::Duration;

use sprout_engine::{Engine, EngineError};

use crate::network_pool::NetworkPool;

/// Stop and remove the given containers (dependents first, so reverse start order) and the
/// network, whose subnet goes back to `pool`. Every step is tried even if an earlier one failed;
/// the first error is returned.
pub async fn remove_instance_objects(
    engine: &dyn Engine,
    pool: &NetworkPool,
    containers_in_start_order: &[String],
    network: &str,
    stop_timeout: Duration,
) -> Result<(), EngineError> {
    remove_objects(engine, pool, containers_in_start_order, network, stop_timeout, None).await
}

/// `remove_instance_objects`, saving each container's logs between its stop and its removal
/// when `save_logs_to` is given, so its last words (during SIGTERM) are kept too.
async fn remove_objects(
    engine: &dyn Engine,
    pool: &NetworkPool,
    containers_in_start_order: &[String],
    network: &str,
    stop_timeout: Duration,
    save_logs_to: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    let mut first_err = None;
    for name in containers_in_start_order.iter().rev() {
        match engine.stop_container(name, stop_timeout).await {
            Ok(()) | Err(EngineError::NotFound { .. }) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        if let Some(dir) = save_logs_to {
            // Best effort: a log that cannot be saved must not keep an instance from retiring.
            save_engine_log(engine, name, network, dir).await;
        }
        if let Err(e) = engine.remove_container(name).await {
            first_err.get_or_insert(e);
        }
    }
    match engine.remove_network(network).await {
        Ok(()) => pool.release(network),
        Err(e) => {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Lines of each container's engine log kept when its instance is retired.
pub const SAVED_LOG_LINES: usize = 1000;

/// Retire an instance known by its containers' engine names and its network. With
/// `save_logs_to` (the instance's directory), each container's last `SAVED_LOG_LINES` lines of
/// engine logs are written to `docker-logs/<container>.log` under it once the container has
/// stopped, so `sprout logs --all` can still show them after the containers are gone.
pub async fn retire_instance(
    engine: &dyn Engine,
    pool: &NetworkPool,
    containers: &[String],
    network: &str,
    stop_timeout: Duration,
    volume_dir: Option<&std::path::Path>,
    save_logs_to: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    let r = remove_objects(engine, pool, containers, network, stop_timeout, save_logs_to).await;
    if r.is_ok()
        && let Some(dir) = volume_dir
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    r
}

/// Saves what the engine still has of one container's logs as `docker-logs/<container>.log`
/// under the instance directory. A retry of a failed retire overwrites with the newer tail.
async fn save_engine_log(engine: &dyn Engine, name: &str, network: &str, instance_dir: &std::path::Path) {
    let dir = instance_dir.join(crate::logs::DOCKER_LOGS_DIR);
    let short = name.strip_prefix(&format!("{network}-")).unwrap_or(name).to_string();
    let text = match engine.container_logs(name, SAVED_LOG_LINES).await {
        Ok(t) => t,
        Err(EngineError::NotFound { .. }) => return,
        Err(e) => {
            tracing::warn!("could not read logs of {name} before removing it: {e}");
            return;
        }
    };
    let path = dir.join(format!("{short}.log"));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text)) {
        tracing::warn!("could not save logs of {name} to {}: {e}", path.display());
    }
}
