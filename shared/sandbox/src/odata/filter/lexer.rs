//! `$filter` tokenizer.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::odata::error::ODataError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Property names, keywords (`and`, `eq`, …), `true`/`false`/`null` and function names: the
    /// parser decides by position which is which.
    Ident(String),
    Str(String),
    Int(i64),
    Decimal(f64),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
    LParen,
    RParen,
    Comma,
}

/// A token and the byte offset where it starts, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub fn syntax_error(input: &str, pos: usize, what: &str) -> ODataError {
    ODataError::bad_request(format!(
        "Syntax error at position {pos} in '{input}': {what}."
    ))
}

fn is_guid(s: &[u8]) -> bool {
    s.len() >= 36
        && s[..36].iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && !s
            .get(36)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn is_date_prefix(s: &[u8]) -> bool {
    s.len() >= 10
        && s[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

pub fn tokenize(input: &str) -> Result<Vec<Token>, ODataError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'\'' => {
                // '' inside a string is an escaped quote.
                let mut s = String::new();
                i += 1;
                loop {
                    match input[i..].find('\'') {
                        None => {
                            return Err(syntax_error(input, start, "unterminated string literal"));
                        }
                        Some(off) => {
                            s.push_str(&input[i..i + off]);
                            i += off + 1;
                            if bytes.get(i) == Some(&b'\'') {
                                s.push('\'');
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                Tok::Str(s)
            }
            _ if is_guid(&bytes[i..]) => {
                let g = Uuid::parse_str(&input[i..i + 36])
                    .map_err(|_| syntax_error(input, start, "invalid GUID"))?;
                i += 36;
                Tok::Guid(g)
            }
            b'0'..=b'9' | b'-' => {
                // A literal runs over the characters numbers and ISO 8601 date/times use.
                let len = bytes[i + 1..]
                    .iter()
                    .position(|c| {
                        !(c.is_ascii_alphanumeric() || matches!(c, b':' | b'.' | b'+' | b'-'))
                    })
                    .map_or(bytes.len() - i, |p| p + 1);
                let text = &input[i..i + len];
                i += len;
                literal(text).ok_or_else(|| {
                    syntax_error(input, start, &format!("invalid literal '{text}'"))
                })?
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(bytes.len() - i);
                let text = &input[i..i + len];
                i += len;
                Tok::Ident(text.to_owned())
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(syntax_error(
                    input,
                    start,
                    &format!("unexpected character '{ch}'"),
                ));
            }
        };
        out.push(Token { tok, pos: start });
    }
    Ok(out)
}

/// A number, date or date/time literal.
fn literal(text: &str) -> Option<Tok> {
    if is_date_prefix(text.as_bytes()) {
        if text.len() == 10 {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(Tok::Date);
        }
        return DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Tok::DateTime(t.with_timezone(&Utc)));
    }
    // OData type suffixes: 12L (Int64), 1.5M / 1.5m (Decimal), 1.5d / 1.5f (Double/Single).
    let body = text.trim_end_matches(['L', 'l', 'M', 'm', 'D', 'd', 'F', 'f']);
    if body.len() + 1 < text.len() || body.is_empty() || !body.bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits_only = body
        .strip_prefix('-')
        .unwrap_or(body)
        .bytes()
        .all(|c| c.is_ascii_digit());
    if digits_only {
        return body.parse::<i64>().ok().map(Tok::Int);
    }
    let valid = body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !valid {
        return None;
    }
    body.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Tok::Decimal)
}
