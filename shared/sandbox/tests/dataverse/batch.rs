//! `$batch` ("Execute batch operations using the Web API"): change sets are atomic, and
//! `odata.continue-on-error` decides whether a failure stops the batch.

use reqwest::StatusCode;

use crate::env::{self, Env, config};

pub const NEW_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const NEW_B: &str = "aaaaaaaa-0000-4000-8000-000000000002";

/// A request part that creates an account with the chosen `id`.
pub fn create(env: &Env, id: &str) -> String {
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

/// A request part carrying `method path` with a JSON `body`.
pub fn part(env: &Env, method: &str, path: &str, body: &str) -> String {
    format!(
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{method} {}{path} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}\r\n",
        env.sandbox.dataverse_url()
    )
}

/// The batch request for `parts` (its body and content type), built apart from sending it so a
/// test can send the same batch twice.
pub fn batch_request(env: &Env, parts: &[String], prefer: Option<&str>) -> reqwest::RequestBuilder {
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
    request
}

pub async fn batch(env: &Env, parts: &[String], prefer: Option<&str>) -> (StatusCode, String) {
    let response = batch_request(env, parts, prefer).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A change set of `parts` (atomic).
pub fn change_set(parts: &[String]) -> String {
    let mut out = "Content-Type: multipart/mixed; boundary=changeset_Q\r\n\r\n".to_owned();
    for part in parts {
        out.push_str("--changeset_Q\r\n");
        out.push_str(part);
    }
    out.push_str("--changeset_Q--\r\n");
    out
}

pub fn exists(env: &Env, id: &str) -> bool {
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

#[tokio::test]
async fn validation_failures_inside_a_batch_carry_dataverse_codes() {
    let env = env::start(config(1, 0)).await;
    let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(161));
    let parts = [
        part(&env, "POST", "accounts", &long),
        part(
            &env,
            "PATCH",
            &format!("accounts({NEW_A})"),
            r#"{"nope":1}"#,
        ),
        part(&env, "POST", "accounts", r#"{"numberofemployees":"many"}"#),
    ];
    let (status, text) = batch(&env, &parts, Some("odata.continue-on-error")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text.matches("HTTP/1.1 400").count(), 3, "{text}");
    for expected in [
        r#"{"error":{"code":"0x80044331","message":"A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."}}"#,
        "\"code\":\"0x80048d19\"",
        "The property 'nope' does not exist on type 'Microsoft.Dynamics.CRM.account'.",
        "Cannot convert the literal 'many' to the expected type 'Edm.Int32'.",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert_eq!(
        env.sandbox.rows("account").len(),
        1,
        "nothing refused was written"
    );
}
