//! The Resco pages beyond customers and contacts: casing quirks, types, enums, composite keys,
//! references, sizes, and `$metadata` that matches the payloads.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ferry_sandbox::SandboxConfig;
use reqwest::StatusCode;
use serde_json::Value;

const RESCO: &[&str] = &[
    "RescoCustomer",
    "RescoContact",
    "RescoUnitOfMeasure",
    "RescoItem",
    "RescoResource",
    "RescoServiceOrder",
    "RescoServiceItemLine",
    "RescoServiceLineItem",
];

fn small() -> SandboxConfig {
    let sizes = [
        ("RescoItem", 40),
        ("RescoServiceOrder", 10),
        ("RescoServiceLineItem", 30),
    ];
    SandboxConfig {
        sizes: sizes.iter().map(|(e, n)| ((*e).to_owned(), *n)).collect(),
        ..common::config(20, 20, 5)
    }
}

async fn metadata(env: &common::Env) -> String {
    let response = env
        .client
        .get(format!("{}/$metadata", env.sandbox.resco_url()))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Property name → the rest of its `<Property …/>` element, for one entity type.
fn properties(doc: &str, entity: &str) -> BTreeMap<String, String> {
    let start = doc
        .find(&format!(r#"<EntityType Name="{entity}">"#))
        .unwrap();
    let end = start + doc[start..].find("</EntityType>").unwrap();
    doc[start..end]
        .split("<Property Name=\"")
        .skip(1)
        .map(|p| {
            let (name, rest) = p.split_once('"').unwrap();
            (name.to_owned(), rest[..rest.find("/>").unwrap()].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn every_page_is_served_and_matches_its_metadata() {
    let env = common::start(small()).await;
    let doc = metadata(&env).await;
    for entity in RESCO {
        let props = properties(&doc, entity);
        let (status, _, page) = env.get(&env.entity_url(entity, "?$top=3")).await;
        assert_eq!(status, StatusCode::OK, "{entity}: {page}");
        let row = page["value"][0]
            .as_object()
            .unwrap_or_else(|| panic!("{entity} has rows"));
        let got: BTreeSet<&str> = row
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        let declared: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(got, declared, "{entity}: payload and $metadata agree");
        assert!(row["@odata.etag"].as_str().unwrap().starts_with("W/\""));
        for (name, value) in row {
            if !props
                .get(name)
                .is_some_and(|p| p.contains(r#"Nullable="false""#))
            {
                continue;
            }
            assert!(!value.is_null(), "{entity}.{name} is declared non-nullable");
        }
    }
}

#[tokio::test]
async fn casing_quirks_and_types() {
    let env = common::start(small()).await;
    let doc = metadata(&env).await;
    for (entity, version) in [
        ("RescoCustomer", "RowVersionNumber"),
        ("RescoContact", "RowVersionNumber"),
        ("RescoServiceOrder", "RowVersionNumber"),
        ("RescoItem", "rowVersionNumber"),
        ("RescoResource", "rowVersionNumber"),
        ("RescoServiceItemLine", "rowVersionNumber"),
        ("RescoServiceLineItem", "rowVersionNumber"),
        ("RescoUnitOfMeasure", "rowVersionNumber"),
    ] {
        let props = properties(&doc, entity);
        assert!(
            props[version].contains(r#"Type="Edm.Int64""#),
            "{entity}.{version}"
        );
        let other = if version.starts_with('R') {
            "rowVersionNumber"
        } else {
            "RowVersionNumber"
        };
        assert!(!props.contains_key(other), "{entity} has no {other}");
    }
    let item = properties(&doc, "RescoItem");
    assert!(item.len() >= 25, "a realistic subset: {}", item.len());
    assert!(
        item["unitPrice"].contains(r#"Type="Edm.Decimal""#)
            && item["unitPrice"].contains(r#"Scale="Variable""#)
    );
    assert!(item["lastDateModified"].contains(r#"Type="Edm.Date""#));
    assert!(item["no"].contains(r#"MaxLength="20""#));
    assert!(item["type"].contains(r#"Type="Microsoft.NAV.itemType""#));
    assert!(doc.contains(r#"<EnumType Name="itemType"><Member Name="Inventory" Value="0"/>"#));
    assert!(item["systemModifiedAt"].contains("Edm.DateTimeOffset"));
    assert!(item["id"].contains("Edm.Guid"));

    let (status, _, page) = env
        .get(&env.entity_url(
            "RescoItem",
            "?$filter=unitPrice gt 10.5 and type eq 'Inventory'&$select=no,unitPrice,type",
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let rows = page["value"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(
            r["unitPrice"].as_f64().unwrap() > 10.5 && r["type"] == "Inventory",
            "{r}"
        );
    }
}

#[tokio::test]
async fn service_lines_reference_their_orders_by_composite_key() {
    let env = common::start(small()).await;
    let orders: BTreeSet<String> = env
        .sandbox
        .rows("RescoServiceOrder")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orders.len(), 10);
    let lines = env.sandbox.rows("RescoServiceLineItem");
    assert_eq!(lines.len(), 30);
    for line in &lines {
        assert_eq!(line["documentType"], "Order");
        assert!(
            orders.contains(line["documentNo"].as_str().unwrap()),
            "{line:?}"
        );
    }
    let first = &lines[0];
    let (doc_no, line_no) = (
        first["documentNo"].as_str().unwrap(),
        first["lineNo"].as_i64().unwrap(),
    );
    for key in [
        format!("(documentType='Order',documentNo='{doc_no}',lineNo={line_no})"),
        format!("(lineNo={line_no},documentNo='{doc_no}',documentType='Order')"),
        format!("('Order','{doc_no}',{line_no})"),
    ] {
        let (status, _, row) = env
            .get(&env.entity_url(&format!("RescoServiceLineItem{key}"), ""))
            .await;
        assert_eq!(status, StatusCode::OK, "{key}: {row}");
        assert_eq!(
            (row["documentNo"].as_str(), row["lineNo"].as_i64()),
            (Some(doc_no), Some(line_no))
        );
    }
    let (code, _) = env
        .error(
            &env.entity_url(&format!("RescoServiceLineItem('Order','{doc_no}')"), ""),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(code, "BadRequest");
    env.error(
        &env.entity_url(
            &format!("RescoServiceLineItem('Order','{doc_no}',99990000)"),
            "",
        ),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn same_seed_same_data_and_sizes_from_config() {
    let a = common::start(small()).await;
    let b = common::start(small()).await;
    for entity in RESCO {
        let strip = |rows: Vec<serde_json::Map<String, Value>>| {
            rows.into_iter()
                .map(|mut r| {
                    r.remove("SystemModifiedAt");
                    r.remove("systemModifiedAt");
                    r
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(a.sandbox.rows(entity)),
            strip(b.sandbox.rows(entity)),
            "{entity}"
        );
    }
    assert_eq!(a.sandbox.rows("RescoItem").len(), 40);
    assert_eq!(
        a.sandbox.rows("RescoUnitOfMeasure").len(),
        12,
        "default size"
    );
    // Mutations work on every page, composite keys included.
    for entity in RESCO {
        let done = a
            .sandbox
            .mutate(ferry_sandbox::MutateRequest {
                entity: (*entity).into(),
                insert: 1,
                update: 2,
                delete: 1,
            })
            .unwrap();
        assert_eq!(
            (done.inserted.len(), done.updated.len(), done.deleted.len()),
            (1, 2, 1),
            "{entity}"
        );
    }
}
