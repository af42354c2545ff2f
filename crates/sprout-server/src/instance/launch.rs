//! Launching an instance: network, host directories, every container created, then started in
//! start order (waves), each only once its dependsOn conditions hold.
//!
//! A launch that fails part-way removes what it created, so no half instance is left behind
//! (and if the server dies mid-launch, the next tick finds the instance incomplete, judges it
//! unhealthy and retires it).

use std::time::Duration;

use sprout_engine::{ContainerState, DockerHealth, Engine, EngineError};
use sprout_model::DependencyCondition;

use super::retire::remove_instance_objects;
use super::spec::InstancePlan;
use crate::network_pool::{NetworkError, NetworkPool};

/// How long a container may take to reach the condition another one waits for.
pub const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot create directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The instance network could not be created: the pool is full, or the engine refused.
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("container {waiting} waited for {dependency} to {condition}, but {what}")]
    Dependency { waiting: String, dependency: String, condition: &'static str, what: String },
}

/// Create and start every container of the instance, on a network with a subnet of `pool`. On
/// error, everything created is removed.
pub async fn launch_instance(engine: &dyn Engine, pool: &NetworkPool, plan: &InstancePlan) -> Result<(), LaunchError> {
    launch_instance_as(engine, pool, plan, true).await
}

/// `launch_instance`, or with `start` false everything created and nothing started: a stopped
/// warm instance, which `start_instance` starts later.
pub async fn launch_instance_as(
    engine: &dyn Engine,
    pool: &NetworkPool,
    plan: &InstancePlan,
    start: bool,
) -> Result<(), LaunchError> {
    let result = launch_inner(engine, pool, plan, start).await;
    if result.is_err() {
        let names: Vec<String> = plan.containers.iter().map(|c| c.spec.name.clone()).collect();
        // Best effort: the reconciler removes leftovers by label if this fails too.
        let _ = remove_instance_objects(engine, pool, &names, &plan.network.name, Duration::from_secs(1)).await;
    }
    result
}

/// Copies a file or a directory tree of the bundle for one instance. Links are not copied
/// (a bundle is checked not to point outside itself, and a copy must not either).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)?;
    }
    Ok(())
}

async fn launch_inner(
    engine: &dyn Engine,
    pool: &NetworkPool,
    plan: &InstancePlan,
    start: bool,
) -> Result<(), LaunchError> {
    // Where a launch's time goes, for `scripts/bench density` (SPROUT_LOG=...instance::launch=debug).
    let began = tokio::time::Instant::now();
    for dir in &plan.dirs {
        std::fs::create_dir_all(dir)
            .map_err(|e| LaunchError::Directory { path: dir.display().to_string(), message: e.to_string() })?;
        // Containers often run as non-root users; log and scratch directories must be
        // writable by them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
        }
    }
    for copy in &plan.copies {
        copy_tree(&copy.from, &copy.to)
            .map_err(|e| LaunchError::Directory { path: copy.to.display().to_string(), message: e.to_string() })?;
    }
    let prepared = began.elapsed();
    let subnet = pool.create_network(engine, &plan.network, plan.containers.len()).await?;
    let networked = began.elapsed();
    create_all(engine, plan).await?;
    let created = began.elapsed();
    if start {
        start_instance(engine, plan).await?;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    tracing::debug!(
        network = %plan.network.name,
        %subnet,
        prepare_ms = ms(prepared),
        network_ms = ms(networked - prepared),
        create_ms = ms(created - networked),
        start_ms = ms(began.elapsed() - created),
        started = start,
        "instance launched"
    );
    Ok(())
}

/// Starts every container of a created instance, in start order, each once its dependsOn
/// conditions hold. Wave by wave, every container of a wave concurrently: an instance of four
/// containers starts in two rounds of Docker calls instead of four, which is most of
/// scale-out time.
pub async fn start_instance(engine: &dyn Engine, plan: &InstancePlan) -> Result<(), LaunchError> {
    for wave in plan.waves() {
        let jobs = wave.into_iter().map(|c| async move {
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

/// Creates every container before any starts, in as few rounds as volumesFrom allows (links
/// are network aliases and dependsOn gates only the start). Creation then overlaps nothing it
/// must wait for, and the start waves that follow only start.
async fn create_all(engine: &dyn Engine, plan: &InstancePlan) -> Result<(), LaunchError> {
    for wave in plan.create_waves() {
        for r in futures_util::future::join_all(wave.iter().map(|c| engine.create_container(&c.spec))).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::spec::{InstanceIdentity, plan_instance};
    use sprout_engine::FakeEngine;

    const DEF: &str = r#"{
      "AWSEBDockerrunVersion": "2",
      "containerDefinitions": [
        {"name": "web", "image": "web:1", "memory": 64, "links": ["app"],
         "volumesFrom": [{"sourceContainer": "data"}],
         "portMappings": [{"hostPort": 80, "containerPort": 80}]},
        {"name": "app", "image": "app:1", "memory": 64},
        {"name": "data", "image": "data:1", "memory": 8, "essential": false}
      ]
    }"#;

    #[tokio::test]
    async fn every_container_is_created_before_any_starts_and_volume_sources_first() {
        let dir = tempfile::tempdir().unwrap();
        let def = sprout_model::load_dockerrun("Dockerrun.aws.json", DEF).unwrap().dockerrun;
        let id = InstanceIdentity {
            server: "s1".into(),
            app: "shop".into(),
            env: "prod".into(),
            instance: "i-1".into(),
            version: "v1".into(),
            launched_at: 1,
            config: "c".into(),
            bundle_dir: dir.path().join("bundle"),
            log_dir: dir.path().join("logs"),
            volume_dir: dir.path().join("volumes"),
        };
        let plan = plan_instance(&def, &id, &Default::default());
        let fake = FakeEngine::new();
        for image in ["web:1", "app:1", "data:1"] {
            fake.add_image(image);
        }
        let pool = NetworkPool::new(Default::default());
        launch_instance(&fake, &pool, &plan).await.unwrap();

        let calls: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("create_container") || c.starts_with("start_container"))
            .collect();
        let first_start = calls.iter().position(|c| c.starts_with("start_container")).unwrap();
        assert!(calls[first_start..].iter().all(|c| c.starts_with("start_container")), "{calls:?}");
        assert_eq!(first_start, 3, "{calls:?}");
        let created =
            |name: &str| calls.iter().position(|c| c.starts_with("create_container") && c.ends_with(name)).unwrap();
        assert!(created("-data") < created("-web"), "volumesFrom source first: {calls:?}");
        assert_eq!(fake.running().len(), 3);
    }

    #[test]
    fn a_bundle_copy_holds_the_files_and_no_links() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("bundle/conf");
        std::fs::create_dir_all(from.join("sites")).unwrap();
        std::fs::write(from.join("nginx.conf"), "worker_processes 1;").unwrap();
        std::fs::write(from.join("sites/ads.conf"), "server {}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.join("passwd")).unwrap();
        let to = d.path().join("i-1/volumes/.bundle/conf");
        copy_tree(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("nginx.conf")).unwrap(), "worker_processes 1;");
        assert_eq!(std::fs::read_to_string(to.join("sites/ads.conf")).unwrap(), "server {}");
        assert!(std::fs::symlink_metadata(to.join("passwd")).is_err());
        // Writing the copy leaves the stored version as it was.
        std::fs::write(to.join("nginx.conf"), "changed").unwrap();
        assert_eq!(std::fs::read_to_string(from.join("nginx.conf")).unwrap(), "worker_processes 1;");
    }
}
