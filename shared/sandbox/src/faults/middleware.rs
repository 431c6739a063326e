//! The layers that apply limits and faults to requests before the handlers see them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::limits::Refusal;
use super::respond;
use super::rule::Kind;
use crate::auth::Principal;
use crate::state::AppState;

/// Per-user budget and concurrency (runs after authentication, which names the user), under the
/// gateway timeout: a request that queues and runs longer than it gets 504.
pub async fn limit(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let gateway = Duration::from_millis(state.limiter.limits().gateway_timeout_ms);
    match tokio::time::timeout(gateway, admit_and_run(&state, req, next)).await {
        Ok(response) => response,
        Err(_) => respond::status(504, None, None),
    }
}

async fn admit_and_run(state: &AppState, req: Request, next: Next) -> Response {
    let Some(who) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    match state.limiter.admit(&who).await {
        Ok(_permit) => next.run(req).await,
        Err(Refusal::TooMany { retry_after, limit }) => respond::status(
            429,
            Some(retry_after),
            Some(format!(
                "Too many requests reached. Actual ({}). Maximum ({limit}).",
                limit + 1
            )),
        ),
        Err(Refusal::Busy) => respond::status(
            503,
            Some(5),
            Some("The request was queued for too long waiting for one of the user's concurrent request slots.".into()),
        ),
    }
}

/// Dataverse's service protection ("Service protection API limits"): past the request budget or
/// the concurrency cap, 429 with `Retry-After` in seconds at once (Dataverse does not queue).
pub async fn limit_dataverse(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(who) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let (code, retry_after, message) = match state.dataverse_limiter.admit(&who).await {
        Ok(_permit) => return next.run(req).await,
        Err(Refusal::TooMany { retry_after, limit }) => (
            crate::routes::dataverse::error::TOO_MANY_REQUESTS,
            retry_after.max(1),
            format!(
                "Number of requests exceeded the limit of {limit} over time window of {} seconds.",
                state.dataverse_limiter.limits().window_secs
            ),
        ),
        Err(Refusal::Busy) => (
            crate::routes::dataverse::error::TOO_MANY_CONCURRENT,
            1,
            format!(
                "Number of concurrent requests exceeded the limit of {}.",
                state.dataverse_limiter.limits().max_concurrent
            ),
        ),
    };
    let mut response =
        crate::odata::ODataError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, code, message)
            .into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(retry_after),
    );
    response
}

/// The operation itself (injected latency included) under BC's operation timeout: 408 beyond it.
pub async fn inject(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let operation = Duration::from_millis(state.limiter.limits().operation_timeout_ms);
    match tokio::time::timeout(operation, faulty(&state, req, next)).await {
        Ok(response) => response,
        Err(_) => respond::status(408, None, None),
    }
}

/// Injected faults: latency first, then a status instead of the answer, or a damaged (or, for a
/// lost reply, withheld) answer after the handler ran.
async fn faulty(state: &AppState, req: Request, next: Next) -> Response {
    let Some(fault) = state.faults.decide(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    if let Some(delay) = fault.latency {
        tokio::time::sleep(delay).await;
    }
    if let Some(code) = fault.status {
        return respond::status(code, fault.retry_after, None);
    }
    let response = next.run(req).await;
    if let Some(delay) = fault.latency_after {
        tokio::time::sleep(delay).await;
    }
    match fault.kind {
        None => response,
        Some(Kind::Malformed) => respond::malformed(response).await,
        Some(Kind::Truncated) => respond::cut_off(response, true).await,
        Some(Kind::Reset) => respond::cut_off(response, false).await,
        Some(Kind::LostReply) => {
            // The handler has returned, so the write is committed (the store lock is released
            // before the answer is built); only the answer goes missing.
            drop(response);
            respond::lost()
        }
    }
}
