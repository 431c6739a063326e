//! The mapping run backwards: which local columns an export writes to which remote properties, and a
//! local row's values as the JSON the remote system takes. Only fields copied as they are export
//! (`FieldDef::exports`): a constant, a transform, a label or a lookup cannot be inverted.

use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::definitions::IntegrationDef;
use crate::mapping::Mapping;
use crate::mapping::record_key;
use crate::mapping::types::ColumnType;
use crate::odata::csdl::Metadata;

/// One exported field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The local column.
    pub column: String,
    /// The remote property.
    pub property: String,
    pub ty: ColumnType,
    /// What a local NULL is sent as: `""` for a text property the source declares not nullable
    /// (Business Central's blank; it refuses null), NULL otherwise.
    pub null_as: &'static str,
}

/// An integration's export side.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub entity: String,
    pub table: String,
    /// Exported fields, in definition order.
    pub fields: Vec<Field>,
    /// Indexes into `fields` of the remote key properties, in `source.key` order.
    pub key: Vec<usize>,
    /// The local key columns (`target.key`) and their types, in order: what the change log names.
    pub local_key: Vec<(String, ColumnType)>,
    /// Remote key properties that are GUIDs (written bare in URLs and filters).
    pub guid_keys: Vec<String>,
    /// The remote row version property, when the source has one (kept on the coupling).
    pub version_field: Option<String>,
}

/// A local row as the remote system takes it: each exported property's JSON text.
pub type Body = Vec<(String, Box<RawValue>)>;

impl Outbound {
    /// The export side of `def`, with column types from its compiled `mapping`. `validate` has made
    /// sure every key field exports.
    pub fn new(
        def: &IntegrationDef,
        mapping: &Mapping,
        metadata: &Metadata,
    ) -> Result<Outbound, String> {
        let entity = metadata.entity(&def.source.entity);
        let null_as = |property: &str| match entity.and_then(|e| e.property(property)) {
            Some(p) if !p.nullable && p.edm_type == "Edm.String" => "\"\"",
            _ => "null",
        };
        let type_of = |column: &str| {
            mapping
                .columns
                .iter()
                .find(|c| c.name == column)
                .map(|c| c.ty)
                .unwrap_or(ColumnType::Text { max_len: None })
        };
        let fields: Vec<Field> = def
            .fields
            .iter()
            .filter(|f| f.exports())
            .filter_map(|f| {
                let property = f.from.clone()?;
                Some(Field {
                    column: f.to.clone(),
                    null_as: null_as(&property),
                    property,
                    ty: type_of(&f.to),
                })
            })
            .collect();
        let key = def
            .source
            .key
            .iter()
            .map(|k| {
                fields.iter().position(|f| &f.property == k).ok_or_else(|| {
                    format!("the key field {k:?} is not copied both ways, so an export cannot name the remote record")
                })
            })
            .collect::<Result<Vec<usize>, String>>()?;
        let local_key = def
            .target
            .key
            .iter()
            .map(|c| (c.clone(), type_of(c)))
            .collect();
        Ok(Outbound {
            entity: def.source.entity.clone(),
            table: def.target.table.clone(),
            fields,
            key,
            local_key,
            guid_keys: mapping.guid_keys.clone(),
            version_field: (!mapping.version_field.is_empty())
                .then(|| mapping.version_field.clone()),
        })
    }

    /// A local row's values (each column's JSON text as the database spelt it, in `fields` order) as
    /// the remote system takes them; an error names the column that cannot be sent.
    pub fn body(&self, columns: &[String]) -> Result<Body, String> {
        self.fields
            .iter()
            .zip(columns)
            .map(|(field, text)| {
                let text = if text.trim() == "null" {
                    field.null_as
                } else {
                    text
                };
                let value = outbound_value(field.ty, text)
                    .map_err(|e| format!("column {}: {e}", field.column))?;
                Ok((field.property.clone(), value))
            })
            .collect()
    }

    /// The remote key of a body, as one text (the same spelling an import gives the record:
    /// `record_key`), and the key properties with their values.
    pub fn remote_key(&self, body: &Body) -> (String, Vec<(String, Json)>) {
        let pairs: Vec<(String, Json)> = self
            .key
            .iter()
            .map(|&i| {
                let (property, raw) = &body[i];
                (
                    property.clone(),
                    serde_json::from_str(raw.get()).unwrap_or(Json::Null),
                )
            })
            .collect();
        let texts: Vec<String> = pairs
            .iter()
            .map(|(_, v)| record_key::field_text(Some(v)))
            .collect();
        (record_key::encode(&texts), pairs)
    }

    /// Whether `property` is part of the remote key (read-only once a record exists).
    pub fn is_key(&self, property: &str) -> bool {
        self.key
            .iter()
            .any(|&i| self.fields[i].property == property)
    }
}

/// A body as one JSON object text, properties in order.
pub fn object(body: &[(String, Box<RawValue>)]) -> Box<RawValue> {
    let mut text = String::from("{");
    for (n, (property, value)) in body.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push_str(&Json::String(property.clone()).to_string());
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    RawValue::from_string(text).expect("built from JSON texts")
}

/// A stored body (`object`'s text) back as properties.
pub fn parse(text: &str) -> Option<Body> {
    let map: serde_json::Map<String, Json> = serde_json::from_str(text).ok()?;
    map.into_iter()
        .map(|(k, v)| Some((k, RawValue::from_string(v.to_string()).ok()?)))
        .collect()
}

/// One column's JSON text (as `to_json` or `json_quote` spell it) as the remote type wants it:
/// numbers as JSON numbers with every digit kept (SQLite keeps decimals as text), booleans as
/// `true`/`false` (SQLite keeps them as 0 and 1), everything else as it is.
fn outbound_value(ty: ColumnType, text: &str) -> Result<Box<RawValue>, String> {
    let raw = |s: String| RawValue::from_string(s).map_err(|e| e.to_string());
    let trimmed = text.trim();
    if trimmed == "null" {
        return raw("null".into());
    }
    match ty {
        ColumnType::Bool => match trimmed {
            "true" | "1" => raw("true".into()),
            "false" | "0" => raw("false".into()),
            _ => Err("not a boolean".into()),
        },
        ColumnType::Int16
        | ColumnType::Int32
        | ColumnType::Int64
        | ColumnType::Decimal { .. }
        | ColumnType::Double => {
            let number = match serde_json::from_str::<Json>(trimmed) {
                Ok(Json::String(s)) => s,
                Ok(Json::Number(_)) => trimmed.to_string(),
                _ => return Err("not a number".into()),
            };
            // A number's text must be a JSON number (no `NaN`, no `1e`): checked, kept as written.
            match serde_json::from_str::<Json>(&number) {
                Ok(Json::Number(_)) => raw(number),
                _ => Err("not a number".into()),
            }
        }
        _ => raw(trimmed.to_string()),
    }
}

/// Whether two JSON values mean the same to the remote system: numbers by value (`20000.0000` is
/// `20000`), instants by the time they name, everything else as written.
pub fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Json::String(x), Json::String(y)) if x != y => {
            match (
                chrono::DateTime::parse_from_rfc3339(x),
                chrono::DateTime::parse_from_rfc3339(y),
            ) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ty: ColumnType, raw: &str) -> String {
        outbound_value(ty, raw).unwrap().get().to_string()
    }

    #[test]
    fn numbers_keep_every_digit_and_booleans_become_json_booleans() {
        assert_eq!(text(ColumnType::DECIMAL, "20000.0000"), "20000.0000");
        assert_eq!(
            text(ColumnType::DECIMAL, "\"12345678901234567890.1234\""),
            "12345678901234567890.1234"
        );
        assert_eq!(text(ColumnType::Bool, "1"), "true");
        assert_eq!(text(ColumnType::Bool, "false"), "false");
        assert_eq!(text(ColumnType::Int64, "null"), "null");
        assert_eq!(
            text(ColumnType::Text { max_len: None }, "\"O'Neil\""),
            "\"O'Neil\""
        );
        assert!(outbound_value(ColumnType::DECIMAL, "\"NaN\"").is_err());
        assert!(outbound_value(ColumnType::Bool, "2").is_err());
    }

    #[test]
    fn the_same_value_spelt_differently_is_the_same() {
        let j = |s: &str| serde_json::from_str::<Json>(s).unwrap();
        assert!(same(&j("20000.0000"), &j("20000")));
        assert!(!same(&j("20000.5"), &j("20000")));
        assert!(same(
            &j("\"2024-01-01T00:00:00Z\""),
            &j("\"2024-01-01T00:00:00+00:00\"")
        ));
        assert!(!same(&j("\"a\""), &j("\"A\"")));
    }
}
