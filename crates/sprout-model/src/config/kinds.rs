//! What an option holds and the range it accepts: each kind checks text as a user types it and
//! gives the canonical text back, so `15`, ` 15 ` and (for a choice) `Rolling` and `rolling`
//! are one value. The refusal names the allowed range, so the user can fix it at once.

/// An option's type and allowed range.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A whole number from `min` to `max`, in `unit` ("seconds", "instances", "" for a count).
    Int {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    /// A number from `min` to `max` (inclusive; `above_min`: strictly above `min`).
    Float {
        min: f64,
        max: f64,
        above_min: bool,
    },
    Bool,
    /// One of these names (matched ignoring case, `-` and `_`).
    Choice(&'static [&'static str]),
    /// An HTTP path: starts with `/`, no spaces or control characters, at most 1024 bytes.
    UrlPath,
    /// Short text: at most 64 printable characters.
    Text,
    /// HTTP status codes from `min` to `max`, separated by commas (`502,503`).
    StatusCodes {
        min: u16,
        max: u16,
    },
    /// An `http://` URL (the server has no TLS client): at most 1024 bytes, no spaces.
    HttpUrl,
    /// Placement constraints (`crate::placement`), separated by commas.
    Constraints,
}

impl Kind {
    /// Check `text`; the canonical text, or why not with the allowed range.
    pub fn check(&self, text: &str) -> Result<String, String> {
        let t = text.trim();
        match *self {
            Kind::Int { min, max, unit } => {
                let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
                let n: i64 =
                    t.parse().map_err(|_| format!("{t:?} is not a whole number; give {min} to {max}{unit}"))?;
                if n < min || n > max {
                    return Err(format!("{n} is out of range; give {min} to {max}{unit}"));
                }
                Ok(n.to_string())
            }
            Kind::Float { min, max, above_min } => {
                let range = if above_min { format!("above {min} up to {max}") } else { format!("{min} to {max}") };
                let n: f64 = t.parse().map_err(|_| format!("{t:?} is not a number; give {range}"))?;
                let low_ok = if above_min { n > min } else { n >= min };
                if !n.is_finite() || !low_ok || n > max {
                    return Err(format!("{n} is out of range; give {range}"));
                }
                Ok(n.to_string())
            }
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok("true".into()),
                "false" | "no" | "off" | "0" => Ok("false".into()),
                _ => Err(format!("{t:?} is not true or false")),
            },
            Kind::Choice(names) => names
                .iter()
                .find(|n| squash(n) == squash(t))
                .map(|n| n.to_string())
                .ok_or_else(|| format!("{t:?} is not one of {}", names.join(", "))),
            Kind::UrlPath => {
                if !t.starts_with('/') {
                    return Err(format!("{t:?} must start with `/` (e.g. /health)"));
                }
                if t.len() > 1024 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!(
                        "{t:?} must be at most 1024 bytes with no spaces or control characters (e.g. /health)"
                    ));
                }
                Ok(t.to_string())
            }
            Kind::StatusCodes { min, max } => {
                let mut codes = Vec::new();
                for part in t.split(',').map(str::trim) {
                    let code: u16 = part.parse().map_err(|_| {
                        format!("{part:?} is not a status code; give codes from {min} to {max} separated by commas (e.g. 503,504)")
                    })?;
                    if code < min || code > max {
                        return Err(format!("{code} is out of range; give codes from {min} to {max} (e.g. 503,504)"));
                    }
                    codes.push(code);
                }
                codes.sort_unstable();
                codes.dedup();
                Ok(codes.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
            }
            Kind::HttpUrl => {
                let rest = t.strip_prefix("http://").ok_or_else(|| {
                    format!(
                        "{t:?} must be an http:// URL (e.g. http://127.0.0.1:9000/depth); the server has no TLS client"
                    )
                })?;
                if rest.is_empty()
                    || rest.starts_with('/')
                    || t.len() > 1024
                    || t.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(format!(
                        "{t:?} must name a host, with at most 1024 bytes and no spaces (e.g. http://127.0.0.1:9000/depth)"
                    ));
                }
                Ok(t.to_string())
            }
            Kind::Text => {
                if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
                    return Err(format!("{t:?} must be 1 to 64 printable characters"));
                }
                Ok(t.to_string())
            }
            Kind::Constraints => {
                let parsed = crate::placement::parse_constraints(t).map_err(|e| e.to_string())?;
                if parsed.is_empty() {
                    return Err("give at least one constraint, e.g. node.labels.zone==east".into());
                }
                Ok(parsed.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","))
            }
        }
    }

    /// The allowed values in words, for the docs table.
    pub fn describe(&self) -> String {
        match *self {
            Kind::Int { min, max, unit: "" } => format!("integer, {min} to {max}"),
            Kind::Int { min, max, unit } => format!("{unit}, {min} to {max}"),
            Kind::Float { min, max, above_min: true } => format!("number, above {min} up to {max}"),
            Kind::Float { min, max, above_min: false } => format!("number, {min} to {max}"),
            Kind::Bool => "true or false".into(),
            Kind::Choice(names) => format!("one of {}", names.join(", ")),
            Kind::UrlPath => "HTTP path starting with /".into(),
            Kind::Text => "text, 1 to 64 characters".into(),
            Kind::StatusCodes { min, max } => format!("status codes {min} to {max}, comma-separated"),
            Kind::HttpUrl => "http:// URL".into(),
            Kind::Constraints => "node constraints, comma-separated: node.labels.KEY==VALUE, node.role, node.hostname, node.id (== or !=)".into(),
        }
    }

    /// The JSON form of a canonical value: numbers and booleans as such, the rest as strings.
    pub fn to_json(&self, text: &str) -> serde_json::Value {
        let parsed = match self {
            Kind::Int { .. } | Kind::Float { .. } | Kind::Bool => serde_json::from_str(text).ok(),
            _ => None,
        };
        parsed.unwrap_or_else(|| serde_json::Value::String(text.to_string()))
    }
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect()
}

/// A value given in an alias's unit (minutes) in Sprout's (seconds); text that is not a whole
/// number is passed on for the kind to refuse.
pub(super) fn scale(text: &str, factor: u32) -> String {
    match text.trim().parse::<i64>() {
        Ok(n) => n.saturating_mul(i64::from(factor)).to_string(),
        Err(_) => text.trim().to_string(),
    }
}
