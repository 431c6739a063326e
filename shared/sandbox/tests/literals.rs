//! `$filter` literals of every type OData defines, against entities that carry them: each result
//! is checked against the rows the sandbox holds.

mod common;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

type Row = Map<String, Value>;
/// A `$filter` and the predicate it must mean.
type Case = (&'static str, Box<dyn Fn(&Row) -> bool>);

/// Keys (`key` field) of the rows `$filter` returns on `entity`, via a full walk.
async fn filtered(env: &common::Env, entity: &str, filter: &str, key: &str) -> Vec<String> {
    let url = env.entity_url(entity, &format!("?$filter={filter}&$select={key}"));
    let (rows, _) = env.walk(&url, None).await;
    rows.iter().map(|r| r[key].to_string()).collect()
}

fn expected(rows: &[Row], key: &str, keep: impl Fn(&Row) -> bool) -> Vec<String> {
    rows.iter()
        .filter(|r| keep(r))
        .map(|r| r[key].to_string())
        .collect()
}

#[tokio::test]
async fn every_literal_type_filters_correctly() {
    let env = common::start(common::config(50, 10, 4)).await;
    let items = env.sandbox.rows("RescoItem");
    let cases: Vec<Case> = vec![
        (
            "unitPrice ge 100.25",
            Box::new(|r| r["unitPrice"].as_f64().unwrap() >= 100.25),
        ),
        (
            "inventory lt 10",
            Box::new(|r| r["inventory"].as_f64().unwrap() < 10.0),
        ),
        ("blocked eq true", Box::new(|r| r["blocked"] == true)),
        ("blocked", Box::new(|r| r["blocked"] == true)),
        (
            "not blocked and type eq 'Non-Inventory'",
            Box::new(|r| r["blocked"] == false && r["type"] == "Non-Inventory"),
        ),
        (
            "lastDateModified ge 2024-06-01",
            Box::new(|r| r["lastDateModified"].as_str().unwrap() >= "2024-06-01"),
        ),
        (
            "(unitCost gt 1000 or unitCost lt 5) and costingMethod ne 'FIFO'",
            Box::new(|r| {
                let c = r["unitCost"].as_f64().unwrap();
                !(5.0..=1000.0).contains(&c) && r["costingMethod"] != "FIFO"
            }),
        ),
    ];
    for (filter, keep) in cases {
        let want = expected(&items, "no", keep);
        assert!(
            !want.is_empty() || filter.contains("blocked"),
            "{filter} selects something"
        );
        assert_eq!(
            filtered(&env, "RescoItem", filter, "no").await,
            want,
            "{filter}"
        );
    }

    let lines = env.sandbox.rows("RescoServiceLineItem");
    let want = expected(&lines, "documentNo", |r| r["lineNo"] == 20000);
    assert_eq!(
        filtered(
            &env,
            "RescoServiceLineItem",
            "lineNo eq 20000",
            "documentNo"
        )
        .await,
        want
    );

    let customers = env.sandbox.rows("RescoCustomer");
    let some_id = customers[7]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filtered(&env, "RescoCustomer", &format!("id eq {some_id}"), "No").await,
        vec!["\"C000008\""]
    );
    let since = customers[20]["SystemModifiedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let want = expected(&customers, "No", |r| {
        r["SystemModifiedAt"].as_str().unwrap() > since.as_str()
    });
    assert_eq!(
        filtered(
            &env,
            "RescoCustomer",
            &format!("SystemModifiedAt gt {since}"),
            "No"
        )
        .await,
        want
    );
    assert_eq!(
        filtered(&env, "RescoCustomer", "SystemModifiedAt eq null", "No").await,
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(&env, "RescoCustomer", "SystemModifiedAt ne null", "No")
            .await
            .len(),
        50
    );
}

#[tokio::test]
async fn quotes_escape_and_plus_is_literal() {
    let env = common::start(common::config(3, 3, 1)).await;
    let response = env
        .client
        .post(env.entity_url("RescoCustomer", ""))
        .bearer_auth(&env.token)
        .json(&json!({"No": "Q1", "Name": "O'Brien + Sons"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let got = filtered(&env, "RescoCustomer", "Name eq 'O''Brien %2B Sons'", "No").await;
    assert_eq!(got, vec!["\"Q1\""]);
    let got = filtered(&env, "RescoCustomer", "contains(Name,'''Brien')", "No").await;
    assert_eq!(got, vec!["\"Q1\""]);
}

#[tokio::test]
async fn mistyped_literals_are_400() {
    let env = common::start(common::config(3, 3, 1)).await;
    for filter in [
        "unitPrice eq 'cheap'",
        "blocked eq 1",
        "lastDateModified gt 'yesterday'",
        "no eq 1000",
        "unitPrice gt 1.2.3",
    ] {
        let (code, message) = env
            .error(
                &env.entity_url("RescoItem", &format!("?$filter={filter}")),
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert!(code.starts_with("BadRequest"), "{filter}: {code} {message}");
    }
}
