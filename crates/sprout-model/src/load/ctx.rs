//! The walk's shared state and its typed readers: each reader takes a JSON value and its field
//! path, returns the typed value or records a positioned diagnostic and returns `None`, so that
//! one bad field never hides the next.
//!
//! It is not where rules live: what each field means is in `walk`, `container` and `parts`.

use std::collections::BinaryHeap;

use serde_json::{Map, Value};

use super::hints::near_miss;
use super::limits::{MAX_DIAGNOSTICS, MAX_TEXT_CHARS, clip};
use super::locate::{Locator, child_key};
use crate::{Diagnostic, Severity};

pub(crate) type Object = Map<String, Value>;

/// Which position of a field a diagnostic points at.
#[derive(Clone, Copy)]
pub(crate) enum At {
    Key,
    Value,
}

/// Where a diagnostic sorts: its byte offset in the source (unpositioned ones last), then the
/// order the walk found it in.
type Order = (usize, u64);

/// A diagnostic kept so far, with the byte offset its line and column are computed from at the end.
struct Kept {
    order: Order,
    offset: Option<usize>,
    diag: Diagnostic,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order.cmp(&other.order)
    }
}

/// The walk's state. Diagnostics are kept bounded as they come: the `MAX_DIAGNOSTICS` first in
/// file order (a heap whose top is the last kept one) and a count of the others, so that a file
/// with a million mistakes costs neither a million diagnostics in memory nor a huge answer.
pub(crate) struct Ctx<'a> {
    file: &'a str,
    source: &'a str,
    locator: Locator,
    kept: BinaryHeap<Kept>,
    seen: u64,
    errors: usize,
    dropped: usize,
    dropped_errors: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a str, source: &'a str) -> Ctx<'a> {
        Ctx {
            file,
            source,
            locator: Locator::new(source),
            kept: BinaryHeap::new(),
            seen: 0,
            errors: 0,
            dropped: 0,
            dropped_errors: 0,
        }
    }

    /// Whether any error was found so far (kept or not).
    pub fn failed(&self) -> bool {
        self.errors > 0
    }

    /// Records a diagnostic; `hint` is only called when the diagnostic is kept, because hints
    /// that compare names cost more than the rest.
    pub fn push_with(
        &mut self,
        severity: Severity,
        path: &str,
        at: At,
        message: String,
        hint: impl FnOnce() -> Option<String>,
    ) {
        let offset = self.locator.spot(path).map(|s| match at {
            At::Key => s.key,
            At::Value => s.value,
        });
        self.seen += 1;
        let order = (offset.unwrap_or(usize::MAX), self.seen);
        if severity == Severity::Error {
            self.errors += 1;
        }
        if self.kept.len() >= MAX_DIAGNOSTICS {
            let last = self.kept.peek().map(|k| k.order);
            if last.is_some_and(|last| order > last) {
                self.count_dropped(severity);
                return;
            }
            if let Some(evicted) = self.kept.pop() {
                self.count_dropped(evicted.diag.severity);
            }
        }
        let diag = Diagnostic {
            severity,
            file: self.file.to_string(),
            path: (!path.is_empty()).then(|| clip(path, MAX_TEXT_CHARS)),
            line: None,
            column: None,
            message: clip(&message, MAX_TEXT_CHARS),
            hint: hint().map(|h| clip(&h, MAX_TEXT_CHARS)),
        };
        self.kept.push(Kept { order, offset, diag });
    }

    fn count_dropped(&mut self, severity: Severity) {
        self.dropped += 1;
        if severity == Severity::Error {
            self.dropped_errors += 1;
        }
    }

    /// The kept diagnostics in file order (unpositioned last), positioned, then one that counts
    /// the ones not shown.
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .kept
            .into_sorted_vec()
            .into_iter()
            .map(|k| {
                let position = k.offset.map(|o| self.locator.line_column(self.source, o));
                Diagnostic { line: position.map(|p| p.0), column: position.map(|p| p.1), ..k.diag }
            })
            .collect();
        if self.dropped > 0 {
            out.push(Diagnostic {
                severity: if self.dropped_errors > 0 { Severity::Error } else { Severity::Warning },
                file: self.file.to_string(),
                path: None,
                line: None,
                column: None,
                message: format!("... and {} more problems not shown", self.dropped),
                hint: Some(format!("Sprout shows the first {MAX_DIAGNOSTICS}; fix these and validate again")),
            });
        }
        out
    }

    pub fn push(&mut self, severity: Severity, path: &str, at: At, message: String, hint: Option<String>) {
        self.push_with(severity, path, at, message, || hint);
    }

    pub fn error_hint(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Error, path, At::Key, message.into(), Some(hint.into()));
    }

    /// An error whose hint is worked out only if the diagnostic is kept.
    pub fn error_with(&mut self, path: &str, message: impl Into<String>, hint: impl FnOnce() -> String) {
        self.push_with(Severity::Error, path, At::Key, message.into(), || Some(hint()));
    }

    pub fn warn(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, path, At::Key, message.into(), hint);
    }

    /// `field` holds the wrong JSON type. Points at the value and, when a string holds what was
    /// wanted (`"128"` for a number), says to drop the quotes.
    pub fn type_error(&mut self, path: &str, field: &str, expected: &str, found: &Value) {
        let hint = match found {
            Value::String(s) if expected.contains("number") && s.trim().parse::<f64>().is_ok() => {
                Some(format!("write {} without quotes", s.trim()))
            }
            Value::String(s) if expected.contains("true or false") && matches!(s.as_str(), "true" | "false") => {
                Some(format!("write {s} without quotes"))
            }
            _ => None,
        };
        let message = format!("`{field}` must be {expected}, found {}", describe(found));
        self.push(Severity::Error, path, At::Value, message, hint);
    }

    /// Reports every key of `obj` not in `allowed` (with a spelling hint when one is close), and
    /// every key the file gives twice (JSON keeps only the last, silently).
    pub fn unknown_keys(&mut self, obj: &Object, path: &str, what: &str, allowed: &[&str]) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            let child = child_key(path, key);
            self.error_with(&child, format!("unknown key `{key}` in {what}"), || match near_miss(key, allowed) {
                Some(k) => format!("did you mean `{k}`?"),
                None => {
                    let known = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                    format!("{what} takes {known}")
                }
            });
        }
    }

    /// Duplicate keys anywhere in the document, found by the locator's scan.
    pub fn duplicate_keys(&mut self) {
        for path in self.locator.duplicates.clone() {
            let key = path.rsplit(['.', '[']).next().unwrap_or(&path).trim_end_matches(']').to_string();
            let message = format!("key `{key}` is given twice in the same object");
            self.error_hint(&path, message, "JSON keeps only the last one, silently; remove the other");
        }
    }

    pub fn object<'v>(&mut self, v: &'v Value, path: &str, field: &str) -> Option<&'v Object> {
        match v {
            Value::Object(o) => Some(o),
            other => {
                self.type_error(path, field, "an object", other);
                None
            }
        }
    }

    pub fn array<'v>(&mut self, v: &'v Value, path: &str, field: &str, expected: &str) -> Option<&'v Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.type_error(path, field, expected, other);
                None
            }
        }
    }

    /// A required string member; missing is reported on the object itself.
    pub fn req_string(&mut self, obj: &Object, path: &str, key: &str, what: &str) -> Option<String> {
        match field(obj, key) {
            None => {
                self.error_hint(path, format!("{what} has no `{key}`"), format!("add \"{key}\": \"...\""));
                None
            }
            Some(_) => self.opt_string(obj, path, key),
        }
    }

    pub fn opt_string(&mut self, obj: &Object, path: &str, key: &str) -> Option<String> {
        match field(obj, key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.type_error(&child_key(path, key), key, "a string", other);
                None
            }
        }
    }

    /// A whole number in `range`; `unit` goes into the messages ("MiB", "seconds").
    pub fn opt_uint(&mut self, obj: &Object, path: &str, key: &str, max: u64, unit: &str) -> Option<u64> {
        let v = field(obj, key)?;
        let child = child_key(path, key);
        let expected = format!("a whole number{unit}");
        match v.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(n) => {
                self.error_hint(
                    &child,
                    format!("`{key}` is {n}, above the maximum {max}"),
                    format!("use at most {max}"),
                );
                None
            }
            None => {
                self.type_error(&child, key, &expected, v);
                None
            }
        }
    }

    pub fn opt_int(&mut self, obj: &Object, path: &str, key: &str) -> Option<i64> {
        let v = field(obj, key)?;
        v.as_i64().or_else(|| {
            self.type_error(&child_key(path, key), key, "a whole number", v);
            None
        })
    }

    pub fn opt_bool(&mut self, obj: &Object, path: &str, key: &str) -> Option<bool> {
        let v = field(obj, key)?;
        v.as_bool().or_else(|| {
            self.type_error(&child_key(path, key), key, "true or false", v);
            None
        })
    }

    /// An array of strings. A single string gets a hint that spells the array out, because
    /// ECS (unlike compose) never splits a command line.
    pub fn opt_string_list(&mut self, obj: &Object, path: &str, key: &str) -> Option<Vec<String>> {
        let v = field(obj, key)?;
        let child = child_key(path, key);
        if let Value::String(s) = v {
            let words: Vec<Value> = s.split_whitespace().map(Value::from).collect();
            let hint = format!("use an array of strings, e.g. \"{key}\": {}", Value::Array(words));
            let message = format!("`{key}` must be an array of strings, found {}", describe(v));
            self.push(Severity::Error, &child, At::Value, message, Some(hint));
            return None;
        }
        let items = self.array(v, &child, key, "an array of strings")?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => self.type_error(&format!("{child}[{i}]"), &format!("{key}[{i}]"), "a string", other),
            }
        }
        (out.len() == items.len()).then_some(out)
    }

    /// A list of objects under `key`: each element that is an object (with its path) after its
    /// keys were checked against `allowed`. Other elements are reported, with `hint_for`'s hint
    /// when it has one (a compose-style `"80:8080"` in `portMappings`, say).
    pub fn object_list<'v>(
        &mut self,
        obj: &'v Object,
        path: &str,
        key: &str,
        what: &str,
        allowed: &[&str],
        hint_for: fn(&Value) -> Option<String>,
    ) -> Vec<(String, &'v Object)> {
        let Some(v) = field(obj, key) else {
            return Vec::new();
        };
        let child = child_key(path, key);
        let shape = format!("{{{}}}", allowed.join(", "));
        let expected = format!("an array of {shape} objects");
        let Some(items) = self.array(v, &child, key, &expected) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{child}[{i}]");
            match item {
                Value::Object(o) => {
                    self.unknown_keys(o, &p, what, allowed);
                    out.push((p, o));
                }
                other => {
                    let message = format!("`{key}[{i}]` must be an object {shape}, found {}", describe(other));
                    self.push(Severity::Error, &p, At::Value, message, hint_for(other));
                }
            }
        }
        out
    }

    /// An object whose values are all strings (`dockerLabels`, `logConfiguration.options`).
    pub fn opt_string_map(&mut self, obj: &Object, path: &str, key: &str) -> Option<Vec<(String, String)>> {
        let v = field(obj, key)?;
        let child = child_key(path, key);
        let map = self.object(v, &child, key)?;
        let mut out = Vec::new();
        for (k, val) in map {
            match val {
                Value::String(s) => out.push((k.clone(), s.clone())),
                other => self.type_error(&child_key(&child, k), k, "a string", other),
            }
        }
        Some(out)
    }
}

/// A member that is present and not `null` (ECS treats `null` as absent).
pub(crate) fn field<'v>(obj: &'v Object, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// How a value reads in a message: its type, and the value itself when it is short.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => {
            format!("the string {v}", v = Value::from(s.as_str()))
        }
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
