//! Loading `sprout.yaml`: the top level; each section's module tests its own rules.

use super::*;

fn dockerrun() -> Dockerrun {
    let text = r#"{"AWSEBDockerrunVersion":2,"containerDefinitions":[{"name":"web","image":"nginx","essential":true,"memory":128,"portMappings":[{"hostPort":80,"containerPort":80}]}]}"#;
    crate::load_dockerrun("Dockerrun.aws.json", text).unwrap().dockerrun
}

#[test]
fn an_empty_file_is_the_default() {
    let (loaded, warnings) = load_sprout_yaml(SPROUT_YAML, "", &dockerrun()).unwrap();
    assert_eq!(loaded, SproutYaml::default());
    assert!(warnings.is_empty());
}

#[test]
fn an_unknown_section_is_named() {
    let err = load_sprout_yaml(SPROUT_YAML, "optoins:\n  a: 1\n", &dockerrun()).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(err[0].message.contains("unknown section `optoins`"), "{}", err[0]);
}

#[test]
fn bad_yaml_says_where() {
    let err = load_sprout_yaml(SPROUT_YAML, "a: [1, 2\nb: c\n", &dockerrun()).unwrap_err();
    assert!(err[0].message.starts_with("invalid YAML"), "{}", err[0]);
    assert!(err[0].line.is_some(), "{:?}", err[0]);
}

#[test]
fn a_list_at_the_top_is_refused() {
    let err = load_sprout_yaml(SPROUT_YAML, "- a\n- b\n", &dockerrun()).unwrap_err();
    assert!(err[0].message.contains("mapping"), "{}", err[0]);
}
