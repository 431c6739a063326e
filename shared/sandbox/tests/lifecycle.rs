mod common;

use ferry_sandbox::{Sandbox, SandboxConfig};

async fn refused(base: &str) -> bool {
    reqwest::get(format!("{base}/_sandbox/rows/RescoCustomer"))
        .await
        .is_err()
}

#[tokio::test]
async fn stop_and_drop_end_the_server() {
    let sandbox = Sandbox::start(
        "127.0.0.1:0".parse().unwrap(),
        SandboxConfig {
            customers: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let base = sandbox.base_url();
    assert_eq!(base, format!("http://127.0.0.1:{}", sandbox.addr().port()));
    assert_eq!(
        sandbox.resco_url(),
        format!("{base}/v2.0/sandbox/production/api/Resco/RescoIntegrations/v2.0")
    );
    assert_eq!(sandbox.rows("RescoCustomer").len(), 3);
    assert!(sandbox.rows("Nope").is_empty());
    assert!(!refused(&base).await);
    sandbox.stop().await;
    assert!(refused(&base).await, "stopped");

    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), SandboxConfig::default())
        .await
        .unwrap();
    let base = sandbox.base_url();
    assert!(!refused(&base).await);
    drop(sandbox);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(refused(&base).await, "dropped");
}

#[tokio::test]
async fn rows_are_serialized_in_schema_order_with_etag_first() {
    let env = common::start(common::config(5, 5, 1)).await;
    let url = env.entity_url("RescoCustomer", "?$top=1&$select=Name,No");
    let text = env
        .client
        .get(url)
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let etag_at = text.find(r#"{"@odata.etag":"W/\""#).expect(&text);
    let no_at = text.find(r#""No":"C000001""#).expect(&text);
    let name_at = text.find(r#""Name":"#).expect(&text);
    assert!(etag_at < no_at && no_at < name_at, "{text}");
    assert!(
        text.starts_with(r#"{"@odata.context":"http://127.0.0.1:"#),
        "{text}"
    );

    // The etag changes when the row is written.
    let before = env.sandbox.rows("RescoContact");
    let changed = env
        .sandbox
        .mutate(ferry_sandbox::MutateRequest {
            entity: "RescoContact".into(),
            insert: 0,
            update: 1,
            delete: 0,
        })
        .unwrap();
    let no = &changed.updated[0];
    let etag = |body: serde_json::Value| body["@odata.etag"].as_str().unwrap().to_owned();
    let (_, _, after) = env
        .get(&env.entity_url(&format!("RescoContact('{no}')"), ""))
        .await;
    let old_version = before.iter().find(|r| r["No"] == no.as_str()).unwrap()["RowVersionNumber"]
        .as_i64()
        .unwrap();
    assert!(after["RowVersionNumber"].as_i64().unwrap() > old_version);
    let (_, _, again) = env
        .get(&env.entity_url(&format!("RescoContact('{no}')"), ""))
        .await;
    assert_eq!(etag(after.clone()), etag(again), "stable while unchanged");
    env.sandbox
        .mutate(ferry_sandbox::MutateRequest {
            entity: "RescoContact".into(),
            insert: 0,
            update: 5,
            delete: 0,
        })
        .unwrap();
    let all = env.walk(&env.entity_url("RescoContact", ""), None).await.0;
    let etags: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|r| r["@odata.etag"].as_str().unwrap())
        .collect();
    assert_eq!(etags.len(), all.len(), "distinct versions → distinct etags");
}
