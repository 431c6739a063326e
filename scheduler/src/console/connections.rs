//! `/connections`: every stored connection, how it signs in, and which credentials are stored. A
//! secret is never rendered, not even in part: a stored one shows as "set".

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use ferry_shared::definitions::AuthFlow;
use maud::html;

use super::layout::{self, Nav};
use super::{ConsoleError, Signed};
use crate::api::AppState;
use crate::cli::connections;

fn flow(flow: AuthFlow) -> &'static str {
    match flow {
        AuthFlow::ClientCredentials => "client credentials",
        AuthFlow::DeviceCode => "device code (a person signs in)",
        AuthFlow::None => "none",
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
) -> Result<Html<String>, ConsoleError> {
    let listed = connections::list(&state.db)
        .await
        .map_err(ConsoleError::internal)?;
    let body = html! {
        h1 { "Connections" }
        @if listed.is_empty() {
            p.panel { "No connection is stored yet: define one in TOML and run " code { "ferry apply FILE" } "." }
        }
        @for c in &listed {
            @let def = &c.definition;
            @let stored_secret = c.credentials.iter().any(|k| k == "client_secret");
            @let signed_in = c.credentials.iter().any(|k| k == "refresh_token");
            section.panel aria-labelledby={ "connection-" (c.name) } {
                h2 id={ "connection-" (c.name) } { (c.name) " " span.badge.plain { (c.kind) } }
                dl.facts {
                    dt { "Service" } dd { code { (c.url) } }
                    @if let Some(company) = &c.company { dt { "Company" } dd { (company) } }
                    dt { "Sign-in" } dd { (flow(def.auth.flow)) }
                    @if let Some(client_id) = &def.auth.client_id { dt { "Client id" } dd { code { (client_id) } } }
                    @if def.auth.flow == AuthFlow::ClientCredentials {
                        dt { "Client secret" } dd {
                            @if stored_secret { span.badge.good { "set" } " (stored sealed)" }
                            @else if let Some(var) = &def.auth.client_secret_env { "from " code { "$" (var) } }
                            @else { span.badge.bad { "not set" } }
                        }
                    }
                    @if def.auth.flow == AuthFlow::DeviceCode {
                        dt { "Signed in" } dd {
                            @if signed_in { span.badge.good { "yes" } " (a refresh token is stored sealed)" }
                            @else { span.badge.bad { "no" } " — run " code { "ferry auth " (c.name) } }
                        }
                    }
                    dt { "Version" } dd { (c.version) }
                    dt { "Used by" } dd {
                        @if c.used_by.is_empty() { span.muted { "no integration" } }
                        @for (i, name) in c.used_by.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/integrations/" (name) } { (name) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Connections,
        "Connections",
        None,
        body,
    ))
}
