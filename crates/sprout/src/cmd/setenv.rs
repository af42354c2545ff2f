//! `setenv` and `printenv`, as the Elastic Beanstalk CLI has them: environment properties
//! passed to every container. `setenv KEY=` removes KEY. Setting waits until the instances
//! running the new properties are Ready.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::json;
use sprout_api::EnvView;

use super::Context;
use super::env::finish;
use crate::output::{self, Format};

/// Split `KEY=VALUE` arguments into what to set and what to remove (`KEY=`).
pub fn parse_assignments(args: &[String]) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let mut set = BTreeMap::new();
    let mut unset = Vec::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            bail!("{a:?} is not KEY=VALUE (use KEY= to remove a property)");
        };
        if k.is_empty() {
            bail!("{a:?} has an empty name");
        }
        if v.is_empty() {
            unset.push(k.to_string());
        } else {
            set.insert(k.to_string(), v.to_string());
        }
    }
    Ok((set, unset))
}

pub async fn setenv(c: &Context, env: String, assignments: Vec<String>, timeout: u64, no_wait: bool) -> Result<u8> {
    let app = c.app()?.to_string();
    if assignments.is_empty() {
        bail!("give at least one KEY=VALUE (or KEY= to remove one)");
    }
    let (set, unset) = parse_assignments(&assignments)?;
    let v: EnvView = c
        .client
        .patch(&format!("/apps/{app}/environments/{env}/variables"), &json!({"set": set, "unset": unset}))
        .await?;
    let label = v.version;
    if c.fmt == Format::Text {
        eprintln!("Updating the properties of {env}: its instances are replaced under its deployment policy");
    }
    finish(c, &app, &env, &label, timeout, no_wait).await
}

pub async fn printenv(c: &Context, env: String) -> Result<u8> {
    let app = c.app()?;
    let vars: BTreeMap<String, String> = c.client.get(&format!("/apps/{app}/environments/{env}/variables")).await?;
    match c.fmt {
        Format::Json => output::json(&vars),
        Format::Text => {
            println!(" Environment Variables:");
            for (k, v) in &vars {
                println!("     {k} = {v}");
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_into_set_and_unset() {
        let args: Vec<String> = ["A=1", "B=x=y", "C="].iter().map(|s| s.to_string()).collect();
        let (set, unset) = parse_assignments(&args).unwrap();
        assert_eq!(set.get("A").map(String::as_str), Some("1"));
        assert_eq!(set.get("B").map(String::as_str), Some("x=y"));
        assert_eq!(unset, vec!["C".to_string()]);
        assert!(parse_assignments(&["NOEQUALS".to_string()]).is_err());
        assert!(parse_assignments(&["=v".to_string()]).is_err());
    }
}
