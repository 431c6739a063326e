//! Field transforms: a small declarative set, parsed once from the definition (so an unknown or malformed
//! one is an `apply` error) and applied per record (so a value it cannot handle is a record error).
//!
//! TOML shapes, all under a field's `transform` key:
//! - `"trim"`, `"lower"`, `"upper"`
//! - `{ default = "n/a" }`: replaces a null or empty value
//! - `{ map = { "0" = "open", "1" = "closed" }, fallback = "other" }`: a value table; without
//!   `fallback` an unlisted value passes unchanged
//! - `{ format = "{No}: {Name}" }`: text from several source fields (`{{` and `}}` are literal braces)
//! - `{ concat = ["Address", "City"], separator = ", " }`: the non-empty fields joined
//! - `{ date = "%d.%m.%Y" }`: a date or date-time as text, chrono `strftime` syntax
//! - `{ timezone = "+01:00" }` (or `"UTC"`): a date-time moved to that offset
//! - an array of the above: applied in order, e.g. `["trim", { default = "-" }]`

use std::collections::BTreeMap;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value as Json;

use crate::odata::client::Row;

/// The names accepted as plain strings; listed in errors.
pub const NAMED: &[&str] = &["trim", "lower", "upper"];
/// The keys accepted as inline tables; listed in errors.
pub const TABLES: &[&str] = &["default", "map", "format", "concat", "date", "timezone"];

/// One step of a field's transform chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Trim,
    Lower,
    Upper,
    Default(Json),
    Map {
        table: BTreeMap<String, Json>,
        fallback: Option<Json>,
    },
    Format(Vec<Piece>),
    Concat {
        fields: Vec<String>,
        separator: String,
    },
    Date(String),
    Timezone(FixedOffset),
}

/// A piece of a `format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field(String),
}

/// A parsed chain of steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transform {
    pub steps: Vec<Step>,
}

impl Transform {
    /// Parses a definition's `transform` value; the error says what is wrong in operator terms.
    pub fn parse(value: &toml::Value) -> Result<Transform, String> {
        let steps = match value {
            toml::Value::Array(items) => items.iter().map(step).collect::<Result<_, _>>()?,
            other => vec![step(other)?],
        };
        Ok(Transform { steps })
    }

    /// Source fields the chain reads besides the field's own `from` (`format`, `concat`).
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Format(pieces) => out.extend(pieces.iter().filter_map(|p| match p {
                    Piece::Field(f) => Some(f.as_str()),
                    Piece::Text(_) => None,
                })),
                Step::Concat { fields, .. } => out.extend(fields.iter().map(String::as_str)),
                _ => {}
            }
        }
        out
    }

    /// Whether the chain's result is text whatever the source type was (so the column is text).
    pub fn yields_text(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s,
                Step::Map { .. } | Step::Format(_) | Step::Concat { .. } | Step::Date(_)
            )
        })
    }

    /// Runs the chain on one value of `row`.
    pub fn apply(&self, value: &Json, row: &Row) -> Result<Json, String> {
        let mut value = value.clone();
        for step in &self.steps {
            value = step.apply(value, row)?;
        }
        Ok(value)
    }
}

impl Step {
    fn apply(&self, value: Json, row: &Row) -> Result<Json, String> {
        Ok(match self {
            Step::Trim => text_op(value, |s| s.trim().to_string()),
            Step::Lower => text_op(value, |s| s.to_lowercase()),
            Step::Upper => text_op(value, |s| s.to_uppercase()),
            Step::Default(default) => match &value {
                Json::Null => default.clone(),
                Json::String(s) if s.is_empty() => default.clone(),
                _ => value,
            },
            Step::Map { table, fallback } => match as_text(&value) {
                None => value,
                Some(key) => match (table.get(&key), fallback) {
                    (Some(mapped), _) => mapped.clone(),
                    (None, Some(fallback)) => fallback.clone(),
                    (None, None) => Json::String(key),
                },
            },
            Step::Format(pieces) => Json::String(
                pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.clone(),
                        Piece::Field(f) => row.get(f).and_then(as_text).unwrap_or_default(),
                    })
                    .collect(),
            ),
            Step::Concat { fields, separator } => Json::String(
                fields
                    .iter()
                    .filter_map(|f| row.get(f).and_then(as_text))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(separator),
            ),
            Step::Date(format) => match &value {
                Json::Null => value,
                Json::String(s) if s.is_empty() => value,
                Json::String(s) => Json::String(format_date(s, format)?),
                _ => return Err("a date to format must be text".into()),
            },
            Step::Timezone(offset) => match &value {
                Json::Null => value,
                Json::String(s) if s.is_empty() => value,
                Json::String(s) => {
                    let at = DateTime::parse_from_rfc3339(s)
                        .map_err(|_| format!("not an ISO 8601 date-time with offset: {s:?}"))?;
                    Json::String(at.with_timezone(offset).to_rfc3339())
                }
                _ => return Err("a date-time to convert must be text".into()),
            },
        })
    }
}

fn step(value: &toml::Value) -> Result<Step, String> {
    match value {
        toml::Value::String(name) => match name.as_str() {
            "trim" => Ok(Step::Trim),
            "lower" => Ok(Step::Lower),
            "upper" => Ok(Step::Upper),
            other => Err(format!(
                "unknown transform {other:?} (known: {}; or a table with one of {})",
                NAMED.join(", "),
                TABLES.join(", ")
            )),
        },
        toml::Value::Table(table) => table_step(table),
        _ => Err("a transform is a name, an inline table, or an array of them".into()),
    }
}

fn table_step(table: &toml::Table) -> Result<Step, String> {
    let Some(kind) = TABLES.iter().copied().find(|k| table.contains_key(*k)) else {
        return Err(format!(
            "a transform table needs one of {} (found {})",
            TABLES.join(", "),
            table.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let extra_allowed = match kind {
        "map" => Some("fallback"),
        "concat" => Some("separator"),
        _ => None,
    };
    if let Some(extra) = table
        .keys()
        .find(|k| k.as_str() != kind && Some(k.as_str()) != extra_allowed)
    {
        return Err(format!("unknown key {extra:?} in a {kind} transform"));
    }
    let value = &table[kind];
    match kind {
        "default" => Ok(Step::Default(scalar(value, "default")?)),
        "map" => {
            let toml::Value::Table(entries) = value else {
                return Err("map must be a table of source value = local value".into());
            };
            let map = entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), scalar(v, "a map value")?)))
                .collect::<Result<_, String>>()?;
            let fallback = table
                .get("fallback")
                .map(|f| scalar(f, "fallback"))
                .transpose()?;
            Ok(Step::Map {
                table: map,
                fallback,
            })
        }
        "format" => {
            let template = value.as_str().ok_or("format must be a text template")?;
            Ok(Step::Format(template_pieces(template)?))
        }
        "concat" => {
            let fields = value
                .as_array()
                .filter(|a| !a.is_empty())
                .and_then(|a| {
                    a.iter()
                        .map(|f| f.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or("concat must list source field names")?;
            let separator = match table.get("separator") {
                None => String::new(),
                Some(s) => s.as_str().ok_or("separator must be text")?.to_string(),
            };
            Ok(Step::Concat { fields, separator })
        }
        "date" => {
            let format = value.as_str().ok_or("date must be a strftime format")?;
            if format.is_empty()
                || StrftimeItems::new(format).any(|item| matches!(item, Item::Error))
            {
                return Err(format!("not a valid strftime format: {format:?}"));
            }
            Ok(Step::Date(format.to_string()))
        }
        _ => {
            let zone = value.as_str().ok_or("timezone must be text")?;
            Ok(Step::Timezone(offset(zone)?))
        }
    }
}

/// `UTC`/`Z` or a fixed offset `+01:00`. Named zones with daylight saving are not supported: a fixed
/// offset says exactly what lands in the column.
fn offset(zone: &str) -> Result<FixedOffset, String> {
    if matches!(zone, "UTC" | "Z" | "utc") {
        return Ok(FixedOffset::east_opt(0).expect("zero offset"));
    }
    DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{zone}"))
        .map(|d| *d.offset())
        .map_err(|_| format!("timezone must be \"UTC\" or an offset like \"+01:00\", not {zone:?}"))
}

fn template_pieces(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err(format!("unclosed {{ in format {template:?}")),
                    }
                }
                if field.trim().is_empty() {
                    return Err(format!("empty {{}} in format {template:?}"));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(field.trim().to_string()));
            }
            '}' => {
                return Err(format!(
                    "lone }} in format {template:?} (write }}}} for a brace)"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(format!("format {template:?} names no {{Field}}"));
    }
    Ok(pieces)
}

fn scalar(value: &toml::Value, what: &str) -> Result<Json, String> {
    Ok(match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(n) => Json::from(*n),
        toml::Value::Float(f) => Json::from(*f),
        toml::Value::Boolean(b) => Json::Bool(*b),
        _ => return Err(format!("{what} must be a text, number or boolean")),
    })
}

fn text_op(value: Json, op: impl Fn(&str) -> String) -> Json {
    match value {
        Json::String(s) => Json::String(op(&s)),
        other => other,
    }
}

/// A scalar as text, the way a value table or template sees it; null is absent.
fn as_text(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn format_date(text: &str, format: &str) -> Result<String, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.format(format).to_string());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("not a date or date-time: {text:?}"))
        .and_then(|d| {
            // A date has no time: a format asking for one is a record error, not a panic.
            let mut out = String::new();
            std::fmt::write(&mut out, format_args!("{}", d.format(format)))
                .map_err(|_| format!("format {format:?} needs a time, the value is a date"))?;
            Ok(out)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transform(toml_value: &str) -> Transform {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("t = {toml_value}"))
            .unwrap()
            .remove("t")
            .unwrap();
        Transform::parse(&value).unwrap()
    }

    fn parse_error(toml_value: &str) -> String {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("t = {toml_value}"))
            .unwrap()
            .remove("t")
            .unwrap();
        Transform::parse(&value).unwrap_err()
    }

    fn row(value: Json) -> Row {
        serde_json::from_value(value).unwrap()
    }

    fn run(t: &Transform, value: Json) -> Result<Json, String> {
        t.apply(&value, &Row::new())
    }

    #[test]
    fn trim_lower_upper() {
        assert_eq!(
            run(&transform("\"trim\""), json!("  a b ")),
            Ok(json!("a b"))
        );
        assert_eq!(run(&transform("\"lower\""), json!("AbC")), Ok(json!("abc")));
        assert_eq!(
            run(&transform("\"upper\""), json!("a@b.c")),
            Ok(json!("A@B.C"))
        );
        assert_eq!(run(&transform("\"upper\""), json!(null)), Ok(json!(null)));
        assert_eq!(run(&transform("\"upper\""), json!(5)), Ok(json!(5)));
    }

    #[test]
    fn default_replaces_null_and_empty_only() {
        let t = transform("{ default = \"n/a\" }");
        assert_eq!(run(&t, json!(null)), Ok(json!("n/a")));
        assert_eq!(run(&t, json!("")), Ok(json!("n/a")));
        assert_eq!(run(&t, json!("x")), Ok(json!("x")));
        let chain = transform("[\"trim\", { default = 0 }]");
        assert_eq!(run(&chain, json!("   ")), Ok(json!(0)));
    }

    #[test]
    fn map_uses_the_table_then_the_fallback() {
        let t = transform("{ map = { Open = \"O\", \"1\" = \"one\" }, fallback = \"?\" }");
        assert_eq!(run(&t, json!("Open")), Ok(json!("O")));
        assert_eq!(run(&t, json!(1)), Ok(json!("one")));
        assert_eq!(run(&t, json!("Closed")), Ok(json!("?")));
        assert_eq!(run(&t, json!(null)), Ok(json!(null)));
        let keep = transform("{ map = { A = \"a\" } }");
        assert_eq!(run(&keep, json!("B")), Ok(json!("B")));
        assert!(t.yields_text());
    }

    #[test]
    fn format_and_concat_read_several_fields() {
        let r = row(json!({"No": "C1", "Name": "Ann", "City": null, "Zip": 123}));
        let f = transform("{ format = \"{No}: {Name} {{{City}}}\" }");
        assert_eq!(f.apply(&json!(null), &r), Ok(json!("C1: Ann {}")));
        assert_eq!(f.fields(), vec!["No", "Name", "City"]);
        let c = transform("{ concat = [\"Name\", \"City\", \"Zip\"], separator = \", \" }");
        assert_eq!(c.apply(&json!(null), &r), Ok(json!("Ann, 123")));
    }

    #[test]
    fn date_formatting_and_timezones() {
        let d = transform("{ date = \"%d.%m.%Y\" }");
        assert_eq!(run(&d, json!("2026-03-01")), Ok(json!("01.03.2026")));
        assert_eq!(
            run(&d, json!("2026-03-01T23:30:00Z")),
            Ok(json!("01.03.2026"))
        );
        assert!(
            run(&d, json!("yesterday"))
                .unwrap_err()
                .contains("not a date")
        );
        let tz = transform("[{ timezone = \"+02:00\" }, { date = \"%Y-%m-%d %H:%M\" }]");
        assert_eq!(
            run(&tz, json!("2026-03-01T23:30:00Z")),
            Ok(json!("2026-03-02 01:30"))
        );
        let utc = transform("{ timezone = \"UTC\" }");
        assert_eq!(
            run(&utc, json!("2026-03-01T10:00:00+01:00")),
            Ok(json!("2026-03-01T09:00:00+00:00"))
        );
        assert!(run(&utc, json!("soon")).is_err());
    }

    #[test]
    fn malformed_transforms_are_definition_errors() {
        assert!(parse_error("\"shout\"").contains("unknown transform \"shout\""));
        assert!(parse_error("{ reverse = true }").contains("needs one of"));
        assert!(parse_error("{ default = 1, extra = 2 }").contains("unknown key \"extra\""));
        assert!(parse_error("{ format = \"plain\" }").contains("names no"));
        assert!(parse_error("{ format = \"{No\" }").contains("unclosed"));
        assert!(parse_error("{ date = \"%Q\" }").contains("strftime"));
        assert!(parse_error("{ timezone = \"Europe/Prague\" }").contains("offset"));
        assert!(parse_error("{ concat = [] }").contains("concat"));
        assert!(parse_error("42").contains("a name, an inline table"));
    }
}
