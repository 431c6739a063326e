//! Column types and the conversion of source JSON values into typed database values.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use sea_orm::Value;
use serde_json::Value as Json;

use crate::odata::csdl::Property;

/// The type of a target column, derived from the source's Edm type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text {
        max_len: Option<u32>,
    },
    Int16,
    Int32,
    Int64,
    /// `numeric(precision, scale)` when the source states both, unconstrained otherwise.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Double,
    Bool,
    Date,
    Timestamp,
    Guid,
}

impl ColumnType {
    /// An unconstrained decimal.
    pub const DECIMAL: ColumnType = ColumnType::Decimal {
        precision: None,
        scale: None,
    };

    /// Edm type → column type. Enum members and anything unknown travel as text.
    pub fn from_edm(property: &Property) -> ColumnType {
        match property.edm_type.as_str() {
            "Edm.String" => ColumnType::Text {
                max_len: property.max_length,
            },
            "Edm.Int16" | "Edm.Byte" | "Edm.SByte" => ColumnType::Int16,
            "Edm.Int32" => ColumnType::Int32,
            "Edm.Int64" => ColumnType::Int64,
            // Scale="Variable" (and a missing Scale) read as no fixed scale: unconstrained, so no
            // value the source sends is rounded.
            "Edm.Decimal" => match (property.precision, property.scale) {
                (Some(p), Some(s)) if s <= p && (1..=1000).contains(&p) => ColumnType::Decimal {
                    precision: Some(p),
                    scale: Some(s),
                },
                _ => ColumnType::DECIMAL,
            },
            "Edm.Double" | "Edm.Single" => ColumnType::Double,
            "Edm.Boolean" => ColumnType::Bool,
            "Edm.Date" => ColumnType::Date,
            "Edm.DateTimeOffset" => ColumnType::Timestamp,
            "Edm.Guid" => ColumnType::Guid,
            _ => ColumnType::Text { max_len: None },
        }
    }

    /// The type of a constant from a definition file.
    pub fn of_constant(value: &toml::Value) -> ColumnType {
        match value {
            toml::Value::Integer(_) => ColumnType::Int64,
            toml::Value::Float(_) => ColumnType::Double,
            toml::Value::Boolean(_) => ColumnType::Bool,
            _ => ColumnType::Text { max_len: None },
        }
    }

    /// A typed NULL, so the database sees the right parameter type.
    pub fn null(&self) -> Value {
        match self {
            ColumnType::Text { .. } => Value::String(None),
            ColumnType::Int16 => Value::SmallInt(None),
            ColumnType::Int32 => Value::Int(None),
            ColumnType::Int64 => Value::BigInt(None),
            ColumnType::Decimal { .. } => Value::Decimal(None),
            ColumnType::Double => Value::Double(None),
            ColumnType::Bool => Value::Bool(None),
            ColumnType::Date => Value::ChronoDate(None),
            ColumnType::Timestamp => Value::ChronoDateTimeWithTimeZone(None),
            ColumnType::Guid => Value::Uuid(None),
        }
    }

    /// Converts one source value. Errors name the problem, not the value (it may be personal data).
    pub fn convert(&self, json: &Json) -> Result<Value, String> {
        if json.is_null() {
            return Ok(self.null());
        }
        match self {
            ColumnType::Text { max_len } => {
                let text = match json {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    Json::Bool(b) => b.to_string(),
                    other => other.to_string(),
                };
                // PostgreSQL text cannot hold U+0000: written, it would fail the whole page's
                // transaction on every run; it fails this record instead (on SQLite too, alike).
                if text.contains('\0') {
                    return Err(
                        "text contains a NUL character (U+0000), which a database text \
                                column cannot hold"
                            .into(),
                    );
                }
                if let Some(max) = max_len
                    && text.chars().count() > *max as usize
                {
                    return Err(format!(
                        "text of {} characters exceeds the maximum length {max}",
                        text.chars().count()
                    ));
                }
                Ok(Value::String(Some(text)))
            }
            ColumnType::Int16 => {
                let n = integer(json)?;
                i16::try_from(n)
                    .map(|n| Value::SmallInt(Some(n)))
                    .map_err(|_| format!("{n} does not fit a 16-bit integer"))
            }
            ColumnType::Int32 => {
                let n = integer(json)?;
                i32::try_from(n)
                    .map(|n| Value::Int(Some(n)))
                    .map_err(|_| format!("{n} does not fit a 32-bit integer"))
            }
            ColumnType::Int64 => integer(json).map(|n| Value::BigInt(Some(n))),
            ColumnType::Decimal { precision, scale } => {
                let text = number_text(json)?;
                let d = Decimal::from_str(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .map_err(|_| format!("not a decimal number: {text:?}"))?;
                if let (Some(p), Some(s)) = (precision, scale) {
                    fits(d, *p, *s)?;
                }
                Ok(Value::Decimal(Some(d)))
            }
            ColumnType::Double => {
                let text = number_text(json)?;
                text.parse::<f64>()
                    .map(|d| Value::Double(Some(d)))
                    .map_err(|_| format!("not a number: {text:?}"))
            }
            ColumnType::Bool => json
                .as_bool()
                .map(|b| Value::Bool(Some(b)))
                .ok_or_else(|| "not a boolean".to_string()),
            ColumnType::Date => {
                let text = json.as_str().ok_or("a date must be a string")?;
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(|d| Value::ChronoDate(Some(d)))
                    .map_err(|_| format!("not a date (YYYY-MM-DD): {text:?}"))
            }
            ColumnType::Timestamp => {
                let text = json.as_str().ok_or("a date-time must be a string")?;
                DateTime::parse_from_rfc3339(text)
                    .map(|d| Value::ChronoDateTimeWithTimeZone(Some(d)))
                    .map_err(|_| format!("not an ISO 8601 date-time with offset: {text:?}"))
            }
            ColumnType::Guid => {
                let text = json.as_str().ok_or("a GUID must be a string")?;
                uuid::Uuid::parse_str(text)
                    .map(|g| Value::Uuid(Some(g)))
                    .map_err(|_| format!("not a GUID: {text:?}"))
            }
        }
    }
}

/// Whether `value` is a typed NULL. The kinds a mapping produces are matched directly: building
/// `as_null()` to compare with costs a full comparison per value, on every value of every page.
pub fn is_null(value: &Value) -> bool {
    match value {
        Value::String(v) => v.is_none(),
        Value::Bool(v) => v.is_none(),
        Value::SmallInt(v) => v.is_none(),
        Value::Int(v) => v.is_none(),
        Value::BigInt(v) => v.is_none(),
        Value::Double(v) => v.is_none(),
        Value::Decimal(v) => v.is_none(),
        Value::ChronoDate(v) => v.is_none(),
        Value::ChronoDateTimeWithTimeZone(v) => v.is_none(),
        Value::Uuid(v) => v.is_none(),
        other => other.as_null() == *other,
    }
}

/// A mapped value as JSON, in the form `ColumnType::convert` reads back (decimals as text, so no
/// precision is lost; dates as `YYYY-MM-DD`; date-times as RFC 3339). Used for coupling keys and hashes
/// and for showing the values of a failed record.
pub fn value_json(value: &Value) -> Json {
    let json = match value {
        Value::Bool(v) => v.map(Json::from),
        Value::TinyInt(v) => v.map(Json::from),
        Value::SmallInt(v) => v.map(Json::from),
        Value::Int(v) => v.map(Json::from),
        Value::BigInt(v) => v.map(Json::from),
        Value::Float(v) => v.map(Json::from),
        Value::Double(v) => v.map(Json::from),
        Value::String(v) => v.clone().map(Json::from),
        Value::Decimal(v) => v.map(|d| Json::from(d.to_string())),
        Value::ChronoDate(v) => v.map(|d| Json::from(d.format("%Y-%m-%d").to_string())),
        Value::ChronoDateTimeWithTimeZone(v) => v.map(|d| Json::from(d.to_rfc3339())),
        Value::Uuid(v) => v.map(|g| Json::from(g.to_string())),
        other => Some(Json::from(format!("{other:?}"))),
    };
    json.unwrap_or(Json::Null)
}

/// OData sends Int64 as a JSON number, or as a string under `IEEE754Compatible=true`.
fn integer(json: &Json) -> Result<i64, String> {
    match json {
        Json::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("{n} is not a 64-bit integer")),
        Json::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("not an integer: {s:?}")),
        _ => Err("not an integer".into()),
    }
}

/// Whether `d` fits `numeric(p, s)` as it is: PostgreSQL would round extra decimal places (a changed
/// value) and refuse extra integer digits (a failed page), so either fails the record.
fn fits(d: Decimal, p: u32, s: u32) -> Result<(), String> {
    let d = d.normalize();
    if d.scale() > s {
        return Err(format!(
            "{} decimal places do not fit numeric({p},{s}) without rounding",
            d.scale()
        ));
    }
    let digits = d.trunc().abs().to_string().trim_start_matches('0').len() as u32;
    if digits > p - s {
        return Err(format!(
            "{digits} integer digits do not fit numeric({p},{s})"
        ));
    }
    Ok(())
}

fn number_text(json: &Json) -> Result<String, String> {
    match json {
        Json::Number(n) => Ok(n.to_string()),
        Json::String(s) => Ok(s.trim().to_string()),
        _ => Err("not a number".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Dialect;
    use serde_json::json;

    #[test]
    fn converts_each_type_and_rejects_bad_values() {
        let text = ColumnType::Text { max_len: Some(3) };
        assert_eq!(
            text.convert(&json!("abc")).unwrap(),
            Value::String(Some("abc".into()))
        );
        assert!(
            text.convert(&json!("abcd"))
                .unwrap_err()
                .contains("maximum length 3")
        );
        assert_eq!(
            ColumnType::Int64.convert(&json!("42")).unwrap(),
            Value::BigInt(Some(42))
        );
        assert!(ColumnType::Int32.convert(&json!(5_000_000_000i64)).is_err());
        assert_eq!(
            ColumnType::DECIMAL.convert(&json!(12.5)).unwrap(),
            Value::Decimal(Some(Decimal::new(125, 1)))
        );
        assert!(ColumnType::Date.convert(&json!("2026-02-30")).is_err());
        assert!(
            ColumnType::Timestamp
                .convert(&json!("2026-01-01T00:00:00Z"))
                .is_ok()
        );
        assert!(ColumnType::Guid.convert(&json!("nope")).is_err());
        assert_eq!(
            ColumnType::Bool.convert(&json!(null)).unwrap(),
            Value::Bool(None)
        );
    }

    /// Every way a value can fail its column: each is an `Err` with a reason, never a panic.
    #[test]
    fn every_conversion_failure_is_an_error_with_a_reason() {
        let cases: &[(ColumnType, Json, &str)] = &[
            (
                ColumnType::Text { max_len: Some(2) },
                json!("äöü"),
                "exceeds the maximum length 2",
            ),
            (
                ColumnType::Int16,
                json!(40_000),
                "does not fit a 16-bit integer",
            ),
            (
                ColumnType::Int32,
                json!(-3_000_000_000i64),
                "does not fit a 32-bit integer",
            ),
            (
                ColumnType::Text { max_len: None },
                json!("a\u{0}b"),
                "NUL character",
            ),
            (ColumnType::Int64, json!(1.5), "is not a 64-bit integer"),
            (
                ColumnType::Int64,
                json!(u64::MAX),
                "is not a 64-bit integer",
            ),
            (ColumnType::Int64, json!("12x"), "not an integer"),
            (ColumnType::Int64, json!(true), "not an integer"),
            (ColumnType::DECIMAL, json!("1e999"), "not a decimal number"),
            (
                ColumnType::DECIMAL,
                json!("99999999999999999999999999999999"),
                "not a decimal number",
            ),
            (
                ColumnType::Decimal {
                    precision: Some(5),
                    scale: Some(2),
                },
                json!("1.005"),
                "3 decimal places do not fit numeric(5,2)",
            ),
            (
                ColumnType::Decimal {
                    precision: Some(5),
                    scale: Some(2),
                },
                json!("1000.5"),
                "4 integer digits do not fit numeric(5,2)",
            ),
            (ColumnType::DECIMAL, json!([1]), "not a number"),
            (ColumnType::Double, json!("abc"), "not a number"),
            (ColumnType::Bool, json!("yes"), "not a boolean"),
            (ColumnType::Date, json!("2026-13-01"), "not a date"),
            (ColumnType::Date, json!(20260101), "a date must be a string"),
            (
                ColumnType::Timestamp,
                json!("2026-01-01T10:00:00"),
                "not an ISO 8601 date-time",
            ),
            (
                ColumnType::Timestamp,
                json!(0),
                "a date-time must be a string",
            ),
            (ColumnType::Guid, json!("not-a-guid"), "not a GUID"),
        ];
        for (ty, value, reason) in cases {
            let err = ty.convert(value).expect_err(&format!("{ty:?} {value}"));
            assert!(err.contains(reason), "{ty:?} {value}: {err}");
        }
    }

    #[test]
    fn every_edm_type_has_a_column_on_postgres_and_sqlite() {
        let property = |edm: &str, max: Option<u32>| Property {
            name: "p".into(),
            edm_type: edm.into(),
            nullable: true,
            max_length: max,
            precision: None,
            scale: None,
        };
        let cases = [
            ("Edm.String", Some(20), "varchar(20)", "text"),
            ("Edm.String", None, "text", "text"),
            ("Edm.Int16", None, "smallint", "smallint"),
            ("Edm.Int32", None, "integer", "integer"),
            ("Edm.Int64", None, "bigint", "bigint"),
            ("Edm.Decimal", None, "numeric", "text"),
            ("Edm.Double", None, "double precision", "double precision"),
            ("Edm.Boolean", None, "boolean", "boolean"),
            ("Edm.Date", None, "date", "date"),
            ("Edm.DateTimeOffset", None, "timestamptz", "text"),
            ("Edm.Guid", None, "uuid", "text"),
            ("Microsoft.NAV.contactType", None, "text", "text"),
        ];
        for (edm, max, postgres, sqlite) in cases {
            let ty = ColumnType::from_edm(&property(edm, max));
            assert_eq!(Dialect::Postgres.column_sql(ty), postgres, "{edm}");
            assert_eq!(Dialect::Sqlite.column_sql(ty), sqlite, "{edm}");
        }
    }

    /// Decimals arrive as the text the service sent (`odata/rows.rs`) and convert without a float;
    /// the column keeps the source's precision and scale, and a value that fits it is not touched.
    #[test]
    fn decimals_convert_exactly_and_keep_the_sources_precision_and_scale() {
        let money = ColumnType::from_edm(&Property {
            name: "Amount".into(),
            edm_type: "Edm.Decimal".into(),
            nullable: true,
            max_length: None,
            precision: Some(38),
            scale: Some(20),
        });
        assert_eq!(Dialect::Postgres.column_sql(money), "numeric(38,20)");
        for text in [
            "1234567890123456.78",
            "0.1234567890123456789",
            "-20000.0000",
        ] {
            let value = money.convert(&json!(text)).unwrap();
            assert_eq!(value_json(&value), json!(text), "{text}");
        }
        assert_eq!(
            money.convert(&json!("12.50")).unwrap(),
            Value::Decimal(Some(Decimal::new(1250, 2))),
            "trailing zeros within the scale fit"
        );
    }

    /// Coupling keys are stored with `value_json` and read back with `convert`: every type must come
    /// back exactly, or a reconcile could not find the row it owns.
    #[test]
    fn value_json_reads_back_through_convert_for_every_type() {
        let cases = [
            (ColumnType::Text { max_len: Some(10) }, json!("C000042")),
            (ColumnType::Int16, json!(-7)),
            (ColumnType::Int32, json!(2_000_000_000)),
            (ColumnType::Int64, json!("9007199254740993")),
            (ColumnType::DECIMAL, json!("12345678901234567890.125")),
            (ColumnType::Double, json!(1.5)),
            (ColumnType::Bool, json!(true)),
            (ColumnType::Date, json!("2026-02-28")),
            (
                ColumnType::Timestamp,
                json!("2026-02-28T23:59:59.123+02:00"),
            ),
            (
                ColumnType::Guid,
                json!("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
            ),
            (ColumnType::Text { max_len: None }, json!(null)),
        ];
        for (ty, source) in cases {
            let value = ty.convert(&source).unwrap();
            assert_eq!(ty.convert(&value_json(&value)).unwrap(), value, "{ty:?}");
        }
    }
}
