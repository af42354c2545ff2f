//! Hostile definition files (issue 11): huge, deep or repetitive input must come back as a
//! bounded list of diagnostics, never as a crash, a hang or a hundred-megabyte error body.
//!
//! Each file is generated here. Tests that would overflow a recursive walk run on a thread with
//! the default 2 MiB test stack, whatever `RUST_MIN_STACK` says.

use serde_json::{Value, json};
use sprout_model::load::{MAX_CONTAINERS, MAX_DIAGNOSTICS};
use sprout_model::{Diagnostic, Severity, load_dockerrun};

/// The whole error body a client could be sent: every diagnostic rendered.
const MAX_BODY_BYTES: usize = 100 * 1024;

fn on_default_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).expect("spawn").join().expect("no crash")
}

fn container(name: &str) -> Value {
    json!({"name": name, "image": "busybox", "memory": 16})
}

fn definition(containers: Vec<Value>) -> String {
    json!({"AWSEBDockerrunVersion": 2, "containerDefinitions": containers}).to_string()
}

/// Rendered size, count, and the summary line: what every hostile file must respect.
fn assert_bounded(diags: &[Diagnostic]) {
    let body: usize = diags.iter().map(|d| d.to_string().len()).sum();
    assert!(body < MAX_BODY_BYTES, "{body} bytes of diagnostics");
    assert!(diags.len() <= MAX_DIAGNOSTICS + 1, "{} diagnostics", diags.len());
    let json = serde_json::to_string(diags).unwrap();
    assert!(json.len() < MAX_BODY_BYTES + 20 * 1024, "{} bytes as JSON", json.len());
}

fn chain(n: usize) -> String {
    let containers = (0..n)
        .map(|i| {
            let mut c = container(&format!("c{i}"));
            if i + 1 < n {
                c["dependsOn"] = json!([{"containerName": format!("c{}", i + 1), "condition": "START"}]);
                c["links"] = json!([format!("c{}", i + 1)]);
                c["volumesFrom"] = json!([{"sourceContainer": format!("c{}", i + 1)}]);
            }
            c
        })
        .collect();
    definition(containers)
}

#[test]
fn a_30000_deep_depends_on_chain_is_refused_by_the_container_limit() {
    let diags = on_default_stack(|| load_dockerrun("chain.json", &chain(30_000)).unwrap_err());
    assert_bounded(&diags);
    let limit = format!("30000 container definitions; Sprout allows at most {MAX_CONTAINERS} per definition");
    let hit = diags.iter().find(|d| d.message == limit).unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!((hit.severity, hit.path.as_deref(), hit.line), (Severity::Error, Some("containerDefinitions"), Some(1)));
    // Refused before the per-container checks: nothing else is said about the containers.
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

#[test]
fn a_chain_at_the_limit_still_loads() {
    let loaded = load_dockerrun("chain.json", &chain(MAX_CONTAINERS)).unwrap();
    assert_eq!(loaded.dockerrun.container_definitions.len(), MAX_CONTAINERS);
}

#[test]
fn four_thousand_links_to_unknown_names_are_refused_with_bounded_diagnostics() {
    let containers = (0..4_000)
        .map(|i| {
            let mut c = container(&format!("container-{i}"));
            c["links"] = json!([format!("missing-{i}")]);
            c
        })
        .collect();
    let diags = on_default_stack(move || load_dockerrun("links.json", &definition(containers)).unwrap_err());
    assert_bounded(&diags);
    assert!(diags.iter().any(|d| d.message.contains("Sprout allows at most")), "{diags:#?}");
}

/// Within the container limit, thousands of bad references: the first `MAX_DIAGNOSTICS` in file
/// order, one that counts the rest, and hints that name a few containers, not all of them.
#[test]
fn many_unknown_references_show_the_first_hundred_and_count_the_rest() {
    let containers: Vec<Value> = (0..MAX_CONTAINERS)
        .map(|i| {
            let mut c = container(&format!("container-{i}"));
            c["links"] = json!((0..200).map(|j| format!("zz{i}x{j}")).collect::<Vec<_>>());
            c
        })
        .collect();
    let diags = load_dockerrun("refs.json", &definition(containers)).unwrap_err();
    assert_bounded(&diags);
    assert_eq!(diags.len(), MAX_DIAGNOSTICS + 1);
    let total = MAX_CONTAINERS * 200;
    let last = diags.last().unwrap();
    assert_eq!(last.message, format!("... and {} more problems not shown", total - MAX_DIAGNOSTICS));
    assert_eq!(last.severity, Severity::Error);
    // The first hundred in file order: container 0's links.
    let first = &diags[0];
    assert_eq!(first.path.as_deref(), Some("containerDefinitions[0].links[0]"), "{first}");
    assert!(diags[..MAX_DIAGNOSTICS].windows(2).all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)));
    let hint = first.hint.as_deref().unwrap();
    assert!(hint.ends_with(&format!("and {} more", MAX_CONTAINERS - 3)), "{hint}");
    assert_eq!(hint.matches('`').count(), 6, "three names: {hint}");
}

/// A megabyte-long key, container name and reference: each diagnostic quotes only a clip.
#[test]
fn huge_strings_are_clipped_in_messages_hints_and_paths() {
    let long = "x".repeat(1 << 20);
    let mut web = container(&format!("{long}!"));
    web["links"] = json!([format!("{long}?")]);
    web["dependsOn"] = json!([{"containerName": format!("{long}#"), "condition": "START"}]);
    web[format!("{long}key")] = json!(1);
    web["workingDirectory"] = json!(long.clone());
    let other = container(&format!("{long}y"));
    let text = definition(vec![web, other]);
    let diags = load_dockerrun("long.json", &text).unwrap_err();
    assert!(diags.len() >= 4, "{diags:#?}");
    for d in &diags {
        assert!(d.to_string().len() < 2_000, "{} bytes: {:.300}", d.to_string().len(), d.to_string());
    }
    assert!(diags.iter().any(|d| d.message.contains("is not a container of this file")), "{diags:#?}");
}

#[test]
fn deeply_nested_json_is_a_syntax_error_not_a_crash() {
    let text = format!("{{\"AWSEBDockerrunVersion\": 2, \"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let diags = on_default_stack(move || load_dockerrun("deep.json", &text).unwrap_err());
    assert_bounded(&diags);
    assert!(diags[0].message.contains("recursion limit"), "{diags:#?}");
}

/// Keys nested as deep as `serde_json` accepts: the loader's own scan of the text copes.
#[test]
fn nesting_at_the_json_limit_loads_on_the_default_stack() {
    let depth = 120;
    let inner = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let text = format!(
        "{{\"AWSEBDockerrunVersion\": 2, \"extra\": {inner}, \"containerDefinitions\": [{}]}}",
        json!({"name": "web", "image": "nginx", "memory": 64, "portMappings": [{"hostPort": 80, "containerPort": 80}]})
    );
    let loaded = on_default_stack(move || load_dockerrun("deep.json", &text).unwrap());
    assert_eq!(loaded.warnings.len(), 1);
}

/// A definition with 100,000 duplicate and distinct keys in one object is scanned in linear time
/// (the locator once compared every key with every earlier one).
#[test]
fn an_object_with_many_keys_is_scanned_quickly() {
    let mut web = container("web").as_object().unwrap().clone();
    for i in 0..100_000 {
        web.insert(format!("k{i}"), json!(i));
    }
    let text = definition(vec![Value::Object(web)]);
    let diags = load_dockerrun("keys.json", &text).unwrap_err();
    assert_bounded(&diags);
    assert!(diags.last().unwrap().message.ends_with("more problems not shown"));
}
