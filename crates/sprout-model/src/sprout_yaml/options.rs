//! The `options:` section: environment options applied with the version, as Elastic
//! Beanstalk applies `.ebextensions` option_settings. Keys are the registry's dotted keys or
//! Elastic Beanstalk's namespaced names (`crate::config::document` reads both forms); each
//! value is checked against the registry, so a bad one fails the upload, not the deploy.

use std::collections::BTreeMap;

use super::Found;
use crate::config::document::read_options;

/// The section's options by key, canonical values (None: an empty value, i.e. the default).
pub type BundleOptions = BTreeMap<String, Option<String>>;

/// The section's name in `sprout.yaml`.
pub const SECTION: &str = "options";

/// Check the section `value` of `source`; its options, with every problem added to `found`.
pub fn load(file: &str, source: &str, value: &serde_json::Value, found: &mut Found) -> BundleOptions {
    let (values, diags) = read_options(file, source, "options", value);
    found.diags.extend(diags);
    values.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{SPROUT_YAML, load_sprout_yaml};

    fn dockerrun() -> crate::Dockerrun {
        let text = r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"web","image":"nginx","essential":true,"memory":128,"portMappings":[{"hostPort":80,"containerPort":80}]}]}"#;
        crate::load_dockerrun("Dockerrun.aws.json", text).unwrap().dockerrun
    }

    #[test]
    fn options_load_in_both_spellings() {
        let text =
            "options:\n  health.path: /health\n  aws:elasticbeanstalk:command:\n    DeploymentPolicy: Immutable\n";
        let (y, warnings) = load_sprout_yaml(SPROUT_YAML, text, &dockerrun()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(y.options.get("health.path"), Some(&Some("/health".to_string())));
        assert_eq!(y.options.get("deployment.policy"), Some(&Some("immutable".to_string())));
    }

    #[test]
    fn a_bad_option_fails_the_file_with_its_line() {
        let text = "options:\n  health.interval: 900\n";
        let err = load_sprout_yaml(SPROUT_YAML, text, &dockerrun()).unwrap_err();
        assert_eq!((err[0].line, err[0].column), (Some(2), Some(3)), "{}", err[0]);
        assert!(err[0].message.contains("give 1 to 300 seconds"), "{}", err[0]);
    }
}
