//! `GET /metrics` in the Prometheus text format. Gauges are read now; counters come from
//! `ferry_counters`, which only grows, so they stay counters across restarts and replicas.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use ferry_shared::runs::DURATION_BUCKETS;
use sea_orm::ConnectionTrait;

use super::ApiError;
use crate::depth;
use crate::state::AppState;

pub async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut queue = state.queue.clone();
    let depth = depth::read(&state.db, &mut queue, state.settings.worker.lease())
        .await
        .map_err(ApiError::internal)?;
    let rows = state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            state.db.get_database_backend(),
            "SELECT metric, labels, value FROM ferry_counters ORDER BY metric, labels",
        ))
        .await
        .map_err(ApiError::internal)?;
    let counters: Vec<(String, String, f64)> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get_by_index(0).ok()?,
                r.try_get_by_index(1).ok()?,
                r.try_get_by_index(2).ok()?,
            ))
        })
        .collect();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP ferry_queue_depth Runs by state (retrying: waiting for backoff; dead: failed in the last 24 h).\n# TYPE ferry_queue_depth gauge"
    );
    for (state_name, n) in [
        ("queued", depth.queued),
        ("retrying", depth.retrying),
        ("running", depth.running),
        ("dead", depth.dead),
    ] {
        let _ = writeln!(text, "ferry_queue_depth{{state=\"{state_name}\"}} {n}");
    }
    let _ = writeln!(
        text,
        "# HELP ferry_oldest_queued_seconds Age of the oldest queued run.\n# TYPE ferry_oldest_queued_seconds gauge\nferry_oldest_queued_seconds {}",
        depth.oldest_queued_seconds.unwrap_or(0.0)
    );
    let alive = depth.workers.iter().filter(|w| w.alive).count();
    let _ = writeln!(
        text,
        "# HELP ferry_workers Workers with a recent heartbeat.\n# TYPE ferry_workers gauge\nferry_workers {alive}"
    );
    write_counters(
        &mut text,
        &counters,
        "ferry_runs_total",
        "counter",
        "Finished runs by integration and final status.",
    );
    write_counters(
        &mut text,
        &counters,
        "ferry_rows_total",
        "counter",
        "Rows by integration and what the run did with them.",
    );
    write_counters(
        &mut text,
        &counters,
        "ferry_exported_total",
        "counter",
        "Records by integration and what an export did with them remotely (and conflicts met).",
    );
    let _ = writeln!(
        text,
        "# HELP ferry_run_duration_seconds Run duration from start to end.\n# TYPE ferry_run_duration_seconds histogram"
    );
    let value = |metric: &str, labels: &str| {
        counters
            .iter()
            .find(|(m, l, _)| m == metric && l == labels)
            .map(|(_, _, v)| *v)
            .unwrap_or(0.0)
    };
    for bound in DURATION_BUCKETS {
        let labels = format!("le=\"{bound}\"");
        let _ = writeln!(
            text,
            "ferry_run_duration_seconds_bucket{{{labels}}} {}",
            value("ferry_run_duration_seconds_bucket", &labels)
        );
    }
    let _ = writeln!(
        text,
        "ferry_run_duration_seconds_bucket{{le=\"+Inf\"}} {}\nferry_run_duration_seconds_sum {}\nferry_run_duration_seconds_count {}",
        value("ferry_run_duration_seconds_bucket", "le=\"+Inf\""),
        value("ferry_run_duration_seconds_sum", ""),
        value("ferry_run_duration_seconds_count", "")
    );
    write_counters(
        &mut text,
        &counters,
        "ferry_integration_last_success_timestamp_seconds",
        "gauge",
        "When each integration last succeeded (Unix seconds).",
    );
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

fn write_counters(
    out: &mut String,
    counters: &[(String, String, f64)],
    name: &str,
    kind: &str,
    help: &str,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (_, labels, value) in counters.iter().filter(|(m, _, _)| m == name) {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}
