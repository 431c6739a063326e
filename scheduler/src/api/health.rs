//! Liveness and readiness for process supervisors and load balancers.

use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::ConnectionTrait;

use crate::state::AppState;

/// The process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database and the queue answer too.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let db = state.db.execute_unprepared("SELECT 1").await.is_ok();
    let mut queue = state.queue.clone();
    if db && ferry_shared::queue::ping(&mut queue).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
