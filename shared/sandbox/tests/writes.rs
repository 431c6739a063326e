//! Writes as BC takes them (ARCHITECTURE.md, "Outside facts"): POST; PATCH and DELETE only with `If-Match` (ETag or `*`),
//! a stale ETag → 412; every write bumps the version and the ETag; JSON `$batch` ≤ 100
//! operations, atomic with `Isolation: snapshot`.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn send(
    env: &common::Env,
    method: Method,
    url: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = env.client.request(method, url).bearer_auth(&env.token);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn standard(env: &common::Env, path: &str) -> String {
    format!(
        "{}/companies({})/{path}",
        env.sandbox.standard_url(),
        env.company
    )
}

#[tokio::test]
async fn patch_needs_if_match_and_the_current_etag() {
    let env = common::start(common::config(5, 5, 1)).await;
    let (_, _, page) = env.get(&standard(&env, "customers?$top=1")).await;
    let customer = &page["value"][0];
    assert!(customer["lastModifiedDateTime"].is_string() && customer["number"].is_string());
    let url = standard(
        &env,
        &format!("customers({})", customer["id"].as_str().unwrap()),
    );
    let old_tag = customer["@odata.etag"].as_str().unwrap();
    let change = json!({"displayName": "Renamed Ltd."});

    let (status, _, body) = send(&env, Method::PATCH, &url, None, Some(change.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no If-Match: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("concurrency")
    );

    let (status, headers, updated) = send(
        &env,
        Method::PATCH,
        &url,
        Some(old_tag),
        Some(change.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["displayName"], "Renamed Ltd.");
    let new_tag = updated["@odata.etag"].as_str().unwrap();
    assert_ne!(new_tag, old_tag, "a write changes the ETag");
    assert_eq!(headers["etag"], new_tag);
    assert!(updated["lastModifiedDateTime"].as_str() > customer["lastModifiedDateTime"].as_str());

    let (status, _, body) = send(&env, Method::PATCH, &url, Some(old_tag), Some(change)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "stale: {body}");
    assert_eq!(body["error"]["code"], "Request_EntityChanged");

    let (status, _, body) = send(
        &env,
        Method::PATCH,
        &url,
        Some("*"),
        Some(json!({"creditLimit": 1500.5})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["creditLimit"], 1500.5);
}

#[tokio::test]
async fn writes_bump_the_row_version_and_validate_bodies() {
    let env = common::start(common::config(5, 5, 1)).await;
    let url = env.entity_url("RescoCustomer('C000001')", "");
    let (_, _, before) = env.get(&url).await;
    let tag = before["@odata.etag"].as_str().unwrap().to_owned();
    let (status, _, after) = send(
        &env,
        Method::PATCH,
        &url,
        Some(&tag),
        Some(json!({"City": "Boston"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(after["RowVersionNumber"].as_i64() > before["RowVersionNumber"].as_i64());
    assert_eq!(env.sandbox.rows("RescoCustomer")[0]["City"], "Boston");

    let current = after["@odata.etag"].as_str().unwrap();
    for (body, code) in [
        (json!({"Nope": 1}), "BadRequest"),
        (json!({"City": 5}), "BadRequest"),
        (
            json!({"City": "x".repeat(31)}),
            "Application_StringExceededLength",
        ),
        (json!({"No": "C999999"}), "BadRequest"),
        (json!({"RowVersionNumber": 1}), "BadRequest"),
    ] {
        let (status, _, error) =
            send(&env, Method::PATCH, &url, Some(current), Some(body.clone())).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
    }
    let (status, _, error) = send(
        &env,
        Method::PATCH,
        &env.entity_url("RescoCustomer('NOPE')", ""),
        Some("*"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
}

#[tokio::test]
async fn post_creates_and_delete_removes() {
    let env = common::start(common::config(5, 5, 1)).await;
    let collection = env.entity_url("RescoCustomer", "");
    let (status, headers, created) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"No": "NEW1", "Name": "New Co"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["Name"], "New Co");
    assert_eq!(created["City"], "", "unset text is empty, as in BC");
    assert!(
        created["id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/RescoCustomer('NEW1')")
    );
    let max_before = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["No"] != "NEW1")
        .map(|r| r["RowVersionNumber"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(created["RowVersionNumber"].as_i64().unwrap() > max_before);

    let (status, _, _) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"No": "NEW1"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "duplicate key");
    let (status, _, numbered) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"Name": "Auto"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(numbered["No"], "C000006", "the number sequence continues");

    let one = env.entity_url("RescoCustomer('NEW1')", "");
    let (status, _, _) = send(&env, Method::DELETE, &one, None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "DELETE needs If-Match");
    let (status, _, _) = send(&env, Method::DELETE, &one, Some("W/\"stale\""), None).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = send(&env, Method::DELETE, &one, Some("*"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(env.get(&one).await.0, StatusCode::NOT_FOUND);
}

async fn batch(env: &common::Env, isolation: Option<&str>, requests: Value) -> (StatusCode, Value) {
    let mut request = env
        .client
        .post(format!("{}/$batch", env.sandbox.resco_url()))
        .bearer_auth(&env.token)
        .json(&json!({ "requests": requests }));
    if let Some(i) = isolation {
        request = request.header("Isolation", i);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn batches_run_in_order_and_snapshot_batches_are_atomic() {
    let env = common::start(common::config(5, 5, 1)).await;
    let company = env.company.clone();
    let customers = format!("companies({company})/RescoCustomer");
    let ops = json!([
        {"id": "1", "method": "POST", "url": customers, "body": {"No": "B1", "Name": "Batch One"}},
        {"id": "2", "method": "PATCH", "url": format!("{customers}('C000001')"), "headers": {"If-Match": "W/\"stale\""}, "body": {"Name": "x"}},
        {"id": "3", "method": "GET", "url": format!("{customers}('B1')")},
    ]);
    let (status, body) = batch(&env, None, ops).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<u64> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 412, 200]);
    assert_eq!(body["responses"][2]["body"]["Name"], "Batch One");

    let ops = json!([
        {"id": "a", "method": "POST", "url": customers, "body": {"No": "B2", "Name": "Rolled back"}},
        {"id": "b", "method": "PATCH", "url": format!("{customers}('C000002')"), "headers": {"If-Match": "*"}, "body": {"Name": "Also rolled back"}},
        {"id": "c", "method": "PATCH", "url": format!("{customers}('NOPE')"), "headers": {"If-Match": "*"}, "body": {"Name": "x"}},
        {"id": "d", "method": "POST", "url": customers, "body": {"No": "B3"}},
    ]);
    let before: Value = env
        .sandbox
        .rows("RescoCustomer")
        .into_iter()
        .map(Value::Object)
        .collect();
    let (status, body) = batch(&env, Some("snapshot"), ops).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<u64> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [424, 424, 404, 424]);
    let after: Value = env
        .sandbox
        .rows("RescoCustomer")
        .into_iter()
        .map(Value::Object)
        .collect();
    assert_eq!(
        before, after,
        "nothing of the failed snapshot batch remains"
    );

    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "companies"}))
        .collect();
    let (status, body) = batch(&env, None, Value::Array(too_many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_post_may_bring_its_key_and_system_id_and_a_second_one_is_refused() {
    let env = common::start(common::config(5, 5, 1)).await;
    let collection = env.entity_url("RescoCustomer", "");
    let id = "0b7a1a5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
    let (status, headers, created) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"No": "K1", "id": id, "Name": "Keyed"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["No"].as_str(), created["id"].as_str()),
        (Some("K1"), Some(id))
    );
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/RescoCustomer('K1')")
    );
    let (_, _, read) = env.get(&env.entity_url("RescoCustomer('K1')", "")).await;
    assert_eq!(read["id"], id);
    let stored = env.sandbox.rows("RescoCustomer");
    assert_eq!(stored.iter().filter(|r| r["id"] == id).count(), 1);

    let (status, _, same_key) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"No": "K1", "Name": "Again"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        same_key["error"],
        json!({"code": "Internal_EntityWithSameKeyExists",
               "message": "The record in table RescoCustomer already exists. Identification fields and values: No='K1'"})
    );
    let (status, _, same_id) = send(
        &env,
        Method::POST,
        &collection,
        None,
        Some(json!({"No": "K2", "id": id})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(same_id["error"]["code"], "Internal_EntityWithSameKeyExists");
    assert!(
        same_id["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("id='{id}'")),
        "{same_id}"
    );
    assert_eq!(
        env.get(&env.entity_url("RescoCustomer('K2')", "")).await.0,
        StatusCode::NOT_FOUND
    );

    // The standard API keys customers by their SystemId: a chosen id is the key.
    let customers = standard(&env, "customers");
    let body = json!({"id": id, "number": "S1", "displayName": "Standard"});
    let (status, _, created) = send(&env, Method::POST, &customers, None, Some(body.clone())).await;
    assert_eq!(
        (status, created["id"].as_str()),
        (StatusCode::CREATED, Some(id)),
        "{created}"
    );
    let (status, _, again) = send(&env, Method::POST, &customers, None, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"]["code"], "Internal_EntityWithSameKeyExists");
}

#[tokio::test]
async fn validation_failures_answer_bcs_codes_alone_and_in_a_batch() {
    let env = common::start(common::config(5, 5, 1)).await;
    let long = "x".repeat(101);
    let cases = [
        (
            json!({"No": "V1", "Name": long}),
            "Application_StringExceededLength",
            format!("The length of the string is 101, but it must be less than or equal to 100 characters. Value: {long}"),
        ),
        (
            json!({"No": "V2", "Name": 5}),
            "BadRequest",
            "Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.".to_owned(),
        ),
        (
            json!({"No": "V3", "Nope": 1}),
            "BadRequest",
            "The property 'Nope' does not exist on type 'Microsoft.NAV.RescoCustomer'. Make sure to only use property names that are defined by the type.".to_owned(),
        ),
    ];
    let collection = env.entity_url("RescoCustomer", "");
    for (body, code, message) in &cases {
        let (status, _, error) =
            send(&env, Method::POST, &collection, None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            error,
            json!({"error": {"code": code, "message": message}}),
            "{body}"
        );
    }

    let url = format!("companies({})/RescoCustomer", env.company);
    let ops: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (body, _, _))| json!({"id": i.to_string(), "method": "POST", "url": url, "body": body}))
        .collect();
    let (status, reply) = batch(&env, None, Value::Array(ops)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    for (response, (_, code, message)) in reply["responses"].as_array().unwrap().iter().zip(&cases)
    {
        assert_eq!(response["status"], 400, "{response}");
        assert_eq!(
            response["body"],
            json!({"error": {"code": code, "message": message}})
        );
    }
    assert!(
        env.sandbox
            .rows("RescoCustomer")
            .iter()
            .all(|r| !r["No"].as_str().unwrap().starts_with('V')),
        "nothing refused was written"
    );
}
