//! What a page of local changes asks of the remote side, record by record, before anything is sent:
//! the local row (or its absence) against its coupling.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use super::couplings::Coupled;
use super::outbound::{self, Body, Outbound};
use crate::capture::Change;
use crate::mapping::types::ColumnType;

/// One record's part in the page.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The local key, canonical (`local::canonical_key`): failures of an export are keyed by it.
    pub local_key: String,
    /// The change log entries it stands for.
    pub seqs: Vec<i64>,
    pub intent: Intent,
}

/// What the remote side must do for a record.
#[derive(Debug, Clone)]
pub enum Intent {
    /// Never coupled: create it, unless a record with its key is there already (a create whose
    /// reply was lost), which is adopted instead.
    Create { body: Body },
    /// Coupled and changed: send the properties that differ from what both sides last agreed on.
    Update {
        coupled: Coupled,
        body: Body,
        changed: Body,
    },
    /// Coupled and deleted locally, with `deletes.export`.
    Delete { coupled: Coupled },
    /// Coupled and deleted locally, kept remotely: the pair is uncoupled.
    Uncouple { coupled: Coupled },
    /// Nothing to send: the row is as both sides last agreed (an import's own write, or a change
    /// undone), or it was deleted before it was ever exported.
    Nothing,
    /// Changed on both sides and held for an operator (`ferry conflicts`): not sent.
    Held,
    /// The row cannot be sent (a value of the wrong shape): a failed record.
    Refused { message: String, payload: Json },
}

/// Plans each change of a page. `rows` holds the local rows that still exist, `coupled` the
/// couplings, both by canonical local key; `held` the keys with an open conflict.
pub fn plan(
    outbound: &Outbound,
    changes: &[(Change, Option<String>)],
    rows: &HashMap<String, Vec<String>>,
    coupled: &HashMap<String, Coupled>,
    held: &HashSet<String>,
    delete_remote: bool,
) -> Vec<Planned> {
    changes
        .iter()
        .map(|(change, key)| {
            let Some(key) = key else {
                return Planned {
                    local_key: Json::Array(change.key.clone()).to_string(),
                    seqs: change.seqs.clone(),
                    intent: Intent::Refused {
                        message: "the local key no longer fits its columns".into(),
                        payload: Json::Array(change.key.clone()),
                    },
                };
            };
            if held.contains(key) {
                return Planned {
                    local_key: key.clone(),
                    seqs: change.seqs.clone(),
                    intent: Intent::Held,
                };
            }
            let intent = match (rows.get(key), coupled.get(key)) {
                (Some(columns), coupling) => match outbound.body(columns) {
                    Err(message) => Intent::Refused {
                        message,
                        payload: columns_json(outbound, columns),
                    },
                    Ok(body) => match coupling {
                        None => Intent::Create { body },
                        Some(c) => {
                            let changed = changed(outbound, &body, c.sent.as_deref());
                            if changed.is_empty() {
                                Intent::Nothing
                            } else {
                                Intent::Update {
                                    coupled: c.clone(),
                                    body,
                                    changed,
                                }
                            }
                        }
                    },
                },
                (None, Some(c)) if delete_remote => Intent::Delete { coupled: c.clone() },
                (None, Some(c)) => Intent::Uncouple { coupled: c.clone() },
                (None, None) => Intent::Nothing,
            };
            Planned {
                local_key: key.clone(),
                seqs: change.seqs.clone(),
                intent,
            }
        })
        .collect()
}

/// The non-key properties of `body` that differ from `sent` (all of them when nothing was agreed).
fn changed(outbound: &Outbound, body: &Body, sent: Option<&str>) -> Body {
    let before = sent.and_then(outbound::parse);
    body.iter()
        .filter(|(property, _)| !outbound.is_key(property))
        .filter(|(property, value)| {
            let Some(before) = &before else { return true };
            let old = before.iter().find(|(p, _)| p == property);
            match old {
                None => true,
                Some((_, old)) => {
                    let (a, b) = (
                        serde_json::from_str::<Json>(value.get()).unwrap_or(Json::Null),
                        serde_json::from_str::<Json>(old.get()).unwrap_or(Json::Null),
                    );
                    !outbound::same(&a, &b)
                }
            }
        })
        .cloned()
        .collect()
}

/// A local row's exported columns as a JSON object (a refused record's payload).
fn columns_json(outbound: &Outbound, columns: &[String]) -> Json {
    Json::Object(
        outbound
            .fields
            .iter()
            .zip(columns)
            .map(|(f, text)| {
                (
                    f.column.clone(),
                    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone())),
                )
            })
            .collect(),
    )
}

/// A coupling's remote key text back as key properties with typed values, for a record's URL when
/// only the coupling is left (the local row is gone). The agreed body has them when there is one.
pub fn key_pairs(outbound: &Outbound, coupled: &Coupled) -> Vec<(String, Json)> {
    if let Some(body) = coupled.sent.as_deref().and_then(outbound::parse) {
        let pairs: Vec<(String, Json)> = outbound
            .key
            .iter()
            .filter_map(|&i| {
                let property = &outbound.fields[i].property;
                let (_, raw) = body.iter().find(|(p, _)| p == property)?;
                Some((property.clone(), serde_json::from_str(raw.get()).ok()?))
            })
            .collect();
        if pairs.len() == outbound.key.len() {
            return pairs;
        }
    }
    let texts: Vec<String> = if outbound.key.len() == 1 {
        vec![coupled.source_key.clone()]
    } else if coupled.source_key.starts_with('[') {
        serde_json::from_str(&coupled.source_key).unwrap_or_default()
    } else {
        coupled.source_key.split('|').map(str::to_string).collect()
    };
    outbound
        .key
        .iter()
        .zip(texts)
        .map(|(&i, text)| {
            let field = &outbound.fields[i];
            let value = match field.ty {
                ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => text
                    .parse::<i64>()
                    .map(Json::from)
                    .unwrap_or(Json::String(text)),
                _ => Json::String(text),
            };
            (field.property.clone(), value)
        })
        .collect()
}
