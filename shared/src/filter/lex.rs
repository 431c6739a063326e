//! Splitting a filter into tokens. Positions are character offsets, as an operator counts them.

use super::parse::FilterError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Open,
    Close,
    Comma,
    /// A quoted text; `value` holds it with `''` undone.
    String,
    Number,
    /// `2024-01-31` or an ISO 8601 date-time with offset, written bare as OData does.
    Date,
    /// A field name, operator, function or keyword.
    Word,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// As written in the filter.
    pub text: String,
    pub value: Option<String>,
    pub position: usize,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let simple = |kind| Token {
            kind,
            text: c.to_string(),
            value: None,
            position: start,
        };
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(simple(TokenKind::Open));
                i += 1;
            }
            ')' => {
                tokens.push(simple(TokenKind::Close));
                i += 1;
            }
            ',' => {
                tokens.push(simple(TokenKind::Comma));
                i += 1;
            }
            '\'' => {
                let (value, next) = quoted(&chars, start)?;
                tokens.push(Token {
                    kind: TokenKind::String,
                    text: chars[start..next].iter().collect(),
                    value: Some(value),
                    position: start,
                });
                i = next;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '+' | '-'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let kind = if is_number(&text) {
                    TokenKind::Number
                } else if is_date(&text) {
                    TokenKind::Date
                } else {
                    return Err(FilterError {
                        position: start,
                        token: text,
                        message: "not a number or a date (YYYY-MM-DD or ISO 8601 with offset)"
                            .into(),
                    });
                };
                tokens.push(Token {
                    kind,
                    text,
                    value: None,
                    position: start,
                });
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Word,
                    text: chars[start..i].iter().collect(),
                    value: None,
                    position: start,
                });
            }
            other => {
                return Err(FilterError {
                    position: start,
                    token: other.to_string(),
                    message: "unexpected character".into(),
                });
            }
        }
    }
    Ok(tokens)
}

/// Reads `'…'` from `start`, undoing `''`; returns the text and the index after the closing quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(FilterError {
                    position: start,
                    token: chars[start..].iter().collect(),
                    message: "unterminated text: a quote inside text is written ''".into(),
                });
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                value.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((value, i + 1)),
            Some(c) => {
                value.push(*c);
                i += 1;
            }
        }
    }
}

/// An integer or decimal, optionally negative, optionally with an exponent.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.parse::<f64>().is_ok()
        && !digits.contains(['i', 'I', 'n', 'N'])
}

fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(text).is_ok()
}
