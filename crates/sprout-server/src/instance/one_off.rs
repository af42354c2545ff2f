//! One-off instances: a version's container definition run for a command (a deploy's release
//! task, `sprout run`) rather than as capacity. The instance holds that container and what it
//! needs (its links, volumesFrom sources and dependsOn dependencies, transitively), each with the
//! version's image, environment, properties and volumes; the named container runs the command
//! instead of its own, without its health check or published ports.
//!
//! Every object carries `LABEL_ROLE`, so the environment's controller never counts, judges or
//! routes it, and a restarted server finds it by label.
//!
//! Pure, like `spec`. Not here: launching it (`launch`), or what its exit means (the caller).

use std::collections::BTreeMap;

use sprout_model::Dockerrun;
use sprout_model::names::LABEL_ROLE;

use super::spec::{InstanceIdentity, InstancePlan, plan_instance_with_secrets};

/// What runs in the one-off instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    /// The container definition that runs the command.
    pub container: String,
    /// Its argv (replacing the definition's `command`; the image's entrypoint stays).
    pub command: Vec<String>,
    /// `LABEL_ROLE`'s value: `release` or `run`.
    pub role: &'static str,
}

/// The instance plan, with the environment's properties and secrets (opened) as every instance
/// has them; None when `def` has no such container.
pub fn plan_one_off(
    def: &Dockerrun,
    one_off: &OneOff,
    id: &InstanceIdentity,
    variables: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Option<InstancePlan> {
    let reduced = reduce(def, one_off)?;
    let mut plan = plan_instance_with_secrets(&reduced, id, variables, secrets);
    plan.network.labels.insert(LABEL_ROLE.into(), one_off.role.into());
    for c in &mut plan.containers {
        c.spec.labels.insert(LABEL_ROLE.into(), one_off.role.into());
    }
    Some(plan)
}

/// `def` with only the task's container and what it needs, the task's container changed to run
/// the command.
fn reduce(def: &Dockerrun, one_off: &OneOff) -> Option<Dockerrun> {
    def.container(&one_off.container)?;
    let mut wanted = vec![one_off.container.clone()];
    let mut i = 0;
    while i < wanted.len() {
        if let Some(c) = def.container(&wanted[i]) {
            let needs = c
                .links
                .iter()
                .map(|l| &l.name)
                .chain(c.volumes_from.iter().map(|v| &v.source_container))
                .chain(c.depends_on.iter().map(|d| &d.container_name));
            for n in needs {
                if !wanted.contains(n) {
                    wanted.push(n.clone());
                }
            }
        }
        i += 1;
    }
    let mut out = def.clone();
    out.container_definitions.retain(|c| wanted.contains(&c.name));
    for c in &mut out.container_definitions {
        if c.name == one_off.container {
            c.command = Some(one_off.command.clone());
            c.health_check = None;
            c.port_mappings.clear();
            c.essential = true;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Dockerrun {
        let text = r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[
            {"name":"cache","image":"redis","essential":false,"memory":32},
            {"name":"app","image":"rails","essential":true,"memory":128,"links":["cache"],"command":["puma"],
             "portMappings":[{"hostPort":3000,"containerPort":3000}],
             "healthCheck":{"command":["CMD","true"]}},
            {"name":"web","image":"nginx","essential":true,"memory":64,"links":["app"],
             "portMappings":[{"hostPort":80,"containerPort":80}]}]}"#;
        sprout_model::load_dockerrun("Dockerrun.aws.json", text).unwrap().dockerrun
    }

    fn identity() -> InstanceIdentity {
        InstanceIdentity {
            server: "s1".into(),
            app: "shop".into(),
            env: "prod".into(),
            instance: "r-1".into(),
            version: "v2".into(),
            launched_at: 0,
            config: String::new(),
            bundle_dir: "/b".into(),
            log_dir: "/l".into(),
            volume_dir: "/v".into(),
        }
    }

    #[test]
    fn the_task_runs_with_its_links_and_without_the_rest() {
        let one_off =
            OneOff { container: "app".into(), command: vec!["rake".into(), "db:migrate".into()], role: "release" };
        let vars = BTreeMap::from([("RAILS_ENV".to_string(), "production".to_string())]);
        let secrets = BTreeMap::from([("DB_PASSWORD".to_string(), "hunter2".to_string())]);
        let plan = plan_one_off(&def(), &one_off, &identity(), &vars, &secrets).unwrap();
        let names: Vec<&str> = plan.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["cache", "app"]);
        let app = &plan.containers[1].spec;
        assert_eq!(app.command, Some(vec!["rake".to_string(), "db:migrate".to_string()]));
        assert!(app.ports.is_empty() && app.healthcheck.is_none());
        assert!(app.env.contains(&("RAILS_ENV".to_string(), "production".to_string())));
        assert!(app.env.contains(&("DB_PASSWORD".to_string(), "hunter2".to_string())));
        assert_eq!(app.name, "sprout-shop-prod-r-1-app");
        assert!(plan.containers.iter().all(|c| c.spec.labels.get(LABEL_ROLE).map(String::as_str) == Some("release")));
        assert_eq!(plan.network.labels.get(LABEL_ROLE).map(String::as_str), Some("release"));
        let other = OneOff { container: "db".into(), ..one_off };
        assert!(plan_one_off(&def(), &other, &identity(), &vars, &secrets).is_none());
    }
}
