//! The one gate in front of every console page and form: a valid session, and for a form its CSRF
//! token. A page asked for without a session redirects to the sign-in; a form posted without one, or
//! without its token, is refused before its handler runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::error::ConsoleError;
use super::session::{COOKIE, Keys, Session};
use crate::state::AppState;

/// The largest form the console accepts; its forms are a few fields.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The signed-in operator, as handlers see it: what their forms must carry.
#[derive(Debug, Clone)]
pub struct Signed {
    pub session: Session,
    /// The CSRF token for this session's forms.
    pub csrf: String,
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'r>(request: &'r axum::http::HeaderMap, name: &str) -> Option<&'r str> {
    request
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The session the request carries, if it is valid and not signed out.
pub fn session_of(
    state: &AppState,
    keys: &Keys,
    headers: &axum::http::HeaderMap,
) -> Option<Session> {
    let session = keys.session(cookie(headers, COOKIE)?, Utc::now().timestamp())?;
    (!state.console.spent.signed_out(&session)).then_some(session)
}

/// Middleware of every signed-in route.
pub async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(keys) = state.console.keys.clone() else {
        return ConsoleError::Locked.into_response();
    };
    let Some(session) = session_of(&state, &keys, request.headers()) else {
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let target = format!(
                "/sign-in?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return Redirect::to(&target).into_response();
        }
        return ConsoleError::Forbidden("your session has ended: sign in again").into_response();
    };
    let signed = Signed {
        csrf: keys.csrf(&session.nonce),
        session,
    };
    // Every method that may change something carries the token (only GET and HEAD are routed as reads).
    let request = if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        match checked_form(&keys, &signed, request).await {
            Ok(request) => request,
            Err(refusal) => return refusal.into_response(),
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(signed);
    next.run(request).await
}

/// The request again, once its form's `csrf` field is the session's token.
async fn checked_form(
    keys: &Keys,
    signed: &Signed,
    request: Request,
) -> Result<Request, ConsoleError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            ConsoleError::Status(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
        })?;
    let given = url::form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !keys.csrf_matches(&signed.session.nonce, &given) {
        return Err(ConsoleError::Forbidden(
            "this form's security token is missing or stale: reload the page and send it again",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
