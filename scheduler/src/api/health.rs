//! Liveness and readiness for process supervisors and load balancers.

use axum::extract::State;
use axum::http::StatusCode;
use redis::AsyncCommands;
use sea_orm::ConnectionTrait;

use super::AppState;

/// The process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database and the queue answer too.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let db = state.db.execute_unprepared("SELECT 1").await.is_ok();
    let mut queue = state.queue.clone();
    let redis: Result<bool, _> = queue.get_connection().exists("ferry:readyz").await;
    if db && redis.is_ok() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
