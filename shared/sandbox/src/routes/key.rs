//! Binding a key predicate from the URL (`('C1')`, `(documentType='Order',…,lineNo=10000)`,
//! `(9a3c…)`) to the typed key values of an entity.

use super::target::{KeyLiteral, KeyPredicate};
use crate::model::{EdmType, EntitySchema, Value};
use crate::odata::ODataError;

fn literal(schema: &EntitySchema, field: usize, lit: &KeyLiteral) -> Result<Value, ODataError> {
    let f = &schema.fields[field];
    let bad = || {
        ODataError::bad_request(format!(
            "The key value for '{}' is not a valid {} literal.",
            f.name,
            f.edm.name()
        ))
    };
    Ok(match (f.edm, lit) {
        (EdmType::String, KeyLiteral::Text(s)) => Value::str(s.as_str()),
        (EdmType::Int32 | EdmType::Int64, KeyLiteral::Bare(s)) => {
            Value::Int(s.parse().map_err(|_| bad())?)
        }
        (EdmType::Guid, KeyLiteral::Bare(s)) => Value::Guid(s.parse().map_err(|_| bad())?),
        _ => return Err(bad()),
    })
}

/// The key values in key order. Parts may be positional (all of them) or named (any order).
pub fn bind(schema: &EntitySchema, predicate: &KeyPredicate) -> Result<Vec<Value>, ODataError> {
    let key = schema.key_indices();
    if predicate.len() != key.len() {
        return Err(ODataError::bad_request(format!(
            "The key of '{}' has {} part(s), but {} were given.",
            schema.name,
            key.len(),
            predicate.len()
        )));
    }
    if predicate.iter().all(|(name, _)| name.is_none()) {
        return key
            .iter()
            .zip(predicate)
            .map(|(&i, (_, lit))| literal(schema, i, lit))
            .collect();
    }
    key.iter()
        .map(|&i| {
            let name = schema.fields[i].name;
            let (_, lit) = predicate
                .iter()
                .find(|(n, _)| n.as_deref() == Some(name))
                .ok_or_else(|| {
                    ODataError::bad_request(format!("The key part '{name}' is missing."))
                })?;
            literal(schema, i, lit)
        })
        .collect()
}

/// The key as BC prints it in messages: `'C1'` or `Order,SO000001,10000`.
pub fn display(key: &[Value]) -> String {
    key.iter()
        .map(|v| match v {
            Value::Str(s) => s.to_string(),
            other => serde_json::Value::from(other)
                .to_string()
                .trim_matches('"')
                .to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}
