//! Control endpoints for the Dataverse tables: mutate, rows, faults, schema drift.

use ferry_sandbox::{MutateRequest, SchemaChange};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::env::{self, config};

fn by_id<'a>(
    rows: &'a [serde_json::Map<String, Value>],
    key: &str,
    id: &str,
) -> Option<&'a serde_json::Map<String, Value>> {
    rows.iter().find(|r| r[key] == id)
}

#[tokio::test]
async fn mutate_reports_keys_and_bumps_versions_from_one_counter() {
    let env = env::start(config(10, 20)).await;
    let before = env.sandbox.rows("account");
    let (status, changed) = env
        .control(
            "mutate",
            json!({"entity": "account", "insert": 2, "update": 2, "delete": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let after = env.sandbox.rows("account");
    assert_eq!(after.len(), 11);
    let newest_before = before
        .iter()
        .map(|r| r["versionnumber"].as_i64().unwrap())
        .max()
        .unwrap();
    for id in changed["updated"].as_array().unwrap() {
        let (old, new) = (
            by_id(&before, "accountid", id.as_str().unwrap()).unwrap(),
            by_id(&after, "accountid", id.as_str().unwrap()).unwrap(),
        );
        assert!(new["versionnumber"].as_i64() > Some(newest_before));
        assert_ne!(old["modifiedon"], new["modifiedon"]);
        assert_eq!(old["createdon"], new["createdon"]);
    }
    for id in changed["inserted"].as_array().unwrap() {
        let row = by_id(&after, "accountid", id.as_str().unwrap()).expect("inserted");
        assert_eq!(row["createdon"], row["modifiedon"]);
    }
    let gone = changed["deleted"][0].as_str().unwrap();
    assert!(by_id(&after, "accountid", gone).is_none());
    // A contact of the deleted account lost its parent (and took a new version).
    for contact in env.sandbox.rows("contact") {
        assert_ne!(contact["_parentcustomerid_value"], gone);
    }
    // Contacts share the counter: a contact write takes a version above every account's.
    let newest_account = after
        .iter()
        .map(|r| r["versionnumber"].as_i64().unwrap())
        .max()
        .unwrap();
    let changed = env
        .sandbox
        .mutate(MutateRequest {
            entity: "contact".into(),
            insert: 0,
            update: 1,
            delete: 0,
        })
        .unwrap();
    let contacts = env.sandbox.rows("contact");
    let updated = by_id(&contacts, "contactid", &changed.updated[0]).unwrap();
    assert!(updated["versionnumber"].as_i64().unwrap() > newest_account);

    let response = env
        .client
        .get(format!("{}/_sandbox/rows/contact", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows.len(), 20);
    assert!(rows[0]["fullname"].is_string() && rows[0]["contactid"].is_string());
}

#[tokio::test]
async fn schema_drift_and_faults_reach_the_dataverse_routes() {
    let env = env::start(config(5, 5)).await;
    env.sandbox
        .change_schema(SchemaChange::DropField {
            entity: "account".into(),
            field: "telephone1".into(),
        })
        .unwrap();
    let reply = env.get(&env.url("accounts"), &[]).await;
    assert!(
        reply.json["value"][0].get("telephone1").is_none(),
        "{}",
        reply.text
    );
    let metadata = env.get(&env.url("$metadata"), &[]).await.text;
    assert!(!metadata.contains("telephone1\" Type") || metadata.matches("telephone1").count() == 1);
    assert_eq!(
        env.get(&env.url("accounts?$select=telephone1"), &[])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let (status, _) = env
        .control(
            "schema",
            json!({"entity": "contact", "rename_field": "lastname", "to": "surname"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply = env.get(&env.url("contacts?$select=surname"), &[]).await;
    assert!(
        reply.json["value"][0]["surname"].is_string(),
        "{}",
        reply.text
    );

    let (status, body) = env
        .control(
            "faults",
            json!({"status": 503, "retry_after": 2, "rate": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        env.get(&env.url("accounts"), &[]).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    env.client
        .delete(format!("{}/_sandbox/faults", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();

    let (status, _) = env
        .control("schema", json!({"drop_entity": "account"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.get(&env.url("accounts"), &[]).await.status,
        StatusCode::NOT_FOUND
    );
}
