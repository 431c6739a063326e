//! Text from outside — a source's error message, an identity provider's sign-in prompt — goes to
//! terminals and logs. Control characters in it (ESC, BEL) could rewrite what an operator sees, so
//! they are shown escaped (`\u{1b}`), never passed on.

/// `text` with every control character but none of the printable ones escaped.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("plain text"), "plain text");
        assert_eq!(printable("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(printable("line\nbreak"), "line\\u{a}break");
        assert_eq!(printable("Grüße"), "Grüße");
    }
}
