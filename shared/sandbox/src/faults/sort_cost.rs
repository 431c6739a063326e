//! The cost of a sort the service has no index for. Business Central keeps no index on the Resco
//! `RowVersionNumber`, so a query ordered by it sorts (or scans) the whole table on every request:
//! every page of a version-ordered read of everything pays for the entity's full size. The sandbox
//! walks its own version index instead, so it charges that cost as latency, per row of the table,
//! to each request whose `$orderby` starts with the entity's version field. A query ordered by the
//! key (the clustered index) pays nothing. Off (0) unless configured: `--sort-cost-us-per-row`, or
//! `POST /_sandbox/sort_cost {"us_per_row": n}` at run time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::odata::query;
use crate::state::AppState;

/// Microseconds charged per row of the table to a request ordered by its version field.
#[derive(Debug, Default)]
pub struct SortCost(AtomicU64);

impl SortCost {
    pub fn new(us_per_row: u64) -> SortCost {
        SortCost(AtomicU64::new(us_per_row))
    }

    pub fn us_per_row(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, us_per_row: u64) {
        self.0.store(us_per_row, Ordering::Relaxed);
    }
}

/// Sleeps for the unindexed sort a request asks for, before answering it (so the time holds the
/// request's concurrency slot, as BC's sort would).
pub async fn charge(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let per_row = state.sort_cost.us_per_row();
    if per_row > 0
        && let Some(rows) = sorted_rows(&state, req.uri())
    {
        tokio::time::sleep(Duration::from_micros(per_row.saturating_mul(rows as u64))).await;
    }
    next.run(req).await
}

/// The rows of the table a GET of a collection orders by its version field, if it does.
fn sorted_rows(state: &AppState, uri: &axum::http::Uri) -> Option<usize> {
    let options = query::parse_raw(uri.query()).ok()?;
    let first = query::get(&options, "$orderby")?
        .split(',')
        .next()?
        .split_whitespace()
        .next()?
        .to_owned();
    // The entity set is the last segment of the path (`…/companies(id)/RescoCustomer`).
    let entity = uri.path().rsplit('/').next()?;
    let store = state.read();
    let table = store.table(entity)?;
    let version = table.schema.fields[table.version_idx?].name;
    (first == version).then_some(table.rows.len())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSortCost {
    pub us_per_row: u64,
}

/// `GET /_sandbox/sort_cost`.
pub async fn get(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({ "us_per_row": state.sort_cost.us_per_row() })).into_response()
}

/// `POST /_sandbox/sort_cost {"us_per_row": n}`.
pub async fn set(State(state): State<Arc<AppState>>, Json(body): Json<SetSortCost>) -> Response {
    state.sort_cost.set(body.us_per_row);
    Json(json!({ "us_per_row": body.us_per_row })).into_response()
}
