//! How much of a hostile file Sprout reads and how much it says about it: the container limit,
//! the number of diagnostics returned, and the length of the text each one quotes.
//!
//! Not the rules about what a valid file contains: those are in `walk`, `container`, `wiring`.

/// Containers one definition may list. ECS allows 10 per task definition; Sprout allows more,
/// because a Dockerrun file here is often a whole small stack on one instance (the corpus's
/// largest has 7), yet few enough that the cross-container checks stay cheap and a 30,000
/// container file is refused before any of them runs.
pub const MAX_CONTAINERS: usize = 32;

/// Diagnostics returned by one load: the first ones in file order, then one that counts the
/// rest. Nobody reads past a hundred, and an error body stays small whatever the file holds.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Characters of a message, hint or field path; longer ones keep their start and end around a
/// `…`. They quote the user's names and keys, which can be megabytes long.
pub const MAX_TEXT_CHARS: usize = 300;

/// Names a hint lists ("the closest containers are `a`, `b`, `c` and 29 more").
pub const MAX_CANDIDATES: usize = 3;

/// Names longer than this are never spelling mistakes worth an edit distance; Docker and ECS
/// names are at most 255 characters.
pub(crate) const MAX_COMPARED_CHARS: usize = 255;

/// `text` shortened to at most `max` characters, keeping its start and end around a `…`.
pub fn clip(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let head = keep * 2 / 3;
    let tail = keep - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_keep_both_ends() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghij", 7), "abcd…ij");
        assert_eq!(clip(&"é".repeat(1000), 300).chars().count(), 300);
    }
}
