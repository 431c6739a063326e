//! The web console: the operator's view of Ferry in a browser, served at `/` by the same HTTP server
//! as the API and built on the same library functions as the CLI (no rule is implemented twice).
//! Pages are rendered on the server (`maud`), work without JavaScript, and post plain forms; a few
//! lines of script (`assets/console.js`) only keep live pages fresh.
//!
//! Every page but the sign-in needs a session (`guard::require_session`); every form carries the CSRF
//! token of its session, checked in that one place before any handler runs.

mod apply_text;
mod assets;
mod automatch;
mod conflicts;
mod connection_form;
mod connection_sign_in;
mod connections;
mod editor;
mod error;
mod filter_check;
mod guard;
mod headers;
mod home;
mod integration;
mod layout;
pub mod memory;
mod preview;
mod queue;
mod runs;
pub mod session;
mod sign_in;
mod trigger;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::state::AppState;

pub use error::ConsoleError;
pub use guard::Signed;

/// A one-time sign-in link to the console at `base` (e.g. `http://127.0.0.1:8080`), valid for
/// `session::LINK_SECS`; `None` without an API token.
pub fn sign_in_link(settings: &ferry_shared::settings::Settings, base: &str) -> Option<String> {
    let keys = session::Keys::from_token(settings.api.token.as_ref()?);
    let code = keys.one_time_code(chrono::Utc::now().timestamp());
    Some(format!("{base}/sign-in/link?code={code}"))
}

/// The console's routes; the caller merges them beside the API's.
pub fn router(state: AppState) -> Router<AppState> {
    let signed_in = Router::new()
        .route("/", get(home::page))
        .route("/integrations", post(editor::save))
        .route("/integrations/new", get(editor::new))
        .route("/integrations/filter-check", get(filter_check::check))
        .route("/integrations/{name}", get(integration::page))
        .route("/integrations/{name}/edit", get(editor::edit))
        .route("/integrations/{name}/run", post(integration::run))
        .route("/integrations/{name}/check", post(integration::check))
        .route("/integrations/{name}/clean-up", post(integration::clean_up))
        .route(
            "/integrations/{name}/definition.toml",
            get(integration::definition_toml),
        )
        .route("/integrations/{name}/preview", get(preview::page))
        .route("/runs", get(runs::list))
        .route("/runs/{id}", get(runs::page))
        .route("/runs/{id}/replay", post(runs::replay))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/queue", get(queue::page))
        .route(
            "/connections",
            get(connections::page).post(connection_form::save),
        )
        .route("/connections/new", get(connection_form::new))
        .route("/connections/{name}/edit", get(connection_form::edit))
        .route("/connections/{name}/test", post(connection_form::test))
        .route(
            "/connections/{name}/sign-in",
            get(connection_sign_in::page).post(connection_sign_in::start),
        )
        .route(
            "/connections/{name}/sign-out",
            post(connection_sign_in::sign_out),
        )
        .route("/conflicts", get(conflicts::page))
        .route("/conflicts/{id}/resolve", post(conflicts::resolve))
        .route("/sign-out", post(sign_in::sign_out))
        .route_layer(middleware::from_fn_with_state(
            state,
            guard::require_session,
        ));
    Router::new()
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/link", get(sign_in::link))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .merge(signed_in)
        .layer(middleware::map_response(headers::set))
}
