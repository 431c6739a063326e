//! Client writes through the API (POST, PATCH, DELETE): JSON bodies checked against the schema
//! as BC checks them, optimistic concurrency by ETag, and an undo log so a `$batch` with
//! `Isolation: snapshot` can be all-or-nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value as Json};

use super::schema::{EdmType, EntitySchema, FieldDef, Role};
use super::store::{Row, Store};
use super::value::Value;
use crate::odata::serialize::etag;

/// Why a write was refused; each route renders these in its platform's error shape (BC's codes
/// or Dataverse's hex codes), so the validation failures that have their own code there carry
/// their facts here rather than a finished message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    UnknownEntity,
    NotFound,
    /// A row with that key (these values, in key order) exists already.
    Exists(Vec<Value>),
    /// Another row already has the SystemId the body supplies (BC keeps a unique index on it).
    SystemIdExists {
        field: &'static str,
        id: String,
    },
    /// The body is wrong in a way without a code of its own (null, enum member, read-only).
    Invalid(String),
    UnknownProperty(String),
    /// A text longer than the field allows (characters, as BC and Dataverse count them).
    TooLong {
        field: &'static str,
        length: usize,
        max: u32,
        value: String,
    },
    /// A JSON value that does not convert to the field's type.
    WrongType {
        field: &'static str,
        edm: &'static str,
        literal: String,
    },
    /// The `If-Match` ETag is not the row's current one.
    Stale,
}

/// `If-Match`: a specific ETag, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Tag(String),
}

/// What to put back if a batch fails: per table, the row a key had before (None: absent).
#[derive(Debug, Default)]
pub struct UndoLog {
    entries: Vec<(&'static str, Vec<Value>, Option<Row>)>,
}

fn from_json(field: &FieldDef, json: &Json) -> Result<Value, WriteError> {
    let invalid = || WriteError::WrongType {
        field: field.name,
        edm: field.edm.name(),
        literal: json
            .as_str()
            .map_or_else(|| json.to_string(), str::to_owned),
    };
    if json.is_null() {
        return if field.nullable {
            Ok(Value::Null)
        } else {
            Err(WriteError::Invalid(format!(
                "The property '{}' cannot be null.",
                field.name
            )))
        };
    }
    let value = match field.edm {
        EdmType::String => {
            let s = json.as_str().ok_or_else(invalid)?;
            if let Some(max) = field.max_length
                && s.chars().count() > max as usize
            {
                return Err(WriteError::TooLong {
                    field: field.name,
                    length: s.chars().count(),
                    max,
                    value: s.to_owned(),
                });
            }
            if let Some(e) = field.enumeration
                && !e.members.contains(&s)
            {
                return Err(WriteError::Invalid(format!(
                    "'{s}' is not a valid value of the enum '{}' of property '{}'.",
                    e.name, field.name
                )));
            }
            Value::str(s)
        }
        EdmType::Int32 | EdmType::Int64 => Value::Int(json.as_i64().ok_or_else(invalid)?),
        // Dataverse Money arrives as exact text (the route lifts it out of the raw body, since a
        // JSON number would pass through f64) or as a small number.
        EdmType::Decimal if super::dataverse::columns::MONEY.contains(&field.name) => {
            let text = match json {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => return Err(invalid()),
            };
            Value::money(&text).ok_or_else(invalid)?
        }
        EdmType::Decimal => Value::Decimal(json.as_f64().ok_or_else(invalid)?),
        EdmType::Boolean => Value::Bool(json.as_bool().ok_or_else(invalid)?),
        EdmType::Guid => Value::Guid(
            json.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(invalid)?,
        ),
        EdmType::DateTimeOffset => Value::DateTime(
            json.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(invalid)?,
        ),
        EdmType::Date => Value::Date(
            json.as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or_else(invalid)?,
        ),
    };
    Ok(value)
}

/// The empty value BC gives a field nobody set.
fn blank(field: &FieldDef) -> Value {
    // Dataverse columns start null; BC's nullable fields (versions, times) are stamped anyway.
    if field.nullable {
        return Value::Null;
    }
    match (field.edm, field.enumeration) {
        (_, Some(e)) => Value::interned(e.members[0]),
        (EdmType::String, None) => Value::interned(""),
        (EdmType::Int32 | EdmType::Int64, _) => Value::Int(0),
        (EdmType::Decimal, _) => Value::Decimal(0.0),
        (EdmType::Boolean, _) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Applies `body` to `row`: every property must exist, be writable, and have the right type.
fn apply(
    schema: &EntitySchema,
    row: &mut [Value],
    body: &Map<String, Json>,
    inserting: bool,
) -> Result<(), WriteError> {
    for (name, json) in body {
        if name.starts_with('@') {
            continue;
        }
        let i = schema
            .index_of(name)
            .ok_or_else(|| WriteError::UnknownProperty(name.clone()))?;
        let field = &schema.fields[i];
        let read_only = matches!(
            field.role,
            Role::ModifiedAt | Role::RowVersion | Role::CreatedAt
        ) || (!inserting
            && (field.role == Role::SystemId || schema.key.contains(&field.name)));
        if read_only {
            let new = from_json(field, json)?;
            if new == row[i] {
                continue;
            }
            return Err(WriteError::Invalid(format!(
                "The property '{name}' is read-only."
            )));
        }
        row[i] = from_json(field, json)?;
    }
    Ok(())
}

/// Optimistic concurrency: the client's ETag must be the row's current one (or `*`).
fn check(version: Option<i64>, if_match: &IfMatch) -> Result<(), WriteError> {
    match if_match {
        IfMatch::Any => Ok(()),
        IfMatch::Tag(tag) if version.is_some_and(|v| etag(v) == *tag) => Ok(()),
        IfMatch::Tag(_) => Err(WriteError::Stale),
    }
}

impl Store {
    /// POST: a new row from `body`; missing key parts come from the entity's number sequence
    /// (as BC's number series would), GUID keys and SystemIds are generated. A body may bring its
    /// own key and SystemId (an exporter choosing them makes a retried create detectable): a key
    /// in use answers `Exists`, a SystemId in use `SystemIdExists`.
    pub fn insert_json(
        &mut self,
        entity: &str,
        body: &Map<String, Json>,
        undo: &mut UndoLog,
    ) -> Result<Row, WriteError> {
        let t = self.table_index(entity).ok_or(WriteError::UnknownEntity)?;
        let table = &self.tables[t];
        let schema = table.schema;
        let seq = table.next_seq;
        let mut row: Vec<Value> = schema.fields.iter().map(blank).collect();
        let numbered = table.generator.key(seq);
        for (&i, v) in table.key_idx.iter().zip(numbered.iter()) {
            row[i] = v.clone();
        }
        if let Some(i) = self.id_index(t) {
            row[i] = Value::Guid(self.id_rng.uuid());
        }
        apply(schema, &mut row, body, true)?;
        self.tables[t].generator.after_write(&mut row);
        let key = self.tables[t].key_of(&row);
        if self.tables[t].rows.contains_key(&key) {
            return Err(WriteError::Exists(key));
        }
        if let Some(i) = self.id_index(t)
            && !self.tables[t].key_idx.contains(&i)
            && body.contains_key(schema.fields[i].name)
            && self.tables[t].rows.values().any(|r| r[i] == row[i])
        {
            // A client-chosen SystemId must be new: BC keeps a unique index on it. (A scan, but
            // only for inserts that bring their own id.)
            return Err(WriteError::SystemIdExists {
                field: schema.fields[i].name,
                id: Json::from(&row[i]).as_str().unwrap_or_default().to_owned(),
            });
        }
        if key == numbered {
            self.tables[t].next_seq += 1;
        }
        undo.entries.push((schema.name, key, None));
        let at = self.now();
        let row = self.stamp(t, row, at);
        self.tables[t].publish(row.clone());
        Ok(row)
    }

    /// PATCH: changes the given properties of the row with `key`, if `if_match` still holds.
    pub fn patch_json(
        &mut self,
        entity: &str,
        key: &[Value],
        if_match: &IfMatch,
        body: &Map<String, Json>,
        undo: &mut UndoLog,
    ) -> Result<Row, WriteError> {
        let t = self.table_index(entity).ok_or(WriteError::UnknownEntity)?;
        let table = &self.tables[t];
        let current = table.rows.get(key).ok_or(WriteError::NotFound)?.clone();
        check(table.version_of(&current), if_match)?;
        let mut row = current.to_vec();
        apply(table.schema, &mut row, body, false)?;
        table.generator.after_write(&mut row);
        undo.entries
            .push((table.schema.name, key.to_vec(), Some(current)));
        let at = self.now();
        let row = self.stamp(t, row, at);
        self.tables[t].publish(row.clone());
        Ok(row)
    }

    /// DELETE: removes the row with `key`, if `if_match` still holds.
    pub fn delete_json(
        &mut self,
        entity: &str,
        key: &[Value],
        if_match: &IfMatch,
        undo: &mut UndoLog,
    ) -> Result<(), WriteError> {
        let t = self.table_index(entity).ok_or(WriteError::UnknownEntity)?;
        let table = &self.tables[t];
        let current = table.rows.get(key).ok_or(WriteError::NotFound)?.clone();
        check(table.version_of(&current), if_match)?;
        let name = table.schema.name;
        self.tables[t].remove(key);
        self.tombstone(t, key.to_vec());
        undo.entries.push((name, key.to_vec(), Some(current)));
        Ok(())
    }

    /// Puts back every row an aborted batch changed, newest change first.
    pub fn undo(&mut self, undo: UndoLog) {
        for (entity, key, before) in undo.entries.into_iter().rev() {
            let Some(t) = self.table_index(entity) else {
                continue;
            };
            let deleted = before.is_some() && !self.tables[t].rows.contains_key(&key);
            if deleted {
                // The delete never happened: change tracking must not report it.
                let tombstones = &mut self.tables[t].tombstones;
                if let Some(i) = tombstones.iter().rposition(|(_, k)| *k == key) {
                    tombstones.remove(i);
                }
            }
            self.tables[t].remove(&key);
            if let Some(row) = before {
                self.tables[t].publish(row);
            }
        }
    }
}
