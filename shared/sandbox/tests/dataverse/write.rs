//! Writes ("Perform conditional operations"; create, update and delete with the Web API).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::env::{self, Env, config};

const ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

async fn send(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (StatusCode, HeaderMap, Value) {
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
            .body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_create_keeps_money_exact_and_a_repeated_create_is_a_duplicate() {
    let env = env::start(config(3, 0)).await;
    // Written by hand: serde_json would round the number through f64.
    let body = format!(
        r#"{{"accountid":"{ID}","name":"Exact Money Inc.","revenue":1234567890123456.78,"industrycode":7}}"#
    );
    let (status, headers, _) = send(
        &env,
        reqwest::Method::POST,
        "accounts",
        &[],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers["odata-entityid"],
        env.url(&format!("accounts({ID})")).as_str()
    );

    let reply = env
        .get(
            &env.url(&format!("accounts({ID})?$select=revenue,industrycode")),
            &[],
        )
        .await;
    assert!(
        reply.text.contains(r#""revenue":1234567890123456.7800"#),
        "{}",
        reply.text
    );
    assert_eq!(reply.json["industrycode"], 7);
    assert!(reply.json["_transactioncurrencyid_value"].is_string());
    let stored = env.sandbox.rows("account");
    let row = stored
        .iter()
        .find(|r| r["accountid"] == ID)
        .expect("created");
    assert_eq!(
        row["revenue"], "1234567890123456.7800",
        "exact in the control plane too"
    );
    assert_eq!(row["createdon"], row["modifiedon"]);

    let (status, _, error) = send(&env, reqwest::Method::POST, "accounts", &[], Some(body)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{error}");
    assert_eq!(error["error"]["code"], "0x80040237");
}

#[tokio::test]
async fn patch_is_an_upsert_narrowed_by_if_match_and_if_none_match() {
    let env = env::start(config(3, 0)).await;
    let path = format!("accounts({ID})");
    let body = || Some(r#"{"name":"Upserted"}"#.to_owned());
    let (status, _, e) = send(
        &env,
        reqwest::Method::PATCH,
        &path,
        &[("If-Match", "*")],
        body(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "If-Match: * never creates: {e}"
    );
    assert_eq!(e["error"]["code"], "0x80040217");

    let (status, _, _) = send(&env, reqwest::Method::PATCH, &path, &[], body()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a plain PATCH creates");
    let (status, _, e) = send(
        &env,
        reqwest::Method::PATCH,
        &path,
        &[("If-None-Match", "*")],
        body(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "If-None-Match: * never updates: {e}"
    );
    assert_eq!(
        e["error"],
        json!({"code": "0x80040237", "message": "A record with matching key values already exists."})
    );

    let etag = env.get(&env.url(&path), &[]).await.json["@odata.etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, e) = send(
        &env,
        reqwest::Method::PATCH,
        &path,
        &[("If-Match", "W/\"1\"")],
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "stale: {e}");
    assert_eq!(e["error"]["code"], "0x80060882");
    let (status, _, row) = send(
        &env,
        reqwest::Method::PATCH,
        &path,
        &[
            ("If-Match", etag.as_str()),
            ("Prefer", "return=representation"),
        ],
        Some(r#"{"name":"Renamed","numberofemployees":12}"#.to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["name"], "Renamed");
    assert_eq!(row["numberofemployees"], 12);
    assert_ne!(
        row["@odata.etag"],
        etag.as_str(),
        "a write takes a new version"
    );
}

#[tokio::test]
async fn lookups_are_written_by_bind_and_read_as_value() {
    let env = env::start(config(3, 0)).await;
    let account = env.sandbox.rows("account")[0]["accountid"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({
        "contactid": ID,
        "firstname": "Ada",
        "lastname": "Lovelace",
        "parentcustomerid_account@odata.bind": format!("/accounts({account})"),
    });
    let (status, _, e) = send(
        &env,
        reqwest::Method::POST,
        "contacts",
        &[],
        Some(body.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{e}");
    let reply = env.get(&env.url(&format!("contacts({ID})")), &[]).await;
    assert_eq!(reply.json["_parentcustomerid_value"], account.as_str());
    assert_eq!(reply.json["fullname"], "Ada Lovelace");

    let read_only = json!({"lastname": "X", "_parentcustomerid_value": account});
    let (status, _, _) = send(
        &env,
        reqwest::Method::POST,
        "contacts",
        &[],
        Some(read_only.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let dangling = json!({"lastname": "X", "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000009)"});
    let (status, _, _) = send(
        &env,
        reqwest::Method::POST,
        "contacts",
        &[],
        Some(dangling.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_delete_is_404_the_second_time_and_shows_in_the_delta() {
    let env = env::start(config(4, 0)).await;
    let id = env.sandbox.rows("account")[1]["accountid"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = env
        .get(&env.url("accounts"), &["odata.track-changes"])
        .await;
    let link = first.json["@odata.deltaLink"].as_str().unwrap().to_owned();
    let path = format!("accounts({id})");
    let (status, _, _) = send(&env, reqwest::Method::DELETE, &path, &[], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, e) = send(&env, reqwest::Method::DELETE, &path, &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let delta = env.get(&link, &[]).await;
    assert_eq!(
        delta.json["value"].as_array().unwrap().len(),
        1,
        "{}",
        delta.text
    );
    assert_eq!(delta.json["value"][0]["id"], id.as_str());
    assert_eq!(delta.json["value"][0]["reason"], "deleted");
}

#[tokio::test]
async fn if_none_match_star_creates_with_the_chosen_id_once() {
    let env = env::start(config(3, 0)).await;
    let path = format!("accounts({ID})");
    let create = || {
        send(
            &env,
            reqwest::Method::PATCH,
            &path,
            &[("If-None-Match", "*")],
            Some(r#"{"name":"Exported"}"#.to_owned()),
        )
    };
    let (status, headers, _) = create().await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["odata-entityid"], env.url(&path).as_str());
    let rows = env.sandbox.rows("accounts");
    assert_eq!(rows.iter().filter(|r| r["accountid"] == ID).count(), 1);
    let (status, _, e) = create().await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("0x80040237"))
    );
    assert_eq!(env.sandbox.rows("account").len(), 4, "no second row");
}

#[tokio::test]
async fn validation_failures_answer_dataverse_codes() {
    let env = env::start(config(3, 0)).await;
    let payload = "Error identified in Payload provided by the user for Entity :'accounts', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: ";
    let cases = [
        (
            json!({"name": "x".repeat(161)}),
            "0x80044331",
            "A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'.".to_owned(),
        ),
        (
            json!({"numberofemployees": "many"}),
            "0x80048d19",
            format!("{payload}Cannot convert the literal 'many' to the expected type 'Edm.Int32'."),
        ),
        (
            json!({"nope": 1}),
            "0x80048d19",
            format!("{payload}The property 'nope' does not exist on type 'Microsoft.Dynamics.CRM.account'. Make sure to only use property names that are defined by the type or mark the type as open type."),
        ),
    ];
    for (body, code, message) in cases {
        for (method, path) in [
            (reqwest::Method::POST, "accounts".to_owned()),
            (reqwest::Method::PATCH, format!("accounts({ID})")),
        ] {
            let (status, _, e) = send(&env, method, &path, &[], Some(body.to_string())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                e,
                json!({"error": {"code": code, "message": message}}),
                "{body}"
            );
        }
    }
    assert_eq!(
        env.sandbox.rows("account").len(),
        3,
        "nothing refused was written"
    );
}
