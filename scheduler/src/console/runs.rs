//! `/runs` and `/runs/{id}`: recent runs with their counts, one run live while it works (rows read,
//! rows per second), its error and attempts, its failed records with their payloads, and the buttons
//! to replay the failures or cancel the run.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use chrono::Utc;
use ferry_shared::runs::{self, CancelError, Cancelled, Mode, RunSummary};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;

/// Runs listed at most on `/runs`.
const LISTED: u64 = 100;
/// Failed records shown on a run's page (all are in `ferry errors RUN`).
const FAILURES_SHOWN: i64 = 200;

fn live(status: &str) -> bool {
    matches!(status, "queued" | "running" | "retrying" | "cancelling")
}

/// A table of runs, newest first; `with_integration` adds the integration's column.
pub fn table(runs: &[RunSummary], with_integration: bool) -> Markup {
    if runs.is_empty() {
        return html! { p.panel.muted { "No run yet." } };
    }
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { "Run" }
                @if with_integration { th scope="col" { "Integration" } }
                th scope="col" { "Status" }
                th scope="col" class="hide-narrow" { "Mode" }
                th scope="col" class="num" { "Read" }
                th scope="col" class="num" { "Inserted" }
                th scope="col" class="num" { "Updated" }
                th scope="col" class="num hide-narrow" { "Unchanged" }
                th scope="col" class="num hide-narrow" { "Deleted" }
                th scope="col" class="num" { "Failed" }
                th scope="col" { "When" }
                th scope="col" class="num hide-narrow" { "Took" }
            } }
            tbody { @for run in runs { tr {
                td { a href={ "/runs/" (run.run_id) } { "#" (run.run_id) } }
                @if with_integration { td { a href={ "/integrations/" (run.integration) } { (run.integration) } } }
                td { (layout::status(&run.status)) }
                td class="hide-narrow" { (run.mode) }
                td.num { (layout::count(run.rows_read)) }
                td.num { (layout::count(run.inserted + run.export.map_or(0, |e| e.inserted))) }
                td.num { (layout::count(run.updated + run.export.map_or(0, |e| e.updated))) }
                td class="num hide-narrow" { (layout::count(run.unchanged)) }
                td class="num hide-narrow" { (layout::count(run.deleted + run.export.map_or(0, |e| e.deleted))) }
                td.num { (layout::count(run.failed + run.export.map_or(0, |e| e.failed))) }
                td { (layout::when(run.finished_at.as_ref().or(run.started_at.as_ref()).unwrap_or(&run.queued_at))) }
                td class="num hide-narrow" { @if let Some(ms) = run.duration_ms { (layout::duration(ms)) } }
            } } }
        } }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    integration: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `GET /runs?integration=…&status=…`.
pub async fn list(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, ConsoleError> {
    let integration = filter.integration.as_deref().filter(|s| !s.is_empty());
    let status = filter.status.as_deref().filter(|s| !s.is_empty());
    let runs: Vec<RunSummary> = runs::list(&state.db, integration, LISTED)
        .await
        .map_err(ConsoleError::internal)?
        .into_iter()
        .map(RunSummary::from)
        .filter(|r| status.is_none_or(|s| r.status == s))
        .collect();
    let names = crate::cli::integrations::list(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let any_live = runs.iter().any(|r| live(&r.status));
    let body = html! {
        h1 { "Runs" }
        form.filters method="get" action="/runs" {
            div {
                label for="integration" { "Integration" }
                select id="integration" name="integration" {
                    option value="" { "all" }
                    @for n in &names {
                        option value=(n.name) selected[integration == Some(n.name.as_str())] { (n.name) }
                    }
                }
            }
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "any" }
                    @for s in ["queued", "running", "retrying", "succeeded", "partial", "failed", "cancelled"] {
                        option value=(s) selected[status == Some(s)] { (s) }
                    }
                }
            }
            button.secondary type="submit" { "Show" }
        }
        (table(&runs, true))
    };
    Ok(layout::page(
        &signed,
        Nav::Runs,
        "Runs",
        any_live.then_some(3),
        body,
    ))
}

/// `GET /runs/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<i64>,
    Query(notice): Query<layout::Notice>,
) -> Result<Html<String>, ConsoleError> {
    let run: RunSummary = runs::get(&state.db, id)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no run {id}")))?
        .into();
    let attempts = runs::attempts(&state.db, id)
        .await
        .map_err(ConsoleError::internal)?;
    let failures = runs::first_run_failures(&state.db, id, FAILURES_SHOWN + 1)
        .await
        .map_err(ConsoleError::internal)?;
    // Replay re-reads every open failure of the integration, this run's among them.
    let open = runs::has_open_failures(&state.db, &run.integration)
        .await
        .map_err(ConsoleError::internal)?;
    let is_live = live(&run.status);
    let rate = run
        .started_at
        .filter(|_| run.status == "running")
        .map(|at| {
            let secs = (Utc::now() - at.to_utc()).num_milliseconds().max(1) as f64 / 1_000.0;
            run.rows_read as f64 / secs
        });
    let body = html! {
        h1 { "Run #" (run.run_id) " " (layout::status(&run.status)) }
        p.sub {
            a href={ "/integrations/" (run.integration) } { (run.integration) }
            " · " (run.mode) " · triggered by " (run.trigger) " · definition version " (run.definition_version)
            @if run.attempt > 1 { " · attempt " (run.attempt) }
        }
        (layout::notice(notice.notice.as_deref()))
        @if let Some(error) = &run.error { p.notice.bad role="alert" { (error) } }
        @if let Some(reason) = &run.reason { p.notice.warn { "Read everything: " (reason) } }
        div.actions {
            @if is_live {
                form method="post" action={ "/runs/" (run.run_id) "/cancel" } {
                    (layout::csrf(&signed))
                    button.danger type="submit" data-confirm="Cancel this run after its current page?" { "Cancel run" }
                }
            }
            @if open && !is_live {
                form method="post" action={ "/runs/" (run.run_id) "/replay" } {
                    (layout::csrf(&signed))
                    button type="submit" { "Replay failed records" }
                }
            }
        }
        div.cards {
            div.card { span.n { (layout::count(run.rows_read)) } span.k { "rows read" } }
            div.card { span.n { (layout::count(run.pages)) } span.k { "pages" } }
            @if let Some(rate) = rate { div.card { span.n { (layout::count(rate as i64)) } span.k { "rows/s" } } }
            div.card { span.n { (layout::count(run.inserted)) } span.k { "inserted" } }
            div.card { span.n { (layout::count(run.updated)) } span.k { "updated" } }
            div.card { span.n { (layout::count(run.unchanged)) } span.k { "unchanged" } }
            div.card { span.n { (layout::count(run.deleted)) } span.k { "deleted" } }
            div.card { span.n { (layout::count(run.failed)) } span.k { "failed" } }
            @if run.deferred > 0 { div.card { span.n { (layout::count(run.deferred)) } span.k { "parked" } } }
        }
        @if let Some(export) = &run.export {
            h2 { "Sent to the remote system" }
            div.cards {
                div.card { span.n { (layout::count(export.inserted)) } span.k { "created" } }
                div.card { span.n { (layout::count(export.updated)) } span.k { "updated" } }
                div.card { span.n { (layout::count(export.deleted)) } span.k { "deleted" } }
                div.card { span.n { (layout::count(export.unchanged)) } span.k { "unchanged" } }
                div.card { span.n { (layout::count(export.failed)) } span.k { "refused" } }
                div.card { span.n { (layout::count(export.conflicts)) } span.k { "conflicts" } }
            }
        }
        h2 { "Timeline" }
        div.panel { dl.facts {
            dt { "Queued" } dd { (layout::when(&run.queued_at)) }
            @if let Some(at) = &run.started_at { dt { "Started" } dd { (layout::when(at)) } }
            @if let Some(at) = &run.finished_at { dt { "Finished" } dd { (layout::when(at)) } }
            @if let Some(ms) = run.duration_ms { dt { "Took" } dd { (layout::duration(ms)) } }
            dt { "Attempts" } dd { (run.attempt.max(1)) }
            @if let Some(at) = &run.retry_at { dt { "Next attempt" } dd { (layout::when(at)) } }
            @if run.requests_retried > 0 {
                dt { "Busy answers" } dd {
                    (run.requests_retried) " request(s) repeated after waiting " (layout::duration(run.retry_wait_ms))
                    @if let Some(e) = &run.last_retried_error { br; span.muted { "last: " (e) } }
                }
            }
            @if let Some(c) = &run.checkpoint_before { dt { "Checkpoint before" } dd { code { (c.to_string()) } } }
            @if let Some(c) = &run.checkpoint_after { dt { "Checkpoint after" } dd { code { (c.to_string()) } } }
        } }
        @if !attempts.is_empty() {
            h2 { "Attempts" }
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Attempt" } th scope="col" { "Started" } th scope="col" { "Ended" }
                    th scope="col" { "Outcome" } th scope="col" { "Why" }
                } }
                tbody { @for a in &attempts { tr {
                    td { (a.attempt) }
                    td { @if let Some(at) = &a.started_at { (layout::when(at)) } }
                    td { (layout::when(&a.ended_at)) }
                    td { (layout::status(&a.outcome)) }
                    td { @if let Some(e) = &a.error { (e) } }
                } } }
            } }
        }
        h2 id="failures" { "Failed records" }
        @if failures.is_empty() {
            p.muted { "None." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Why" } th scope="col" { "State" } th scope="col" { "Payload" }
                } }
                tbody { @for failure in failures.iter().take(FAILURES_SHOWN as usize) { tr {
                    td { code { (failure.record_key) } }
                    td { (failure.message) }
                    td { @if failure.resolved_at.is_some() { span.badge.good { "written since" } } @else { span.badge.bad { "open" } } }
                    td { details {
                        summary { "payload" }
                        pre { (layout::json(&failure.payload)) }
                    } }
                } } }
            } }
            @if failures.len() as i64 > FAILURES_SHOWN {
                p.muted { "The first " (FAILURES_SHOWN) "; " code { "ferry errors " (run.run_id) } " lists every one." }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Runs,
        &format!("Run {id}"),
        is_live.then_some(2),
        body,
    ))
}

/// `POST /runs/{id}/replay`: a `--retry-failed` run of the run's integration (it replays every open
/// failure of the integration, this run's included).
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Redirect, ConsoleError> {
    let run = runs::get(&state.db, id)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no run {id}")))?;
    let run_id = super::trigger::trigger(&state, &run.integration, Mode::RetryFailed).await?;
    Ok(Redirect::to(&format!("/runs/{run_id}")))
}

/// `POST /runs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Redirect, ConsoleError> {
    match runs::cancel(&state.db, id, "console").await {
        Ok(Cancelled::Now) => Ok(Redirect::to(&format!("/runs/{id}"))),
        Ok(Cancelled::AtNextPage) => Ok(Redirect::to(&format!("/runs/{id}?notice=cancelling"))),
        Err(e @ CancelError::Unknown(_)) => Err(ConsoleError::NotFound(e.to_string())),
        Err(e @ CancelError::Finished { .. }) => Err(ConsoleError::Refused(e.to_string())),
        Err(e) => Err(ConsoleError::internal(e)),
    }
}
