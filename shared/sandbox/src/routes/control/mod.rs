//! Control endpoints for tests (no auth, meant for loopback): data, sign-in, faults, schema.

pub mod data;
pub mod dataverse;
pub mod faults;
pub mod identity;
pub mod schema;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub use data::{mutate, rows};

/// Every `/_sandbox/…` route.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_sandbox/mutate", post(data::mutate))
        .route("/_sandbox/release", post(data::release))
        .route("/_sandbox/rows/{entity}", get(data::rows))
        .route("/_sandbox/devicecode/approve", post(identity::approve))
        .route("/_sandbox/devicecode/decline", post(identity::decline))
        .route("/_sandbox/tokens", post(identity::tokens))
        .route("/_sandbox/issued", get(identity::issued))
        .route(
            "/_sandbox/faults",
            post(faults::add).get(faults::list).delete(faults::clear),
        )
        .route("/_sandbox/schema", post(schema::change))
        .route(
            "/_sandbox/dataverse/expire_tokens",
            post(dataverse::expire_tokens),
        )
        .route(
            "/_sandbox/dataverse/limits",
            get(dataverse::limits).post(dataverse::set_limits),
        )
        .route(
            "/_sandbox/sort_cost",
            get(crate::faults::sort_cost::get).post(crate::faults::sort_cost::set),
        )
        .route(
            "/_sandbox/requests",
            get(crate::request_log::list).delete(crate::request_log::clear),
        )
        .route(
            "/_sandbox/limits",
            get(faults::limits).post(faults::set_limits),
        )
        .route(
            "/_sandbox/limits/counts",
            get(faults::counts).delete(faults::reset_counts),
        )
        .route("/_sandbox/dataverse/limits/counts", get(dataverse::counts))
}
