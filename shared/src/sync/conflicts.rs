//! Two-way sync's import phase (ARCHITECTURE.md, "Export"): a record the remote side changed whose
//! local row has changes not yet exported changed on both sides. The integration's `conflict`
//! policy decides, page by page, before the page is written:
//!
//! - `remote_wins`: the remote version is written, and the local changes are dropped from the log;
//! - `local_wins`: the remote version is not written, and the export phase sends the local one;
//! - `manual`: neither is written; both versions are stored in `ferry_conflicts` (in the page's
//!   transaction) and the key is held until an operator resolves it.
//!
//! A record with an open conflict stays held: a later remote change updates the stored conflict.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value as Json;

use super::error::SyncError;
use crate::conflicts::Noted;
use crate::definitions::{Conflict, IntegrationDef};
use crate::export::outbound::Field;
use crate::export::{Outbound, local};
use crate::mapping::{Mapping, value_json};
use crate::runs::RunError;
use crate::sink::PageWrite;
use crate::storage::Dialect;

/// What the import phase of one run knows about local changes.
#[derive(Debug)]
pub(super) struct Guard {
    policy: Conflict,
    /// Change log entries not yet exported, by canonical local key.
    pending: HashMap<String, Vec<i64>>,
    /// Keys with an open conflict.
    held: HashSet<String>,
    /// Every mapped column, read as `export::local` reads exported ones (a held conflict's local
    /// version).
    columns: Outbound,
    /// Keys whose conflict this run met and counted.
    pub met: HashSet<String>,
}

impl Guard {
    /// Reads the pending local changes and open conflicts of `def` as the run starts. Changes logged
    /// later are not seen by this import phase; its export phase sends them.
    pub async fn load(
        db: &DatabaseConnection,
        def: &IntegrationDef,
        outbound: &Outbound,
        mapping: &Mapping,
    ) -> Result<Guard, SyncError> {
        let dialect = Dialect::of(db);
        let rows = db
            .query_all_raw(dialect.statement(
                "SELECT seq, row_key FROM ferry_changes WHERE integration = ?",
                [def.name.clone().into()],
            ))
            .await
            .map_err(RunError::from)?;
        let mut pending: HashMap<String, Vec<i64>> = HashMap::new();
        for row in rows {
            let seq: i64 = row.try_get_by_index(0).map_err(RunError::from)?;
            let text: String = row.try_get_by_index(1).map_err(RunError::from)?;
            let values = match serde_json::from_str::<Json>(&text) {
                Ok(Json::Array(values)) => values,
                _ => continue,
            };
            if let Some(key) = local::canonical_key(&outbound.local_key, &values) {
                pending.entry(key).or_default().push(seq);
            }
        }
        let held = crate::conflicts::open_keys(db, &def.name)
            .await
            .map_err(RunError::from)?;
        let columns = Outbound {
            fields: mapping
                .columns
                .iter()
                .map(|c| Field {
                    column: c.name.clone(),
                    property: c.name.clone(),
                    ty: c.ty,
                    null_as: "null",
                })
                .collect(),
            ..outbound.clone()
        };
        Ok(Guard {
            policy: def.conflict_policy(),
            pending,
            held,
            columns,
            met: HashSet::new(),
        })
    }

    /// Applies the policy to the page's records changed on both sides.
    pub async fn screen(
        &mut self,
        db: &impl ConnectionTrait,
        mapping: &Mapping,
        mut write: PageWrite,
    ) -> Result<PageWrite, SyncError> {
        if self.pending.is_empty() && self.held.is_empty() {
            return Ok(write);
        }
        let rows = std::mem::take(&mut write.rows);
        let couplings = std::mem::take(&mut write.couplings);
        let mut held_back = Vec::new();
        for ((key, values), coupling) in rows.into_iter().zip(couplings) {
            let target = coupling.target_key.clone();
            let pending = self.pending.contains_key(&target);
            if !pending && !self.held.contains(&target) {
                write.rows.push((key, values));
                write.couplings.push(coupling);
                continue;
            }
            if self.met.insert(target.clone()) {
                write.conflicts_met += 1;
            }
            match self.policy {
                Conflict::RemoteWins => {
                    write
                        .settled_changes
                        .extend(self.pending.remove(&target).unwrap_or_default());
                    write.rows.push((key, values));
                    write.couplings.push(coupling);
                }
                Conflict::LocalWins => write.unchanged += 1,
                Conflict::Manual => {
                    write.unchanged += 1;
                    write
                        .settled_changes
                        .extend(self.pending.remove(&target).unwrap_or_default());
                    self.held.insert(target.clone());
                    let remote: serde_json::Map<String, Json> = mapping
                        .columns
                        .iter()
                        .zip(&values)
                        .map(|(c, v)| (c.name.clone(), value_json(v)))
                        .collect();
                    held_back.push((target, key, Json::Object(remote)));
                }
            }
        }
        if !held_back.is_empty() {
            let keys: Vec<Vec<Json>> = held_back
                .iter()
                .map(|(target, ..)| serde_json::from_str(target).unwrap_or_default())
                .collect();
            let locals = local::rows(db, &self.columns, &keys)
                .await
                .map_err(RunError::from)?;
            for (target, remote_key, remote) in held_back {
                let local = locals.get(&target).map(|texts| {
                    Json::Object(
                        self.columns
                            .fields
                            .iter()
                            .zip(texts)
                            .map(|(f, t)| {
                                (
                                    f.column.clone(),
                                    serde_json::from_str(t).unwrap_or(Json::Null),
                                )
                            })
                            .collect(),
                    )
                });
                write.conflicts.push(Noted {
                    record_key: target,
                    remote_key,
                    local,
                    remote: Some(remote),
                });
            }
        }
        Ok(write)
    }
}
