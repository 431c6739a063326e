//! `"kind": "lost_reply"` on the Web API: the write is applied, the answer never arrives. The
//! retries then meet what the docs promise ("Perform conditional operations"): a create with a
//! chosen id answers 412 DuplicateRecord (`0x80040237`), an ETag-guarded update 412
//! (`0x80060882`, the first attempt already took a new version), a resent DELETE 404.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::batch::{NEW_A, NEW_B, batch_request, change_set, create, exists};
use crate::env::{self, Env, config};

const ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3302";

async fn lose_next_write(env: &Env, route: &str) {
    let (status, body) = env
        .control(
            "faults",
            json!({"kind": "lost_reply", "route": route, "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Sends a write; `Err` when no answer came.
async fn write(
    env: &Env,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = env
        .client
        .request(method, env.url(path))
        .bearer_auth(&env.token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn code(reply: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (reply.0, reply.1["error"]["code"].as_str())
}

#[tokio::test]
async fn retries_after_lost_replies_answer_what_the_docs_say() {
    let env = env::start(config(3, 0)).await;
    let path = format!("accounts({ID})");
    let create_once = [("If-None-Match", "*")];
    let body = Some(r#"{"name":"Exported"}"#);

    lose_next_write(&env, "*/accounts*").await;
    assert_eq!(
        env.get(&env.url("accounts"), &[]).await.status,
        StatusCode::OK,
        "a read passes"
    );
    write(&env, Method::PATCH, &path, &create_once, body)
        .await
        .expect_err("no answer");
    let rows = env.sandbox.rows("accounts");
    assert_eq!(rows.iter().filter(|r| r["accountid"] == ID).count(), 1);
    let retry = write(&env, Method::PATCH, &path, &create_once, body)
        .await
        .unwrap();
    assert_eq!(
        code(&retry),
        (StatusCode::PRECONDITION_FAILED, Some("0x80040237"))
    );

    let etag = env.get(&env.url(&path), &[]).await.json["@odata.etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let guarded = [("If-Match", etag.as_str())];
    let change = Some(r#"{"name":"Changed"}"#);
    lose_next_write(&env, "*/accounts*").await;
    write(&env, Method::PATCH, &path, &guarded, change)
        .await
        .expect_err("no answer");
    let retry = write(&env, Method::PATCH, &path, &guarded, change)
        .await
        .unwrap();
    assert_eq!(
        code(&retry),
        (StatusCode::PRECONDITION_FAILED, Some("0x80060882"))
    );
    assert_eq!(
        env.get(&env.url(&path), &[]).await.json["name"],
        "Changed",
        "the first attempt did change it"
    );

    lose_next_write(&env, "*/accounts*").await;
    write(&env, Method::DELETE, &path, &[], None)
        .await
        .expect_err("no answer");
    let retry = write(&env, Method::DELETE, &path, &[], None).await.unwrap();
    assert_eq!(code(&retry), (StatusCode::NOT_FOUND, Some("0x80040217")));
}

#[tokio::test]
async fn a_batch_whose_reply_is_lost_is_applied_and_its_retry_is_a_duplicate() {
    let env = env::start(config(3, 0)).await;
    lose_next_write(&env, "*/$batch").await;
    let parts = [change_set(&[create(&env, NEW_A), create(&env, NEW_B)])];
    batch_request(&env, &parts, None)
        .send()
        .await
        .expect_err("no answer to the batch");
    assert!(exists(&env, NEW_A) && exists(&env, NEW_B));
    assert_eq!(env.sandbox.rows("accounts").len(), 5);

    let retry = batch_request(&env, &parts, None).send().await.unwrap();
    let text = retry.text().await.unwrap();
    assert!(text.contains("HTTP/1.1 412"), "{text}");
    assert!(text.contains("0x80040237"), "{text}");
    assert_eq!(env.sandbox.rows("accounts").len(), 5, "no second rows");
}
