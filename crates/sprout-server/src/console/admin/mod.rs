//! The console's admin pages: tokens, registry credentials, an application's host policy, its
//! domains and HTTPS settings, and certificates. Each page is the API's list as a table, with
//! the forms the session's token may use (`client::can`, the API's access table); each form is
//! checked for the session's CSRF token first, then sent to the API handler the CLI calls, whose
//! answer or refusal (word for word) is shown on the next page.
//!
//! One template (`admin.html`) draws every page from `AdminPage`: a table whose rows may carry
//! buttons (`Action`), then forms described as data (`FormSpec`). Not here: what a token may do
//! (`api::access`) or any check the API makes.

pub mod certificates;
pub mod domains;
pub mod policy;
pub mod registries;
pub mod tokens;

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::response::Response;
use serde_json::Value;

use super::ConsoleState;
use super::overview::Chrome;
use super::session::{Session, same_secret, see_other};

/// A form's fields by name, as the browser sent them.
pub type Fields = HashMap<String, String>;

/// A form field, drawn with its label.
pub struct Field {
    pub id: String,
    pub name: String,
    pub label: String,
    /// `text`, `password`, `number`, `textarea`, `checkbox` or `select`.
    pub kind: &'static str,
    /// The current value (a checkbox: `on` when checked). Never a secret.
    pub value: String,
    /// A select's choices: (value, words).
    pub options: Vec<(String, String)>,
    /// A textarea that a chosen file may fill (by the page's script; pasting works without it).
    pub file: bool,
    pub required: bool,
}

impl Field {
    pub fn new(form: &str, name: &str, label: &str, kind: &'static str) -> Field {
        Field {
            id: format!("{form}-{}", name.replace('_', "-")),
            name: name.into(),
            label: label.into(),
            kind,
            value: String::new(),
            options: Vec::new(),
            file: false,
            required: false,
        }
    }

    pub fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }

    pub fn options(mut self, o: &[(&str, &str)]) -> Field {
        self.options = o.iter().map(|(v, w)| (v.to_string(), w.to_string())).collect();
        self
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn file(mut self) -> Field {
        self.file = true;
        self
    }
}

/// A form of the page, posted with the session's CSRF token.
pub struct FormSpec {
    pub id: String,
    pub title: String,
    pub note: String,
    pub action: String,
    pub fields: Vec<Field>,
    pub submit: String,
}

/// A button on a table row: a small form of its own.
pub struct Action {
    pub id: String,
    pub path: String,
    pub label: String,
    pub hidden: Vec<(String, String)>,
    /// Typed confirmation: the row's name must be typed into a `confirm` field (the handler
    /// checks it again).
    pub confirm: Option<String>,
    pub danger: bool,
}

impl Action {
    /// A row's button that changes something without harm (renew, say).
    pub fn plain(id: String, path: String, label: &str) -> Action {
        Action { id, path, label: label.into(), hidden: Vec::new(), confirm: None, danger: false }
    }

    /// A row's button that removes or revokes: drawn as dangerous.
    pub fn danger(id: String, path: String, label: &str) -> Action {
        Action { danger: true, ..Action::plain(id, path, label) }
    }

    /// Fields the button's form sends along.
    pub fn with_hidden(self, hidden: Vec<(String, String)>) -> Action {
        Action { hidden, ..self }
    }

    /// The name to type before the button is enabled (checked again by the handler).
    pub fn confirmed_by(self, name: String) -> Action {
        Action { confirm: Some(name), ..self }
    }
}

pub struct Row {
    pub cells: Vec<String>,
    pub actions: Vec<Action>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin.html")]
pub struct AdminPage {
    pub chrome: Chrome,
    pub title: String,
    /// Links under the title: (href, words).
    pub links: Vec<(String, String)>,
    pub intro: String,
    /// A secret shown this once (a new token): (what it is, the secret).
    pub once: Option<(String, String)>,
    pub error: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub empty: String,
    pub forms: Vec<FormSpec>,
}

impl AdminPage {
    pub fn new(st: &ConsoleState, s: &Session, title: impl Into<String>) -> AdminPage {
        let title = title.into();
        AdminPage {
            chrome: Chrome::of(st, s),
            empty: format!("No {} yet.", title.to_lowercase()),
            title,
            links: Vec::new(),
            intro: String::new(),
            once: None,
            error: None,
            columns: Vec::new(),
            rows: Vec::new(),
            forms: Vec::new(),
        }
    }

    /// Whether any row has a button (the table then has a column for them).
    pub fn has_actions(&self) -> bool {
        self.rows.iter().any(|r| !r.actions.is_empty())
    }
}

/// The API's list as columns and rows (every key of its objects), and each row's object.
pub fn table(v: &Value) -> (Vec<String>, Vec<(Vec<String>, Value)>) {
    let (columns, rows) = super::lists::table_of(v);
    let items = v.as_array().cloned().unwrap_or_default();
    (columns, rows.into_iter().zip(items).collect())
}

/// A field's trimmed value; empty counts as absent.
pub fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A checkbox: sent (as `on`) only when checked.
pub fn checked(f: &Fields, name: &str) -> bool {
    f.get(name).is_some_and(|v| v == "on" || v == "true")
}

/// Whether the form carries the session's CSRF token.
pub fn genuine(s: &Session, f: &Fields) -> bool {
    same_secret(&s.csrf, f.get("csrf").map_or("", String::as_str))
}

/// What a form did (or the API's refusal) on the next page, `to`.
pub fn done(st: &ConsoleState, s: &Session, result: Result<String, String>, to: &str) -> Response {
    st.sessions.flash(&s.id, result.unwrap_or_else(|e| format!("Refused: {e}")));
    see_other(to, vec![])
}
