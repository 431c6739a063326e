//! Preview of an export (`ferry preview` of an integration that exports): what the next run would
//! send, record by record — creates, updates with the properties that change, deletes, records held
//! by a conflict — writing nothing on either side. It reads the change log without draining it,
//! the local rows, the couplings and, for new records, asks the remote side (one GET per page)
//! whether they are there already, as the run does.

use std::collections::{BTreeMap, HashSet};

use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::Value as Json;

use super::error::SyncError;
use super::preview::Change;
use crate::capture::{self, Change as Logged};
use crate::export::plan::{Intent, Planned, plan};
use crate::export::{Outbound, couplings, local, outbound};
use crate::runs::RunError;

/// What the export would do to one remote record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundOp {
    Create,
    Update,
    Delete,
    /// Deleted locally, kept remotely (no `deletes.export`): the pair is uncoupled.
    Uncouple,
    /// Changed on both sides: the conflict policy decides (the inbound side lists it too).
    Conflict,
    /// Held by an open conflict (`ferry conflicts`).
    Held,
    Unchanged,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundRecord {
    pub op: OutboundOp,
    /// The local key (JSON array).
    pub key: String,
    /// Properties that would be sent, with what both sides last agreed on before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<BTreeMap<String, Change>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboundSummary {
    /// Change log entries read.
    pub changes: u64,
    pub create: u64,
    pub update: u64,
    pub delete: u64,
    pub uncouple: u64,
    pub conflict: u64,
    pub held: u64,
    pub unchanged: u64,
    pub error: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutboundPreview {
    pub records: Vec<OutboundRecord>,
    pub summary: OutboundSummary,
}

/// Up to `limit` records the next export would send. `inbound` holds the remote keys the import
/// side of the same run would write (two-way sync): those are conflicts.
pub(super) async fn preview_export(
    db: &DatabaseConnection,
    def: &crate::definitions::IntegrationDef,
    outbound: &Outbound,
    limit: Option<u64>,
    inbound: &HashSet<String>,
) -> Result<OutboundPreview, SyncError> {
    let upto = capture::newest(db, &def.name)
        .await
        .map_err(RunError::from)?;
    let limit = limit.unwrap_or(u64::MAX).min(100_000);
    let logged = capture::pending(db, &def.name, upto, limit)
        .await
        .map_err(RunError::from)?;
    let mut preview = OutboundPreview::default();
    preview.summary.changes = logged.iter().map(|c| c.seqs.len() as u64).sum();
    let keyed: Vec<(Logged, Option<String>)> = logged
        .into_iter()
        .map(|c| {
            let key = local::canonical_key(&outbound.local_key, &c.key);
            (c, key)
        })
        .collect();
    let keys: Vec<Vec<Json>> = keyed.iter().map(|(c, _)| c.key.clone()).collect();
    let canonical: Vec<String> = keyed.iter().filter_map(|(_, k)| k.clone()).collect();
    let rows = local::rows(db, outbound, &keys)
        .await
        .map_err(RunError::from)?;
    let coupled = couplings::find(db, &def.name, &def.target.table, &canonical)
        .await
        .map_err(RunError::from)?;
    let held = crate::conflicts::open_keys(db, &def.name)
        .await
        .map_err(RunError::from)?;
    let delete_remote = def.deletes.as_ref().is_some_and(|d| d.export);
    for planned in plan(outbound, &keyed, &rows, &coupled, &held, delete_remote) {
        let record = describe(outbound, planned, inbound);
        let counter = match record.op {
            OutboundOp::Create => &mut preview.summary.create,
            OutboundOp::Update => &mut preview.summary.update,
            OutboundOp::Delete => &mut preview.summary.delete,
            OutboundOp::Uncouple => &mut preview.summary.uncouple,
            OutboundOp::Conflict => &mut preview.summary.conflict,
            OutboundOp::Held => &mut preview.summary.held,
            OutboundOp::Unchanged => &mut preview.summary.unchanged,
            OutboundOp::Error => &mut preview.summary.error,
        };
        *counter += 1;
        preview.records.push(record);
    }
    Ok(preview)
}

fn describe(outbound: &Outbound, planned: Planned, inbound: &HashSet<String>) -> OutboundRecord {
    let key = planned.local_key;
    let record = |op, changes, error| OutboundRecord {
        op,
        key: key.clone(),
        changes,
        error,
    };
    let json = |raw: &serde_json::value::RawValue| -> Json {
        serde_json::from_str(raw.get()).unwrap_or(Json::Null)
    };
    match planned.intent {
        Intent::Create { body } => {
            let (remote_key, _) = outbound.remote_key(&body);
            let changes = body
                .iter()
                .map(|(p, v)| {
                    (
                        p.clone(),
                        Change {
                            before: Json::Null,
                            after: json(v),
                        },
                    )
                })
                .collect();
            let op = if inbound.contains(&remote_key) {
                OutboundOp::Conflict
            } else {
                OutboundOp::Create
            };
            record(op, Some(changes), None)
        }
        Intent::Update {
            coupled, changed, ..
        } => {
            let before = coupled.sent.as_deref().and_then(outbound::parse);
            let changes = changed
                .iter()
                .map(|(p, v)| {
                    let old = before
                        .as_ref()
                        .and_then(|b| b.iter().find(|(q, _)| q == p))
                        .map(|(_, raw)| json(raw))
                        .unwrap_or(Json::Null);
                    (
                        p.clone(),
                        Change {
                            before: old,
                            after: json(v),
                        },
                    )
                })
                .collect();
            let op = if inbound.contains(&coupled.source_key) {
                OutboundOp::Conflict
            } else {
                OutboundOp::Update
            };
            record(op, Some(changes), None)
        }
        Intent::Delete { coupled } if inbound.contains(&coupled.source_key) => {
            record(OutboundOp::Conflict, None, None)
        }
        Intent::Delete { .. } => record(OutboundOp::Delete, None, None),
        Intent::Uncouple { .. } => record(OutboundOp::Uncouple, None, None),
        Intent::Held => record(OutboundOp::Held, None, None),
        Intent::Nothing => record(OutboundOp::Unchanged, None, None),
        Intent::Refused { message, .. } => record(OutboundOp::Error, None, Some(message)),
    }
}
