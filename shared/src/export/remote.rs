//! Writing a page of planned records to the remote system through JSON `$batch`, exactly once:
//!
//! - **Creates** look the page's new keys up first (one GET): a record that is there already — the
//!   create of an attempt whose reply was lost — is adopted (and patched where it differs), never
//!   created twice. Business Central and generic OData get the record's own key in the POST body.
//! - **Updates** send only the properties that changed, with `If-Match` and the ETag last seen
//!   (`*` when none is known). A 412 means the record changed since: it is read again, and when it
//!   already holds what is being sent (an update whose reply was lost) that is success; otherwise the
//!   local change wins, with the fresh ETag, and counts as a conflict. A 404 means it was deleted
//!   remotely: the local row restores it.
//! - **Deletes** send `If-Match` too; a 404 means done.
//!
//! Refusals (a 4xx with the service's message) become failed records with the request sent; a busy
//! or failing service (429, 5xx) fails the attempt, which the run retries from the change log.

use std::collections::HashSet;

use serde_json::{Value as Json, json};

use super::couplings::Written;
use super::outbound::{self, Body, Outbound};
use super::plan::{Intent, Planned, key_pairs};
use super::style::{Creates, Style};
use crate::filter;
use crate::lookup::PageLookups;
use crate::mapping::{Mapped, Mapping};
use crate::odata::batch::{Answer, Operation};
use crate::odata::client::{Row, SourceError};
use crate::odata::key;
use crate::odata::query::Query;
use crate::runs::ExportCounts;
use crate::source::Source;

/// Where and how a page is written.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub source: &'a Source,
    pub outbound: &'a Outbound,
    pub style: &'a Style,
    /// The import mapping: a record written is hashed as the import would hash it, so reading it
    /// back costs no local write (no echo the other way).
    pub mapping: &'a Mapping,
    /// Local keys whose conflict this run counted already (its import phase met them).
    pub counted: &'a HashSet<String>,
    /// `deletes.conflict = "remove_coupling"`: a record deleted remotely and changed locally is
    /// uncouple instead of created again.
    pub removes_coupling: bool,
}

/// What a page's writes came to, for its local transaction.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: Vec<Written>,
    /// Remote keys whose couplings go.
    pub uncoupled: Vec<String>,
    /// (local key, message, payload, mapped) as `runs::record_failures` takes them.
    pub failures: Vec<(String, String, String, String)>,
    /// Local keys exported (their open failures are resolved).
    pub succeeded: Vec<String>,
    pub counts: ExportCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Patch,
    Delete,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One write still to be done.
#[derive(Debug, Clone)]
struct Op {
    local_key: String,
    method: Method,
    /// The whole row as the remote side takes it (empty for a delete): what the coupling keeps.
    body: Body,
    /// What goes in the request.
    send: Body,
    remote_key: String,
    key_pairs: Vec<(String, Json)>,
    etag: Option<String>,
    /// Read again after a 412 already: a second 412 fails the record.
    refreshed: bool,
    /// Counted as an update although sent as a create (a restore) or the other way round.
    restore: bool,
}

/// Writes `planned` to the remote system.
pub async fn write(target: &Target<'_>, planned: Vec<Planned>) -> Result<Outcome, SourceError> {
    let (source, outbound, style) = (target.source, target.outbound, target.style);
    let mut out = Outcome::default();
    let mut ops = Vec::new();
    let mut creates = Vec::new();
    for p in planned {
        match p.intent {
            Intent::Nothing => {
                out.counts.unchanged += 1;
                out.succeeded.push(p.local_key);
            }
            // Held for an operator (`ferry conflicts`): nothing is sent, nothing counted again.
            Intent::Held => {}
            Intent::Refused { message, payload } => {
                out.counts.failed += 1;
                out.failures.push((
                    p.local_key,
                    format!("cannot export: {message}"),
                    payload.to_string(),
                    "{}".into(),
                ));
            }
            Intent::Uncouple { coupled } => {
                out.counts.unchanged += 1;
                out.uncoupled.push(coupled.source_key);
            }
            Intent::Create { body } => creates.push((p.local_key, body)),
            Intent::Update {
                coupled,
                body,
                changed,
            } => {
                let (remote_key, key_pairs) = outbound.remote_key(&body);
                ops.push(Op {
                    local_key: p.local_key,
                    method: Method::Patch,
                    body,
                    send: changed,
                    remote_key,
                    key_pairs,
                    etag: coupled.etag,
                    refreshed: false,
                    restore: false,
                });
            }
            Intent::Delete { coupled } => ops.push(Op {
                local_key: p.local_key,
                method: Method::Delete,
                body: Vec::new(),
                send: Vec::new(),
                key_pairs: key_pairs(outbound, &coupled),
                remote_key: coupled.source_key,
                etag: coupled.etag,
                refreshed: false,
                restore: false,
            }),
        }
    }
    ops.extend(match style.creates {
        Creates::PostAfterLookup => adopt_or_create(source, outbound, creates, &mut out).await?,
        Creates::PatchIfNoneMatch => creates
            .into_iter()
            .map(|(local_key, body)| {
                let (remote_key, key_pairs) = outbound.remote_key(&body);
                Op {
                    local_key,
                    method: Method::Post,
                    send: body.clone(),
                    body,
                    remote_key,
                    key_pairs,
                    etag: None,
                    refreshed: false,
                    restore: false,
                }
            })
            .collect(),
    });
    let rounds = ops.len() + 2;
    for _ in 0..rounds {
        if ops.is_empty() {
            break;
        }
        let mut again = Vec::new();
        for chunk in ops.chunks(style.max_operations) {
            again.extend(send(target, chunk, &mut out).await?);
        }
        ops = again;
    }
    for op in ops {
        out.counts.failed += 1;
        out.failures.push((
            op.local_key.clone(),
            "not written: the record kept changing remotely while it was exported".into(),
            payload(target, &op).to_string(),
            "{}".into(),
        ));
    }
    Ok(out)
}

/// Looks the new keys up; a record there already is adopted (patched where it differs), the others
/// are created.
async fn adopt_or_create(
    source: &Source,
    outbound: &Outbound,
    creates: Vec<(String, Body)>,
    out: &mut Outcome,
) -> Result<Vec<Op>, SourceError> {
    if creates.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<(String, Vec<(String, Json)>)> = creates
        .iter()
        .map(|(_, body)| outbound.remote_key(body))
        .collect();
    let found = existing(source, outbound, &keys).await?;
    let mut ops = Vec::new();
    for ((local_key, body), (remote_key, key_pairs)) in creates.into_iter().zip(keys) {
        let Some(row) = found.get(&remote_key) else {
            ops.push(Op {
                local_key,
                method: Method::Post,
                send: body.clone(),
                body,
                remote_key,
                key_pairs,
                etag: None,
                refreshed: false,
                restore: false,
            });
            continue;
        };
        let etag = row
            .get("@odata.etag")
            .and_then(Json::as_str)
            .map(str::to_string);
        let differs = differing(outbound, &body, row);
        if differs.is_empty() {
            out.counts.unchanged += 1;
            out.written.push(Written {
                source_key: remote_key,
                target_key: local_key.clone(),
                version: version(outbound, row),
                etag,
                sent: outbound::object(&body).get().to_string(),
                hash: None,
            });
            out.succeeded.push(local_key);
        } else {
            ops.push(Op {
                local_key,
                method: Method::Patch,
                body,
                send: differs,
                remote_key,
                key_pairs,
                etag,
                refreshed: false,
                restore: false,
            });
        }
    }
    Ok(ops)
}

/// The records of `keys` the remote side has, by remote key text.
async fn existing(
    source: &Source,
    outbound: &Outbound,
    keys: &[(String, Vec<(String, Json)>)],
) -> Result<std::collections::HashMap<String, Row>, SourceError> {
    let key_fields: Vec<String> = outbound
        .key
        .iter()
        .map(|&i| outbound.fields[i].property.clone())
        .collect();
    let rows: Vec<Row> = keys
        .iter()
        .map(|(_, pairs)| pairs.iter().cloned().collect())
        .collect();
    let mut select: Vec<String> = outbound.fields.iter().map(|f| f.property.clone()).collect();
    if let Some(v) = &outbound.version_field {
        select.push(v.clone());
    }
    let query = Query {
        select,
        filter: Some(
            filter::by_keys(&key_fields, &rows, &|f| {
                outbound.guid_keys.iter().any(|k| k == f)
            })
            .render(),
        ),
        orderby: Vec::new(),
        top: None,
        prefer: Vec::new(),
    };
    let mut pages = source.read(&outbound.entity, &query);
    let mut found = std::collections::HashMap::new();
    while let Some(page) = pages.next().await {
        for row in page?.rows {
            let texts: Vec<String> = key_fields
                .iter()
                .map(|k| crate::mapping::record_key::field_text(row.get(k)))
                .collect();
            found.insert(crate::mapping::record_key::encode(&texts), row);
        }
    }
    Ok(found)
}

/// The non-key properties of `body` whose value `row` does not hold.
fn differing(outbound: &Outbound, body: &Body, row: &Row) -> Body {
    body.iter()
        .filter(|(property, _)| !outbound.is_key(property))
        .filter(|(property, value)| {
            let ours: Json = serde_json::from_str(value.get()).unwrap_or(Json::Null);
            !row.get(property.as_str())
                .is_some_and(|theirs| outbound::same(&ours, theirs))
        })
        .cloned()
        .collect()
}

fn version(outbound: &Outbound, row: &serde_json::Map<String, Json>) -> Option<i64> {
    let field = outbound.version_field.as_ref()?;
    match row.get(field)? {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn url(source: &Source, outbound: &Outbound, style: &Style, op: &Op) -> url::Url {
    match (op.method, style.creates) {
        (Method::Post, Creates::PostAfterLookup) => source.collection_url(&outbound.entity),
        _ => source.record_url(
            &outbound.entity,
            &key::predicate(&op.key_pairs, &|f| {
                outbound.guid_keys.iter().any(|k| k == f)
            }),
        ),
    }
}

/// A failed write's record: the request as it was sent.
fn payload(target: &Target<'_>, op: &Op) -> Json {
    let sent = request(target.outbound, target.style, op);
    let body: Json = sent
        .body
        .and_then(|b| serde_json::from_str(b.get()).ok())
        .unwrap_or(Json::Null);
    json!({
        "method": sent.method,
        "url": crate::odata::client::display(&url(target.source, target.outbound, target.style, op)),
        "body": body,
    })
}

/// An operation as the style sends it.
struct Request {
    method: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Option<Box<serde_json::value::RawValue>>,
}

/// An operation's method, headers and body as the style sends it.
fn request(outbound: &Outbound, style: &Style, op: &Op) -> Request {
    let mut headers = Vec::new();
    if style.creates == Creates::PatchIfNoneMatch && op.method != Method::Delete {
        // The record as written, so its ETag, version and values come back with the answer.
        headers.push(("Prefer", "return=representation".to_string()));
    }
    match (op.method, style.creates) {
        (Method::Post, Creates::PostAfterLookup) => Request {
            method: "POST",
            headers,
            body: Some(outbound::object(&op.send)),
        },
        (Method::Post, Creates::PatchIfNoneMatch) => {
            headers.push(("If-None-Match", "*".into()));
            // The key is in the address.
            let body: Body = op
                .send
                .iter()
                .filter(|(p, _)| !outbound.is_key(p))
                .cloned()
                .collect();
            Request {
                method: "PATCH",
                headers,
                body: Some(outbound::object(&body)),
            }
        }
        (Method::Patch, _) => {
            headers.push(("If-Match", op.etag.clone().unwrap_or_else(|| "*".into())));
            Request {
                method: "PATCH",
                headers,
                body: Some(outbound::object(&op.send)),
            }
        }
        (Method::Delete, _) => {
            headers.push(("If-Match", op.etag.clone().unwrap_or_else(|| "*".into())));
            Request {
                method: "DELETE",
                headers,
                body: None,
            }
        }
    }
}

/// Sends one batch and sorts its answers; returns the operations to send again.
async fn send(
    target: &Target<'_>,
    chunk: &[Op],
    out: &mut Outcome,
) -> Result<Vec<Op>, SourceError> {
    let (source, outbound, style) = (target.source, target.outbound, target.style);
    let operations: Vec<Operation> = chunk
        .iter()
        .enumerate()
        .map(|(n, op)| {
            let sent = request(outbound, style, op);
            Operation {
                id: (n + 1).to_string(),
                method: sent.method,
                url: url(source, outbound, style, op),
                headers: sent.headers,
                body: sent.body,
            }
        })
        .collect();
    let answers = if style.multipart {
        source.batch_multipart(&operations, true).await?
    } else {
        source.batch(&operations, style.headers.clone()).await?
    };
    let mut again = Vec::new();
    for (op, answer) in chunk.iter().zip(answers) {
        if let Some(retry) = settle(target, op, answer, out).await? {
            again.push(retry);
        }
    }
    Ok(again)
}

/// What one answer means for its operation: done (recorded in `out`), or to be sent again.
async fn settle(
    target: &Target<'_>,
    op: &Op,
    answer: Answer,
    out: &mut Outcome,
) -> Result<Option<Op>, SourceError> {
    let (source, outbound) = (target.source, target.outbound);
    match (answer.status, op.method) {
        (200..=299, Method::Delete) | (404, Method::Delete) => {
            out.counts.deleted += 1;
            out.uncoupled.push(op.remote_key.clone());
            out.succeeded.push(op.local_key.clone());
            Ok(None)
        }
        (200..=299, method) => {
            let row = answer.body.as_object().cloned().unwrap_or_default();
            if method == Method::Post && !op.restore {
                out.counts.inserted += 1;
            } else {
                out.counts.updated += 1;
            }
            out.written.push(Written {
                source_key: op.remote_key.clone(),
                target_key: op.local_key.clone(),
                version: version(outbound, &row),
                etag: answer.etag,
                sent: outbound::object(&op.body).get().to_string(),
                hash: import_hash(target.mapping, &row),
            });
            out.succeeded.push(op.local_key.clone());
            Ok(None)
        }
        // A snapshot batch rolled back for another operation's refusal: this one goes again.
        (424, _) => Ok(Some(op.clone())),
        // Deleted remotely while changed locally: the local row restores it.
        (404, Method::Patch) => Ok(deleted_remotely(target, op, out)),
        (412, _) if !op.refreshed => refresh(target, op, out).await,
        (429 | 500..=599, _) => Err(SourceError::Http {
            status: answer.status,
            url: crate::odata::client::display(&url(source, outbound, target.style, op)),
            message: answer.error_message(),
            retry_after: None,
        }),
        (status, _) => {
            out.counts.failed += 1;
            out.failures.push((
                op.local_key.clone(),
                format!(
                    "the remote system refused the {} ({status}): {}",
                    op.method.name(),
                    answer.error_message()
                ),
                payload(target, op).to_string(),
                "{}".into(),
            ));
            Ok(None)
        }
    }
}

/// A record deleted remotely while it changed locally: created again (restore), or uncoupled.
fn deleted_remotely(target: &Target<'_>, op: &Op, out: &mut Outcome) -> Option<Op> {
    count_conflict(target, op, out);
    if target.removes_coupling {
        out.uncoupled.push(op.remote_key.clone());
        out.succeeded.push(op.local_key.clone());
        return None;
    }
    Some(restore(op))
}

/// The create that puts back a record deleted remotely.
fn restore(op: &Op) -> Op {
    Op {
        method: Method::Post,
        send: op.body.clone(),
        etag: None,
        restore: true,
        ..op.clone()
    }
}

/// After a 412: reads the record again. When it holds what was sent, the write had landed (its reply
/// was lost); otherwise it is sent again over the remote change, with the fresh ETag.
async fn refresh(
    target: &Target<'_>,
    op: &Op,
    out: &mut Outcome,
) -> Result<Option<Op>, SourceError> {
    let (source, outbound) = (target.source, target.outbound);
    let current = source
        .record(&source.record_url(
            &outbound.entity,
            &key::predicate(&op.key_pairs, &|f| {
                outbound.guid_keys.iter().any(|k| k == f)
            }),
        ))
        .await?;
    let Some(Json::Object(row)) = current else {
        return Ok(match op.method {
            Method::Delete => {
                out.counts.deleted += 1;
                out.uncoupled.push(op.remote_key.clone());
                out.succeeded.push(op.local_key.clone());
                None
            }
            _ => deleted_remotely(target, op, out),
        });
    };
    let etag = row
        .get("@odata.etag")
        .and_then(Json::as_str)
        .map(str::to_string);
    if op.method == Method::Post {
        // A create-only write found its record there: an attempt whose reply was lost made it (or
        // someone else did). It is adopted, and patched where it differs.
        let differs = differing(outbound, &op.body, &row);
        if differs.is_empty() {
            out.counts.unchanged += 1;
            out.written.push(Written {
                source_key: op.remote_key.clone(),
                target_key: op.local_key.clone(),
                version: version(outbound, &row),
                etag,
                sent: outbound::object(&op.body).get().to_string(),
                hash: None,
            });
            out.succeeded.push(op.local_key.clone());
            return Ok(None);
        }
        return Ok(Some(Op {
            method: Method::Patch,
            send: differs,
            etag,
            refreshed: true,
            ..op.clone()
        }));
    }
    if op.method == Method::Patch && differing(outbound, &op.send, &row).is_empty() {
        out.counts.updated += 1;
        out.written.push(Written {
            source_key: op.remote_key.clone(),
            target_key: op.local_key.clone(),
            version: version(outbound, &row),
            etag,
            sent: outbound::object(&op.body).get().to_string(),
            hash: None,
        });
        out.succeeded.push(op.local_key.clone());
        return Ok(None);
    }
    count_conflict(target, op, out);
    Ok(Some(Op {
        etag,
        refreshed: true,
        ..op.clone()
    }))
}

/// Counts a conflict met while writing, unless this run's import phase counted it already.
fn count_conflict(target: &Target<'_>, op: &Op, out: &mut Outcome) {
    if !target.counted.contains(&op.local_key) {
        out.counts.conflicts += 1;
    }
}

/// The hash an import would give `row` (the record as the remote side answered the write), so the
/// next import meets it unchanged. None when the mapping looks values up (the answer alone cannot
/// say what a lookup would find) or the answer does not map.
fn import_hash(mapping: &Mapping, row: &Row) -> Option<String> {
    if !mapping.lookups.is_empty() {
        return None;
    }
    match mapping.map_row(row, &PageLookups::default()) {
        Ok(Mapped::Row(values)) => Some(crate::sink::coupling::hash(mapping, &values)),
        _ => None,
    }
}
