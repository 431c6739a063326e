//! What the data routes were asked, in order: `GET /_sandbox/requests` lists each request as
//! `METHOD path?query` (the query as sent, still percent-encoded), `DELETE` empties the list. Tests
//! check the shape of a read with it (which order, which fields, how many requests) rather than
//! trusting the client's own account. Bounded: only the last [`KEPT`] requests are kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// How many requests the log keeps.
pub const KEPT: usize = 100_000;

#[derive(Debug, Default)]
pub struct RequestLog(Mutex<VecDeque<String>>);

impl RequestLog {
    fn push(&self, line: String) {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back(line);
    }

    /// Every request kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Records the request, then serves it.
pub async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let line = match uri.query() {
        Some(query) => format!("{} {}?{query}", req.method(), uri.path()),
        None => format!("{} {}", req.method(), uri.path()),
    };
    state.requests.push(line);
    next.run(req).await
}

/// `GET /_sandbox/requests`.
pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    Json(state.requests.lines()).into_response()
}

/// `DELETE /_sandbox/requests`.
pub async fn clear(State(state): State<Arc<AppState>>) -> Response {
    state.requests.clear();
    axum::http::StatusCode::NO_CONTENT.into_response()
}
