//! Schema changes at run time (`POST /_sandbox/schema`), for Ferry's drift tests: a field
//! disappears or is renamed, or a whole page is unpublished, as when a BC extension is upgraded.
//!
//! Schemas are `&'static` (every query and response reads them without locking), so a changed
//! schema is built once and leaked. Changes are rare, tiny and test-only, so the leak is bounded
//! by how many a test makes.

use serde::Deserialize;

use super::schema::{EntitySchema, FieldDef};
use super::store::Store;

/// One schema change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChange {
    DropField {
        entity: String,
        field: String,
    },
    RenameField {
        entity: String,
        from: String,
        to: String,
    },
    DropEntity {
        entity: String,
    },
}

/// The control endpoint's body: `{"entity","drop_field"}`, `{"entity","rename_field":"Old",
/// "to":"New"}` (or `"rename_field":["Old","New"]`), or `{"drop_entity"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaChangeBody {
    #[serde(default)]
    entity: Option<String>,
    #[serde(default)]
    drop_field: Option<String>,
    #[serde(default)]
    rename_field: Option<RenameArg>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    drop_entity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RenameArg {
    Name(String),
    Pair([String; 2]),
}

impl TryFrom<SchemaChangeBody> for SchemaChange {
    type Error = String;

    fn try_from(body: SchemaChangeBody) -> Result<Self, String> {
        match body {
            SchemaChangeBody {
                drop_entity: Some(entity),
                entity: None,
                drop_field: None,
                rename_field: None,
                to: None,
            } => Ok(SchemaChange::DropEntity { entity }),
            SchemaChangeBody {
                entity: Some(entity),
                drop_field: Some(field),
                rename_field: None,
                to: None,
                drop_entity: None,
            } => Ok(SchemaChange::DropField { entity, field }),
            SchemaChangeBody {
                entity: Some(entity),
                rename_field: Some(arg),
                to,
                drop_field: None,
                drop_entity: None,
            } => {
                let (from, to) = match (arg, to) {
                    (RenameArg::Name(from), Some(to)) => (from, to),
                    (RenameArg::Pair([from, to]), None) => (from, to),
                    _ => return Err("rename_field needs \"to\" (or an [old, new] pair)".into()),
                };
                Ok(SchemaChange::RenameField { entity, from, to })
            }
            _ => Err(
                "expected {\"entity\",\"drop_field\"}, {\"entity\",\"rename_field\",\"to\"} or {\"drop_entity\"}"
                    .into(),
            ),
        }
    }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// A copy of `schema` with `change` applied to its fields (and key list).
fn rebuilt(
    schema: &EntitySchema,
    change: impl Fn(&mut FieldDef),
    key: Vec<&'static str>,
) -> &'static EntitySchema {
    let fields: Vec<FieldDef> = schema
        .fields
        .iter()
        .map(|f| {
            let mut f = *f;
            change(&mut f);
            f
        })
        .collect();
    Box::leak(Box::new(EntitySchema {
        name: schema.name,
        type_name: schema.type_name,
        api: schema.api,
        key: Box::leak(key.into_boxed_slice()),
        fields: Box::leak(fields.into_boxed_slice()),
    }))
}

impl Store {
    /// Applies a schema change; the error says what was wrong in the request.
    pub fn change_schema(&mut self, change: &SchemaChange) -> Result<(), String> {
        let entity = match change {
            SchemaChange::DropField { entity, .. }
            | SchemaChange::RenameField { entity, .. }
            | SchemaChange::DropEntity { entity } => entity,
        };
        let t = self
            .table_index(entity)
            .ok_or_else(|| format!("unknown entity '{entity}'"))?;
        let schema = self.tables[t].schema;
        let known = |field: &str| {
            schema
                .index_of(field)
                .map(|_| ())
                .ok_or_else(|| format!("{entity} has no field '{field}'"))
        };
        let new_schema = match change {
            SchemaChange::DropEntity { .. } => {
                self.tables.remove(t);
                return Ok(());
            }
            SchemaChange::DropField { field, .. } => {
                known(field)?;
                if schema.key.contains(&field.as_str()) {
                    return Err(format!("'{field}' is part of {entity}'s key"));
                }
                rebuilt(
                    schema,
                    |f| f.hidden |= f.name == field.as_str(),
                    schema.key.to_vec(),
                )
            }
            SchemaChange::RenameField { from, to, .. } => {
                known(from)?;
                if schema.index_of(to).is_some() {
                    return Err(format!("{entity} already has a field '{to}'"));
                }
                let to: &'static str = leak_str(to);
                let key = schema
                    .key
                    .iter()
                    .map(|k| if *k == from.as_str() { to } else { *k })
                    .collect();
                rebuilt(
                    schema,
                    |f| {
                        if f.name == from.as_str() && !f.hidden {
                            f.name = to;
                        }
                    },
                    key,
                )
            }
        };
        self.tables[t].schema = new_schema;
        Ok(())
    }
}
