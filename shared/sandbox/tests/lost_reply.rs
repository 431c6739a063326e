//! `"kind": "lost_reply"` on BC's API routes: the write is applied in full, then the connection
//! closes before any byte of the answer, so the client cannot tell whether it happened. What an
//! exporter must then rely on: the row exists exactly once, and a retried create answers
//! `Internal_EntityWithSameKeyExists` ("already done").

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const ID: &str = "5d115c9c-44e3-ea11-bb43-000d3a2feca1";

async fn fault(env: &common::Env, rule: Value) {
    let response = env
        .client
        .post(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{rule}");
}

/// The rows as the control endpoint lists them (what a test checks an export against).
async fn rows(env: &common::Env, entity: &str) -> Vec<Value> {
    let response = env
        .client
        .get(format!("{}/_sandbox/rows/{entity}", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn count(rows: &[Value], no: &str) -> usize {
    rows.iter().filter(|r| r["No"] == no).count()
}

async fn create(env: &common::Env, body: &Value) -> Result<(StatusCode, Value), reqwest::Error> {
    let response = env
        .client
        .post(env.entity_url("RescoCustomer", ""))
        .bearer_auth(&env.token)
        .json(body)
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn a_create_whose_reply_is_lost_exists_once_and_its_retry_is_a_duplicate() {
    let env = common::start(common::config(5, 5, 1)).await;
    fault(
        &env,
        json!({"kind": "lost_reply", "route": "*/RescoCustomer*", "times": 1}),
    )
    .await;
    let (status, _, _) = env.get(&env.entity_url("RescoCustomer", "")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a read passes and leaves the rule armed"
    );

    let body = json!({"No": "EXP1", "id": ID, "Name": "Exported Ltd."});
    let lost = create(&env, &body).await;
    let error = lost.expect_err("no answer at all");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let after = rows(&env, "RescoCustomer").await;
    assert_eq!(count(&after, "EXP1"), 1, "the write happened");
    let row = after.iter().find(|r| r["No"] == "EXP1").unwrap();
    assert_eq!(
        (row["id"].as_str(), row["Name"].as_str()),
        (Some(ID), Some("Exported Ltd."))
    );

    let (status, retry) = create(&env, &body)
        .await
        .expect("the rule retired after one hit");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{retry}");
    assert_eq!(retry["error"]["code"], "Internal_EntityWithSameKeyExists");
    assert_eq!(
        retry["error"]["message"],
        "The record in table RescoCustomer already exists. Identification fields and values: No='EXP1'"
    );
    assert_eq!(count(&rows(&env, "RescoCustomer").await, "EXP1"), 1);
}

#[tokio::test]
async fn a_batch_whose_reply_is_lost_is_applied_whole() {
    let env = common::start(common::config(5, 5, 1)).await;
    fault(
        &env,
        json!({"kind": "lost_reply", "route": "*/$batch", "times": 1}),
    )
    .await;
    let customers = format!("companies({})/RescoCustomer", env.company);
    let requests = json!({"requests": [
        {"id": "1", "method": "POST", "url": customers, "body": {"No": "EXP1", "Name": "One"}},
        {"id": "2", "method": "POST", "url": customers, "body": {"No": "EXP2", "Name": "Two"}},
        {"id": "3", "method": "PATCH", "url": format!("{customers}('C000001')"),
         "headers": {"If-Match": "*"}, "body": {"City": "Boston"}},
    ]});
    let send = || {
        env.client
            .post(format!("{}/$batch", env.sandbox.resco_url()))
            .bearer_auth(&env.token)
            .header("Isolation", "snapshot")
            .json(&requests)
            .send()
    };
    send().await.expect_err("no answer to the batch");
    let after = rows(&env, "RescoCustomer").await;
    assert_eq!((count(&after, "EXP1"), count(&after, "EXP2")), (1, 1));
    let patched = after.iter().find(|r| r["No"] == "C000001").unwrap().clone();
    assert_eq!(patched["City"], "Boston");

    let retry: Value = send().await.expect("answered").json().await.unwrap();
    let statuses: Vec<u64> = retry["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 424, 424], "{retry}");
    assert_eq!(
        retry["responses"][0]["body"]["error"]["code"],
        "Internal_EntityWithSameKeyExists"
    );
    let again = rows(&env, "RescoCustomer").await;
    assert_eq!(
        again.iter().find(|r| r["No"] == "C000001"),
        Some(&patched),
        "the rolled-back retry changed nothing"
    );
}

#[tokio::test]
async fn lost_replies_hit_only_writes_on_their_route_at_their_rate() {
    let env = common::start(common::config(5, 5, 1)).await;
    fault(
        &env,
        json!({"kind": "lost_reply", "route": "*/RescoContact*"}),
    )
    .await;
    let (status, _) = create(&env, &json!({"No": "EXP1"}))
        .await
        .expect("other route");
    assert_eq!(status, StatusCode::CREATED);

    fault(&env, json!({"kind": "lost_reply", "rate": 0})).await;
    let (status, _) = create(&env, &json!({"No": "EXP2"}))
        .await
        .expect("rate 0 never hits");
    assert_eq!(status, StatusCode::CREATED);

    let listed: Value = env
        .client
        .get(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["kind"], "lost_reply", "{listed}");

    let refused = env
        .client
        .post(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .json(&json!({"kind": "lost_reply", "status": 503}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "status and kind exclude each other"
    );
}
