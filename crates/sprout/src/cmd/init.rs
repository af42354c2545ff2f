//! `init`: record the application (and a default environment) in `.sprout/config.yml`, as
//! `eb init` does.

use anyhow::Result;

use crate::config::{ProjectConfig, write_project_config};
use crate::output::{self, Format};

pub fn init(url: Option<String>, app: String, environment: Option<String>, fmt: Format) -> Result<u8> {
    sprout_model::names::check_name("application", &app).map_err(anyhow::Error::msg)?;
    let cfg = ProjectConfig { application: Some(app.clone()), url, default_environment: environment };
    let path = write_project_config(&std::env::current_dir()?, &cfg)?;
    match fmt {
        Format::Json => output::json(&serde_json::json!({"application": app, "config": path})),
        Format::Text => println!("Application {app} recorded in {}", path.display()),
    }
    Ok(0)
}
