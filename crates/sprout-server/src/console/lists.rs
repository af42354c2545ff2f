//! The conversion of an API list into a table that the admin pages (`admin`) share: whatever the
//! API shows (and redacts) is what the page shows. (An environment's logs have their own page,
//! `logs`.)

use serde_json::Value;

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
