mod common;

use std::collections::BTreeSet;

use ferry_sandbox::{MutateRequest, MutateResponse};
use reqwest::StatusCode;
use serde_json::{Map, Value};

fn versions(rows: &[Map<String, Value>]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["RowVersionNumber"].as_i64().unwrap())
        .collect()
}

/// The raw page body with the (port-specific) origin stripped.
async fn body(env: &common::Env, entity: &str) -> String {
    let r = env
        .client
        .get(env.entity_url(entity, ""))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    r.text().await.unwrap().replace(&env.sandbox.base_url(), "")
}

#[tokio::test]
async fn same_seed_same_data_different_seed_different_data() {
    let a = common::start(common::config(300, 200, 42)).await;
    let b = common::start(common::config(300, 200, 42)).await;
    let c = common::start(common::config(300, 200, 43)).await;
    for entity in ["RescoCustomer", "RescoContact"] {
        let (ra, rb, rc) = (
            a.sandbox.rows(entity),
            b.sandbox.rows(entity),
            c.sandbox.rows(entity),
        );
        assert_eq!(
            serde_json::to_string(&ra).unwrap(),
            serde_json::to_string(&rb).unwrap(),
            "{entity}"
        );
        assert_ne!(ra, rc, "{entity}");
        // The HTTP bodies (etags included) are byte-identical too, apart from the port in links.
        assert_eq!(body(&a, entity).await, body(&b, entity).await);
    }
    assert_eq!(a.company, b.company, "company id derives from the seed");
    assert_ne!(a.company, c.company);
}

#[tokio::test]
async fn generated_data_is_realistic_and_consistent() {
    let env = common::start(common::config(500, 400, 7)).await;
    let customers = env.sandbox.rows("RescoCustomer");
    let contacts = env.sandbox.rows("RescoContact");
    assert_eq!((customers.len(), contacts.len()), (500, 400));
    assert_eq!(customers[0]["No"], "C000001");
    assert_eq!(contacts[0]["No"], "CT000001");

    let customer_nos: BTreeSet<&str> = customers
        .iter()
        .map(|r| r["No"].as_str().unwrap())
        .collect();
    let contact_nos: BTreeSet<&str> = contacts.iter().map(|r| r["No"].as_str().unwrap()).collect();
    for c in &customers {
        assert_eq!(c.len(), 15);
        assert_eq!(c["CountryRegionCode"], "US");
        assert!(c["PostCode"].as_str().unwrap().len() == 5);
        assert!(c["SystemModifiedAt"].as_str().unwrap().ends_with('Z'));
        let primary = c["PrimaryContacNo"].as_str().unwrap();
        assert!(
            primary.is_empty() || contact_nos.contains(primary),
            "{primary}"
        );
        uuid::Uuid::parse_str(c["id"].as_str().unwrap()).unwrap();
        for field in ["Name", "Address", "City", "State", "PhoneNo"] {
            assert!(!c[field].as_str().unwrap().is_empty(), "{field}");
        }
    }
    assert!(
        customers.iter().any(|c| c["Email"] == ""),
        "some text fields are empty strings, not null"
    );
    assert!(
        customers.iter().any(|c| c["Address2"] == "")
            && customers.iter().any(|c| c["Address2"] != "")
    );
    let blank = contacts.iter().filter(|c| c["CustomerNo"] == "").count();
    assert!(
        (10..100).contains(&blank),
        "~10% of contacts without customer: {blank}"
    );
    for c in &contacts {
        let customer = c["CustomerNo"].as_str().unwrap();
        assert!(customer.is_empty() || customer_nos.contains(customer));
        let relation = if customer.is_empty() {
            "None"
        } else {
            "Customer"
        };
        assert_eq!(c["ContactBusinessRelation"], relation);
        assert!(matches!(c["Type"].as_str().unwrap(), "Person" | "Company"));
    }

    // One global version counter: unique across entities, in generation order.
    let mut all = versions(&customers);
    all.extend(versions(&contacts));
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), 900);
    assert!(versions(&customers).windows(2).all(|w| w[0] < w[1]));
    assert!(versions(&customers).last() < versions(&contacts).first());
}

#[tokio::test]
async fn mutate_inserts_updates_and_deletes() {
    let env = common::start(common::config(200, 100, 9)).await;
    let before = env.sandbox.rows("RescoCustomer");
    let max_before = *versions(&before).iter().max().unwrap();

    let response = env
        .client
        .post(format!("{}/_sandbox/mutate", env.sandbox.base_url()))
        .json(
            &serde_json::json!({"entity": "RescoCustomer", "insert": 3, "update": 10, "delete": 4}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let first: MutateResponse = response.json().await.unwrap();
    assert_eq!(first.inserted, ["C000201", "C000202", "C000203"]);
    assert_eq!(first.updated.len(), 10);
    assert_eq!(first.deleted.len(), 4);
    let updated: BTreeSet<&String> = first.updated.iter().collect();
    assert_eq!(updated.len(), 10, "distinct");
    assert!(first.deleted.iter().all(|d| !updated.contains(d)));

    let after: Vec<Map<String, Value>> = env
        .client
        .get(format!(
            "{}/_sandbox/rows/RescoCustomer",
            env.sandbox.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after,
        env.sandbox.rows("RescoCustomer"),
        "control endpoint and library agree"
    );
    assert_eq!(after.len(), 200 + 3 - 4);
    let find = |rows: &[Map<String, Value>], no: &str| rows.iter().find(|r| r["No"] == no).cloned();
    for no in &first.deleted {
        assert!(find(&after, no).is_none(), "{no} deleted");
    }
    let mut last = max_before;
    for no in first.updated.iter().chain(&first.inserted) {
        let row = find(&after, no).unwrap();
        let version = row["RowVersionNumber"].as_i64().unwrap();
        assert!(version > last, "versions increase in write order");
        last = version;
        if let Some(old) = find(&before, no) {
            for field in ["Name", "Email", "City", "PhoneNo"] {
                assert_ne!(row[field], old[field], "{no}.{field} changed");
            }
            assert_eq!(row["id"], old["id"], "SystemId is stable");
            assert!(row["SystemModifiedAt"].as_str() > old["SystemModifiedAt"].as_str());
        }
    }

    let second = env
        .sandbox
        .mutate(MutateRequest {
            entity: "RescoCustomer".into(),
            insert: 1,
            update: 10,
            delete: 0,
        })
        .unwrap();
    assert_ne!(
        second.updated, first.updated,
        "successive calls pick different rows"
    );
    assert_eq!(second.inserted, ["C000204"]);

    let (status, body) = {
        let r = env
            .client
            .post(format!("{}/_sandbox/mutate", env.sandbox.base_url()))
            .json(&serde_json::json!({"entity": "Nope", "update": 1}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "BadRequest_NotFound");
    let r = env
        .client
        .get(format!("{}/_sandbox/rows/Nope", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_customers_keeps_contact_references_valid() {
    let env = common::start(common::config(50, 300, 9)).await;
    let deleted = env
        .sandbox
        .mutate(MutateRequest {
            entity: "RescoCustomer".into(),
            insert: 0,
            update: 0,
            delete: 25,
        })
        .unwrap();
    assert_eq!(deleted.deleted.len(), 25);
    let customers: BTreeSet<String> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_owned())
        .collect();
    let contacts = env.sandbox.rows("RescoContact");
    let mut blank = 0;
    for c in &contacts {
        let no = c["CustomerNo"].as_str().unwrap();
        assert!(no.is_empty() || customers.contains(no), "{no} dangling");
        blank += usize::from(no.is_empty());
        assert_eq!(
            c["ContactBusinessRelation"],
            if no.is_empty() { "None" } else { "Customer" }
        );
    }
    assert!(
        blank > 100,
        "about half the linked contacts lost their customer: {blank}"
    );

    // Inserted contacts reference existing customers too.
    let inserted = env
        .sandbox
        .mutate(MutateRequest {
            entity: "RescoContact".into(),
            insert: 50,
            update: 0,
            delete: 0,
        })
        .unwrap();
    let contacts = env.sandbox.rows("RescoContact");
    for no in &inserted.inserted {
        let c = contacts.iter().find(|r| r["No"] == no.as_str()).unwrap();
        let customer = c["CustomerNo"].as_str().unwrap();
        assert!(customer.is_empty() || customers.contains(customer));
    }
}
