//! `/integrations/{name}/preview`: what the next run would do, record by record, in both directions,
//! without writing anything anywhere (`ferry preview`'s library function), with filters, paging and
//! the Run button.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use ferry_shared::sync::{Change, Op, OutboundPreview, Preview, PreviewOptions, preview};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::state::AppState;

/// Records a preview reads at most; the summary says when there are more.
const PREVIEW_LIMIT: u64 = 2_000;
/// Records per page of the table.
const PER_PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Options {
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    reconcile: Option<String>,
    /// Only records of this operation.
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

fn op_name<T: serde::Serialize>(op: T) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn changes(changes: Option<&BTreeMap<String, Change>>) -> Markup {
    html! {
        @if let Some(changes) = changes {
            ul.changes {
                @for (column, change) in changes {
                    li {
                        code { (column) } ": "
                        span.before { (layout::cell(&change.before)) } " → "
                        span.after { (layout::cell(&change.after)) }
                    }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
    Query(options): Query<Options>,
) -> Result<Html<String>, ConsoleError> {
    let full = options.full.is_some();
    let reconcile = options.reconcile.is_some();
    let credentials = state.credentials().map_err(ConsoleError::internal)?;
    let result: Preview = preview(
        &state.db,
        &credentials,
        &state.budgets,
        ferry_shared::odata::client::http_client(),
        state.settings.worker.page_size,
        &name,
        PreviewOptions {
            limit: Some(PREVIEW_LIMIT),
            full,
            reconcile,
            max_defer: Some(state.settings.lookups.max_defer()),
        },
    )
    .await
    .map_err(|e| ConsoleError::Refused(format!("cannot preview {name}: {e}")))?;
    let table = crate::cli::integrations::stored(&state.db, &name, None)
        .await
        .map_err(ConsoleError::internal)?
        .map(|(_, def)| def.target.table)
        .unwrap_or_default();
    let wanted = options.op.as_deref().filter(|o| !o.is_empty());
    let shown: Vec<_> = result
        .records
        .iter()
        .filter(|r| wanted.is_none_or(|w| op_name(r.op) == w))
        .collect();
    let pages = shown.len().div_ceil(PER_PAGE).max(1);
    let page = options.page.unwrap_or(1).clamp(1, pages);
    let s = &result.summary;
    let query = |page: usize| {
        let mut q = format!("?page={page}");
        if full {
            q.push_str("&full=on");
        }
        if reconcile {
            q.push_str("&reconcile=on");
        }
        if let Some(op) = wanted {
            q.push_str(&format!("&op={op}"));
        }
        q
    };
    let body = html! {
        h1 { "Preview of " a href={ "/integrations/" (name) } { (name) } }
        p.sub { "What the next run would do. Nothing is written anywhere until you run it." }
        form.filters method="get" action={ "/integrations/" (name) "/preview" } {
            div {
                label for="op" { "Show" }
                select id="op" name="op" {
                    option value="" { "every record" }
                    @for op in ["insert", "update", "unchanged", "delete", "deferred", "skipped", "error"] {
                        option value=(op) selected[wanted == Some(op)] { (op) }
                    }
                }
            }
            div { label { input type="checkbox" name="full" checked[full]; " read everything (full)" } }
            div { label { input type="checkbox" name="reconcile" checked[reconcile]; " list deletes (reconcile)" } }
            button.secondary type="submit" { "Preview again" }
        }
        div.actions {
            form method="post" action={ "/integrations/" (name) "/run" } {
                (layout::csrf(&signed))
                input type="hidden" name="mode" value=(if full { "full" } else if reconcile { "reconcile" } else { "incremental" });
                button type="submit" { "Run it now" }
            }
        }
        @if let Some(why) = &s.reads_everything_because {
            p.notice.warn { (why) ", so the run reads everything again." }
        }
        @if let Some(refused) = &s.delete_refused { p.notice.warn { (refused) } }
        div.cards aria-label="Summary" {
            div.card { span.n { (layout::count(s.rows_read as i64)) } span.k { "rows read" } }
            div.card { span.n { (layout::count(s.insert as i64)) } span.k { "insert" } }
            div.card { span.n { (layout::count(s.update as i64)) } span.k { "update" } }
            div.card { span.n { (layout::count(s.unchanged as i64)) } span.k { "unchanged" } }
            div.card { span.n { (layout::count(s.delete as i64)) } span.k { "delete" } }
            div.card { span.n { (layout::count(s.error as i64)) } span.k { "error" } }
        }
        @if result.records.len() as u64 >= PREVIEW_LIMIT {
            p.muted { "The first " (PREVIEW_LIMIT) " records; the run reads all of them." }
        }
        @if let Some(outbound) = &result.outbound { (outbound_table(outbound)) }
        h2 { "Into table " code { (table) } }
        @if shown.is_empty() {
            p.panel.muted { "No record." }
        } @else {
            div.scroll { table id="records" {
                thead { tr { th scope="col" { "Operation" } th scope="col" { "Record" } th scope="col" { "Changes" } } }
                tbody { @for record in shown.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE) { tr {
                    td { (op_badge(&op_name(record.op))) }
                    td { code { (record.key) } }
                    td {
                        (changes(record.changes.as_ref()))
                        @if let Some(error) = &record.error { @if record.op != Op::Insert { span.muted { (error) } } }
                    }
                } } }
            } }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if page > 1 { a href=(query(page - 1)) rel="prev" { "← Previous" } }
                    span { "page " (page) " of " (pages) }
                    @if page < pages { a href=(query(page + 1)) rel="next" { "Next →" } }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Integrations,
        &format!("Preview of {name}"),
        None,
        body,
    ))
}

fn op_badge(op: &str) -> Markup {
    let tone = match op {
        "insert" | "create" => "good",
        "update" => "busy",
        "delete" | "error" | "conflict" => "bad",
        "deferred" | "held" | "uncouple" => "warn",
        _ => "plain",
    };
    html! { span class={ "badge " (tone) } { (op) } }
}

fn outbound_table(outbound: &OutboundPreview) -> Markup {
    let s = &outbound.summary;
    html! {
        h2 { "To the remote system" }
        p.muted {
            (s.changes) " local change(s): " (s.create) " create, " (s.update) " update, " (s.delete) " delete, "
            (s.conflict) " conflict, " (s.held) " held, " (s.unchanged) " unchanged, " (s.error) " error."
        }
        @if !outbound.records.is_empty() {
            div.scroll { table id="outbound" {
                thead { tr { th scope="col" { "Operation" } th scope="col" { "Local record" } th scope="col" { "Sent" } } }
                tbody { @for record in outbound.records.iter().take(PER_PAGE * 4) { tr {
                    td { (op_badge(&op_name(record.op))) }
                    td { code { (record.key) } }
                    td {
                        (changes(record.changes.as_ref()))
                        @if let Some(error) = &record.error { span.muted { (error) } }
                    }
                } } }
            } }
        }
    }
}
