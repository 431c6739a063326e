//! The source key of a record as one text: what failures, parked records, couplings and key scans are
//! keyed by. Two different records must never get the same text, or one's coupling stands for the
//! other and a row is lost for good (`A|B` + `C` and `A` + `B|C` both used to read `A|B|C`).
//!
//! The format reads every stored key written before it the same way: a key of one field is its text,
//! a composite key its fields joined with `|`, as before, whenever that is unambiguous (no field holds
//! `|` or a control character, and none starts with `[`). Any other key is a JSON array of its fields
//! (`["A|B","C"]`). Plain keys never start with `[` and JSON arrays always do, so the two never meet.
//! Keys stored before this format that held `|` may name a different record than they meant; they
//! collided already.

use serde_json::Value as Json;

/// `fields` (in the source key's order) as one text.
pub fn encode(fields: &[String]) -> String {
    let ambiguous = |f: &String| {
        f.starts_with('[')
            || f.chars().any(char::is_control)
            || (fields.len() > 1 && f.contains('|'))
    };
    let plain = !fields.iter().any(ambiguous);
    if plain {
        return fields.join("|");
    }
    Json::from(fields.to_vec()).to_string()
}

/// One key field's text: a string as it is, anything else as JSON (`42`, `true`), a missing field empty.
pub fn field_text(value: Option<&Json>) -> String {
    match value {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fields: &[&str]) -> String {
        encode(&fields.iter().map(|f| f.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn keys_written_before_read_the_same() {
        assert_eq!(key(&["C000001"]), "C000001");
        assert_eq!(key(&["ORDER", "SO-1", "10000"]), "ORDER|SO-1|10000");
        assert_eq!(
            key(&["a|b"]),
            "a|b",
            "one field has no separator to mistake"
        );
    }

    #[test]
    fn keys_that_collided_are_told_apart() {
        assert_ne!(key(&["A|B", "C"]), key(&["A", "B|C"]));
        assert_eq!(key(&["A|B", "C"]), r#"["A|B","C"]"#);
        assert_ne!(key(&[r#"["A","B"]"#]), key(&["A", "B"]));
        assert_ne!(key(&["[x"]), key(&[r#"["[x"]"#]));
        assert_eq!(
            key(&["a\u{0}b"]),
            r#"["a\u0000b"]"#,
            "no NUL reaches a text column"
        );
        assert_ne!(key(&["A\u{1f}", "B"]), key(&["A", "\u{1f}B"]));
    }
}
