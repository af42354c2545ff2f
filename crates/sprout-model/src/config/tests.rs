use super::document::{locate_key, parse_edit, render_edit};
use super::*;
use crate::options::DeploymentPolicy;

fn set(o: &mut EnvOptions, pairs: &[(&str, &str)]) -> Result<(), String> {
    let mut changes = Changes::new();
    for (k, v) in pairs {
        let (def, v) = resolve(k, v)?;
        changes.insert(def.key, Some(v));
    }
    apply(o, &changes, &Source::Hand)
}

#[test]
fn every_key_is_unique_and_every_default_passes_its_own_check() {
    let mut seen = std::collections::HashSet::new();
    for def in DEFINITIONS {
        assert!(seen.insert(def.key), "{} twice", def.key);
        for (alias, _) in def.aliases {
            assert!(seen.insert(alias), "alias {alias} twice");
        }
        if let Some(v) = def.default_value() {
            assert_eq!(def.check(&v).as_deref(), Ok(v.as_str()), "{}", def.key);
        }
    }
}

#[test]
fn out_of_range_values_are_refused_with_the_range() {
    let cases = [
        ("health.interval", "0", "health.interval: 0 is out of range; give 1 to 300 seconds"),
        ("health.interval", "ten", "health.interval: \"ten\" is not a whole number; give 1 to 300 seconds"),
        ("health.path", "health", "health.path: \"health\" must start with `/` (e.g. /health)"),
        (
            "deployment.policy",
            "blue-green",
            "deployment.policy: \"blue-green\" is not one of all-at-once, rolling, rolling-with-additional-batch, immutable",
        ),
        ("scaling.max", "101", "scaling.max: 101 is out of range; give 0 to 100 instances"),
        ("scaling.target", "0", "scaling.target: 0 is out of range; give above 0 up to 1000000"),
        ("deployment.ignore_health_check", "maybe", "deployment.ignore_health_check: \"maybe\" is not true or false"),
    ];
    for (key, value, want) in cases {
        assert_eq!(resolve(key, value).unwrap_err(), want);
    }
    assert!(resolve("health.nope", "1").unwrap_err().starts_with("unknown option `health.nope`"));
}

#[test]
fn elastic_beanstalk_names_are_aliases_in_sprouts_units() {
    let (def, v) = resolve("aws:elasticbeanstalk:application:Application Healthcheck URL", "/health").unwrap();
    assert_eq!((def.key, v.as_str()), ("health.path", "/health"));
    let (def, v) = resolve("aws:elasticbeanstalk:command:DeploymentPolicy", "RollingWithAdditionalBatch").unwrap();
    assert_eq!((def.key, v.as_str()), ("deployment.policy", "rolling-with-additional-batch"));
    let (def, v) = resolve("AWS:AUTOSCALING:TRIGGER:UpperThreshold", "80").unwrap();
    assert_eq!((def.key, v.as_str()), ("scaling.trigger.upper_threshold", "80"));
    // Elastic Beanstalk's Period and BreachDuration count minutes.
    let (def, v) = resolve("aws:autoscaling:trigger:BreachDuration", "5").unwrap();
    assert_eq!((def.key, v.as_str()), ("scaling.trigger.breach_duration", "300"));
}

#[test]
fn set_and_unset_reach_the_fields_and_record_the_source() {
    let mut o = EnvOptions::default();
    set(&mut o, &[("health.path", "/health"), ("health.interval", "5"), ("deployment.policy", "Immutable")]).unwrap();
    assert_eq!((o.health.path.as_str(), o.health.interval_s), ("/health", 5));
    assert_eq!(o.deploy.policy, Some(DeploymentPolicy::Immutable));
    let path = DEFINITIONS.iter().find(|d| d.key == "health.path").unwrap();
    assert_eq!(source_of(&o, path), Source::Hand);
    let mut changes = Changes::new();
    changes.insert("health.path", None);
    changes.insert("deployment.policy", None);
    apply(&mut o, &changes, &Source::Hand).unwrap();
    assert_eq!((o.health.path.as_str(), o.deploy.policy), ("/", None));
    assert_eq!(source_of(&o, path), Source::Default);
}

#[test]
fn whole_set_checks_refuse_and_leave_the_options_unchanged() {
    let mut o = EnvOptions::default();
    let before = o.clone();
    let err = set(&mut o, &[("scaling.min", "4"), ("scaling.max", "2")]).unwrap_err();
    assert!(err.starts_with("scaling.min 4 is above scaling.max 2"), "{err}");
    let err = set(&mut o, &[("health.interval", "2")]).unwrap_err();
    assert!(err.starts_with("health.timeout 5 s is longer than health.interval 2 s"), "{err}");
    let err = set(&mut o, &[("deployment.batch_size", "150")]).unwrap_err();
    assert!(err.contains("Percentage"), "{err}");
    assert_eq!(o, before);
    set(&mut o, &[("deployment.batch_size_type", "fixed"), ("deployment.batch_size", "150")]).unwrap();
}

#[test]
fn a_trigger_appears_with_its_first_option_and_goes_with_its_last() {
    let mut o = EnvOptions::default();
    set(&mut o, &[("scaling.trigger.upper_threshold", "80")]).unwrap();
    let t = o.scaling.trigger.clone().unwrap();
    assert_eq!((t.upper_threshold, t.lower_threshold), (80.0, 20.0));
    let err = set(&mut o, &[("scaling.trigger.breach_duration", "3"), ("scaling.trigger.period", "2")]).unwrap_err();
    assert!(err.contains("whole number of periods"), "{err}");
    let mut changes = Changes::new();
    changes.insert("scaling.trigger.upper_threshold", None);
    apply(&mut o, &changes, &Source::Hand).unwrap();
    assert_eq!(o.scaling.trigger, None);
}

#[test]
fn non_default_values_rebuild_the_same_options() {
    let mut o = EnvOptions::default();
    set(
        &mut o,
        &[
            ("health.path", "/health"),
            ("scaling.min", "1"),
            ("scaling.max", "3"),
            ("scaling.target", "12.5"),
            ("scaling.trigger.measure", "Latency"),
            ("deployment.policy", "rolling"),
        ],
    )
    .unwrap();
    let values = non_default(&o);
    // A trigger is kept whole: its fields at their trigger defaults differ from "no trigger".
    assert_eq!(values.len(), 14, "{values:?}");
    let saved = Source::Saved { name: "base".into() };
    let rebuilt = from_values(&values, &saved).unwrap();
    assert_eq!(non_default(&rebuilt), values);
    assert_eq!(
        (rebuilt.health.clone(), rebuilt.scaling.clone(), rebuilt.capacity.clone()),
        (o.health, o.scaling, o.capacity)
    );
    let path = DEFINITIONS.iter().find(|d| d.key == "health.path").unwrap();
    assert_eq!(source_of(&rebuilt, path), saved);
}

#[test]
fn the_edit_document_reads_back_as_the_same_options() {
    let mut o = EnvOptions::default();
    set(&mut o, &[("health.path", "/a b/../x"), ("scaling.max", "3"), ("scaling.min", "0")]).unwrap_err();
    set(&mut o, &[("health.path", "/health?full=1"), ("scaling.max", "3"), ("scaling.min", "0")]).unwrap();
    let vars = [("GREETING".to_string(), "hello: world".to_string())].into_iter().collect();
    let text = render_edit("environment web of shop", &o, &vars);
    let edited = parse_edit("edit.yaml", &text).unwrap();
    for def in DEFINITIONS {
        assert_eq!(edited.options[def.key], (def.get)(&o), "{}", def.key);
    }
    assert_eq!(edited.variables, vars);
}

#[test]
fn edit_errors_have_line_column_and_hint_and_all_come_at_once() {
    let text = "options:\n  health.interval: 0\n  health.pth: /x\n  aws:elasticbeanstalk:command:\n    DeploymentPolicy: Sideways\n";
    let diags = parse_edit("edit.yaml", text).unwrap_err();
    let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert_eq!(diags.len(), 3, "{shown:#?}");
    assert_eq!((diags[0].line, diags[0].column), (Some(2), Some(3)), "{shown:#?}");
    assert!(shown[0].contains("give 1 to 300 seconds"), "{}", shown[0]);
    assert_eq!((diags[1].line, diags[1].column), (Some(3), Some(3)));
    assert!(shown[1].contains("did you mean health.path"), "{}", shown[1]);
    assert_eq!((diags[2].line, diags[2].column), (Some(5), Some(5)));
    assert!(shown[2].contains("allowed: one of all-at-once"), "{}", shown[2]);
    let bad = parse_edit("edit.yaml", "options:\n  health.path: [1\n").unwrap_err();
    assert!(bad[0].line.is_some(), "{:?}", bad);
}

#[test]
fn keys_are_located_plain_or_quoted() {
    let src = "options:\n  \"health.path\": /x\n  'scaling.max' : 3\n";
    assert_eq!(locate_key(src, "health.path"), Some((2, 3)));
    assert_eq!(locate_key(src, "scaling.max"), Some((3, 3)));
    assert_eq!(locate_key(src, "scaling.min"), None);
}
