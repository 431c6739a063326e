//! Query options: split the raw query string ourselves (a `+` is a literal plus, as on real OData
//! servers; only `%20` is a space), then compile the options against an entity schema.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use super::error::ODataError;
use super::filter::{self, Pred};
use super::paging::SkipToken;
use crate::model::EntitySchema;

/// Decoded `(name, value)` pairs in request order.
pub type RawOptions = Vec<(String, String)>;

const KNOWN: &[&str] = &[
    "$filter",
    "$orderby",
    "$top",
    "$skip",
    "$select",
    "$count",
    "$skiptoken",
];

fn decode(part: &str) -> Result<String, ODataError> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            ODataError::bad_request(format!(
                "The query string part '{part}' is not valid UTF-8 after percent-decoding."
            ))
        })
}

/// Splits and percent-decodes; rejects unknown or repeated system (`$`) options. Custom options
/// (no `$`) are ignored, as OData allows.
pub fn parse_raw(query: Option<&str>) -> Result<RawOptions, ODataError> {
    parse_raw_with(query, &[])
}

/// [`parse_raw`] accepting the system options in `extra` too (Dataverse's `$deltatoken`,
/// `$expand`), for a route to check itself.
pub fn parse_raw_with(query: Option<&str>, extra: &[&str]) -> Result<RawOptions, ODataError> {
    let mut out: RawOptions = Vec::new();
    for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        if name.starts_with('$') {
            if !KNOWN.contains(&name.as_str()) && !extra.contains(&name.as_str()) {
                return Err(ODataError::bad_request(format!(
                    "The query parameter '{name}' is not supported."
                )));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(ODataError::bad_request(format!(
                    "The query parameter '{name}' is specified more than once."
                )));
            }
        }
        out.push((name, value));
    }
    Ok(out)
}

pub fn get<'a>(options: &'a RawOptions, name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Characters escaped when rebuilding a query for `@odata.nextLink`: spaces become `%20`, never `+`.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: usize,
    pub desc: bool,
}

/// A compiled collection query.
#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Option<Pred>,
    /// The requested order followed by the key fields (ascending) as tie-breakers, so every row has
    /// a unique position: what keyset paging needs.
    pub order: Vec<SortKey>,
    pub top: Option<usize>,
    pub skip: usize,
    pub select: Option<Vec<usize>>,
    pub count: bool,
    pub after: Option<Vec<crate::model::Value>>,
}

fn field(schema: &EntitySchema, name: &str) -> Result<usize, ODataError> {
    schema
        .index_of(name)
        .ok_or_else(|| ODataError::property_not_found(name, &schema.type_name()))
}

fn non_negative(name: &str, value: &str) -> Result<usize, ODataError> {
    value.trim().parse::<usize>().map_err(|_| {
        ODataError::bad_request(format!(
            "Invalid value '{value}' for {name}: a non-negative integer is required."
        ))
    })
}

/// `$select` as field indexes (schema order), or `None` for all fields.
pub fn compile_select(
    options: &RawOptions,
    schema: &EntitySchema,
) -> Result<Option<Vec<usize>>, ODataError> {
    let Some(text) = get(options, "$select") else {
        return Ok(None);
    };
    let mut fields = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name == "*" {
            return Ok(None);
        }
        if name.is_empty() {
            return Err(ODataError::bad_request(format!(
                "Empty property name in $select '{text}'."
            )));
        }
        fields.push(field(schema, name)?);
    }
    fields.sort_unstable();
    fields.dedup();
    Ok(Some(fields))
}

pub fn compile(options: &RawOptions, schema: &EntitySchema) -> Result<Query, ODataError> {
    let filter = get(options, "$filter")
        .map(|f| filter::compile(f, schema))
        .transpose()?;
    let mut order = Vec::new();
    if let Some(text) = get(options, "$orderby") {
        for item in text.split(',') {
            let mut words = item.split_whitespace();
            let name = words.next().ok_or_else(|| {
                ODataError::bad_request(format!("Empty item in $orderby '{text}'."))
            })?;
            let desc = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(ODataError::bad_request(format!(
                        "Syntax error in $orderby '{text}': expected 'asc' or 'desc' after '{name}', found '{other}'."
                    )));
                }
            };
            if let Some(extra) = words.next() {
                return Err(ODataError::bad_request(format!(
                    "Syntax error in $orderby '{text}': unexpected '{extra}'."
                )));
            }
            let f = field(schema, name)?;
            if !order.iter().any(|k: &SortKey| k.field == f) {
                order.push(SortKey { field: f, desc });
            }
        }
    }
    for k in schema.key_indices() {
        if !order.iter().any(|s| s.field == k) {
            order.push(SortKey {
                field: k,
                desc: false,
            });
        }
    }
    let top = get(options, "$top")
        .map(|v| non_negative("$top", v))
        .transpose()?;
    let skip = get(options, "$skip")
        .map(|v| non_negative("$skip", v))
        .transpose()?
        .unwrap_or(0);
    let count = match get(options, "$count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ODataError::bad_request(format!(
                "Invalid value '{other}' for $count: use true or false."
            )));
        }
    };
    let after = get(options, "$skiptoken")
        .map(|t| SkipToken::decode(t, schema, &order))
        .transpose()?;
    Ok(Query {
        filter,
        order,
        top,
        skip,
        select: compile_select(options, schema)?,
        count,
        after,
    })
}

/// The query string of the next page: the same options minus `$skip` (already applied), `$top`
/// reduced to what is left, plus the skip token.
pub fn next_query(options: &RawOptions, remaining_top: Option<usize>, token: &str) -> String {
    let mut parts: Vec<String> = options
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "$skip" | "$skiptoken" | "$top"))
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect();
    if let Some(top) = remaining_top {
        parts.push(format!("$top={top}"));
    }
    parts.push(format!("$skiptoken={}", encode(token)));
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_literal_and_percent_20_is_space() {
        let o = parse_raw(Some("$filter=Email%20eq%20'a+b@x.com'&x=1")).unwrap();
        assert_eq!(get(&o, "$filter"), Some("Email eq 'a+b@x.com'"));
        assert_eq!(encode("Email eq 'a+b'"), "Email%20eq%20'a%2Bb'");
    }

    #[test]
    fn unknown_and_duplicate_options_are_rejected() {
        assert!(
            parse_raw(Some("$expand=x"))
                .unwrap_err()
                .message
                .contains("$expand")
        );
        assert!(
            parse_raw(Some("$top=1&$top=2"))
                .unwrap_err()
                .message
                .contains("more than once")
        );
        assert!(parse_raw(Some("$top=%ff")).is_err());
    }
}
