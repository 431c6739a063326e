//! What a console page answers when it cannot show what was asked: an HTML page with the reason, never
//! a secret or an internal error's text (those go to the log).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;

#[derive(Debug)]
pub enum ConsoleError {
    /// No `api.token` is set, so there is nothing to sign in with.
    Locked,
    /// No session, or a form without its CSRF token.
    Forbidden(&'static str),
    NotFound(String),
    /// The operator asked for something that cannot be done, and why (shown as it is).
    Refused(String),
    Status(StatusCode, &'static str),
    /// A failure of ours: logged in full, shown as a generic message.
    Internal(String),
}

impl ConsoleError {
    pub fn internal(error: impl std::fmt::Display) -> ConsoleError {
        ConsoleError::Internal(error.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ConsoleError::Locked => (
                StatusCode::UNAUTHORIZED,
                "The console is locked: set api.token (FERRY__API__TOKEN) on the scheduler to use it."
                    .to_string(),
            ),
            ConsoleError::Forbidden(why) => (StatusCode::FORBIDDEN, capitalised(why)),
            ConsoleError::NotFound(what) => (StatusCode::NOT_FOUND, capitalised(&what)),
            ConsoleError::Refused(why) => (StatusCode::CONFLICT, capitalised(&why)),
            ConsoleError::Status(status, why) => (status, capitalised(why)),
            ConsoleError::Internal(error) => {
                tracing::error!(error = %error, "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something failed on our side; the scheduler's log has the details.".into(),
                )
            }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (title) }
            p.notice.bad role="alert" { (message) }
            p { a href="/" { "Back to the console" } }
        };
        (status, layout::bare(title, body)).into_response()
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
