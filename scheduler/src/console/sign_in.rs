//! Signing in to the console with the API token (or a one-time link), and signing out. The session is
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind an HTTPS proxy); failed sign-ins count
//! toward the same per-address lockout as the API's.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Extension;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use super::guard::{cookie, session_of};
use super::layout;
use super::session::{COOKIE, SESSION_SECS, SIGN_IN_COOKIE, nonce};
use super::{Signed, session};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: a path of this site only. Never `//host` or a full URL, and nothing a
/// browser would clean up into one (`/\\host`, or a tab or newline it strips: `/<TAB>/host`); what is
/// left must resolve to this site.
fn destination(next: Option<&str>) -> &str {
    let Some(path) = next else { return "/" };
    let plain = path.starts_with('/')
        && !path.starts_with("//")
        && path
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    let here = url::Url::parse("http://ferry.invalid/").expect("a valid base");
    let resolves_here = here
        .join(path)
        .is_ok_and(|u| u.host_str() == Some("ferry.invalid"));
    if plain && resolves_here { path } else { "/" }
}

/// `Secure` when the request reached us over HTTPS through a proxy that says so.
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if https { "; Secure" } else { "" }
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The answer that starts a new session and goes to `to`.
fn signed_in(keys: &session::Keys, headers: &HeaderMap, to: &str) -> Response {
    let session = keys.new_session(Utc::now().timestamp());
    tracing::info!("console: signed in");
    let mut response = Redirect::to(to).into_response();
    set_cookie(
        &mut response,
        format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}{}",
            session.cookie,
            secure(headers)
        ),
    );
    set_cookie(
        &mut response,
        format!("{SIGN_IN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/sign-in; Max-Age=0"),
    );
    response
}

/// `GET /sign-in`: the form (or straight on, when already signed in).
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let Some(keys) = state.console.keys.clone() else {
        return ConsoleError::Locked.into_response();
    };
    if session_of(&state, &keys, &headers).is_some() {
        return Redirect::to(destination(next.next.as_deref())).into_response();
    }
    sign_in_page(&headers, next.next.as_deref(), None, StatusCode::OK)
}

/// The sign-in page, with a fresh random value in its own cookie and in the form (so even this form
/// has a CSRF token: a page of another site can set neither).
fn sign_in_page(
    headers: &HeaderMap,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let nonce = nonce();
    let body = html! {
        section.sign-in {
            h1 { "Sign in to Ferry" }
            p { "Use the scheduler's API token (" code { "api.token" } "), or the one-time link "
                code { "ferry demo --keep-running" } " prints." }
            @if let Some(error) = error {
                p.notice.bad role="alert" id="sign-in-error" { (error) }
            }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(nonce);
                input type="hidden" name="next" value=(destination(next));
                label for="token" { "API token" }
                input id="token" name="token" type="password" autocomplete="current-password"
                    required autofocus aria-describedby=[error.map(|_| "sign-in-error")];
                button type="submit" { "Sign in" }
            }
        }
    };
    let mut response = (status, layout::bare("Sign in", body)).into_response();
    set_cookie(
        &mut response,
        format!(
            "{SIGN_IN_COOKIE}={nonce}; HttpOnly; SameSite=Strict; Path=/sign-in; Max-Age=3600{}",
            secure(headers)
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /sign-in`.
pub async fn submit(
    State(state): State<AppState>,
    connect: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let Some(keys) = state.console.keys.clone() else {
        return ConsoleError::Locked.into_response();
    };
    let client = connect
        .map(|ConnectInfo(address)| address.ip())
        .ok()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if state.lockout.locked(client).is_some() {
        return ConsoleError::Status(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins from this address; try again in a minute",
        )
        .into_response();
    }
    // Double submit: the form's field must equal its cookie's random value. Nothing derived from the
    // token is handed out before sign-in, so nothing here helps guess it offline.
    let form_nonce = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let same: bool = form_nonce.as_bytes().ct_eq(form.csrf.as_bytes()).into();
    if form_nonce.is_empty() || !same {
        return ConsoleError::Forbidden(
            "this form's security token is missing or stale: reload the page and sign in again",
        )
        .into_response();
    }
    let Some(expected) = state.settings.api.token.as_ref() else {
        return ConsoleError::Locked.into_response();
    };
    let matches: bool = form
        .token
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if !matches {
        state.lockout.fail(client);
        tracing::warn!(%client, "console: a sign-in with a wrong token");
        return sign_in_page(
            &headers,
            form.next.as_deref(),
            Some("That is not the API token."),
            StatusCode::UNAUTHORIZED,
        );
    }
    signed_in(&keys, &headers, destination(form.next.as_deref()))
}

#[derive(Debug, Deserialize)]
pub struct Link {
    #[serde(default)]
    code: String,
}

/// `GET /sign-in/link?code=…`: a one-time link signs in once.
pub async fn link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(link): Query<Link>,
) -> Response {
    let Some(keys) = state.console.keys.clone() else {
        return ConsoleError::Locked.into_response();
    };
    if !state
        .console
        .spent
        .use_code(&keys, &link.code, Utc::now().timestamp())
    {
        return ConsoleError::Forbidden(
            "this sign-in link was used already or has expired: sign in with the API token",
        )
        .into_response();
    }
    signed_in(&keys, &headers, "/")
}

/// `POST /sign-out`: the session is refused from now on, and its cookie removed.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
) -> Response {
    if !state
        .console
        .spent
        .sign_out(&signed.session, Utc::now().timestamp())
    {
        return ConsoleError::Status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the sign-out could not be recorded (too many at once); try again shortly, or change \
             api.token to end every session",
        )
        .into_response();
    }
    let mut response = Redirect::to("/sign-in").into_response();
    set_cookie(
        &mut response,
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn only_a_path_of_this_site_is_a_destination() {
        assert_eq!(destination(Some("/runs/4")), "/runs/4");
        assert_eq!(destination(Some("//evil.example/")), "/");
        assert_eq!(destination(Some("https://evil.example/")), "/");
        assert_eq!(destination(Some("/\\evil.example")), "/");
        assert_eq!(destination(Some("/\t/evil.example")), "/");
        assert_eq!(destination(Some("/\n/evil.example")), "/");
        assert_eq!(destination(Some("/ /evil.example")), "/");
        assert_eq!(
            destination(Some("/runs?status=failed")),
            "/runs?status=failed"
        );
        assert_eq!(destination(None), "/");
    }
}
