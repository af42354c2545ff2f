//! Launching an instance: network, host directories, then each container in start order, each
//! started only once its dependsOn conditions hold.
//!
//! A launch that fails part-way removes what it created, so no half instance is left behind
//! (and if the server dies mid-launch, the next tick finds the instance incomplete, judges it
//! unhealthy and retires it).

use std::time::Duration;

use sprout_engine::{ContainerState, DockerHealth, Engine, EngineError};
use sprout_model::DependencyCondition;

use super::retire::remove_instance_objects;
use super::spec::InstancePlan;

/// How long a container may take to reach the condition another one waits for.
pub const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot create directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("container {waiting} waited for {dependency} to {condition}, but {what}")]
    Dependency { waiting: String, dependency: String, condition: &'static str, what: String },
}

/// Create and start every container of the instance. On error, everything created is removed.
pub async fn launch_instance(engine: &dyn Engine, plan: &InstancePlan) -> Result<(), LaunchError> {
    let result = launch_inner(engine, plan).await;
    if result.is_err() {
        let names: Vec<String> = plan.containers.iter().map(|c| c.spec.name.clone()).collect();
        // Best effort: the reconciler removes leftovers by label if this fails too.
        let _ = remove_instance_objects(engine, &names, &plan.network.name, Duration::from_secs(1)).await;
    }
    result
}

async fn launch_inner(engine: &dyn Engine, plan: &InstancePlan) -> Result<(), LaunchError> {
    for dir in &plan.dirs {
        std::fs::create_dir_all(dir).map_err(|e| LaunchError::Directory {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        // Containers often run as non-root users; log and scratch directories must be
        // writable by them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
        }
    }
    match engine.create_network(&plan.network).await {
        Ok(()) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    // Wave by wave, every container of a wave concurrently: an instance of four containers
    // starts in two rounds of Docker calls instead of four, which is most of scale-out time.
    for wave in plan.waves() {
        let jobs = wave.into_iter().map(|c| async move {
            engine.create_container(&c.spec).await?;
            for (dep, cond) in &c.wait_for {
                let dep_name = plan
                    .containers
                    .iter()
                    .find(|p| &p.name == dep)
                    .map(|p| p.spec.name.clone())
                    .unwrap_or_else(|| dep.clone());
                wait_condition(engine, &c.name, dep, &dep_name, *cond).await?;
            }
            engine.start_container(&c.spec.name).await?;
            Ok::<(), LaunchError>(())
        });
        for r in futures_util::future::join_all(jobs).await {
            r?;
        }
    }
    Ok(())
}

fn condition_word(c: DependencyCondition) -> &'static str {
    match c {
        DependencyCondition::Start => "start",
        DependencyCondition::Complete => "complete",
        DependencyCondition::Success => "exit successfully",
        DependencyCondition::Healthy => "become healthy",
    }
}

async fn wait_condition(
    engine: &dyn Engine,
    waiting: &str,
    dep: &str,
    dep_container: &str,
    cond: DependencyCondition,
) -> Result<(), LaunchError> {
    let fail = |what: String| LaunchError::Dependency {
        waiting: waiting.to_string(),
        dependency: dep.to_string(),
        condition: condition_word(cond),
        what,
    };
    let deadline = tokio::time::Instant::now() + DEPENDENCY_TIMEOUT;
    loop {
        let st = engine.inspect_container(dep_container).await?;
        let exited = st.state == ContainerState::Exited || st.state == ContainerState::Dead;
        let done = match cond {
            DependencyCondition::Start => st.state != ContainerState::Created,
            DependencyCondition::Complete => exited,
            DependencyCondition::Success => {
                if exited && st.exit_code != Some(0) {
                    return Err(fail(format!("it exited with code {}", st.exit_code.unwrap_or(-1))));
                }
                exited
            }
            DependencyCondition::Healthy => {
                if exited {
                    return Err(fail("it exited".into()));
                }
                if st.health.is_none() && st.state == ContainerState::Running {
                    return Err(fail("it has no healthCheck".into()));
                }
                st.health == Some(DockerHealth::Healthy)
            }
        };
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(format!("it did not within {}s", DEPENDENCY_TIMEOUT.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
