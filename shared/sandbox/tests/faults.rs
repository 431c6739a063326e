//! Injected faults and BC's per-user limits (ARCHITECTURE.md, "Outside facts": 6,000 requests per 5-minute window → 429,
//! 5 concurrent → queue then 503; Retry-After on 429/503), and the counts of what they let through.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(env: &common::Env, path: &str, body: Value) -> (StatusCode, Value) {
    let response = env
        .client
        .post(format!("{}/_sandbox/{path}", env.sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn clear(env: &common::Env) {
    let response = env
        .client
        .delete(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn status_of(env: &common::Env, entity: &str) -> StatusCode {
    env.get(&env.entity_url(entity, "?$top=1")).await.0
}

#[tokio::test]
async fn injected_429_carries_retry_after_and_clearing_restores_200() {
    let env = common::start(common::config(5, 5, 1)).await;
    let (status, body) = post(
        &env,
        "faults",
        json!({"status": 429, "retry_after": 7, "rate": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, body) = env.get(&env.entity_url("RescoCustomer", "")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["code"], "Application_TooManyRequests");
    // The default route is every data route, not the token endpoint.
    common::token(&env.client, &env.sandbox).await;
    clear(&env).await;
    assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);
}

#[tokio::test]
async fn count_fails_exactly_the_next_n_requests_on_the_matching_route() {
    let env = common::start(common::config(5, 5, 1)).await;
    post(
        &env,
        "faults",
        json!({"route": "*/RescoContact*", "status": 503, "retry_after": 1, "count": 2}),
    )
    .await;
    assert_eq!(
        status_of(&env, "RescoCustomer").await,
        StatusCode::OK,
        "other routes unaffected"
    );
    let (status, headers, _) = env.get(&env.entity_url("RescoContact", "")).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "1")
    );
    assert_eq!(
        status_of(&env, "RescoContact").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status_of(&env, "RescoContact").await,
        StatusCode::OK,
        "the rule retired after 2"
    );
    let rules: Value = env
        .client
        .get(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules, json!([]));
}

async fn pattern(seed: u64) -> Vec<u16> {
    let env = common::start(common::config(3, 3, seed)).await;
    post(&env, "faults", json!({"status": 504, "rate": 0.5})).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(status_of(&env, "RescoCustomer").await.as_u16());
    }
    out
}

#[tokio::test]
async fn rates_are_deterministic_from_the_seed() {
    let first = pattern(7).await;
    assert_eq!(first, pattern(7).await, "same seed, same hits");
    let hits = first.iter().filter(|s| **s == 504).count();
    assert!((5..=35).contains(&hits), "about half of 40: {hits}");
    assert!(first.iter().all(|s| *s == 504 || *s == 200));
}

#[tokio::test]
async fn damaged_responses() {
    let env = common::start(common::config(50, 5, 1)).await;
    let url = env.entity_url("RescoCustomer", "");

    post(&env, "faults", json!({"kind": "malformed", "count": 1})).await;
    let response = env
        .client
        .get(&url)
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"@odata.context\""));
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "malformed JSON"
    );

    post(&env, "faults", json!({"kind": "truncated", "count": 1})).await;
    let response = env
        .client
        .get(&url)
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert!(response.bytes().await.is_err(), "the body breaks off");

    post(&env, "faults", json!({"kind": "reset", "count": 1})).await;
    let failed = match env.client.get(&url).bearer_auth(&env.token).send().await {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(failed, "the connection drops");
    assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);
}

#[tokio::test]
async fn invalid_faults_are_refused() {
    let env = common::start(common::config(1, 1, 1)).await;
    for bad in [
        json!({"rate": 1}),
        json!({"status": 404}),
        json!({"status": 429, "rate": 2}),
        json!({"kind": "explode"}),
        json!({"status": 429, "typo": 1}),
    ] {
        let (status, body) = post(&env, "faults", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn request_budget_per_window_gives_429_with_retry_after() {
    let env = common::start(common::config(1, 1, 1)).await;
    // Starting the test environment already spent one request (the companies lookup).
    let (status, limits) = post(&env, "limits", json!({"requests_per_window": 4})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        limits,
        json!({"requests_per_window": 4, "window_secs": 300, "max_concurrent": 5, "queue_timeout_ms": 480000, "operation_timeout_ms": 480000, "gateway_timeout_ms": 600000})
    );
    for _ in 0..3 {
        assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);
    }
    let (status, headers, body) = env.get(&env.entity_url("RescoCustomer", "")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry));
    // Raising the budget takes effect at once.
    post(&env, "limits", json!({"requests_per_window": 6000})).await;
    assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);
}

#[tokio::test]
async fn concurrency_beyond_the_cap_queues_then_503() {
    let env = common::start(common::config(1, 1, 1)).await;
    post(
        &env,
        "limits",
        json!({"max_concurrent": 1, "queue_timeout_ms": 0}),
    )
    .await;
    post(&env, "faults", json!({"latency_ms": 1500})).await;
    let (a, b) = tokio::join!(
        status_of(&env, "RescoCustomer"),
        status_of(&env, "RescoContact")
    );
    let mut got = [a, b];
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE]);
    // The counts say so too: one let through, one 503, never more than one in flight.
    let counts: Value = env
        .client
        .get(format!("{}/_sandbox/limits/counts", env.sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &counts["busy"],
            &counts["too_many"],
            &counts["max_in_flight"]
        ),
        (&json!(1), &json!(0), &json!(1)),
        "{counts}"
    );
    assert!(counts["admitted"].as_u64().unwrap() >= 2, "{counts}");
    let reset = env
        .client
        .delete(format!("{}/_sandbox/limits/counts", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    let counts: Value = reset.json().await.unwrap();
    assert_eq!(
        (&counts["busy"], &counts["admitted"]),
        (&json!(0), &json!(0))
    );

    // With room to queue, the second waits for the first and both succeed.
    post(&env, "limits", json!({"queue_timeout_ms": 60000})).await;
    let (a, b) = tokio::join!(
        status_of(&env, "RescoCustomer"),
        status_of(&env, "RescoContact")
    );
    assert_eq!([a, b], [StatusCode::OK, StatusCode::OK]);
}

#[tokio::test]
async fn slow_operations_get_408_and_slow_queues_get_504() {
    let env = common::start(common::config(1, 1, 1)).await;
    post(&env, "limits", json!({"operation_timeout_ms": 100})).await;
    post(&env, "faults", json!({"latency_ms": 5000, "count": 1})).await;
    let (status, _, body) = env.get(&env.entity_url("RescoCustomer", "")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);

    // One slot, a slow first request: the second waits in the queue past the gateway timeout.
    post(&env, "limits", json!({"operation_timeout_ms": 480000, "gateway_timeout_ms": 1000, "max_concurrent": 1, "queue_timeout_ms": 60000})).await;
    post(
        &env,
        "faults",
        json!({"route": "*/RescoCustomer*", "latency_ms": 700, "count": 1}),
    )
    .await;
    post(
        &env,
        "faults",
        json!({"route": "*/RescoContact*", "latency_ms": 700, "count": 1}),
    )
    .await;
    let (a, b) = tokio::join!(
        status_of(&env, "RescoCustomer"),
        status_of(&env, "RescoContact")
    );
    let mut got = [a, b];
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::GATEWAY_TIMEOUT]);
}

/// A token for the device-code user (a different principal from the app).
async fn user_token(env: &common::Env) -> String {
    let base = env.sandbox.base_url();
    let start: Value = env
        .client
        .post(format!("{base}/sandbox/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", "ferry-cli"),
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    post(
        env,
        "devicecode/approve",
        json!({"user_code": start["user_code"]}),
    )
    .await;
    let tokens: Value = env
        .client
        .post(format!("{base}/sandbox/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "ferry-cli"),
            ("device_code", start["device_code"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_request_budget_is_per_user() {
    let env = common::start(common::config(1, 1, 1)).await;
    let user = user_token(&env).await;
    // The app already spent one request (the companies lookup); allow it one more.
    post(&env, "limits", json!({"requests_per_window": 2})).await;
    assert_eq!(status_of(&env, "RescoCustomer").await, StatusCode::OK);
    assert_eq!(
        status_of(&env, "RescoCustomer").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let as_user = |token: String| {
        let env = &env;
        async move {
            env.client
                .get(env.entity_url("RescoCustomer", ""))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        as_user(user.clone()).await,
        StatusCode::OK,
        "the user has a budget of their own"
    );
    assert_eq!(as_user(user.clone()).await, StatusCode::OK);
    assert_eq!(as_user(user).await, StatusCode::TOO_MANY_REQUESTS);
}
