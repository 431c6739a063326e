//! `/`: every integration with its standing, last run and drift, under the queue's headline numbers.

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use ferry_shared::definitions::stored_integrations;
use ferry_shared::drift::{Severity, check_against_stored};
use maud::html;

use super::layout::{self, Nav};
use super::queue::cards;
use super::{ConsoleError, Signed};
use crate::cli::integrations;
use crate::state::AppState;

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
) -> Result<Html<String>, ConsoleError> {
    let listed = integrations::list(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let defs = stored_integrations(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let refs: Vec<_> = defs.iter().collect();
    let drift = check_against_stored(&state.db, &refs)
        .await
        .map_err(ConsoleError::internal)?;
    let mut queue = state.queue.clone();
    let depth = crate::depth::read(&state.db, &mut queue, state.settings.worker.lease())
        .await
        .map_err(ConsoleError::internal)?;
    let body = html! {
        h1 { "Integrations" }
        (cards(&depth))
        div.actions { a.button href="/integrations/new" { "New integration" } }
        @if listed.is_empty() {
            p.panel { "No integration is stored yet. Define one in TOML and run "
                code { "ferry apply FILE" } "; it shows here." }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { "Integration" }
                        th scope="col" { "Direction" }
                        th scope="col" class="hide-narrow" { "Connection" }
                        th scope="col" class="hide-narrow" { "Schedule" }
                        th scope="col" { "Last run" }
                        th scope="col" { "Drift" }
                    } }
                    tbody {
                        @for summary in &listed {
                            @let def = defs.iter().find(|d| d.name == summary.name);
                            @let problems = drift.iter().find(|c| c.integration == summary.name)
                                .map(|c| &c.problems[..]).unwrap_or(&[]);
                            @let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
                            tr {
                                td {
                                    a href={ "/integrations/" (summary.name) } { (summary.name) }
                                    @if !summary.enabled { " " span.badge.plain { "disabled" } }
                                }
                                td { (def.map(|d| d.direction.as_str()).unwrap_or("import")) }
                                td class="hide-narrow" { (summary.connection) }
                                td class="hide-narrow" {
                                    @match &summary.schedule {
                                        Some(cron) => code { (cron) },
                                        None => span.muted { "on demand" },
                                    }
                                }
                                td {
                                    @match &summary.last_run {
                                        Some(run) => {
                                            a href={ "/runs/" (run.run_id) } { (layout::status(&run.status)) }
                                            " " (layout::when(&run.at))
                                        }
                                        None => span.muted { "never run" },
                                    }
                                }
                                td {
                                    @if errors > 0 {
                                        a href={ "/integrations/" (summary.name) "#drift" } {
                                            span.badge.bad { (errors) " gone" }
                                        }
                                    } @else if !problems.is_empty() {
                                        span.badge.warn { (problems.len()) " warning" }
                                    } @else {
                                        span.muted { "none" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Integrations,
        "Integrations",
        Some(10),
        body,
    ))
}
