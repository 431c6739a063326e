//! The device authorization grant (RFC 8628), refresh-token rotation and token lifetime, as
//! Microsoft identity behaves (ARCHITECTURE.md, "Outside facts").

mod common;

use std::time::Duration;

use ferry_sandbox::SandboxConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BC_SCOPE: &str = "https://api.businesscentral.dynamics.com/.default";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn form(env: &common::Env, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = env
        .client
        .post(format!(
            "{}/sandbox/oauth2/v2.0/{endpoint}",
            env.sandbox.base_url()
        ))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn start_sign_in(env: &common::Env, scope: &str) -> Value {
    let (status, body) = form(
        env,
        "devicecode",
        &[("client_id", "ferry-cli"), ("scope", scope)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn poll(env: &common::Env, device_code: &str) -> (StatusCode, Value) {
    form(
        env,
        "token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", "ferry-cli"),
            ("device_code", device_code),
        ],
    )
    .await
}

async fn refresh(env: &common::Env, refresh_token: &str) -> (StatusCode, Value) {
    form(
        env,
        "token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "ferry-cli"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn control(env: &common::Env, path: &str, body: Value) -> StatusCode {
    env.client
        .post(format!("{}/_sandbox/{path}", env.sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

/// An RFC 6749 §5.2 error: HTTP 400 and the given `error` code.
fn assert_oauth_error(got: (StatusCode, Value), error: &str) {
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );
}

async fn data_status(env: &common::Env, token: &str) -> StatusCode {
    env.client
        .get(env.entity_url("RescoCustomer", "?$top=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn device_code_sign_in_then_refresh_rotation() {
    let env = common::start(common::config(3, 3, 1)).await;
    let start = start_sign_in(&env, &format!("{BC_SCOPE} offline_access")).await;
    let user_code = start["user_code"].as_str().unwrap();
    let device_code = start["device_code"].as_str().unwrap();
    let uri = start["verification_uri"].as_str().unwrap();
    assert_eq!(uri, format!("{}/devicelogin", env.sandbox.base_url()));
    assert_eq!(
        start["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        )
    );
    assert_eq!(
        (start["expires_in"].as_u64(), start["interval"].as_u64()),
        (Some(900), Some(5))
    );
    assert_eq!(user_code.len(), 9);

    assert_oauth_error(poll(&env, device_code).await, "authorization_pending");
    // Polled again well inside the 5 s interval: RFC 8628 §3.5 slow_down.
    assert_oauth_error(poll(&env, device_code).await, "slow_down");

    let approve = json!({"user_code": user_code});
    assert_eq!(
        control(&env, "devicecode/approve", approve).await,
        StatusCode::OK
    );
    let (status, tokens) = poll(&env, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], BC_SCOPE, "offline_access is not echoed");
    let access = tokens["access_token"].as_str().unwrap();
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(data_status(&env, access).await, StatusCode::OK);
    // The device code is single use.
    assert_oauth_error(poll(&env, device_code).await, "invalid_grant");

    let (status, rotated) = refresh(&env, first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    assert_eq!(
        data_status(&env, rotated["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // The redeemed token is dead; the new one still works (once).
    assert_oauth_error(refresh(&env, first_refresh).await, "invalid_grant");
    let (status, third) = refresh(&env, second_refresh).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_oauth_error(refresh(&env, second_refresh).await, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_only_with_offline_access() {
    let env = common::start(common::config(1, 1, 1)).await;
    let start = start_sign_in(&env, BC_SCOPE).await;
    let approve = json!({"user_code": start["user_code"]});
    assert_eq!(
        control(&env, "devicecode/approve", approve).await,
        StatusCode::OK
    );
    let (status, tokens) = poll(&env, start["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

#[tokio::test]
async fn declined_unknown_and_expired_codes() {
    let env = common::start(common::config(1, 1, 1)).await;
    let start = start_sign_in(&env, BC_SCOPE).await;
    let decline = json!({"user_code": start["user_code"]});
    assert_eq!(
        control(&env, "devicecode/decline", decline.clone()).await,
        StatusCode::OK
    );
    assert_oauth_error(
        poll(&env, start["device_code"].as_str().unwrap()).await,
        "authorization_declined",
    );
    // A decided code cannot be approved afterwards.
    assert_eq!(
        control(&env, "devicecode/approve", decline).await,
        StatusCode::NOT_FOUND
    );
    assert_oauth_error(
        poll(&env, "not-a-device-code").await,
        "bad_verification_code",
    );

    let env = common::start(SandboxConfig {
        device_code_lifetime: Duration::ZERO,
        ..common::config(1, 1, 1)
    })
    .await;
    let start = start_sign_in(&env, BC_SCOPE).await;
    assert_eq!(start["expires_in"], 0);
    assert_oauth_error(
        poll(&env, start["device_code"].as_str().unwrap()).await,
        "expired_token",
    );
}

#[tokio::test]
async fn device_code_needs_the_public_client_and_a_scope() {
    let env = common::start(common::config(1, 1, 1)).await;
    let (status, body) = form(
        &env,
        "devicecode",
        &[("client_id", "ferry"), ("scope", BC_SCOPE)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = form(
        &env,
        "devicecode",
        &[("client_id", "stranger"), ("scope", BC_SCOPE)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (status, body) = form(&env, "devicecode", &[("client_id", "ferry-cli")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // A device code is bound to the client that asked for it.
    let start = start_sign_in(&env, BC_SCOPE).await;
    let (status, body) = form(
        &env,
        "token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", "ferry"),
            ("device_code", start["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test]
async fn the_sign_in_page_approves_a_code() {
    let env = common::start(common::config(1, 1, 1)).await;
    let start = start_sign_in(&env, BC_SCOPE).await;
    let page = env
        .client
        .get(start["verification_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("name=\"user_code\""));
    let code = start["user_code"].as_str().unwrap().to_ascii_lowercase();
    let result = env
        .client
        .post(start["verification_uri"].as_str().unwrap())
        .form(&[("user_code", code.as_str()), ("action", "approve")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(result.contains("You have signed in"), "{result}");
    let (status, body) = poll(&env, start["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn expired_access_tokens_get_401_and_refresh_recovers() {
    let env = common::start(common::config(1, 1, 1)).await;
    let start = start_sign_in(&env, &format!("{BC_SCOPE} offline_access")).await;
    control(
        &env,
        "devicecode/approve",
        json!({"user_code": start["user_code"]}),
    )
    .await;
    let (_, tokens) = poll(&env, start["device_code"].as_str().unwrap()).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(data_status(&env, access).await, StatusCode::OK);

    assert_eq!(
        control(&env, "tokens", json!({"expire_access_tokens": true})).await,
        StatusCode::OK
    );
    assert_eq!(data_status(&env, access).await, StatusCode::UNAUTHORIZED);
    let (status, fresh) = refresh(&env, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(
        data_status(&env, fresh["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );

    // A zero lifetime makes every newly issued token dead on arrival.
    control(&env, "tokens", json!({"access_token_lifetime_secs": 0})).await;
    let (_, dead) = refresh(&env, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(dead["expires_in"], 0);
    let response = env
        .client
        .get(env.entity_url("RescoCustomer", ""))
        .bearer_auth(dead["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn issued_lists_every_secret() {
    let env = common::start(common::config(1, 1, 1)).await;
    let start = start_sign_in(&env, &format!("{BC_SCOPE} offline_access")).await;
    control(
        &env,
        "devicecode/approve",
        json!({"user_code": start["user_code"]}),
    )
    .await;
    let (_, tokens) = poll(&env, start["device_code"].as_str().unwrap()).await;
    let (_, rotated) = refresh(&env, tokens["refresh_token"].as_str().unwrap()).await;
    let issued: Value = env
        .client
        .get(format!("{}/_sandbox/issued", env.sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let has = |list: &str, v: &Value| issued[list].as_array().unwrap().contains(v);
    assert!(
        has("access_tokens", &Value::String(env.token.clone())),
        "client credentials token"
    );
    assert!(has("access_tokens", &tokens["access_token"]));
    assert!(has("access_tokens", &rotated["access_token"]));
    assert!(
        has("refresh_tokens", &tokens["refresh_token"]),
        "redeemed ones too"
    );
    assert!(has("refresh_tokens", &rotated["refresh_token"]));
    assert!(has("client_secrets", &json!("ferry-secret")));
    assert!(has("device_codes", &start["device_code"]));
}
