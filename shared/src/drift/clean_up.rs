//! `ferry check --clean-up`: a new definition version without the external fields that no longer
//! exist. It refuses when what is gone cannot simply be dropped (the entity, a key, the version, a
//! field inside the filter), and says what to choose instead.

use super::source::{transform_fields, usages};
use crate::definitions::IntegrationDef;
use crate::definitions::edit::Entry;
use crate::odata::csdl::Metadata;

/// Why clean-up refused; the message says what to do instead.
#[derive(Debug, thiserror::Error)]
#[error("cannot clean up integration {integration:?}: {message}")]
pub struct CleanUpError {
    pub integration: String,
    pub message: String,
}

/// The cleaned definition and the source fields removed from it (empty: nothing to do).
pub fn clean_up(
    def: &IntegrationDef,
    metadata: &Metadata,
) -> Result<(IntegrationDef, Vec<String>), CleanUpError> {
    let refuse = |message: String| CleanUpError {
        integration: def.name.clone(),
        message,
    };
    let entity = metadata.entity(&def.source.entity).ok_or_else(|| {
        refuse(format!(
            "entity {:?} no longer exists; choose another entity (see `ferry discover {}`)",
            def.source.entity, def.connection
        ))
    })?;
    let gone = |name: &str| entity.property(name).is_none();
    let missing_key: Vec<&String> = def.source.key.iter().filter(|k| gone(k)).collect();
    if !missing_key.is_empty() {
        return Err(refuse(format!(
            "key field(s) {missing_key:?} no longer exist; choose source.key among the entity's key {:?}",
            entity.key
        )));
    }
    if let Some(modified) = def.source.modified.as_deref()
        && gone(modified)
    {
        return Err(refuse(format!(
            "modified field {modified:?} no longer exists; choose source.modified among the Edm.DateTimeOffset fields"
        )));
    }
    if let Some(version) = def.source.version.as_deref()
        && gone(version)
    {
        let candidates: Vec<&str> = entity
            .properties
            .iter()
            .filter(|p| p.edm_type == "Edm.Int64")
            .map(|p| p.name.as_str())
            .collect();
        return Err(refuse(format!(
            "version field {version:?} no longer exists; choose source.version among the Edm.Int64 fields {candidates:?}"
        )));
    }
    let in_filter: Vec<String> = usages(def)
        .into_iter()
        .filter(|(f, used)| used == "source.filter" && gone(f))
        .map(|(f, _)| f)
        .collect();
    if !in_filter.is_empty() {
        return Err(refuse(format!(
            "source.filter uses {in_filter:?}, which no longer exist; edit the filter by hand"
        )));
    }
    let mut cleaned = def.clone();
    let mut removed = Vec::new();
    // A field goes with its own source field, and with any field its transform reads.
    cleaned.fields.retain(|f| {
        let reads = f
            .from
            .iter()
            .cloned()
            .chain(transform_fields(f.transform.as_ref()));
        let vanished: Vec<String> = reads.filter(|r| gone(r)).collect();
        removed.extend(vanished.iter().cloned());
        vanished.is_empty()
    });
    cleaned.lookups.retain(|l| {
        let keep = !l.from.iter().any(|f| gone(f));
        if !keep {
            removed.extend(l.from.iter().filter(|f| gone(f)).cloned());
        }
        keep
    });
    for key in &def.target.key {
        if !cleaned.fields.iter().any(|f| &f.to == key) {
            return Err(refuse(format!(
                "target key column {key:?} comes from a field that no longer exists; choose another target.key"
            )));
        }
    }
    if cleaned.fields.is_empty() {
        return Err(refuse("no mapped field would remain".into()));
    }
    removed.sort();
    removed.dedup();
    Ok((cleaned, removed))
}

/// The `fields` and `lookups` entries of `before` that `after` no longer has, by target column: what
/// the operator's file must lose too (`definitions::edit`).
pub fn dropped(before: &IntegrationDef, after: &IntegrationDef) -> Vec<Entry> {
    let fields = before
        .fields
        .iter()
        .filter(|f| !after.fields.iter().any(|a| a.to == f.to))
        .map(|f| Entry {
            list: "fields",
            to: f.to.clone(),
        });
    let lookups = before
        .lookups
        .iter()
        .filter(|l| !after.lookups.iter().any(|a| a.to == l.to))
        .map(|l| Entry {
            list: "lookups",
            to: l.to.clone(),
        });
    fields.chain(lookups).collect()
}
