//! A token's lifetime as people type it (`90d`, `12h`, `30m`, `45s`), read the same way by
//! `sprout tokens create --expires` and the console's token form, so both accept and refuse the
//! same text with the same words.

/// The lifetime in seconds, or what is wrong with the text (naming the text, never a flag: each
/// caller says where it came from).
pub fn parse_expiry(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = match number.parse() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("{text:?} must be a positive number and a unit, e.g. 90d, 12h, 30m")),
    };
    let unit_s = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("{text:?}: the unit is d, h, m or s (e.g. 90d)")),
    };
    n.checked_mul(unit_s).ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse_expiry("90d"), Ok(90 * 86_400));
        assert_eq!(parse_expiry("12h"), Ok(43_200));
        assert_eq!(parse_expiry("30m"), Ok(1_800));
        assert_eq!(parse_expiry("45s"), Ok(45));
        assert!(parse_expiry("0d").unwrap_err().contains("positive"));
        assert!(parse_expiry("d").unwrap_err().contains("positive"));
        assert!(parse_expiry("").unwrap_err().contains("positive"));
        assert!(parse_expiry("-1d").unwrap_err().contains("positive"));
        assert!(parse_expiry("90").unwrap_err().contains("the unit is d, h, m or s"), "a unit is required");
        assert!(parse_expiry("3w").unwrap_err().contains("the unit is d, h, m or s"));
        assert!(parse_expiry("1.5d").unwrap_err().contains("the unit is d, h, m or s"));
        assert!(parse_expiry("99999999999999999d").unwrap_err().contains("too long"));
    }
}
