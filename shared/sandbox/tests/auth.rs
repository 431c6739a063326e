mod common;

use reqwest::StatusCode;
use serde_json::Value;

async fn post_token(
    env: &common::Env,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = env
        .client
        .post(format!(
            "{}/sandbox/oauth2/v2.0/token",
            env.sandbox.base_url()
        ))
        .form(form);
    if let Some((user, pass)) = basic {
        request = request.basic_auth(user, Some(pass));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

const SCOPE: (&str, &str) = ("scope", "https://api.businesscentral.dynamics.com/.default");
const GRANT: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn data_routes_require_a_token_we_issued() {
    let env = common::start(common::config(10, 10, 1)).await;
    let url = env.entity_url("RescoCustomer", "");
    for auth in [
        None,
        Some("Bearer not-a-token"),
        Some("Basic ZmVycnk6ZmVycnktc2VjcmV0"),
    ] {
        let mut request = env.client.get(&url);
        if let Some(a) = auth {
            request = request.header("Authorization", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer authorization_uri=\"")
                && challenge.contains("error=\"invalid_token\"")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "Authentication_InvalidCredentials");
    }
    let (status, _, body) = env.get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn token_endpoint_success_shape_and_basic_auth() {
    let env = common::start(common::config(1, 1, 1)).await;
    let (status, body) = post_token(&env, &[GRANT, SCOPE], Some(("ferry", "ferry-secret"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();
    assert!(
        token.len() >= 32 && token != env.token,
        "fresh opaque token"
    );
    let response = env
        .client
        .get(env.entity_url("RescoContact", ""))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a Basic-auth token works on data routes"
    );
}

#[tokio::test]
async fn token_endpoint_errors() {
    let env = common::start(common::config(1, 1, 1)).await;
    let bad_secret = [
        GRANT,
        ("client_id", "ferry"),
        ("client_secret", "wrong"),
        SCOPE,
    ];
    let (status, body) = post_token(&env, &bad_secret, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided.")
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }

    let (status, body) = post_token(&env, &[GRANT, SCOPE], Some(("ferry", "nope"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let (status, body) = post_token(
        &env,
        &[("grant_type", "password"), SCOPE],
        Some(("ferry", "ferry-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );

    let (status, body) = post_token(
        &env,
        &[("client_id", "ferry"), ("client_secret", "ferry-secret")],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    let no_scope = [
        GRANT,
        ("client_id", "ferry"),
        ("client_secret", "ferry-secret"),
    ];
    let (status, body) = post_token(&env, &no_scope, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("'scope'")
    );

    let bad_scope = [
        GRANT,
        ("client_id", "ferry"),
        ("client_secret", "ferry-secret"),
        ("scope", "https://x/user.read"),
    ];
    let (status, body) = post_token(&env, &bad_scope, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    let unknown = [
        GRANT,
        ("client_id", "someone"),
        ("client_secret", "x"),
        SCOPE,
    ];
    let (status, body) = post_token(&env, &unknown, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
}
