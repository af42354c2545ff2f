//! Where each field of a JSON document sits in its source text: a tiny JSON scanner that records
//! the byte offset of every member key and array element under its field path
//! (`containerDefinitions[2].links[0]`), plus byte-offset to line/column conversion.
//!
//! It is not a parser: `serde_json` decides whether the text is valid JSON. The scanner only
//! follows tokens well enough to name positions, and on text it does not understand it stops
//! and keeps what it found (it never panics, whatever the input).

use std::collections::{HashMap, HashSet};

/// Nesting deeper than this stops the scan, which recurses once per level (a few hundred bytes
/// of stack each); `serde_json` refuses documents nested deeper than 128 before the scan runs.
const MAX_DEPTH: usize = 256;

/// The path of member `key` inside the object at `parent`. Keys that are not plain identifiers
/// (Docker label keys like `com.example.team`) are quoted so the path stays unambiguous.
pub fn child_key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", serde_json::Value::from(key)),
    }
}

/// The path of element `index` of the array at `parent`.
pub fn child_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Byte offsets of the key (for object members) and the value of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    pub key: usize,
    pub value: usize,
}

/// Every field path of one document with its position, and keys given twice in one object.
#[derive(Debug, Default)]
pub struct Locator {
    spots: HashMap<String, Spot>,
    /// Paths whose key appeared more than once in the same object; the spot kept is the last,
    /// the one `serde_json` keeps.
    pub duplicates: Vec<String>,
    line_starts: Vec<usize>,
    source_len: usize,
}

impl Locator {
    /// Scan `source`. Always succeeds; on malformed text the map is simply incomplete.
    pub fn new(source: &str) -> Locator {
        let mut line_starts = vec![0];
        line_starts.extend(source.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        let mut scanner = Scanner { src: source.as_bytes(), pos: 0, out: Locator::default() };
        scanner.ws();
        let root = scanner.pos;
        scanner.out.spots.insert(String::new(), Spot { key: root, value: root });
        let _ = scanner.value("", 0);
        let mut out = scanner.out;
        out.line_starts = line_starts;
        out.source_len = source.len();
        out
    }

    pub fn spot(&self, path: &str) -> Option<Spot> {
        self.spots.get(path).copied()
    }

    /// 1-based line and column (in characters; a tab counts as one) of the key at `path`, or of
    /// the element when `path` ends in an index.
    pub fn key_position(&self, source: &str, path: &str) -> Option<(usize, usize)> {
        self.spot(path).map(|s| self.line_column(source, s.key))
    }

    /// Like `key_position`, but of the value.
    pub fn value_position(&self, source: &str, path: &str) -> Option<(usize, usize)> {
        self.spot(path).map(|s| self.line_column(source, s.value))
    }

    /// 1-based line and character column of byte `offset` (clamped to the text).
    pub fn line_column(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source_len).min(source.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1].min(offset);
        let column = source.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}

/// Converts `serde_json`'s error position (line, and column counted in bytes up to and
/// including the offending byte) to a 1-based character column on that line.
pub fn char_column(source: &str, line: usize, byte_column: usize) -> usize {
    let Some(text) = source.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column.max(1);
    };
    let mut end = byte_column.saturating_sub(1).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].chars().count() + 1
}

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    out: Locator,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    /// Scans one value at the cursor. `None` means "gave up": the text is not JSON we follow.
    fn value(&mut self, path: &str, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => self.object(path, depth),
            b'[' => self.array(path, depth),
            b'"' => self.string().map(drop),
            _ => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if !b" \t\r\n,]}:[{\"".contains(&b)) {
                    self.pos += 1;
                }
                (self.pos > start).then_some(())
            }
        }
    }

    fn object(&mut self, path: &str, depth: usize) -> Option<()> {
        self.pos += 1;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        // A set, not a list: an object with 100,000 keys is scanned in linear time.
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            self.ws();
            let key_at = self.pos;
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            let child = child_key(path, &key);
            if !seen.insert(key) {
                self.out.duplicates.push(child.clone());
            }
            self.out.spots.insert(child.clone(), Spot { key: key_at, value: self.pos });
            self.value(&child, depth + 1)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) -> Option<()> {
        self.pos += 1;
        if self.eat(b']').is_some() {
            return Some(());
        }
        for index in 0.. {
            self.ws();
            let child = child_index(path, index);
            self.out.spots.insert(child.clone(), Spot { key: self.pos, value: self.pos });
            self.value(&child, depth + 1)?;
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
        None
    }

    /// Scans a string at the cursor and returns it decoded (escapes resolved), so that keys
    /// written as `"na\u006de"` get the same path as `serde_json` gives them.
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek()?;
                    self.pos += 1;
                    let decoded = match esc {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => self.unicode_escape()?,
                        other => other as char,
                    };
                    bytes.extend_from_slice(decoded.to_string().as_bytes());
                }
                b => {
                    bytes.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// After `\u`: four hex digits, and a low surrogate after a high one.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if (0xD800..0xDC00).contains(&high) && self.src.get(self.pos..self.pos + 2) == Some(b"\\u") {
            self.pos += 2;
            let low = self.hex4()?;
            let code = 0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
            return Some(char::from_u32(code).unwrap_or('\u{FFFD}'));
        }
        Some(char::from_u32(high).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.src.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let value = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(src: &str, path: &str) -> Option<(usize, usize)> {
        Locator::new(src).key_position(src, path)
    }

    #[test]
    fn finds_keys_and_elements() {
        let src = "{\n  \"a\": [1, {\"b\": \"x\"}],\n\t\"c\": {\"d e\": true}\n}";
        assert_eq!(pos(src, "a"), Some((2, 3)));
        assert_eq!(pos(src, "a[0]"), Some((2, 9)));
        assert_eq!(pos(src, "a[1].b"), Some((2, 13)));
        assert_eq!(pos(src, "c"), Some((3, 2)));
        assert_eq!(pos(src, "c[\"d e\"]"), Some((3, 8)));
        assert_eq!(pos(src, "missing"), None);
    }

    #[test]
    fn escapes_crlf_and_wide_characters() {
        let src = "{\"s\": \"q\\\"}\\\\[\", \"é\": 1,\r\n\"na\\u006de\": \"\u{1F600}\", \"z\": 2}";
        assert_eq!(pos(src, "na\u{6d}e"), Some((2, 1)));
        let z = pos(src, "z").unwrap();
        assert_eq!(z, (2, 19)); // the emoji counts as one column
        assert!(pos(src, "[\"é\"]").is_some());
    }

    #[test]
    fn records_duplicate_keys() {
        let src = r#"{"a": 1, "b": {"x": 1, "x": 2}, "a": 3}"#;
        let loc = Locator::new(src);
        assert_eq!(loc.duplicates, vec!["b.x".to_string(), "a".to_string()]);
        assert_eq!(loc.key_position(src, "a"), Some((1, 33)));
    }

    #[test]
    fn converts_serde_byte_columns() {
        assert_eq!(char_column("{\"é\": x}", 1, 8), 7);
        assert_eq!(char_column("ab", 1, 0), 1);
        assert_eq!(char_column("ab", 9, 4), 4);
    }

    /// Issue 11: text nested far deeper than `serde_json` accepts (`Locator` is public, so it may
    /// see such text first) stops the scan instead of overflowing a 2 MiB stack.
    #[test]
    fn deep_nesting_stops_the_scan() {
        let src = format!("{{\"a\": {}{}}}", "[{\"b\": ".repeat(200_000), "1}]".repeat(200_000));
        let found = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Locator::new(&src).key_position(&src, "a"))
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(found, Some((1, 2)));
    }

    proptest! {
        #[test]
        fn never_panics(src in ".{0,200}") {
            let loc = Locator::new(&src);
            for path in ["", "a", "a[0]", "containerDefinitions[0].name"] {
                let _ = loc.key_position(&src, path);
            }
            let _ = loc.line_column(&src, src.len() + 3);
            let _ = char_column(&src, 1, 5);
        }

        #[test]
        fn never_panics_on_json_like_text(src in r#"[\[\]{}",:\\ a-c0-9\r\n\tu]{0,120}"#) {
            let loc = Locator::new(&src);
            let _ = loc.key_position(&src, "a");
        }
    }
}
