//! Checking an integration against the source's `$metadata`: the entity, and every field wherever the
//! definition uses it (fields, key, version, filter, lookups).

use super::filter::fields as filter_fields;
use super::{Problem, ProblemKind};
use crate::definitions::IntegrationDef;
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
    }
    for k in &def.source.key {
        uses.push((k.clone(), "source.key".to_string()));
    }
    uses.push((def.source.version.clone(), "source.version".to_string()));
    if let Some(filter) = &def.source.filter {
        for name in filter_fields(filter) {
            uses.push((name, "source.filter".to_string()));
        }
    }
    for (n, l) in def.lookups.iter().enumerate() {
        for from in &l.from {
            uses.push((from.clone(), format!("lookups[{n}] (→ {})", l.to)));
        }
    }
    uses
}

/// Problems of `def` against `metadata`, one per missing or unusable field, in order of first use.
pub fn check_source(def: &IntegrationDef, metadata: &Metadata) -> Vec<Problem> {
    let problem = |kind, field: &str, used_by: Vec<String>, message: String| Problem {
        integration: def.name.clone(),
        kind,
        field: field.to_string(),
        used_by,
        message,
    };
    let Some(entity) = metadata.entity(&def.source.entity) else {
        return vec![problem(
            ProblemKind::MissingEntity,
            &def.source.entity,
            vec!["source.entity".into()],
            format!(
                "entity {:?} no longer exists at the source",
                def.source.entity
            ),
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
            None => problems.push(problem(
                ProblemKind::MissingField,
                &field,
                used_by,
                format!(
                    "field {field:?} not found on entity {:?} (it no longer exists at the source)",
                    def.source.entity
                ),
            )),
            Some(p) if p.edm_type == "Edm.Stream" => problems.push(problem(
                ProblemKind::IncompatibleType,
                &field,
                used_by,
                format!("field {field:?} is a stream (Edm.Stream); it cannot be copied into a column"),
            )),
            Some(p) if field == def.source.version && !VERSION_TYPES.contains(&p.edm_type.as_str()) => {
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
    problems
}
