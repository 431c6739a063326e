//! The mapping engine: turns a source row into the values of one target row, as the integration says.

mod types;

pub use types::ColumnType;

use sea_orm::Value;
use serde_json::Value as Json;

use crate::definitions::IntegrationDef;
use crate::odata::client::Row;
use crate::odata::csdl::{EntityType, Metadata};

/// One target column and where its value comes from.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Origin {
    Field {
        name: String,
        transform: Option<Transform>,
    },
    Constant(Value),
}

/// A declarative string transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Trim,
    Lower,
    Upper,
}

impl Transform {
    fn parse(name: &str) -> Option<Transform> {
        match name {
            "trim" => Some(Transform::Trim),
            "lower" => Some(Transform::Lower),
            "upper" => Some(Transform::Upper),
            _ => None,
        }
    }

    fn apply(self, value: &Json) -> Json {
        match value {
            Json::String(s) => Json::String(match self {
                Transform::Trim => s.trim().to_string(),
                Transform::Lower => s.to_lowercase(),
                Transform::Upper => s.to_uppercase(),
            }),
            other => other.clone(),
        }
    }
}

/// An integration compiled against the source's metadata, ready to map rows.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub entity: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the target key.
    pub key_columns: Vec<usize>,
    pub source_key: Vec<String>,
    pub version_field: String,
    /// Every source field read: mapped fields, key and version (`$select`).
    pub select: Vec<String>,
    pub create: bool,
}

/// Why an integration does not fit its source: every missing entity or field, listed at once.
#[derive(Debug, thiserror::Error)]
#[error("integration {integration:?} does not match the source: {}", problems.join("; "))]
pub struct DriftError {
    pub integration: String,
    pub problems: Vec<String>,
}

/// Why one record could not be mapped; the run goes on without it.
#[derive(Debug, Clone)]
pub struct RecordError {
    pub column: String,
    pub message: String,
}

impl Mapping {
    /// Checks every field against the source entity and derives column types from its Edm types.
    pub fn compile(def: &IntegrationDef, metadata: &Metadata) -> Result<Mapping, DriftError> {
        let drift = |problems| DriftError {
            integration: def.name.clone(),
            problems,
        };
        let entity = metadata.entity(&def.source.entity).ok_or_else(|| {
            drift(vec![format!(
                "entity {:?} not found in $metadata",
                def.source.entity
            )])
        })?;
        let mut problems = Vec::new();
        let mut columns = Vec::new();
        for field in &def.fields {
            let (ty, origin) = match (&field.from, &field.value) {
                (Some(from), _) => {
                    let Some(property) = entity.property(from) else {
                        problems.push(missing(entity, from));
                        continue;
                    };
                    let transform = field.transform.as_deref().and_then(Transform::parse);
                    (
                        ColumnType::from_edm(property),
                        Origin::Field {
                            name: from.clone(),
                            transform,
                        },
                    )
                }
                (None, Some(value)) => {
                    let ty = ColumnType::of_constant(value);
                    (ty, Origin::Constant(constant(value)))
                }
                (None, None) => continue,
            };
            columns.push(Column {
                name: field.to.clone(),
                ty,
                origin,
            });
        }
        for name in def.source.key.iter().chain([&def.source.version]) {
            if entity.property(name).is_none() {
                problems.push(missing(entity, name));
            }
        }
        if !problems.is_empty() {
            problems.dedup();
            return Err(drift(problems));
        }
        let key_columns = def
            .target
            .key
            .iter()
            .filter_map(|k| columns.iter().position(|c| &c.name == k))
            .collect();
        let mut select: Vec<String> = Vec::new();
        let fields = columns.iter().filter_map(|c| match &c.origin {
            Origin::Field { name, .. } => Some(name),
            Origin::Constant(_) => None,
        });
        for name in fields.chain(&def.source.key).chain([&def.source.version]) {
            if !select.contains(name) {
                select.push(name.clone());
            }
        }
        Ok(Mapping {
            entity: def.source.entity.clone(),
            table: def.target.table.clone(),
            columns,
            key_columns,
            source_key: def.source.key.clone(),
            version_field: def.source.version.clone(),
            select,
            create: def.target.create,
        })
    }

    /// The values of one target row, in `columns` order.
    pub fn map_row(&self, row: &Row) -> Result<Vec<Value>, RecordError> {
        self.columns
            .iter()
            .map(|column| match &column.origin {
                Origin::Constant(value) => Ok(value.clone()),
                Origin::Field { name, transform } => {
                    let raw = row.get(name).unwrap_or(&Json::Null);
                    let converted = match transform {
                        Some(t) => column.ty.convert(&t.apply(raw)),
                        None => column.ty.convert(raw),
                    };
                    converted.map_err(|message| RecordError {
                        column: column.name.clone(),
                        message,
                    })
                }
            })
            .collect()
    }

    /// The source key of a row as text (`C000001`, or `A|B` for a composite key), for error records.
    pub fn record_key(&self, row: &Row) -> String {
        self.source_key
            .iter()
            .map(|k| match row.get(k) {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    /// The row's version number, when it carries a readable one.
    pub fn version(&self, row: &Row) -> Option<i64> {
        match row.get(&self.version_field)? {
            Json::Number(n) => n.as_i64(),
            Json::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

fn missing(entity: &EntityType, field: &str) -> String {
    format!("field {field:?} not found on entity {:?}", entity.name)
}

fn constant(value: &toml::Value) -> Value {
    match value {
        toml::Value::Integer(n) => Value::BigInt(Some(*n)),
        toml::Value::Float(f) => Value::Double(Some(*f)),
        toml::Value::Boolean(b) => Value::Bool(Some(*b)),
        toml::Value::String(s) => Value::String(Some(s.clone())),
        other => Value::String(Some(other.to_string())),
    }
}
