//! Schema changes at run time: `$metadata`, responses, query options and `Sandbox::rows` follow.

mod common;

use ferry_sandbox::SchemaChange;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn change(env: &common::Env, body: Value) -> (StatusCode, Value) {
    let response = env
        .client
        .post(format!("{}/_sandbox/schema", env.sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn metadata(env: &common::Env) -> String {
    env.client
        .get(format!("{}/$metadata", env.sandbox.resco_url()))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The `<EntityType>` element of `name` in a `$metadata` document.
fn entity_type<'a>(doc: &'a str, name: &str) -> &'a str {
    let start = doc.find(&format!(r#"<EntityType Name="{name}">"#)).unwrap();
    let end = start + doc[start..].find("</EntityType>").unwrap();
    &doc[start..end]
}

#[tokio::test]
async fn dropped_field_disappears_everywhere() {
    let env = common::start(common::config(3, 3, 1)).await;
    assert!(
        metadata(&env)
            .await
            .contains(r#"<Property Name="HomePage""#)
    );
    let (status, body) = change(
        &env,
        json!({"entity": "RescoCustomer", "drop_field": "HomePage"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert!(!metadata(&env).await.contains(r#"Name="HomePage""#));
    let (_, _, page) = env.get(&env.entity_url("RescoCustomer", "")).await;
    assert!(page["value"][0].get("HomePage").is_none());
    assert!(page["value"][0].get("Name").is_some());
    let (code, _) = env
        .error(
            &env.entity_url("RescoCustomer", "?$select=HomePage"),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(code, "BadRequest_PropertyNotFound");
    assert!(
        env.sandbox.rows("RescoCustomer")[0]
            .get("HomePage")
            .is_none()
    );
    // Writes keep working on the changed schema.
    env.sandbox
        .mutate(ferry_sandbox::MutateRequest {
            entity: "RescoCustomer".into(),
            insert: 1,
            update: 1,
            delete: 0,
        })
        .unwrap();
}

#[tokio::test]
async fn renamed_field_in_both_spellings() {
    let env = common::start(common::config(3, 3, 1)).await;
    let (status, _) = change(
        &env,
        json!({"entity": "RescoCustomer", "rename_field": "Email", "to": "EMail"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = change(
        &env,
        json!({"entity": "RescoContact", "rename_field": ["No", "ContactNo"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let doc = metadata(&env).await;
    let customer = entity_type(&doc, "RescoCustomer");
    assert!(
        customer.contains(r#"<Property Name="EMail""#) && !customer.contains(r#"Name="Email""#)
    );
    assert!(
        doc.contains(r#"<PropertyRef Name="ContactNo"/>"#),
        "the key follows the rename"
    );
    let (status, _, page) = env
        .get(&env.entity_url("RescoCustomer", "?$select=No,EMail&$orderby=EMail"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["value"][0]["EMail"].is_string());
    let (status, _, page) = env.get(&env.entity_url("RescoContact", "?$top=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page["value"][0]["ContactNo"]
            .as_str()
            .unwrap()
            .starts_with("CT")
    );
    assert!(page["value"][0].get("No").is_none());
}

#[tokio::test]
async fn dropped_entity_is_gone() {
    let env = common::start(common::config(3, 3, 1)).await;
    env.sandbox
        .change_schema(SchemaChange::DropEntity {
            entity: "RescoContact".into(),
        })
        .unwrap();
    assert!(!metadata(&env).await.contains("RescoContact"));
    let (code, _) = env
        .error(&env.entity_url("RescoContact", ""), StatusCode::NOT_FOUND)
        .await;
    assert_eq!(code, "BadRequest_NotFound");
    assert!(env.sandbox.rows("RescoContact").is_empty());
}

#[tokio::test]
async fn invalid_changes_are_refused() {
    let env = common::start(common::config(1, 1, 1)).await;
    for bad in [
        json!({"entity": "RescoCustomer", "drop_field": "Nope"}),
        json!({"entity": "RescoCustomer", "drop_field": "No"}),
        json!({"entity": "Nope", "drop_field": "Name"}),
        json!({"entity": "RescoCustomer", "rename_field": "Name"}),
        json!({"entity": "RescoCustomer", "rename_field": "Name", "to": "City"}),
        json!({"entity": "RescoCustomer"}),
    ] {
        let (status, body) = change(&env, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
