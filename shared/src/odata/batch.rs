//! JSON `$batch` (OData 4.01 JSON batch format, which Business Central takes): several writes in one
//! request, each answered with its own status, ETag and body. Answers are matched to operations by
//! `id`, not position: the format lets a service answer in any order.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::client::{ODataClient, SourceError, display};
use crate::limits::Body;

/// One write in a batch.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Unique within the batch.
    pub id: String,
    /// `POST`, `PATCH`, `DELETE` (or `GET`).
    pub method: &'static str,
    pub url: Url,
    /// `If-Match` and the like.
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Box<RawValue>>,
}

/// A service's answer to one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The `ETag` header, or the body's `@odata.etag`.
    pub etag: Option<String>,
    /// The written record's address (`OData-EntityId`, else `Location`): how a 204 to a create
    /// says which record it made, when no body comes back.
    pub entity_id: Option<String>,
    /// The answer's JSON body; `Null` when it had none.
    pub body: Value,
}

impl Answer {
    /// The service's own words for a refusal: `code: message` from an OData error body.
    pub fn error_message(&self) -> String {
        let error = self.body.get("error");
        let code = error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let message = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let text = match (code.is_empty(), message.is_empty()) {
            // No OData error: a plain-text body (kept by the multipart reader) is all there is.
            (_, true) => match self.body.as_str().filter(|t| !t.is_empty()) {
                Some(text) => format!("status {}: {text}", self.status),
                None => format!("status {}", self.status),
            },
            (true, false) => message.to_string(),
            (false, false) => format!("{code}: {message}"),
        };
        crate::printable::printable(&text)
    }
}

#[derive(Serialize)]
struct Request<'a> {
    requests: Vec<RequestItem<'a>>,
}

#[derive(Serialize)]
struct RequestItem<'a> {
    id: &'a str,
    method: &'a str,
    url: &'a str,
    headers: serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Response {
    responses: Vec<ResponseItem>,
}

#[derive(Deserialize)]
struct ResponseItem {
    id: Value,
    status: u16,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Value,
}

/// The text of a batch id as the service echoed it (a string, or a number some services send).
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ODataClient {
    /// Sends `operations` as one JSON `$batch` to the service root's `$batch`, with `headers` on the
    /// batch itself (`Isolation: snapshot`, `Prefer: odata.continue-on-error`). Returns one answer
    /// per operation, in the operations' order; an operation the service did not answer is an error
    /// (what happened to it is unknown, so the caller must not guess).
    pub async fn batch(
        &self,
        operations: &[Operation],
        headers: Vec<(&'static str, String)>,
    ) -> Result<Vec<Answer>, SourceError> {
        let url = self.url("$batch", "");
        let urls: Vec<String> = operations.iter().map(|o| o.url.to_string()).collect();
        let request = Request {
            requests: operations
                .iter()
                .zip(&urls)
                .map(|(o, url)| {
                    let mut headers = serde_json::Map::new();
                    if o.body.is_some() {
                        headers.insert("Content-Type".into(), "application/json".into());
                    }
                    for (name, value) in &o.headers {
                        headers.insert((*name).into(), value.clone().into());
                    }
                    RequestItem {
                        id: &o.id,
                        method: o.method,
                        url,
                        headers,
                        body: o.body.as_deref(),
                    }
                })
                .collect(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| SourceError::Decode {
            url: display(&url),
            message: e.to_string(),
        })?;
        let response = self.post_json(&url, body, headers).await?;
        let bytes = self.body(&url, response, Body::Page).await?;
        let decode = |message: String| SourceError::Decode {
            url: display(&url),
            message,
        };
        let parsed: Response =
            serde_json::from_slice(&bytes).map_err(|e| decode(format!("batch answer: {e}")))?;
        let mut answers: std::collections::HashMap<String, Answer> = parsed
            .responses
            .into_iter()
            .map(|item| {
                let header = |wanted: &str| {
                    item.headers
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                        .and_then(|(_, v)| v.as_str().map(str::to_string))
                };
                let entity_id = header("odata-entityid").or_else(|| header("location"));
                let etag = header("etag").or_else(|| {
                    item.body
                        .get("@odata.etag")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                (
                    id_text(&item.id),
                    Answer {
                        status: item.status,
                        etag,
                        entity_id,
                        body: item.body,
                    },
                )
            })
            .collect();
        operations
            .iter()
            .map(|o| {
                answers.remove(&o.id).ok_or_else(|| {
                    decode(format!(
                        "the batch answer has no response for operation {}",
                        o.id
                    ))
                })
            })
            .collect()
    }
}
