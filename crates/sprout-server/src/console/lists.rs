//! Read-only pages over the API's answers: an environment's recent logs, and the conversion of an
//! API list into a table that the admin pages (`admin`) share. Whatever the API shows (and
//! redacts) is what the page shows; a token whose scope may not read it gets the API's refusal in
//! words.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ConsoleState;
use super::client::{call, seg};
use super::overview::Chrome;
use super::session::SignedIn;

#[derive(Template, WebTemplate)]
#[template(path = "console/list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub title: String,
    pub back: Option<(String, String)>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Logs: (heading, text) per log.
    pub texts: Vec<(String, String)>,
    pub error: Option<String>,
    pub empty: String,
}

/// A JSON array of objects as columns (the first object's keys, then any others) and rows.
pub fn table_of(v: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let items = v.as_array().cloned().unwrap_or_default();
    let mut columns: Vec<String> = Vec::new();
    for item in &items {
        for k in item.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = items.iter().map(|item| columns.iter().map(|c| cell(&item[c.as_str()])).collect()).collect();
    (columns, rows)
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub async fn logs(
    State(st): State<ConsoleState>,
    SignedIn(s): SignedIn,
    Path((app, env)): Path<(String, String)>,
) -> Response {
    let path = format!("/apps/{}/environments/{}/logs?tail=200", seg(&app), seg(&env));
    let back = Some((format!("/console/apps/{}/{}", seg(&app), seg(&env)), format!("{app}/{env}")));
    let mut p = ListPage {
        chrome: Chrome::of(&st, &s),
        title: format!("Logs of {app}/{env}"),
        back,
        columns: Vec::new(),
        rows: Vec::new(),
        texts: Vec::new(),
        error: None,
        empty: "No log yet.".into(),
    };
    match call::<Value>(&st, &s, Method::GET, &path, None).await {
        Ok(v) => {
            for chunk in v["logs"].as_array().into_iter().flatten() {
                let head = format!(
                    "{} · {} · {}{}",
                    chunk["instance"].as_str().unwrap_or_default(),
                    chunk["container"].as_str().unwrap_or_default(),
                    chunk["source"].as_str().unwrap_or_default(),
                    if chunk["live"].as_bool() == Some(false) { " (retired)" } else { "" }
                );
                p.texts.push((head, chunk["text"].as_str().unwrap_or_default().to_string()));
            }
        }
        Err(e) => p.error = Some(e),
    }
    p.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_becomes_a_table_with_every_key() {
        let (c, r) = table_of(&json!([{"name": "a", "scope": "read"}, {"name": "b", "limit_app": "x", "n": 2}]));
        assert_eq!(c, ["name", "scope", "limit_app", "n"]);
        assert_eq!(r, [vec!["a", "read", "", ""], vec!["b", "", "x", "2"]]);
    }
}
