//! The property names an OData `$filter` expression refers to, so drift detection can tell which
//! filters a vanished field breaks. A scanner, not a parser: it skips string literals, function names,
//! operators and literal prefixes, and reports every other identifier once.

/// Operators and literals that look like identifiers.
const WORDS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "has", "in", "add", "sub", "mul",
    "div", "divby", "mod", "true", "false", "null", "INF", "NaN",
];

/// Property names used by `filter`, in order of first use. For a path (`Address/City`) the first
/// segment is the property of the entity itself.
pub fn fields(filter: &str) -> Vec<String> {
    let chars: Vec<char> = filter.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A string literal; '' is an escaped quote inside it.
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            // Numbers, dates, GUIDs and durations start with digits; skip the whole token.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "-:.".contains(chars[i]))
            {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let is_function = next == Some(&'(');
            let is_literal_prefix = chars.get(i) == Some(&'\'');
            let keyword = WORDS.contains(&word.as_str());
            if !is_function
                && !is_literal_prefix
                && !keyword
                && !word.contains('.')
                && !found.contains(&word)
            {
                found.push(word);
            }
            // Skip the rest of a path: only its first segment belongs to this entity.
            while i < chars.len() && chars[i] == '/' {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            continue;
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn finds_properties_but_not_literals_functions_or_operators() {
        assert_eq!(
            fields("City ne '' and (startswith(Name, 'O''Brien and City') or Balance gt 10.5)"),
            vec!["City", "Name", "Balance"]
        );
        assert_eq!(
            fields(
                "SystemModifiedAt ge 2026-01-01T00:00:00Z and Id eq 6a7b0000-0000-0000-0000-000000000001"
            ),
            vec!["SystemModifiedAt", "Id"]
        );
        assert_eq!(
            fields(
                "Address/City eq 'Oslo' and Type eq Microsoft.NAV.contactType'Person' and not Blocked"
            ),
            vec!["Address", "Type", "Blocked"]
        );
        assert!(fields("true").is_empty());
    }
}
