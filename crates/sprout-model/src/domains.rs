//! Custom domains an environment answers to besides its own `ENV.APP.localhost` names: what a
//! valid one looks like (a DNS name, or a one-level wildcard `*.ads.example.com`), which request
//! hosts a name covers, and which names a certificate's names cover. Pure; who owns a name is
//! the server's business (`api/domains.rs`).

/// Checks and normalises a domain (lowercase, no trailing dot). A wildcard may only be the whole
/// first label, and must leave at least two labels (`*.example.com`, not `*.com`). Names under
/// `localhost` are Sprout's own and refused.
pub fn parse_domain(input: &str) -> Result<String, String> {
    let name = input.trim().strip_suffix('.').unwrap_or(input.trim()).to_ascii_lowercase();
    let invalid = |why: &str| {
        Err(format!("{input:?} is not a valid domain: {why} (e.g. \"ads.example.com\" or \"*.ads.example.com\")"))
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > 253 {
        return invalid("it is longer than 253 characters");
    }
    let (wildcard, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name.as_str()),
    };
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.len() < 2 {
        return invalid(if wildcard {
            "a wildcard must leave at least two labels"
        } else {
            "it needs at least two labels"
        });
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return invalid("each label is 1-63 characters");
        }
        if label.contains('*') {
            return invalid("a wildcard may only be the whole first label");
        }
        if !label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return invalid("labels hold only letters, digits and '-'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid("a label may not start or end with '-'");
        }
    }
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return invalid("an IP address is not a domain");
    }
    if labels.last() == Some(&"localhost") {
        return invalid("names under localhost are Sprout's own");
    }
    Ok(name)
}

/// Whether `pattern` (a domain or a one-level wildcard) covers the normalised `host`: `*.a.b`
/// covers `x.a.b` but neither `a.b` nor `y.x.a.b`.
pub fn covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(parse_domain("Ads.Example.COM.").unwrap(), "ads.example.com");
        assert_eq!(parse_domain("*.ads.example.com").unwrap(), "*.ads.example.com");
        assert_eq!(parse_domain("a-b.x1.io").unwrap(), "a-b.x1.io");
    }

    #[test]
    fn refuses_what_is_not_a_dns_name() {
        for bad in [
            "",
            "com",
            "*.com",
            "a.*.example.com",
            "x*.example.com",
            "**.example.com",
            "ex ample.com",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "127.0.0.1",
            "web.shop.localhost",
            "under_score.example.com",
            "exämple.com",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "a.".repeat(127)),
        ] {
            let err = parse_domain(bad).unwrap_err();
            assert!(err.contains("not a valid domain"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn wildcards_cover_one_level() {
        assert!(covers("*.ads.example.com", "x.ads.example.com"));
        assert!(!covers("*.ads.example.com", "ads.example.com"));
        assert!(!covers("*.ads.example.com", "y.x.ads.example.com"));
        assert!(covers("ads.example.com", "ads.example.com"));
        assert!(!covers("ads.example.com", "x.ads.example.com"));
    }
}
