//! Checking an integration against the source's `$metadata`: the entity, every field wherever the
//! definition uses it (fields and their transforms, key, version, filter, lookups), the filter's
//! values against the fields' types, and whether the declared key is the entity's.

use super::filter::mismatches;
use super::{Problem, ProblemKind, ReadBefore, Severity};
use crate::definitions::{ChangeOrder, IntegrationDef};
use crate::mapping::Transform;
use crate::odata::csdl::Metadata;

/// Edm types a row version can be compared and ordered as a number.
const VERSION_TYPES: &[&str] = &["Edm.Int64", "Edm.Int32", "Edm.Int16", "Edm.Decimal"];

/// Every place `def` reads a source field, with the field's name.
pub(super) fn usages(def: &IntegrationDef) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for (n, f) in def.fields.iter().enumerate() {
        if let Some(from) = &f.from {
            uses.push((from.clone(), format!("fields[{n}] ({from} → {})", f.to)));
        }
        for read in transform_fields(f.transform.as_ref()) {
            uses.push((read, format!("fields[{n}].transform (→ {})", f.to)));
        }
    }
    for k in &def.source.key {
        uses.push((k.clone(), "source.key".to_string()));
    }
    match def.source.change_field() {
        (field, ChangeOrder::Version) => uses.push((field.to_string(), "source.version".into())),
        (field, ChangeOrder::Modified) => uses.push((field.to_string(), "source.modified".into())),
        (_, ChangeOrder::Track) => {}
    }
    if let Some(filter) = def
        .source
        .filter
        .as_deref()
        .and_then(|f| crate::filter::parse(f).ok())
    {
        for name in filter.fields() {
            uses.push((name.to_string(), "source.filter".to_string()));
        }
    }
    for (n, l) in def.lookups.iter().enumerate() {
        for from in &l.from {
            uses.push((from.clone(), format!("lookups[{n}] (→ {})", l.to)));
        }
    }
    uses
}

/// The source fields a field's transform reads (`format` placeholders, `concat` fields); none when
/// it does not parse (`apply` reports that).
pub(super) fn transform_fields(transform: Option<&toml::Value>) -> Vec<String> {
    transform
        .and_then(|t| Transform::parse(t).ok())
        .map(|t| t.fields().into_iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Problems of `def` against `metadata`, in order of first use. `read` tells drift ("no longer
/// exists": a run read it) from a mistake ("does not exist").
pub fn check_source(def: &IntegrationDef, metadata: &Metadata, read: &ReadBefore) -> Vec<Problem> {
    let problem = |kind, field: &str, used_by: Vec<String>, message: String| Problem {
        integration: def.name.clone(),
        severity: Severity::Error,
        kind,
        field: field.to_string(),
        used_by,
        message,
    };
    let entity_name = &def.source.entity;
    let Some(entity) = metadata.entity(entity_name) else {
        let why = if read.entity(entity_name) {
            "it no longer exists at the source"
        } else {
            "it does not exist at the source"
        };
        return vec![problem(
            ProblemKind::MissingEntity,
            entity_name,
            vec!["source.entity".into()],
            format!("entity {entity_name:?} not found ({why})"),
        )];
    };
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for (field, usage) in usages(def) {
        match fields.iter_mut().find(|(f, _)| *f == field) {
            Some((_, used)) => {
                if !used.contains(&usage) {
                    used.push(usage);
                }
            }
            None => fields.push((field, vec![usage])),
        }
    }
    let mut problems = Vec::new();
    for (field, used_by) in fields {
        match entity.property(&field) {
            None => {
                let why = if read.field(entity_name, &field) {
                    "it no longer exists at the source"
                } else {
                    "it does not exist at the source"
                };
                problems.push(problem(
                    ProblemKind::MissingField,
                    &field,
                    used_by,
                    format!("field {field:?} not found on entity {entity_name:?} ({why})"),
                ))
            }
            Some(p) if p.edm_type == "Edm.Stream" => problems.push(problem(
                ProblemKind::IncompatibleType,
                &field,
                used_by,
                format!("field {field:?} is a stream (Edm.Stream); it cannot be copied into a column"),
            )),
            Some(p)
                if def.source.modified.as_deref() == Some(field.as_str())
                    && p.edm_type != "Edm.DateTimeOffset" =>
            {
                problems.push(problem(
                    ProblemKind::IncompatibleType,
                    &field,
                    used_by,
                    format!(
                        "modified field {field:?} is {}, not a timestamp; choose an Edm.DateTimeOffset such as lastModifiedDateTime",
                        p.edm_type
                    ),
                ))
            }
            Some(p)
                if def.source.version.as_deref() == Some(field.as_str())
                    && !VERSION_TYPES.contains(&p.edm_type.as_str()) =>
            {
                problems.push(problem(
                    ProblemKind::IncompatibleType,
                    &field,
                    used_by,
                    format!(
                        "version field {field:?} is {}, not a number; choose an Edm.Int64 row version",
                        p.edm_type
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(filter) = def
        .source
        .filter
        .as_deref()
        .and_then(|f| crate::filter::parse(f).ok())
    {
        for mismatch in mismatches(&filter, entity, metadata) {
            problems.push(problem(
                ProblemKind::FilterTypeMismatch,
                &mismatch.field,
                vec!["source.filter".into()],
                mismatch.message,
            ));
        }
    }
    let declared = &def.source.key;
    let same_key =
        declared.len() == entity.key.len() && declared.iter().all(|k| entity.key.contains(k));
    if !same_key && !entity.key.is_empty() && declared.iter().all(|k| entity.property(k).is_some())
    {
        problems.push(Problem {
            severity: Severity::Warning,
            ..problem(
                ProblemKind::KeyNotEntityKey,
                &declared.join(", "),
                vec!["source.key".into()],
                format!(
                    "source.key {declared:?} is not the key of entity {entity_name:?} ({:?} in \
                     $metadata); if two records share it, the later one is written and the run \
                     ends partial, counting the others as collapsed",
                    entity.key
                ),
            )
        });
    }
    problems
}
