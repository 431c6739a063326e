//! `$batch` in Dataverse's multipart format ("Execute batch operations using the Web API"): up to
//! 1,000 requests, each an `application/http` part or a change set (a nested `multipart/mixed`)
//! whose requests succeed or fail together. Without `Prefer: odata.continue-on-error` the batch
//! stops at the first failure; with it, every request runs. All requests run under one write
//! lock, in order.

use axum::body::to_bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{self, INVALID_ARGUMENT};
use super::prefer::Prefer;
use super::{PATH, get, write};
use crate::model::{Store, UndoLog};
use crate::odata::ODataError;
use crate::state::AppState;

/// Dataverse's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 1_000;

/// One request inside the batch.
#[derive(Debug)]
struct Request {
    method: Method,
    /// Below the service root, without the query.
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: String,
    content_id: Option<String>,
}

/// A top-level part: one request, or a change set of them.
#[derive(Debug)]
enum Part {
    Single(Request),
    ChangeSet(Vec<Request>),
}

fn invalid(message: impl Into<String>) -> ODataError {
    error::bad_request(INVALID_ARGUMENT, message)
}

/// `boundary=…` of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
}

/// The parts between `--boundary` lines, each as (headers, body).
fn split(body: &str, boundary: &str) -> Vec<(Vec<(String, String)>, String)> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.trim_start_matches(['\r', '\n']);
        let (head, rest) = chunk
            .split_once("\r\n\r\n")
            .or_else(|| chunk.split_once("\n\n"))
            .unwrap_or((chunk, ""));
        let headers = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        parts.push((headers, rest.to_owned()));
    }
    parts
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An `application/http` part: `METHOD URL HTTP/1.1`, headers, a blank line, the body.
fn request(part_headers: &[(String, String)], text: &str) -> Result<Request, ODataError> {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((text, ""));
    let mut lines = head.lines();
    let line = lines.next().unwrap_or("");
    let mut words = line.split_whitespace();
    let (Some(method), Some(url)) = (words.next(), words.next()) else {
        return Err(invalid(format!(
            "Malformed request line '{line}' in $batch."
        )));
    };
    let method: Method = method
        .parse()
        .map_err(|_| invalid(format!("Unknown method '{method}' in $batch.")))?;
    let marker = format!("/{PATH}/");
    let relative = url.find(&marker).map_or(url, |i| &url[i + marker.len()..]);
    let (path, query) = match relative.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (relative.to_owned(), None),
    };
    let mut headers = HeaderMap::new();
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.trim().as_bytes()),
            HeaderValue::from_str(v.trim()),
        ) {
            headers.append(k, v);
        }
    }
    Ok(Request {
        method,
        path,
        query,
        headers,
        body: body.trim_end_matches(['\r', '\n']).to_owned(),
        content_id: header_of(part_headers, "content-id").map(str::to_owned),
    })
}

fn parse(content_type: &str, body: &str) -> Result<Vec<Part>, ODataError> {
    let outer = boundary(content_type)
        .ok_or_else(|| invalid("A $batch needs Content-Type: multipart/mixed; boundary=…"))?;
    let mut parts = Vec::new();
    for (headers, text) in split(body, &outer) {
        let part_type = header_of(&headers, "content-type").unwrap_or("");
        if part_type.starts_with("multipart/mixed") {
            let inner =
                boundary(part_type).ok_or_else(|| invalid("A change set needs a boundary."))?;
            let requests = split(&text, &inner)
                .iter()
                .map(|(h, t)| request(h, t))
                .collect::<Result<Vec<_>, _>>()?;
            parts.push(Part::ChangeSet(requests));
        } else {
            parts.push(Part::Single(request(&headers, &text)?));
        }
    }
    Ok(parts)
}

/// Runs one request against the locked store.
fn run(
    state: &AppState,
    store: &mut Store,
    outer: &HeaderMap,
    r: &Request,
    undo: &mut UndoLog,
) -> Response {
    let mut headers = r.headers.clone();
    if let Some(host) = outer.get(header::HOST) {
        headers.insert(header::HOST, host.clone());
    }
    let result = match r.method {
        Method::GET => get(state, store, &r.path, r.query.as_deref(), &headers),
        _ => write(
            state,
            store,
            &r.path,
            &r.method,
            &headers,
            r.body.as_bytes(),
            undo,
        ),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// One response as an `application/http` part.
async fn render(out: &mut String, response: Response, content_id: Option<&str>) {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        out.push_str(&format!("Content-ID: {id}\r\n"));
    }
    out.push_str(&format!(
        "\r\nHTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ));
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    out.push_str("\r\n");
    out.push_str(&String::from_utf8_lossy(&body));
    out.push_str("\r\n");
}

/// `POST $batch`.
pub async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ODataError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = std::str::from_utf8(body).map_err(|_| invalid("The $batch body is not UTF-8."))?;
    let parts = parse(content_type, text)?;
    let count: usize = parts
        .iter()
        .map(|p| match p {
            Part::Single(_) => 1,
            Part::ChangeSet(r) => r.len(),
        })
        .sum();
    if count > MAX_REQUESTS {
        return Err(invalid(format!(
            "The number of requests in a batch ({count}) exceeds the limit of {MAX_REQUESTS}."
        )));
    }
    let continue_on_error = Prefer::parse(headers).continue_on_error;

    // Run everything under the lock; turn responses into text after releasing it.
    let mut results: Vec<Vec<(Response, Option<String>)>> = Vec::new();
    let mut change_sets: Vec<bool> = Vec::new();
    {
        let mut store = state.write();
        for part in &parts {
            let (requests, atomic) = match part {
                Part::Single(r) => (std::slice::from_ref(r), false),
                Part::ChangeSet(rs) => (rs.as_slice(), true),
            };
            let mut undo = UndoLog::default();
            let mut responses = Vec::new();
            let mut failed = false;
            for r in requests {
                let response = run(state, &mut store, headers, r, &mut undo);
                failed = !response.status().is_success();
                responses.push((response, r.content_id.clone()));
                if failed {
                    break;
                }
            }
            if failed && atomic {
                // A change set is all or nothing: undo it and report only the failure.
                store.undo(undo);
                responses = responses.pop().into_iter().collect();
            }
            results.push(responses);
            change_sets.push(atomic && !failed);
            if failed && !continue_on_error {
                break;
            }
        }
    }

    let boundary = format!("batchresponse_{}", uuid::Uuid::new_v4());
    let mut out = String::new();
    for (responses, change_set) in results.into_iter().zip(change_sets) {
        out.push_str(&format!("--{boundary}\r\n"));
        if change_set {
            let inner = format!("changesetresponse_{}", uuid::Uuid::new_v4());
            out.push_str(&format!(
                "Content-Type: multipart/mixed; boundary={inner}\r\n\r\n"
            ));
            for (response, id) in responses {
                out.push_str(&format!("--{inner}\r\n"));
                render(&mut out, response, id.as_deref()).await;
            }
            out.push_str(&format!("--{inner}--\r\n"));
        } else {
            for (response, id) in responses {
                render(&mut out, response, id.as_deref()).await;
            }
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    let mut response = (StatusCode::OK, out).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if continue_on_error {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("odata.continue-on-error"),
        );
    }
    Ok(response)
}
