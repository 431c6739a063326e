//! `$batch` in the OData 4.0 `multipart/mixed` format, the only one Dataverse takes ("Execute batch
//! operations using the Web API"). Each operation is its own `application/http` part, never inside
//! a change set: a change set is atomic, so one refused record would fail the independent records
//! sent with it. Answers come in request order (the same article); a
//! `Content-ID` on an answer, when the service sends one, says which request it answers.
//!
//! Without `odata.continue-on-error` the service stops at the first failure and answers nothing
//! after it. Those operations come back as `NOT_CARRIED_OUT` answers, never as successes; an
//! answer missing for any other reason makes the whole batch unreadable (`SourceError::Decode`),
//! because what happened to that operation is unknown.

mod mime;

use serde_json::{Value, json};

use super::batch::{Answer, Operation};
use super::client::{ODataClient, SourceError, display};
use crate::limits::Body;
use mime::Reply;

/// The status of an answer the service never gave: the batch stopped (no `odata.continue-on-error`)
/// at an earlier operation's failure, so this one was not carried out. 424 Failed Dependency is
/// what OData's JSON batch answers for a request whose prerequisite failed; retrying it is safe.
pub const NOT_CARRIED_OUT: u16 = 424;

/// Dataverse's limit on requests in one `$batch`: more is refused whole, so it is refused here first.
pub const MAX_OPERATIONS: usize = 1_000;

impl ODataClient {
    /// Sends `operations` as one `multipart/mixed` `$batch` to the service root's `$batch`, asking
    /// `odata.continue-on-error` when `continue_on_error`. Returns one answer per operation, in the
    /// operations' order; operations the service skipped after a failure are `NOT_CARRIED_OUT`.
    pub async fn batch_multipart(
        &self,
        operations: &[Operation],
        continue_on_error: bool,
    ) -> Result<Vec<Answer>, SourceError> {
        if operations.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.url("$batch", "");
        if operations.len() > MAX_OPERATIONS {
            return Err(SourceError::Schema(format!(
                "{} operations in one $batch: the service takes at most {MAX_OPERATIONS}",
                operations.len()
            )));
        }
        let boundary = format!("batch_{}", uuid::Uuid::new_v4());
        let body = encode(operations, &boundary).map_err(SourceError::Schema)?;
        let mut headers = vec![
            ("OData-Version", "4.0".to_string()),
            ("OData-MaxVersion", "4.0".to_string()),
        ];
        if continue_on_error {
            headers.push(("Prefer", "odata.continue-on-error".to_string()));
        }
        let content_type = format!("multipart/mixed; boundary={boundary}");
        let response = self
            .post(&url, body.into_bytes(), &content_type, headers)
            .await?;
        let answered_as = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = self.body(&url, response, Body::Page).await?;
        decode(&answered_as, &bytes, operations.len(), continue_on_error).map_err(|message| {
            SourceError::Decode {
                url: display(&url),
                message,
            }
        })
    }
}

/// The batch body: one `application/http` part per operation, its `Content-ID` its position
/// (from 1). A header or body that could break out of its part is refused, not sent.
fn encode(operations: &[Operation], boundary: &str) -> Result<String, String> {
    let delimiter = format!("--{boundary}");
    let mut out = String::new();
    for (i, op) in operations.iter().enumerate() {
        out.push_str(&format!(
            "{delimiter}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {}\r\n\r\n",
            i + 1
        ));
        out.push_str(&format!("{} {} HTTP/1.1\r\n", op.method, op.url));
        for (name, value) in &op.headers {
            if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
                return Err(format!(
                    "operation {}: header {name:?} cannot be sent inside a batch part",
                    op.id
                ));
            }
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = op.body.as_deref().map(|b| b.get()).unwrap_or("");
        if body.contains(&delimiter) {
            return Err(format!(
                "operation {}: its body holds the batch boundary",
                op.id
            ));
        }
        if op.body.is_some() {
            out.push_str("Content-Type: application/json; type=entry\r\n");
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        // The blank line ends the headers; the line break after the body belongs to the delimiter.
        out.push_str(&format!("\r\n{body}\r\n"));
    }
    out.push_str(&format!("{delimiter}--\r\n"));
    Ok(out)
}

/// The answers in a batch answer body, one per operation (`count`), in the operations' order.
fn decode(
    content_type: &str,
    body: &[u8],
    count: usize,
    continue_on_error: bool,
) -> Result<Vec<Answer>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("the batch answer is not UTF-8 text: {e}"))?;
    let replies = mime::replies(content_type, text, count)?;
    let mut slots: Vec<Option<Answer>> = vec![None; count];
    for (position, reply) in replies.into_iter().enumerate() {
        let slot = match &reply.content_id {
            Some(id) => id
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=count).contains(n))
                .map(|n| n - 1)
                .ok_or_else(|| {
                    format!(
                        "a batch answer's Content-ID {:?} names no request sent",
                        crate::printable::printable(id)
                    )
                })?,
            None => position,
        };
        if slots[slot].is_some() {
            return Err(format!("two batch answers for operation {}", slot + 1));
        }
        slots[slot] = Some(answer(reply)?);
    }
    fill_missing(slots, continue_on_error)
}

/// Operations without an answer: `NOT_CARRIED_OUT` when the service stopped at an earlier failure
/// (and was not asked to go on), else the batch answer is incomplete and nothing is guessed.
fn fill_missing(
    slots: Vec<Option<Answer>>,
    continue_on_error: bool,
) -> Result<Vec<Answer>, String> {
    let count = slots.len();
    let mut failed_at: Option<usize> = None;
    let mut answers = Vec::with_capacity(count);
    for (i, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(answer) => {
                if failed_at.is_none() && !(200..300).contains(&answer.status) {
                    failed_at = Some(i);
                }
                answers.push(answer);
            }
            None => match failed_at {
                Some(failed) if !continue_on_error => answers.push(not_carried_out(failed)),
                _ => {
                    return Err(format!(
                        "the batch answer has no reply for operation {} of {count}: what became of it is unknown",
                        i + 1
                    ));
                }
            },
        }
    }
    Ok(answers)
}

/// The answer for an operation the service skipped after operation `failed` (0-based) failed.
fn not_carried_out(failed: usize) -> Answer {
    Answer {
        status: NOT_CARRIED_OUT,
        etag: None,
        entity_id: None,
        body: json!({"error": {
            "code": "",
            "message": format!(
                "Not carried out: the batch stopped at operation {}'s failure (sent without odata.continue-on-error).",
                failed + 1
            ),
        }}),
    }
}

/// One reply as an `Answer`: the body as JSON (`Null` when empty), the ETag from the header or
/// the body, the record's address from `OData-EntityId` or `Location`. A body that says it is
/// JSON, or looks like it, and does not parse was garbled on the way: the batch is unreadable.
fn answer(reply: Reply) -> Result<Answer, String> {
    let text = reply.body.trim();
    let body = if text.is_empty() {
        Value::Null
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => value,
            Err(e) => {
                let says_json = reply
                    .header("content-type")
                    .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
                if says_json || text.starts_with(['{', '[']) {
                    return Err(format!(
                        "the reply with status {} has an unreadable JSON body: {e}",
                        reply.status
                    ));
                }
                // Plain words (a gateway's "Bad Request"): kept, briefly, for the message.
                Value::String(crate::printable::printable(
                    &text.chars().take(300).collect::<String>(),
                ))
            }
        }
    };
    let etag = reply.header("etag").map(str::to_string).or_else(|| {
        body.get("@odata.etag")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let entity_id = reply
        .header("odata-entityid")
        .or_else(|| reply.header("location"))
        .map(str::to_string);
    Ok(Answer {
        status: reply.status,
        etag,
        entity_id,
        body,
    })
}

#[cfg(test)]
mod tests;
