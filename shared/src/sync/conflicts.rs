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
    /// `deletes.conflict`: `Some(true)` uncouples a record deleted here and changed there,
    /// `Some(false)` restores it; `None` leaves it to `conflict`.
    on_delete: Option<bool>,
    /// The local columns that go both ways: what two versions must agree on.
    exported: HashSet<String>,
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
            on_delete: def
                .deletes
                .as_ref()
                .filter(|d| d.conflict.is_some())
                .map(|d| d.removes_coupling()),
            exported: outbound.fields.iter().map(|f| f.column.clone()).collect(),
            met: HashSet::new(),
        })
    }

    /// Applies the policy to the page's records changed on both sides. A record whose remote
    /// version already holds the local one (an export whose reply was lost, then read back by this
    /// import) is no conflict: both sides agree, and its log entries are settled.
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
        let candidates: Vec<Vec<Json>> = couplings
            .iter()
            .map(|c| &c.target_key)
            .filter(|k| self.pending.contains_key(*k) || self.held.contains(*k))
            .map(|k| serde_json::from_str(k).unwrap_or_default())
            .collect();
        if candidates.is_empty() {
            write.rows = rows;
            write.couplings = couplings;
            return Ok(write);
        }
        let locals = local::rows(db, &self.columns, &candidates)
            .await
            .map_err(RunError::from)?;
        for ((key, values), coupling) in rows.into_iter().zip(couplings) {
            let target = coupling.target_key.clone();
            let held = self.held.contains(&target);
            if !held && !self.pending.contains_key(&target) {
                write.rows.push((key, values));
                write.couplings.push(coupling);
                continue;
            }
            let local = locals.get(&target).map(|texts| self.local_json(texts));
            if !held
                && local
                    .as_ref()
                    .is_some_and(|l| self.agrees(mapping, l, &values))
            {
                write
                    .settled_changes
                    .extend(self.pending.remove(&target).unwrap_or_default());
                write.rows.push((key, values));
                write.couplings.push(coupling);
                continue;
            }
            if self.met.insert(target.clone()) {
                write.conflicts_met += 1;
            }
            // Deleted here, changed there: `deletes.conflict` decides when it is set.
            if local.is_none()
                && !held
                && let Some(removes_coupling) = self.on_delete
            {
                write
                    .settled_changes
                    .extend(self.pending.remove(&target).unwrap_or_default());
                if removes_coupling {
                    write.unchanged += 1;
                    write.uncouple.push(key);
                } else {
                    write.rows.push((key, values));
                    write.couplings.push(coupling);
                }
                continue;
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
                    write.conflicts.push(Noted {
                        record_key: target,
                        remote_key: key,
                        local,
                        remote: Some(Json::Object(remote)),
                    });
                }
            }
        }
        Ok(write)
    }

    /// A local row (each mapped column's JSON text) as a JSON object.
    fn local_json(&self, texts: &[String]) -> Json {
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
    }

    /// Whether the remote version (`values`, mapped) holds the local row's value in every column
    /// that goes both ways.
    fn agrees(&self, mapping: &Mapping, local: &Json, values: &[sea_orm::Value]) -> bool {
        mapping.columns.iter().zip(values).all(|(c, v)| {
            if !self.exported.contains(&c.name) {
                return true;
            }
            let ours = local.get(&c.name).unwrap_or(&Json::Null);
            let theirs = c.ty.convert(ours).map(|v| value_json(&v));
            theirs.is_ok_and(|t| crate::export::outbound::same(&t, &value_json(v)))
        })
    }
}
