//! A container's `secrets`: Sprout secrets by `sprout:NAME`, ARNs with a warning, anything else
//! refused at its field.

use sprout_model::load_dockerrun;

fn file(secrets: &str) -> String {
    format!(
        r#"{{"AWSEBDockerrunVersion":2,"containerDefinitions":[{{"name":"web","image":"nginx","essential":true,"memory":64,
        "portMappings":[{{"hostPort":80,"containerPort":80}}],"secrets":{secrets}}}]}}"#
    )
}

#[test]
fn sprout_secrets_and_arns_load() {
    let text = file(
        r#"[{"name":"DB_PASSWORD","valueFrom":"sprout:db-password"},
            {"name":"API_KEY","valueFrom":"arn:aws:secretsmanager:us-east-1:123456789012:secret:api-key-AbCdEf"}]"#,
    );
    let loaded = load_dockerrun("Dockerrun.aws.json", &text).unwrap();
    let secrets = &loaded.dockerrun.container_definitions[0].secrets;
    assert_eq!(secrets.len(), 2);
    assert_eq!((secrets[0].name.as_str(), secrets[0].secret.as_str()), ("DB_PASSWORD", "db-password"));
    assert_eq!((secrets[1].name.as_str(), secrets[1].secret.as_str()), ("API_KEY", "API_KEY"));
    assert_eq!(loaded.dockerrun.secret_names(), vec!["API_KEY", "db-password"]);
    let warning = loaded.warnings.iter().find(|w| w.message.contains("AWS ARN")).expect("the ARN is said");
    assert_eq!(warning.path.as_deref(), Some("containerDefinitions[0].secrets[1].valueFrom"));
    assert!(warning.hint.as_deref().unwrap().contains("sprout secrets set ENV API_KEY"));
}

#[test]
fn a_value_from_that_names_nothing_is_refused_at_its_field() {
    let err = load_dockerrun("Dockerrun.aws.json", &file(r#"[{"name":"X","valueFrom":"db-password"}]"#)).unwrap_err();
    let e = err.iter().find(|d| d.message.contains("names no Sprout secret")).expect("refused");
    assert_eq!(e.path.as_deref(), Some("containerDefinitions[0].secrets[0].valueFrom"));
    assert!(e.hint.as_deref().unwrap().contains("sprout:X"));
    let twice = r#"[{"name":"X","valueFrom":"sprout:a"},{"name":"X","valueFrom":"sprout:b"}]"#;
    assert!(
        load_dockerrun("Dockerrun.aws.json", &file(twice))
            .unwrap_err()
            .iter()
            .any(|d| d.message.contains("listed twice"))
    );
}
