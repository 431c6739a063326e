//! The mapping stage (ARCHITECTURE.md, "The sync path"): a page's lookups resolved with one query each,
//! then the pure mapper turns source rows into target rows, failures and parked records, each row with
//! its coupling; rows the couplings say the target already holds are left out before the writer.

use sea_orm::DatabaseConnection;

use super::error::SyncError;
use crate::checkpoint::Checkpoint;
use crate::lookup::{PageLookups, resolve_page};
use crate::mapping::{Mapped, Mapping};
use crate::odata::client::Rows;
use crate::runs::RunError;
use crate::sink::{PageWrite, coupling};

/// When the integration has open failures (`clears`), a written record resolves its own.
pub(super) fn resolving(clears: bool, mut write: PageWrite) -> PageWrite {
    if clears {
        let written = write.rows.iter().map(|(k, _)| k.clone());
        write.resolve.extend(written);
        // A record gone at the source is owed nothing any more: its open failure ends too.
        write.resolve.extend(write.removed.iter().cloned());
    }
    write
}

/// Leaves out the rows whose coupling says the target already holds them (counted `unchanged`), so a
/// re-read costs no write; the rest carry their couplings to the writer.
pub(super) async fn changed(
    db: &DatabaseConnection,
    integration: &str,
    mapping: &Mapping,
    mut write: PageWrite,
) -> Result<PageWrite, SyncError> {
    coupling::skip_unchanged(db, integration, mapping, &mut write)
        .await
        .map_err(RunError::from)?;
    Ok(write)
}

/// Maps a page; a record that cannot be decoded or mapped becomes a failure with its payload, a record whose
/// `defer` lookup does not resolve is parked, the rest go on. Lookups resolve with one query each. Each
/// mapped row gets its coupling (and so its hash) here, off the writer's path.
pub(super) async fn map_page(
    db: &DatabaseConnection,
    mapping: &Mapping,
    rows: Rows,
) -> Result<PageWrite, SyncError> {
    let found = if mapping.lookups.is_empty() {
        PageLookups::default()
    } else {
        resolve_page(db, &mapping.lookup_types(), &rows.rows)
            .await
            .map_err(RunError::from)?
    };
    Ok(map_rows(mapping, rows, &found))
}

/// `map_page`'s CPU-bound part, once lookups are resolved.
fn map_rows(mapping: &Mapping, rows: Rows, found: &PageLookups) -> PageWrite {
    let mut write = PageWrite {
        rows_read: rows.len() as u64,
        ..PageWrite::default()
    };
    let defers = mapping.defers();
    removals(mapping, rows.removed, &mut write);
    // An undecodable record fails with the text the service sent; it still counts toward the
    // checkpoint when its version could be read, as any failed record does.
    let mut high = None;
    for broken in rows.undecodable {
        high = high.max(mapping.version(&broken.fields));
        let key = mapping.record_key(&broken.fields);
        if defers {
            write.unpark.push(key.clone());
        }
        write.failures.push((
            key,
            format!("cannot decode the record: {}", broken.reason),
            broken.raw,
            "{}".to_string(),
        ));
    }
    for row in rows.rows {
        let version = mapping.version(&row);
        high = high.max(version);
        let key = mapping.record_key(&row);
        let payload = || serde_json::to_string(&row).unwrap_or_default();
        match mapping.map_row(&row, found) {
            Ok(Mapped::Row(values)) => {
                if defers {
                    write.unpark.push(key.clone());
                }
                write
                    .couplings
                    .push(coupling::couple(mapping, key.clone(), version, &values));
                write.rows.push((key, values));
            }
            Ok(Mapped::Skip) => {
                write.skipped += 1;
                if defers {
                    write.unpark.push(key);
                }
            }
            Ok(Mapped::Defer(reason)) => write.deferred.push((key, reason, payload())),
            Err(e) => {
                if defers {
                    write.unpark.push(key.clone());
                }
                let mapped = serde_json::to_string(&e.mapped).unwrap_or_default();
                write.failures.push((
                    key,
                    format!("{}: {}", e.column, e.message),
                    payload(),
                    mapped,
                ));
            }
        }
    }
    write.checkpoint = match rows.delta_link {
        Some(link) => Some(Checkpoint::Delta {
            link: link.to_string(),
        }),
        None => high.and_then(|position| Checkpoint::at(mapping.change_order, position)),
    };
    write
}

/// A delta response's removals: each one's source key, or a failed record (with the entry as its
/// payload) when the entry names no key Ferry can read, so it is seen rather than silently kept.
fn removals(mapping: &Mapping, removed: Vec<crate::odata::client::Row>, write: &mut PageWrite) {
    for entry in removed {
        match crate::odata::removed::key_of(&entry, &mapping.source_key) {
            Some(fields) if mapping.applies_removals => {
                let key = crate::mapping::record_key::encode(&fields);
                // A parked record that is gone must not be written by a later replay.
                if mapping.defers() {
                    write.unpark.push(key.clone());
                }
                write.removed.push(key);
            }
            // Kept on purpose (`deletes.detect = "none"`): the target already holds what it keeps.
            Some(_) => write.unchanged += 1,
            None => write.failures.push((
                String::new(),
                format!(
                    "the service says a record of {} is gone but names no key of it ({}) that \
                     Ferry can read; its row, if any, was kept",
                    mapping.entity,
                    mapping.source_key.join(", ")
                ),
                serde_json::to_string(&entry).unwrap_or_default(),
                "{}".to_string(),
            )),
        }
    }
}
