//! Service protection ("Service protection API limits") and token audiences.

use ferry_sandbox::faults::Limits;
use reqwest::StatusCode;
use serde_json::json;

use crate::env::{self, config};

#[tokio::test]
async fn past_the_request_budget_answers_429_with_retry_after() {
    let mut cfg = config(3, 0);
    cfg.dataverse_limits = Limits {
        requests_per_window: 3,
        ..Limits::dataverse()
    };
    let env = env::start(cfg).await;
    for _ in 0..3 {
        assert_eq!(
            env.get(&env.url("accounts"), &[]).await.status,
            StatusCode::OK
        );
    }
    let reply = env.get(&env.url("accounts"), &[]).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert_eq!(reply.json["error"]["code"], "0x80072322");
    // BC's budget is its own.
    let bc = env::token(
        &env.client,
        &env.sandbox,
        "https://api.businesscentral.dynamics.com/.default",
    )
    .await;
    let response = env
        .client
        .get(format!("{}/companies", env.sandbox.resco_url()))
        .bearer_auth(bc)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn past_the_concurrency_cap_answers_429_at_once_not_after_queueing() {
    let env = env::start(config(3, 0)).await;
    env.sandbox.set_dataverse_limits(Limits {
        max_concurrent: 1,
        ..Limits::dataverse()
    });
    let (status, body) = env
        .control(
            "faults",
            json!({"route": "*/api/data/*", "latency_ms": 400, "rate": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = env.url("accounts");
    let (a, b) = tokio::join!(env.get(&url, &[]), env.get(&url, &[]));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    let refused = if a.status == StatusCode::OK { b } else { a };
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.json["error"]["code"], "0x80072326");
}

#[tokio::test]
async fn a_token_opens_only_the_api_of_its_scope() {
    let env = env::start(config(3, 0)).await;
    let bc = env::token(
        &env.client,
        &env.sandbox,
        "https://api.businesscentral.dynamics.com/.default",
    )
    .await;
    let dataverse = env::token(&env.client, &env.sandbox, &env.sandbox.dataverse_scope()).await;
    let status = |url: String, token: String| {
        let client = env.client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let accounts = env.url("accounts");
    let companies = format!("{}/companies", env.sandbox.resco_url());
    assert_eq!(
        status(accounts.clone(), dataverse.clone()).await,
        StatusCode::OK
    );
    assert_eq!(status(accounts, bc.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(companies.clone(), bc).await, StatusCode::OK);
    assert_eq!(status(companies, dataverse).await, StatusCode::UNAUTHORIZED);
}
