//! The mapping engine: turns a source row into the values of one target row, as the integration says.

mod adopt;
pub mod record_key;
#[cfg(test)]
mod tests;
mod transform;
pub mod types;

pub use adopt::column_type;
pub use transform::{Piece, Step, Transform};
pub use types::{ColumnType, value_json};

use sea_orm::Value;
use serde_json::Value as Json;

use crate::definitions::{ChangeOrder, IntegrationDef};
use crate::lookup::{Lookup, Missing, PageLookups};
use crate::odata::client::Row;
use crate::odata::csdl::{EntityType, Metadata};
use crate::odata::prefer::{FORMATTED_VALUE, Preference};

/// One target column and where its value comes from.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub origin: Origin,
    /// The existing table's column refuses NULL (key columns always do).
    pub not_null: bool,
}

#[derive(Debug, Clone)]
pub enum Origin {
    /// A source field (`from`), and/or fields a `format`/`concat` transform reads.
    Field {
        name: Option<String>,
        transform: Option<Transform>,
        /// `label = true`: the row's key of `name`'s formatted value
        /// (`{name}@OData.Community.Display.V1.FormattedValue`), read instead of the value.
        label: Option<String>,
    },
    Constant(Value),
    /// The `n`th of `Mapping::lookups`.
    Lookup(usize),
}

/// What became of one source record.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// The target row's values, in `columns` order.
    Row(Vec<Value>),
    /// A `skip` lookup did not resolve: the record is left out.
    Skip,
    /// A `defer` lookup did not resolve: the record is parked, with the reason.
    Defer(String),
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
    /// The property changes are ordered by (`source.version` or `source.modified`).
    pub version_field: String,
    /// Whether `version_field` is a version number or a timestamp.
    pub change_order: ChangeOrder,
    /// Every source field read: mapped fields, key and version (`$select`).
    pub select: Vec<String>,
    pub create: bool,
    /// The user's `source.filter`, parsed and checked against the entity's fields.
    pub filter: Option<crate::filter::Expr>,
    /// Lookups, each with the type of the column it fills (set by `sync::prepare`).
    pub lookups: Vec<Lookup>,
    /// `deletes.flag`: the timestamp column a reconcile sets on vanished rows instead of deleting them.
    pub delete_flag: Option<String>,
    /// The source key fields typed `Edm.Guid`, whose values a filter by key writes bare.
    pub guid_keys: Vec<String>,
    /// Whether records a delta response says are gone leave the target (a tracked source, unless
    /// `deletes.detect = "none"`).
    pub applies_removals: bool,
}

/// Whether `field` of `entity` is an `Edm.Guid`.
fn is_guid(entity: &crate::odata::csdl::EntityType, field: &str) -> bool {
    entity
        .property(field)
        .is_some_and(|p| p.edm_type == "Edm.Guid")
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
    /// The columns mapped before the failing one (column → value), so an operator sees how far the
    /// record got (`ferry errors`).
    pub mapped: serde_json::Map<String, Json>,
}

impl Mapping {
    /// Whether the definition folds source records together on purpose: its target key is something
    /// other than the source key's fields copied as they are (a non-key `target.key`, a transformed
    /// key). Rows of one page meeting on a target key are then expected (`folded`); otherwise they
    /// mean the declared source key is not unique (`collapsed`, and the run is `partial`).
    pub fn folds_records(&self) -> bool {
        let mut copied: Vec<&str> = Vec::new();
        for &i in &self.key_columns {
            match &self.columns[i].origin {
                Origin::Field {
                    name: Some(name),
                    transform: None,
                    label: None,
                } if self.source_key.contains(name) => copied.push(name),
                _ => return true,
            }
        }
        copied.sort();
        copied.dedup();
        copied.len() != self.source_key.len()
    }

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
            let transform = match field.transform.as_ref().map(Transform::parse) {
                None => None,
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    problems.push(format!("field {:?}: {e}", field.to));
                    continue;
                }
            };
            for read in transform.iter().flat_map(Transform::fields) {
                if entity.property(read).is_none() {
                    problems.push(missing(entity, read));
                }
            }
            // A label is text whatever the value's type (a choice's is `Edm.Int32`).
            let text = field.label || transform.as_ref().is_some_and(Transform::yields_text);
            let (ty, origin) = match (&field.from, &field.value) {
                (Some(from), _) => {
                    let Some(property) = entity.property(from) else {
                        problems.push(missing(entity, from));
                        continue;
                    };
                    let ty = if text {
                        ColumnType::Text { max_len: None }
                    } else {
                        ColumnType::from_edm(property)
                    };
                    (
                        ty,
                        Origin::Field {
                            name: Some(from.clone()),
                            transform,
                            label: field.label.then(|| format!("{from}@{FORMATTED_VALUE}")),
                        },
                    )
                }
                (None, Some(value)) => {
                    let ty = ColumnType::of_constant(value);
                    (ty, Origin::Constant(constant(value)))
                }
                (None, None) if transform.is_some() => (
                    ColumnType::Text { max_len: None },
                    Origin::Field {
                        name: None,
                        transform,
                        label: None,
                    },
                ),
                (None, None) => continue,
            };
            columns.push(Column {
                name: field.to.clone(),
                ty,
                origin,
                not_null: false,
            });
        }
        let mut lookups = Vec::new();
        for def in &def.lookups {
            for from in &def.from {
                if entity.property(from).is_none() {
                    problems.push(missing(entity, from));
                }
            }
            columns.push(Column {
                name: def.to.clone(),
                ty: ColumnType::Text { max_len: None },
                origin: Origin::Lookup(lookups.len()),
                not_null: false,
            });
            lookups.push(Lookup::from_def(def));
        }
        // The delete flag is written NULL with every row, so a row that is written is live.
        let delete_flag = def.deletes.as_ref().and_then(|d| d.flag.clone());
        if let Some(flag) = &delete_flag {
            columns.push(Column {
                name: flag.clone(),
                ty: ColumnType::Timestamp,
                origin: Origin::Constant(ColumnType::Timestamp.null()),
                not_null: false,
            });
        }
        let (change_field, change_order) = def.source.change_field();
        for name in def
            .source
            .key
            .iter()
            .map(String::as_str)
            .chain(Some(change_field).filter(|f| !f.is_empty()))
        {
            if entity.property(name).is_none() {
                problems.push(missing(entity, name));
            }
        }
        let filter = match def.source.filter.as_deref().map(crate::filter::parse) {
            None => None,
            Some(Ok(expr)) => {
                for field in expr.fields() {
                    if entity.property(field).is_none() {
                        problems.push(format!(
                            "filter field {field:?} not found on entity {:?}",
                            entity.name
                        ));
                    }
                }
                Some(expr.with_guids(&|f| is_guid(entity, f)))
            }
            Some(Err(e)) => {
                problems.push(format!("filter: {e}"));
                None
            }
        };
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
        let fields = columns.iter().flat_map(|c| match &c.origin {
            Origin::Field {
                name, transform, ..
            } => name
                .iter()
                .map(String::as_str)
                .chain(transform.iter().flat_map(Transform::fields))
                .collect(),
            Origin::Constant(_) => Vec::new(),
            Origin::Lookup(n) => lookups[*n].from.iter().map(String::as_str).collect(),
        });
        let always = def
            .source
            .key
            .iter()
            .map(String::as_str)
            .chain(Some(change_field).filter(|f| !f.is_empty()));
        for name in fields.chain(always) {
            if !select.iter().any(|s| s == name) {
                select.push(name.to_string());
            }
        }
        Ok(Mapping {
            entity: def.source.entity.clone(),
            table: def.target.table.clone(),
            columns,
            key_columns,
            source_key: def.source.key.clone(),
            version_field: change_field.to_string(),
            change_order,
            select,
            create: def.target.create,
            filter,
            lookups,
            delete_flag,
            guid_keys: def
                .source
                .key
                .iter()
                .filter(|k| is_guid(entity, k))
                .cloned()
                .collect(),
            applies_removals: change_order == ChangeOrder::Track
                && def.deletes.as_ref().is_none_or(|d| d.detect != "none"),
        })
    }

    /// `(lookup, column type)` pairs for `lookup::resolve_page`.
    pub fn lookup_types(&self) -> Vec<(Lookup, ColumnType)> {
        self.columns
            .iter()
            .filter_map(|c| match c.origin {
                Origin::Lookup(n) => Some((self.lookups[n].clone(), c.ty)),
                _ => None,
            })
            .collect()
    }

    /// Maps one record. A value that does not fit its column, a null in a key column or an unresolved
    /// `fail` lookup fails the record (not the page); `skip` and `defer` lookups may set it aside.
    pub fn map_row(&self, row: &Row, found: &PageLookups) -> Result<Mapped, RecordError> {
        let mut values = Vec::with_capacity(self.columns.len());
        self.fill(row, found, &mut values).map_err(|mut e| {
            e.mapped = self
                .columns
                .iter()
                .zip(&values)
                .map(|(c, v)| (c.name.clone(), value_json(v)))
                .collect();
            e
        })
    }

    /// `map_row`'s work: pushes each column's value in order, so on failure `values` holds the columns
    /// mapped before the failing one.
    fn fill(
        &self,
        row: &Row,
        found: &PageLookups,
        values: &mut Vec<Value>,
    ) -> Result<Mapped, RecordError> {
        for (i, column) in self.columns.iter().enumerate() {
            let fail = |message: String| RecordError {
                column: column.name.clone(),
                message,
                mapped: serde_json::Map::new(),
            };
            let value = match &column.origin {
                Origin::Constant(value) => value.clone(),
                Origin::Field { .. } => self.field_value(i, row)?,
                Origin::Lookup(n) => {
                    let lookup = &self.lookups[*n];
                    let null = || {
                        if column.not_null {
                            Err(fail("null in a NOT NULL column".into()))
                        } else {
                            Ok(column.ty.null())
                        }
                    };
                    let Some(tuple) = crate::lookup::tuple(lookup, row) else {
                        values.push(null()?);
                        continue;
                    };
                    let resolved = found.found.get(*n).and_then(|f| f.get(&tuple));
                    match (resolved, lookup.missing) {
                        (Some(value), _) => value.clone(),
                        (None, Missing::Null) => null()?,
                        (None, Missing::Skip) => return Ok(Mapped::Skip),
                        (None, Missing::Defer) => {
                            return Ok(Mapped::Defer(unresolved(lookup, &tuple)));
                        }
                        (None, Missing::Fail) => return Err(fail(unresolved(lookup, &tuple))),
                    }
                }
            };
            values.push(value);
        }
        Ok(Mapped::Row(std::mem::take(values)))
    }

    /// The target key of a row (for reconciling key sets).
    pub fn map_key(&self, row: &Row) -> Result<Vec<Value>, RecordError> {
        self.key_columns
            .iter()
            .map(|&i| self.field_value(i, row))
            .collect()
    }

    /// Column `i` (a field) of `row`: transformed, checked for NULL, converted to the column's type.
    fn field_value(&self, i: usize, row: &Row) -> Result<Value, RecordError> {
        let column = &self.columns[i];
        let fail = |message: String| RecordError {
            column: column.name.clone(),
            message,
            mapped: serde_json::Map::new(),
        };
        let Origin::Field {
            name,
            transform,
            label,
        } = &column.origin
        else {
            return Err(fail("not a source field".into()));
        };
        // A label that is absent (a null value has none) reads as null.
        let raw = label
            .as_ref()
            .or(name.as_ref())
            .and_then(|n| row.get(n))
            .unwrap_or(&Json::Null);
        // Untransformed values convert straight from the row: one copy per value, not two.
        let transformed;
        let value = match transform {
            Some(t) => {
                transformed = t.apply(raw, row).map_err(fail)?;
                &transformed
            }
            None => raw,
        };
        if value.is_null() && (column.not_null || self.key_columns.contains(&i)) {
            return Err(fail("null in a NOT NULL column".into()));
        }
        column.ty.convert(value).map_err(fail)
    }

    /// What every read of mapped records asks the source besides its query: the formatted values a
    /// `label = true` field reads.
    pub fn preferences(&self) -> Vec<Preference> {
        let labels = self
            .columns
            .iter()
            .any(|c| matches!(c.origin, Origin::Field { label: Some(_), .. }));
        labels
            .then_some(Preference::FormattedValues)
            .into_iter()
            .collect()
    }

    /// Whether records may be parked, so written records must leave the parking.
    pub fn defers(&self) -> bool {
        self.lookups.iter().any(|l| l.missing == Missing::Defer)
    }

    /// The source key of a row as one text (`C000001`, `A|B`, or `["A|B","C"]` when a field could be
    /// mistaken for a separator: `record_key.rs`), for couplings, failures and key scans.
    pub fn record_key(&self, row: &Row) -> String {
        let fields: Vec<String> = self
            .source_key
            .iter()
            .map(|k| record_key::field_text(row.get(k)))
            .collect();
        record_key::encode(&fields)
    }

    /// The row's position in the order of changes, when it carries a readable one: its version
    /// number, or its last-modified time as Unix microseconds.
    pub fn version(&self, row: &Row) -> Option<i64> {
        match (self.change_order, row.get(&self.version_field)?) {
            (ChangeOrder::Version, Json::Number(n)) => n.as_i64(),
            (ChangeOrder::Version, Json::String(s)) => s.parse().ok(),
            (ChangeOrder::Modified, Json::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_micros()),
            _ => None,
        }
    }
}

fn unresolved(lookup: &Lookup, tuple: &[String]) -> String {
    format!(
        "lookup: no {} row with ({}) = ({})",
        lookup.table,
        lookup.match_columns.join(", "),
        tuple
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
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
