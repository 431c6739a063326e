//! `$batch` ("Execute batch operations using the Web API"): change sets are atomic, and
//! `odata.continue-on-error` decides whether a failure stops the batch.

use reqwest::StatusCode;

use crate::env::{self, Env, config};

const NEW_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const NEW_B: &str = "aaaaaaaa-0000-4000-8000-000000000002";

fn create(env: &Env, id: &str) -> String {
    format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST {}accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{\"accountid\":\"{id}\",\"name\":\"Batch {id}\"}}\r\n",
        env.sandbox.dataverse_url()
    )
}

fn read(env: &Env) -> String {
    format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET {}accounts?$select=name&$top=1 HTTP/1.1\r\n\r\n",
        env.sandbox.dataverse_url()
    )
}

async fn batch(env: &Env, parts: &[String], prefer: Option<&str>) -> (StatusCode, String) {
    let mut body = String::new();
    for part in parts {
        body.push_str("--batch_X\r\n");
        body.push_str(part);
    }
    body.push_str("--batch_X--\r\n");
    let mut request = env
        .client
        .post(env.url("$batch"))
        .bearer_auth(&env.token)
        .header("Content-Type", "multipart/mixed; boundary=batch_X")
        .body(body);
    if let Some(p) = prefer {
        request = request.header("Prefer", p);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn exists(env: &Env, id: &str) -> bool {
    env.sandbox
        .rows("account")
        .iter()
        .any(|r| r["accountid"] == id)
}

#[tokio::test]
async fn a_change_set_is_all_or_nothing() {
    let env = env::start(config(3, 0)).await;
    let existing = env.sandbox.rows("account")[0]["accountid"]
        .as_str()
        .unwrap()
        .to_owned();
    let change_set = format!(
        "Content-Type: multipart/mixed; boundary=changeset_Y\r\n\r\n--changeset_Y\r\n{}--changeset_Y\r\n{}--changeset_Y--\r\n",
        create(&env, NEW_A),
        create(&env, &existing)
    );
    let (status, text) = batch(&env, &[change_set], None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("HTTP/1.1 412"), "{text}");
    assert!(text.contains("0x80040237"), "{text}");
    assert!(
        !exists(&env, NEW_A),
        "the first create was undone with the change set"
    );

    let good = format!(
        "Content-Type: multipart/mixed; boundary=changeset_Z\r\n\r\n--changeset_Z\r\n{}--changeset_Z\r\n{}--changeset_Z--\r\n",
        create(&env, NEW_A),
        create(&env, NEW_B)
    );
    let (_, text) = batch(&env, &[good], None).await;
    assert_eq!(text.matches("HTTP/1.1 204").count(), 2, "{text}");
    assert!(text.contains("changesetresponse_"), "{text}");
    assert!(exists(&env, NEW_A) && exists(&env, NEW_B));
}

#[tokio::test]
async fn a_delete_undone_with_its_change_set_is_not_reported_as_deleted() {
    let env = env::start(config(3, 0)).await;
    let rows = env.sandbox.rows("account");
    let (victim, existing) = (
        rows[1]["accountid"].as_str().unwrap().to_owned(),
        rows[0]["accountid"].as_str().unwrap().to_owned(),
    );
    let first = env
        .get(&env.url("accounts"), &["odata.track-changes"])
        .await;
    let link = first.json["@odata.deltaLink"].as_str().unwrap().to_owned();
    let delete = format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nDELETE {}accounts({victim}) HTTP/1.1\r\n\r\n",
        env.sandbox.dataverse_url()
    );
    let change_set = format!(
        "Content-Type: multipart/mixed; boundary=changeset_Y\r\n\r\n--changeset_Y\r\n{delete}--changeset_Y\r\n{}--changeset_Y--\r\n",
        create(&env, &existing)
    );
    let (_, text) = batch(&env, &[change_set], None).await;
    assert!(text.contains("HTTP/1.1 412"), "{text}");
    assert!(exists(&env, &victim), "the delete was undone");
    let delta = env.get(&link, &[]).await;
    assert_eq!(delta.json["value"], serde_json::json!([]), "{}", delta.text);
}

#[tokio::test]
async fn continue_on_error_decides_whether_a_failure_stops_the_batch() {
    let env = env::start(config(3, 0)).await;
    let existing = env.sandbox.rows("account")[0]["accountid"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts = [create(&env, &existing), create(&env, NEW_A), read(&env)];
    let (_, text) = batch(&env, &parts, None).await;
    assert!(text.contains("HTTP/1.1 412"), "{text}");
    assert!(
        !text.contains("HTTP/1.1 204") && !text.contains("HTTP/1.1 200"),
        "stopped: {text}"
    );
    assert!(!exists(&env, NEW_A));

    let (_, text) = batch(&env, &parts, Some("odata.continue-on-error")).await;
    assert!(text.contains("HTTP/1.1 412"), "{text}");
    assert!(text.contains("HTTP/1.1 204"), "{text}");
    assert!(
        text.contains("HTTP/1.1 200") && text.contains("\"value\""),
        "{text}"
    );
    assert!(exists(&env, NEW_A));
}

#[tokio::test]
async fn more_than_1000_requests_are_refused() {
    let env = env::start(config(1, 0)).await;
    let parts: Vec<String> = (0..1001).map(|_| read(&env)).collect();
    let (status, text) = batch(&env, &parts, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("1000"), "{text}");
}
