//! `/queue`: runs by state (the database's truth), the oldest queued run's age, per-integration depth
//! and the workers alive; it refreshes by itself.

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use maud::{Markup, html};

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::depth::QueueDepth;
use crate::state::AppState;

/// The headline numbers, also on the integrations page.
pub fn cards(depth: &QueueDepth) -> Markup {
    let alive = depth.workers.iter().filter(|w| w.alive).count();
    html! {
        div.cards aria-label="Queue" {
            div.card { span.n { (layout::count(depth.queued)) } span.k { "queued" } }
            div.card { span.n { (layout::count(depth.running)) } span.k { "running" } }
            div.card { span.n { (layout::count(depth.retrying)) } span.k { "waiting to retry" } }
            div.card { span.n { (layout::count(depth.dead)) } span.k { "failed (24 h)" } }
            div.card {
                span.n { @match depth.oldest_queued_seconds {
                    Some(s) => (layout::duration((s * 1_000.0) as i64)),
                    None => "–",
                } }
                span.k { "oldest queued" }
            }
            div.card { span.n { (alive) } span.k { "workers alive" } }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
) -> Result<Html<String>, ConsoleError> {
    let mut queue = state.queue.clone();
    let depth = crate::depth::read(&state.db, &mut queue, state.settings.worker.lease())
        .await
        .map_err(ConsoleError::internal)?;
    let body = html! {
        h1 { "Queue" }
        (cards(&depth))
        h2 { "By integration" }
        @if depth.integrations.is_empty() {
            p.panel.muted { "Nothing queued, running or failed lately." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Integration" }
                    th.num scope="col" { "Queued" }
                    th.num scope="col" { "Running" }
                    th.num scope="col" { "Waiting to retry" }
                    th.num scope="col" { "Failed (24 h)" }
                } }
                tbody { @for (name, d) in &depth.integrations { tr {
                    td { a href={ "/integrations/" (name) } { (name) } }
                    td.num { (d.queued) } td.num { (d.running) } td.num { (d.retrying) } td.num { (d.dead) }
                } } }
            } }
        }
        h2 { "Workers" }
        @if depth.workers.is_empty() {
            p.panel.muted { "No worker has registered with the queue." }
        } @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Worker" } th scope="col" { "Last heartbeat" } th scope="col" { "State" } } }
                tbody { @for w in &depth.workers { tr {
                    td { code { (w.name) } }
                    td { (w.last_heartbeat) }
                    td { @if w.alive { span.badge.good { "alive" } } @else { span.badge.plain { "silent" } } }
                } } }
            } }
        }
        h2 { "Queue engine" }
        p.muted {
            "Jobs in the queue's own bookkeeping: " (depth.jobs.active) " active, "
            (depth.jobs.scheduled) " scheduled, " (depth.jobs.dead) " dead."
        }
    };
    Ok(layout::page(&signed, Nav::Queue, "Queue", Some(5), body))
}
