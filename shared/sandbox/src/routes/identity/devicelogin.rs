//! The verification page (`GET/POST /devicelogin`): where a person types the user code shown by
//! `ferry connect` and approves or declines, like microsoft.com/devicelogin.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;

use crate::state::AppState;

const PAGE_HEAD: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sandbox sign-in</title></head><body>";

pub async fn page() -> Html<String> {
    Html(format!(
        "{PAGE_HEAD}<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>\
<form method=\"post\" action=\"/devicelogin\"><input name=\"user_code\" autofocus autocomplete=\"off\">\
<button name=\"action\" value=\"approve\">Sign in</button>\
<button name=\"action\" value=\"decline\">Decline</button></form></body></html>"
    ))
}

#[derive(Debug, Deserialize)]
pub struct Entered {
    user_code: String,
    #[serde(default)]
    action: Option<String>,
}

pub async fn submit(
    State(state): State<Arc<AppState>>,
    Form(entered): Form<Entered>,
) -> Html<String> {
    let approve = entered.action.as_deref() != Some("decline");
    let message = if state.devices.decide(&entered.user_code, approve) {
        if approve {
            "You have signed in to the ferry-cli application on your device. You may now close this window."
        } else {
            "You declined the sign-in. You may now close this window."
        }
    } else {
        "That code didn't work. Check the code and try again."
    };
    Html(format!("{PAGE_HEAD}<p>{message}</p></body></html>"))
}
