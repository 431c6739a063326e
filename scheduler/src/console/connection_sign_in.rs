//! Device-code sign-in from the console (`ferry auth login` in a page): the page shows the provider's
//! code and verification link while the scheduler waits for the provider, then who signed in and until
//! when. The refresh token is sealed and stored by the same library function as the CLI's; no token
//! ever reaches the page. Signing out removes the stored sign-in.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use ferry_shared::auth::begin_login;
use ferry_shared::definitions::load_connection;
use ferry_shared::secrets::Credentials;
use maud::html;

use super::layout::{self, Nav};
use super::memory::Login;
use super::{ConsoleError, Signed};
use crate::state::AppState;

fn credentials(state: &AppState) -> Result<Credentials, ConsoleError> {
    state.credentials().map_err(ConsoleError::internal)
}

/// `POST /connections/{name}/sign-in`: asks the provider for a code and waits for it in the
/// background; the page shows the code.
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Redirect, ConsoleError> {
    let def = load_connection(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no connection named {name:?} is stored")))?;
    let credentials = credentials(&state)?;
    let http = ferry_shared::odata::client::http_client();
    let pending = begin_login(&def, &credentials, &http)
        .await
        .map_err(|e| ConsoleError::Refused(e.to_string()))?;
    let number = state.console.logins.start(
        &name,
        Login::Waiting {
            user_code: pending.user_code().to_string(),
            verification_uri: pending.verification_uri().to_string(),
            message: pending.message().to_string(),
        },
    );
    let console = state.console.clone();
    let connection = name.clone();
    // Bounded by the code's own lifetime: the provider answers `expired_token` after it.
    tokio::spawn(async move {
        let outcome = match pending.finish(&http, &credentials).await {
            Ok(signed) => Login::SignedIn {
                account: signed.account,
                until: signed.expires_at,
            },
            Err(e) => Login::Failed(e.to_string()),
        };
        console.logins.finish(&connection, number, outcome);
    });
    Ok(Redirect::to(&format!("/connections/{name}/sign-in")))
}

/// `GET /connections/{name}/sign-in`: the code while waiting, then the outcome.
pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(name): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let login = state.console.logins.get(&name);
    let waiting = matches!(login, Some(Login::Waiting { .. }));
    let body = html! {
        h1 { "Sign in to " (name) }
        @match &login {
            None => p.panel { "No sign-in was started here. "
                a href="/connections" { "Back to the connections" } },
            Some(Login::Waiting { user_code, verification_uri, message }) => {
                div.panel.device {
                    // The provider's page, linked only when it is a web address.
                    @let web = verification_uri.starts_with("https://") || verification_uri.starts_with("http://");
                    p { "Open "
                        @if web { a href=(verification_uri) target="_blank" rel="noopener" { (verification_uri) } }
                        @else { code { (verification_uri) } }
                        " and enter this code:" }
                    p.code id="user-code" { (user_code) }
                    p.muted { (message) }
                    p.muted { "This page follows the provider and changes once you are signed in." }
                }
            }
            Some(Login::SignedIn { account, until }) => {
                p.notice.good role="status" {
                    "Signed in"
                    @if let Some(account) = account { " as " strong { (account) } }
                    @match until {
                        Some(until) => { " until " (until.format("%Y-%m-%d %H:%M UTC")) "." }
                        None => ", until the sign-in is revoked.",
                    }
                }
                p { a href="/connections" { "Back to the connections" } }
            }
            Some(Login::Failed(why)) => {
                p.notice.bad role="alert" { "Not signed in: " (why) }
                form method="post" action={ "/connections/" (name) "/sign-in" } {
                    (layout::csrf(&signed))
                    button type="submit" { "Try again" }
                }
            }
        }
    };
    Ok(layout::page(
        &signed,
        Nav::Connections,
        &format!("Sign in to {name}"),
        waiting.then_some(2),
        body,
    ))
}

/// `POST /connections/{name}/sign-out`: removes the stored sign-in (`ferry auth` has no other copy).
pub async fn sign_out(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Redirect, ConsoleError> {
    load_connection(&state.db, &name)
        .await
        .map_err(ConsoleError::internal)?
        .ok_or_else(|| ConsoleError::NotFound(format!("no connection named {name:?} is stored")))?;
    credentials(&state)?
        .sign_out(&name)
        .await
        .map_err(ConsoleError::internal)?;
    Ok(Redirect::to(&format!(
        "/connections?notice=signed-out#connection-{name}"
    )))
}
