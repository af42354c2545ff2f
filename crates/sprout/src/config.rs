//! Where a client command finds its server, token and application: flags, then environment
//! variables (`SPROUT_URL`, `SPROUT_TOKEN`, `SPROUT_APP`), then `.sprout/config.yml` (written by
//! `sprout init`, searched upwards from the working directory), then the defaults (the local
//! server on 127.0.0.1:4680 and the admin token in the default data directory).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const DEFAULT_URL: &str = "http://127.0.0.1:4680";

/// `.sprout/config.yml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProjectConfig {
    pub application: Option<String>,
    pub url: Option<String>,
    /// Environment `sprout deploy` targets when none is named.
    pub default_environment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub url: String,
    pub token: Option<String>,
    pub app: Option<String>,
    pub project: ProjectConfig,
}

/// The data directory `sprout server` uses when given none: `$XDG_DATA_HOME/sprout` or
/// `~/.local/share/sprout`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("sprout");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/sprout")
}

pub fn find_project_config(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let p = d.join(".sprout/config.yml");
        if p.is_file() {
            return Some(p);
        }
        dir = d.parent();
    }
    None
}

pub fn load_project_config(path: &Path) -> Result<ProjectConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_saphyr::from_str(&text)
        .with_context(|| format!("{} is not valid: fix or delete it, then run `sprout init APP`", path.display()))
}

pub fn write_project_config(dir: &Path, cfg: &ProjectConfig) -> Result<PathBuf> {
    let d = dir.join(".sprout");
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let p = d.join("config.yml");
    let text = serde_saphyr::to_string(cfg).context("cannot write the configuration as YAML")?;
    std::fs::write(
        &p,
        format!("# Written by `sprout init`; read by every sprout command run below this directory.\n{text}"),
    )
    .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(p)
}

pub fn resolve(url: Option<String>, token: Option<String>, app: Option<String>) -> Result<Resolved> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let project = match find_project_config(&cwd) {
        Some(p) => load_project_config(&p)?,
        None => ProjectConfig::default(),
    };
    let url = url.or_else(|| project.url.clone()).unwrap_or_else(|| DEFAULT_URL.to_string());
    let token = token.or_else(|| {
        // A server on this machine with the default data directory: use its admin token.
        std::fs::read_to_string(default_data_dir().join("admin.token")).ok().map(|t| t.trim().to_string())
    });
    let app = app.or_else(|| project.application.clone());
    if let Some(a) = &app
        && let Err(m) = check_app(a)
    {
        bail!(m);
    }
    Ok(Resolved { url: url.trim_end_matches('/').to_string(), token, app, project })
}

fn check_app(name: &str) -> Result<(), String> {
    sprout_model::names::check_name("application", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_config_round_trips_and_is_found_upwards() {
        let d = tempfile::tempdir().unwrap();
        let cfg =
            ProjectConfig { application: Some("shop".into()), url: None, default_environment: Some("prod".into()) };
        write_project_config(d.path(), &cfg).unwrap();
        let nested = d.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let found = find_project_config(&nested).unwrap();
        let back = load_project_config(&found).unwrap();
        assert_eq!(back.application.as_deref(), Some("shop"));
        assert_eq!(back.default_environment.as_deref(), Some("prod"));
    }
}
