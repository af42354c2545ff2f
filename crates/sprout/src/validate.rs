//! `sprout validate`: find a bundle's Dockerrun file, load it, and show every problem the way a
//! compiler does (source line, caret, field path, message, help), or as JSON for scripts.
//!
//! Not the rules themselves: those live in `sprout_model::load`. This module only reads the file
//! and renders what the model found.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet, normalize_untrusted_str};
use anyhow::Context;
use sprout_model::{Diagnostic, Dockerrun, Severity, load_dockerrun};

/// The file name Elastic Beanstalk looks for at the root of a source bundle.
pub const DEFINITION_FILE: &str = "Dockerrun.aws.json";

/// `path` itself when it is a file; a bundle directory's `Dockerrun.aws.json` otherwise.
pub fn find_definition(path: &Path) -> anyhow::Result<PathBuf> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(path.to_path_buf());
    }
    let file = path.join(DEFINITION_FILE);
    if file.is_file() {
        Ok(file)
    } else {
        anyhow::bail!("bundle directory {} has no {DEFINITION_FILE}: add one at its root", path.display())
    }
}

/// Every diagnostic as a compiler-style report; `source` is the text the diagnostics point into.
pub fn render(diags: &[Diagnostic], source: &str, color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let placed = match (d.line, d.column) {
            (Some(line), Some(column)) => span(source, line, column).map(|range| (line, column, range)),
            _ => None,
        };
        let group = match placed {
            Some((line, column, range)) => {
                let (text, range, cut) = excerpt(source, range);
                let mut annotation = AnnotationKind::Primary.span(range);
                if let Some(path) = &d.path {
                    annotation = annotation.label(path.as_str());
                }
                let snippet = Snippet::source(text).line_start(line).annotation(annotation);
                let title = level.primary_title(d.message.as_str());
                if cut {
                    // The renderer would count the column in the cut text; give the real one.
                    let origin = Origin::path(d.file.as_str()).line(line).char_column(column);
                    title.element(origin).element(snippet)
                } else {
                    title.element(snippet.path(d.file.as_str()))
                }
            }
            None => {
                // No position: the field path carries the "where".
                let title = match &d.path {
                    Some(path) => format!("{path}: {}", d.message),
                    None => d.message.clone(),
                };
                let mut origin = Origin::path(d.file.as_str());
                if let Some(line) = d.line {
                    origin = origin.line(line);
                }
                level.primary_title(title).element(origin)
            }
        };
        let group: Group = match &d.hint {
            // Hints quote the user's file; strip anything a terminal would interpret.
            Some(hint) => group.element(Level::HELP.message(normalize_untrusted_str(hint))),
            None => group,
        };
        if !out.is_empty() {
            out.push('\n'); // a blank line between reports, as rustc does
        }
        out.push_str(&renderer.render(&[group]));
        out.push('\n');
    }
    out
}

/// Characters of a source line shown under a diagnostic: a minified file is a single line of
/// megabytes, and each diagnostic would print all of it.
const MAX_SHOWN_LINE_CHARS: usize = 200;

/// The line holding `range` (a span of `source`), cut to at most `MAX_SHOWN_LINE_CHARS`
/// characters around the span with `…` where it was cut, the span within that text, and
/// whether it was cut.
fn excerpt(source: &str, range: std::ops::Range<usize>) -> (String, std::ops::Range<usize>, bool) {
    let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[range.start..].find('\n').map_or(source.len(), |i| range.start + i);
    let line = source[line_start..line_end].trim_end_matches('\r');
    let (start, end) = (range.start - line_start, (range.end - line_start).min(line.len()));
    if line.chars().count() <= MAX_SHOWN_LINE_CHARS {
        return (line.to_string(), start..end, false);
    }
    // Some context before the span, the rest after it; counted in bytes, so at most as many
    // characters, and moved onto character boundaries.
    let budget = MAX_SHOWN_LINE_CHARS - 2;
    let mut from = start.saturating_sub(budget / 3);
    while !line.is_char_boundary(from) {
        from += 1;
    }
    let mut to = (from + budget).min(line.len());
    while !line.is_char_boundary(to) {
        to -= 1;
    }
    let cut_before = if from > 0 { "…" } else { "" };
    let cut_after = if to < line.len() { "…" } else { "" };
    let text = format!("{cut_before}{}{cut_after}", &line[from..to]);
    let shift = |at: usize| (at.clamp(from, to) - from) + cut_before.len();
    (text, shift(start)..shift(end), true)
}

/// The byte range to underline for a 1-based line and character column: the JSON token that
/// starts there (a whole string, number or word), or one character.
fn span(source: &str, line: usize, column: usize) -> Option<std::ops::Range<usize>> {
    let line_start = if line <= 1 { 0 } else { source.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)? };
    let rest = &source[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let start = line_start + line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i);
    let tail = &source[start..];
    let len = match tail.chars().next() {
        None => 0,
        Some('"') => {
            let mut escaped = false;
            let mut end = tail.len();
            for (i, c) in tail.char_indices().skip(1) {
                match c {
                    '\n' => {
                        end = i;
                        break;
                    }
                    '"' if !escaped => {
                        end = i + 1;
                        break;
                    }
                    _ => escaped = c == '\\' && !escaped,
                }
            }
            end
        }
        Some(c) if c.is_alphanumeric() || c == '-' || c == '+' => tail
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '-' | '+' | '.')))
            .map_or(tail.len(), |(i, _)| i),
        Some(c) if c == '\r' || c == '\n' => 0,
        Some(c) => c.len_utf8(),
    };
    Some(start..start + len)
}

/// Load the definition at `path` (a file or a bundle directory) and report. Exit code 0 when it
/// is valid (warnings allowed), 1 when it has errors.
pub fn run(path: &Path, json: bool) -> anyhow::Result<i32> {
    let file = find_definition(path)?;
    let source = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    let result = load_dockerrun(&name, &source);
    let yaml = match &result {
        Ok(loaded) => check_sprout_yaml(&file, &loaded.dockerrun)?,
        Err(_) => None,
    };
    if json {
        let mut report = json_report(&name, &result);
        if let Some((yaml_name, _, diags)) = &yaml {
            let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
            report["valid"] = serde_json::json!(result.is_ok() && errors.is_empty());
            report["sproutYaml"] =
                serde_json::json!({"file": yaml_name, "valid": errors.is_empty(), "diagnostics": diags});
        }
        let valid = report["valid"].as_bool() == Some(true);
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(if valid { 0 } else { 1 });
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if let Some((yaml_name, yaml_source, diags)) = &yaml {
        eprint!("{}", render(diags, yaml_source, color));
        let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
        if errors > 0 {
            eprintln!("invalid: {yaml_name}: {}", plural(errors, "error"));
            return Ok(1);
        }
    }
    match result {
        Ok(loaded) => {
            eprint!("{}", render(&loaded.warnings, &source, color));
            // No policy is known here: host access is said, not refused (real files that mount
            // the Docker socket or /proc must still validate).
            let default = sprout_model::policy::HostAccessPolicy::default();
            let normalize = |p: &str| sprout_model::policy::normalize(p);
            for v in sprout_model::policy::check_host_access(&loaded.dockerrun, &default, "APP", &normalize) {
                eprintln!("warning: {}: {} (a server refuses it unless its policy allows it)", v.field, v.message);
            }
            if let Some(auth) = &loaded.dockerrun.authentication {
                eprintln!(
                    "note: authentication: the bucket {:?} is ignored; the key {:?} must name a Docker config imported on the server with `sprout registry import {} --file config.json`",
                    auth.bucket, auth.key, auth.key
                );
            }
            println!("valid: {name}: {}", summary(&loaded.dockerrun, loaded.warnings.len()));
            Ok(0)
        }
        Err(diags) => {
            eprint!("{}", render(&diags, &source, color));
            let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = diags.len() - errors;
            eprintln!("invalid: {name}: {}, {}", plural(errors, "error"), plural(warnings, "warning"));
            Ok(1)
        }
    }
}

/// The `sprout.yaml` beside the definition, when there is one: its name, text and what loading
/// it against `dockerrun` found.
fn check_sprout_yaml(
    definition: &Path,
    dockerrun: &Dockerrun,
) -> anyhow::Result<Option<(String, String, Vec<Diagnostic>)>> {
    use sprout_model::sprout_yaml::{SPROUT_YAML, load_sprout_yaml};
    let path = definition.parent().unwrap_or(Path::new(".")).join(SPROUT_YAML);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let diags = match load_sprout_yaml(&name, &text, dockerrun) {
        Ok((_, warnings)) => warnings,
        Err(diags) => diags,
    };
    Ok(Some((name, text, diags)))
}

/// `4 containers (nginx, app, ...), web container nginx (host port 80 -> container port 8080), 2 warnings`.
fn summary(dockerrun: &Dockerrun, warnings: usize) -> String {
    let names: Vec<&str> = dockerrun.container_definitions.iter().map(|c| c.name.as_str()).collect();
    let shown = if names.len() > 6 { format!("{}, ...", names[..6].join(", ")) } else { names.join(", ") };
    let web = match dockerrun.web_container() {
        Some((c, p)) => format!(
            "web container {} (host port {} -> container port {})",
            c.name,
            sprout_model::WEB_HOST_PORT,
            p.container_port
        ),
        None => "no web container on host port 80 (the server will not deploy it)".to_string(),
    };
    format!("{} ({shown}), {web}, {}", plural(names.len(), "container"), plural(warnings, "warning"))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn json_report(name: &str, result: &Result<sprout_model::Loaded, Vec<Diagnostic>>) -> serde_json::Value {
    let (containers, errors, warnings): (Vec<&str>, Vec<&Diagnostic>, Vec<&Diagnostic>) = match result {
        Ok(l) => (
            l.dockerrun.container_definitions.iter().map(|c| c.name.as_str()).collect(),
            Vec::new(),
            l.warnings.iter().collect(),
        ),
        Err(diags) => (
            Vec::new(),
            diags.iter().filter(|d| d.severity == Severity::Error).collect(),
            diags.iter().filter(|d| d.severity == Severity::Warning).collect(),
        ),
    };
    let web = result.as_ref().ok().and_then(|l| l.dockerrun.web_container()).map(|(c, _)| c.name.clone());
    serde_json::json!({
        "valid": result.is_ok(),
        "file": name,
        "containers": containers,
        "webContainer": web,
        "errors": errors,
        "warnings": warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = "{\n  \"AWSEBDockerrunVersion\": 2,\n  \"containerDefinitions\": [\n    {\"name\": \"web\", \"image\": \"nginx\", \"memory\": \"128\",\n     \"ports\": [\"80:80\"]}\n  ]\n}\n";

    #[test]
    fn finds_the_definition_in_a_bundle_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_definition(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no Dockerrun.aws.json: add one at its root"), "{err}");
        std::fs::write(dir.path().join(DEFINITION_FILE), "{}").unwrap();
        assert_eq!(find_definition(dir.path()).unwrap(), dir.path().join(DEFINITION_FILE));
        let other = dir.path().join("other.json");
        std::fs::write(&other, "{}").unwrap();
        assert_eq!(find_definition(&other).unwrap(), other);
        assert!(find_definition(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn renders_source_line_caret_path_and_help() {
        let diags = load_dockerrun("Dockerrun.aws.json", BAD).unwrap_err();
        let text = render(&diags, BAD, false);
        assert!(text.contains("error: `memory` must be a whole number of MiB"), "{text}");
        assert!(text.contains("Dockerrun.aws.json:4:49"), "{text}");
        assert!(text.contains("^^^^^ containerDefinitions[0].memory"), "{text}");
        assert!(text.contains("help: write 128 without quotes"), "{text}");
        assert!(
            text.contains(r#"help: Dockerrun uses `portMappings`: [{"hostPort": 80, "containerPort": 80}]"#),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "plain output has no escapes");
        assert!(render(&diags, BAD, true).contains('\u{1b}'));
    }

    #[test]
    fn renders_diagnostics_without_position_and_at_end_of_file() {
        let src = "{\"a\": [1,";
        let diags = load_dockerrun("f.json", src).unwrap_err();
        let text = render(&diags, src, false);
        assert!(text.contains("invalid JSON"), "{text}");
        let unplaced = Diagnostic {
            severity: Severity::Warning,
            file: "f.json".into(),
            path: Some("containerDefinitions".into()),
            line: None,
            column: None,
            message: "something".into(),
            hint: None,
        };
        let text = render(&[unplaced], "", false);
        assert!(text.contains("warning: containerDefinitions: something"), "{text}");
        assert!(text.contains("f.json"), "{text}");
    }

    #[test]
    fn spans_cover_whole_tokens_even_with_tabs_crlf_and_wide_characters() {
        let src = "{\r\n\t\"é\": \"a\\\"b\",\r\n\t\"n\": 128\r\n}";
        assert_eq!(&src[span(src, 2, 2).unwrap()], "\"é\"");
        assert_eq!(&src[span(src, 2, 7).unwrap()], "\"a\\\"b\"");
        assert_eq!(&src[span(src, 3, 7).unwrap()], "128");
        assert_eq!(span(src, 9, 1), None);
        assert_eq!(span(src, 4, 40), Some(src.len()..src.len()));
    }

    /// Issue 11: a minified file is one long line; each report shows a clip of it, not all.
    #[test]
    fn long_source_lines_are_cut_around_the_span() {
        let filler = format!("\"{}\"", "é".repeat(50_000));
        let src = format!(
            "{{\"AWSEBDockerrunVersion\": 2, \"containerDefinitions\": [{{\"name\": \"web\", \"image\": \"nginx\", \
             \"dockerLabels\": {{\"a\": {filler}}}, \"memory\": \"128\"}}]}}"
        );
        let diags = load_dockerrun("f.json", &src).unwrap_err();
        let text = render(&diags, &src, false);
        assert!(text.len() < 4_000, "{} bytes:\n{text:.2000}", text.len());
        let column = src[..src.find("\"128\"").unwrap()].chars().count() + 1;
        assert!(text.contains(&format!("f.json:1:{column}")), "{text}");
        assert!(text.contains("…éé"), "{text}");
        assert!(text.contains("\"memory\": \"128\"}]}"), "{text}");
        assert!(text.contains("^^^^^ containerDefinitions[0].memory"), "{text}");
        let (cut, range, was_cut) = excerpt(&src, 10..20);
        assert!(was_cut && cut.chars().count() <= MAX_SHOWN_LINE_CHARS && cut.ends_with('…'), "{cut}");
        assert_eq!(&cut[range], &src[10..20]);
    }

    #[test]
    fn summary_names_containers_and_web_container() {
        let src = r#"{"AWSEBDockerrunVersion": 2, "containerDefinitions": [
            {"name": "nginx", "image": "nginx", "memory": 64, "portMappings": [{"hostPort": 80, "containerPort": 8080}]},
            {"name": "app", "image": "app", "memory": 64}]}"#;
        let loaded = load_dockerrun("f", src).unwrap();
        assert_eq!(
            summary(&loaded.dockerrun, 1),
            "2 containers (nginx, app), web container nginx (host port 80 -> container port 8080), 1 warning"
        );
        let report = json_report("f", &Ok(loaded));
        assert_eq!(report["valid"], true);
        assert_eq!(report["containers"], serde_json::json!(["nginx", "app"]));
    }
}
