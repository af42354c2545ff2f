//! What a container mounts, delivered to the node that runs it (docs/swarm.md): the manager's
//! files under Sprout's data directory (bundle paths) become Swarm configs, one per file, named
//! by content; the manager's empty directories there (log and scratch volumes) become named
//! volumes on the node; other host paths are the node's own; `volumesFrom` takes the source
//! service's mounts and files; the volumes an image declares become named volumes, so another
//! container's `volumesFrom` finds them.
//!
//! Not here: building the service (`service`), which takes the mounts and configs made here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bollard::models::{ConfigSpec, Mount, MountType, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1};
use sha2::{Digest, Sha256};
use sprout_engine::{Bind, ContainerSpec, EngineError, Result};

use super::SwarmEngine;
use crate::error::{self, classify};

/// Swarm refuses configs larger than this.
pub const CONFIG_MAX_BYTES: usize = 500 * 1024;

/// Label on the configs Sprout makes, so they can be found and removed.
pub const LABEL_FILE: &str = "sprout.file";

/// A file of the manager to be created as a config and mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    pub source: PathBuf,
    pub target: String,
    pub mode: u32,
}

/// What one bind becomes on a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Files(Vec<FileMount>),
    Volume(Box<Mount>),
}

fn short_hash(text: &[u8]) -> String {
    hex::encode(&Sha256::digest(text)[..8])
}

/// A named volume mount.
pub fn volume(source: String, target: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(target.to_string()),
        source: Some(source),
        typ: Some(MountType::VOLUME),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// How a bind reaches the node: pure but for reading the manager's directory tree.
pub fn deliver(bind: &Bind, data_dir: &Path) -> std::io::Result<Delivery> {
    let source = Path::new(&bind.source);
    if !bind.source.starts_with('/') {
        return Ok(Delivery::Volume(Box::new(volume(bind.source.clone(), &bind.target, bind.read_only))));
    }
    if !source.starts_with(data_dir) {
        return Ok(Delivery::Volume(Box::new(Mount {
            target: Some(bind.target.clone()),
            source: Some(bind.source.clone()),
            typ: Some(MountType::BIND),
            read_only: bind.read_only.then_some(true),
            ..Default::default()
        })));
    }
    let mut files = Vec::new();
    collect(source, Path::new(&bind.target), &mut files)?;
    if files.is_empty() {
        // An empty directory of the manager (a log or scratch volume): a volume on the node,
        // named by the manager's path so every container of the instance shares it.
        let name = format!("sprout-dir-{}", short_hash(bind.source.as_bytes()));
        return Ok(Delivery::Volume(Box::new(volume(name, &bind.target, bind.read_only))));
    }
    Ok(Delivery::Files(files))
}

fn collect(source: &Path, target: &Path, out: &mut Vec<FileMount>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(source)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(source)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            collect(&entry.path(), &target.join(entry.file_name()), out)?;
        }
    } else if meta.is_file() {
        out.push(FileMount {
            source: source.to_path_buf(),
            target: target.display().to_string(),
            mode: meta.permissions().mode() & 0o777 | 0o444,
        });
    }
    Ok(())
}

/// The named volumes for the volumes an image declares that the spec does not mount already:
/// named after the container, so `volumesFrom` finds and shares them.
pub fn image_volumes(spec: &ContainerSpec, declared: &[String], mounted: &[Mount]) -> Vec<Mount> {
    declared
        .iter()
        .filter(|path| !mounted.iter().any(|m| m.target.as_deref() == Some(path.as_str())))
        .map(|path| volume(format!("{}-{}", spec.name, short_hash(path.as_bytes())), path, false))
        .collect()
}

impl SwarmEngine {
    /// Every mount and config file of `spec`, created where needed (configs).
    pub(super) async fn mounts_of(
        &self,
        spec: &ContainerSpec,
    ) -> Result<(Vec<Mount>, Vec<TaskSpecContainerSpecConfigs>)> {
        let mut mounts = Vec::new();
        let mut configs = Vec::new();
        for bind in &spec.binds {
            let delivery = deliver(bind, &self.data_dir).map_err(|e| EngineError::Permanent {
                operation: "create_container",
                name: spec.name.clone(),
                message: format!("cannot read {} to deliver it to the node: {e}", bind.source),
            })?;
            match delivery {
                Delivery::Volume(m) => mounts.push(*m),
                Delivery::Files(files) => {
                    for f in files {
                        configs.push(self.config_file(&spec.name, &f).await?);
                    }
                }
            }
        }
        for from in &spec.volumes_from {
            let (source, mode) = from.rsplit_once(':').unwrap_or((from.as_str(), "rw"));
            let service = self
                .docker()
                .inspect_service(source, None)
                .await
                .map_err(|e| classify(e, self.target("create_container", "container", source)))?;
            let c = service.spec.and_then(|s| s.task_template?.container_spec).unwrap_or_default();
            for mut m in c.mounts.unwrap_or_default() {
                if mode == "ro" {
                    m.read_only = Some(true);
                }
                if !mounts.iter().any(|o: &Mount| o.target == m.target) {
                    mounts.push(m);
                }
            }
            for f in c.configs.unwrap_or_default() {
                let target = f.file.as_ref().and_then(|f| f.name.clone());
                if !configs
                    .iter()
                    .any(|o: &TaskSpecContainerSpecConfigs| o.file.as_ref().and_then(|f| f.name.clone()) == target)
                {
                    configs.push(f);
                }
            }
        }
        let declared = self.image_volumes_declared(&spec.image).await;
        let extra = image_volumes(spec, &declared, &mounts);
        mounts.extend(extra);
        Ok((mounts, configs))
    }

    /// The volumes the image declares (`VOLUME`), as the manager's copy of the image says; none
    /// when the manager does not have it.
    async fn image_volumes_declared(&self, image: &str) -> Vec<String> {
        let Ok(inspect) = self.docker().inspect_image(image).await else { return Vec::new() };
        let mut paths: Vec<String> =
            inspect.config.and_then(|c| c.volumes).map(|v| v.into_iter().collect()).unwrap_or_default();
        paths.sort();
        paths
    }

    /// The config holding one file (made once per content), mounted at its target.
    async fn config_file(&self, container: &str, file: &FileMount) -> Result<TaskSpecContainerSpecConfigs> {
        let data = std::fs::read(&file.source).map_err(|e| EngineError::Permanent {
            operation: "create_container",
            name: container.to_string(),
            message: format!("cannot read bundle file {}: {e}", file.source.display()),
        })?;
        if data.len() > CONFIG_MAX_BYTES {
            return Err(EngineError::Permanent {
                operation: "create_container",
                name: container.to_string(),
                message: format!(
                    "bundle file {} is {} KB; a swarm engine delivers bundle files to nodes as Swarm configs, at most 500 KB each: put it in the image instead",
                    file.source.display(),
                    data.len() / 1024
                ),
            });
        }
        let name = format!("sprout-file-{}", hex::encode(&Sha256::digest(&data)[..12]));
        let spec = ConfigSpec {
            name: Some(name.clone()),
            labels: Some(HashMap::from([
                (sprout_model::names::LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_FILE.to_string(), "true".to_string()),
            ])),
            data: Some(base64::engine::general_purpose::STANDARD.encode(&data)),
            ..Default::default()
        };
        let id = match self.docker().create_config(spec).await {
            Ok(created) => created.id,
            Err(e) if error::status_code(&e) == Some(409) => self
                .docker()
                .inspect_config(&name)
                .await
                .map_err(|e| classify(e, self.target("create_container", "config", &name)))?
                .id
                .unwrap_or_default(),
            Err(e) => return Err(classify(e, self.target("create_container", "config", &name))),
        };
        Ok(TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(file.target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(file.mode),
            }),
            config_id: Some(id),
            config_name: Some(name),
            ..Default::default()
        })
    }

    /// Removes the configs a removed service used that no other service uses (Swarm refuses to
    /// remove one in use; that refusal is the check).
    pub(super) async fn remove_unused_configs(&self, configs: &[TaskSpecContainerSpecConfigs]) {
        for c in configs {
            if let Some(id) = &c.config_id {
                let _ = self.docker().delete_config(id).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_files_become_configs_empty_directories_volumes_and_other_paths_stay_the_nodes() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        let conf = data.join("bundles/v1/conf");
        std::fs::create_dir_all(conf.join("sites")).unwrap();
        std::fs::write(conf.join("nginx.conf"), "x").unwrap();
        std::fs::write(conf.join("sites/a.conf"), "y").unwrap();
        let logs = data.join("instances/i-1/logs/web");
        std::fs::create_dir_all(&logs).unwrap();
        let bind = |s: &Path, t: &str| Bind { source: s.display().to_string(), target: t.into(), read_only: true };

        let Delivery::Files(files) = deliver(&bind(&conf, "/etc/nginx"), &data).unwrap() else { panic!() };
        let targets: Vec<&str> = files.iter().map(|f| f.target.as_str()).collect();
        assert_eq!(targets, ["/etc/nginx/nginx.conf", "/etc/nginx/sites/a.conf"]);
        assert!(files.iter().all(|f| f.mode & 0o444 == 0o444));

        let Delivery::Volume(v) = deliver(&bind(&logs, "/var/log/nginx"), &data).unwrap() else { panic!() };
        assert_eq!(v.typ, Some(MountType::VOLUME));
        assert!(v.source.unwrap().starts_with("sprout-dir-"));
        let Delivery::Volume(again) = deliver(&bind(&logs, "/elsewhere"), &data).unwrap() else { panic!() };
        assert!(again.source.unwrap().starts_with("sprout-dir-"), "one volume per manager directory");

        let Delivery::Volume(host) = deliver(&bind(Path::new("/var/run/app"), "/run/app"), &data).unwrap() else {
            panic!()
        };
        assert_eq!((host.typ, host.source.as_deref()), (Some(MountType::BIND), Some("/var/run/app")));
    }

    #[test]
    fn declared_image_volumes_not_mounted_get_named_volumes_of_the_container() {
        let spec = ContainerSpec { name: "sprout-a-e-i-1-data".into(), ..Default::default() };
        let mounted = [volume("x".into(), "/srv", false)];
        let extra = image_volumes(&spec, &["/srv".into(), "/cache".into()], &mounted);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].target.as_deref(), Some("/cache"));
        assert!(extra[0].source.as_deref().unwrap().starts_with("sprout-a-e-i-1-data-"));
    }
}
