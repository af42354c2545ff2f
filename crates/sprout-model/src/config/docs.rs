//! docs/options.md, generated from `DEFINITIONS`: the table users read is the one the server
//! validates with. A test in this crate (`tests/options_doc.rs`) fails when the file in the
//! repository differs, and rewrites it when run with `UPDATE_DOCS=1`.

use super::{DEFINITIONS, OptionDef};

/// The command that rewrites docs/options.md.
pub const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p sprout-model --test options_doc";

/// The whole of docs/options.md.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("# Environment options\n\n");
    out.push_str(&format!(
        "<!-- Generated from crates/sprout-model/src/config/registry.rs; do not edit by hand.\n     Regenerate with: {REGENERATE} -->\n\n"
    ));
    out.push_str(
        "Every option an environment has, by the dotted key that `sprout config get|set|unset|edit`, saved\n\
         configurations and the `options:` section of a bundle's `sprout.yaml` use. Elastic Beanstalk's\n\
         namespaced names are accepted for the options Sprout has (case does not matter); where Elastic\n\
         Beanstalk counts minutes, the value is converted to seconds. A value out of range is refused with\n\
         the range. See docs/configuration.md for the commands.\n\n\
         No option here replaces an instance when it changes: health check options reach the probe at its\n\
         next check, deployment options apply from the next deploy, the load balancing algorithm at
         the next request, and `scaling.min`/`scaling.max` move\n\
         the desired count into the band (adding or removing instances, never replacing one). Environment\n\
         properties (`sprout setenv`, or `variables:` in `sprout config edit`) do replace instances, under\n\
         the deployment policy.\n",
    );
    let sections = [
        ("health", "Health check", "aws:elasticbeanstalk:environment:process:default"),
        ("deployment", "Deployment", "aws:elasticbeanstalk:command"),
        ("loadbalancer", "Load balancing", "aws:elasticbeanstalk:environment:process:default"),
        ("scaling", "Capacity and auto-scaling", "aws:autoscaling:asg, aws:autoscaling:trigger"),
        ("placement", "Placement on a swarm engine", ""),
    ];
    for (prefix, title, namespace) in sections {
        if namespace.is_empty() {
            out.push_str(&format!(
                "\n## {title}\n\nSprout's own, with no Elastic Beanstalk counterpart; see docs/swarm.md.\n\n"
            ));
        } else {
            out.push_str(&format!("\n## {title}\n\nElastic Beanstalk namespace: `{namespace}`.\n\n"));
        }
        out.push_str("| Key | Allowed values | Default | Description | Elastic Beanstalk name |\n");
        out.push_str("|---|---|---|---|---|\n");
        for def in DEFINITIONS.iter().filter(|d| d.key.split('.').next() == Some(prefix)) {
            out.push_str(&row(def));
        }
    }
    out
}

fn row(def: &OptionDef) -> String {
    let default = match (def.default_note, def.default_value()) {
        (Some(note), _) => note.to_string(),
        (None, Some(v)) => format!("`{v}`"),
        (None, None) => "none".to_string(),
    };
    let aliases: Vec<String> = def
        .aliases
        .iter()
        .map(|(a, factor)| if *factor == 60 { format!("`{a}` (minutes)") } else { format!("`{a}`") })
        .collect();
    format!(
        "| `{}` | {} | {} | {} | {} |\n",
        def.key,
        def.kind.describe().replace('|', "\\|"),
        default.replace('|', "\\|"),
        def.description.replace('|', "\\|"),
        if aliases.is_empty() { "none".to_string() } else { aliases.join("<br>") }
    )
}
