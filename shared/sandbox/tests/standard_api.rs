//! BC's standard API v2.0 (`/api/v2.0/companies({id})/…`): GUID ids, `number`, `displayName`,
//! `lastModifiedDateTime` and `@odata.etag`; related rows; its own `$metadata`.

mod common;

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

fn url(env: &common::Env, path: &str) -> String {
    format!(
        "{}/companies({})/{path}",
        env.sandbox.standard_url(),
        env.company
    )
}

async fn all(env: &common::Env, entity: &str) -> Vec<Value> {
    env.walk(&url(env, entity), None).await.0
}

#[tokio::test]
async fn standard_entities_carry_the_documented_properties() {
    let env = common::start(common::config(5, 5, 2)).await;
    let (status, _, companies) = env
        .get(&format!("{}/companies", env.sandbox.standard_url()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(companies["value"][0]["name"], "CRONUS USA, Inc.");

    for entity in ["customers", "contacts", "items", "salesOrders"] {
        let (status, _, page) = env.get(&url(&env, &format!("{entity}?$top=2"))).await;
        assert_eq!(status, StatusCode::OK, "{entity}: {page}");
        let row = &page["value"][0];
        assert!(
            row["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok(),
            "{entity}: {row}"
        );
        assert!(
            row["number"].is_string() && !row["number"].as_str().unwrap().is_empty(),
            "{entity}: {row}"
        );
        assert!(
            row.get("displayName").is_some() || entity == "salesOrders",
            "{entity}: {row}"
        );
        let modified = row["lastModifiedDateTime"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(modified).is_ok());
        assert!(row["@odata.etag"].as_str().unwrap().starts_with("W/\""));
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert!(
            !keys.iter().any(|k| k.to_lowercase().contains("rowversion")),
            "{entity}: {keys:?}"
        );
    }
    let (status, _, lines) = env.get(&url(&env, "salesOrderLines?$top=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(lines["value"][0]["@odata.etag"].is_string());

    // A customer by its GUID key, and a filter on lastModifiedDateTime.
    let first = &all(&env, "customers").await[0];
    let id = first["id"].as_str().unwrap();
    let (status, _, one) = env.get(&url(&env, &format!("customers({id})"))).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["number"], first["number"]);
    let since = first["lastModifiedDateTime"].as_str().unwrap();
    let (status, _, newer) = env
        .get(&url(
            &env,
            &format!("customers?$filter=lastModifiedDateTime gt {since}&$select=number"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{newer}");
}

#[tokio::test]
async fn orders_and_lines_reference_existing_rows() {
    let env = common::start(common::config(5, 5, 2)).await;
    let customers: BTreeMap<String, Value> = all(&env, "customers")
        .await
        .into_iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c))
        .collect();
    let orders = all(&env, "salesOrders").await;
    assert_eq!(orders.len(), 100);
    for order in &orders {
        let customer = &customers[order["customerId"].as_str().unwrap()];
        assert_eq!(order["customerNumber"], customer["number"]);
        assert_eq!(order["customerName"], customer["displayName"]);
    }
    let order_ids: Vec<&str> = orders.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let items: BTreeMap<String, Value> = all(&env, "items")
        .await
        .into_iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i))
        .collect();
    for line in all(&env, "salesOrderLines").await {
        assert!(
            order_ids.contains(&line["documentId"].as_str().unwrap()),
            "{line}"
        );
        let item = &items[line["itemId"].as_str().unwrap()];
        assert_eq!(line["lineObjectNumber"], item["number"]);
        assert_eq!(line["unitPrice"], item["unitPrice"]);
    }
}

#[tokio::test]
async fn each_route_has_its_own_entities_and_metadata() {
    let env = common::start(common::config(5, 5, 2)).await;
    let metadata = |root: String| {
        let env = &env;
        async move {
            env.client
                .get(format!("{root}/$metadata"))
                .bearer_auth(&env.token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let standard = metadata(env.sandbox.standard_url()).await;
    assert!(
        standard.contains(r#"<EntitySet Name="customers" EntityType="Microsoft.NAV.customer"/>"#)
    );
    assert!(standard.contains(r#"<EntityType Name="salesOrderLine">"#));
    assert!(
        standard.contains(r#"<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset"/>"#)
    );
    assert!(!standard.contains("RescoCustomer") && !standard.contains("$rowVersion"));
    let resco = metadata(env.sandbox.resco_url()).await;
    assert!(resco.contains("RescoCustomer") && !resco.contains(r#"Name="customers""#));

    env.error(&url(&env, "RescoCustomer"), StatusCode::NOT_FOUND)
        .await;
    env.error(&env.entity_url("customers", ""), StatusCode::NOT_FOUND)
        .await;
}
