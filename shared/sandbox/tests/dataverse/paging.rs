//! Paging ("Page results"): a next link with an opaque, already-encoded `$skiptoken` paging
//! cookie, rows in SQL Server's GUID order, `$skip` refused, `$top` winning over maxpagesize.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::env::{self, config, rows, sql_guid_key};

#[tokio::test]
async fn the_paging_cookie_returns_every_row_once_in_sql_server_guid_order() {
    let env = env::start(config(1234, 0)).await;
    let prefer = ["odata.maxpagesize=100"];
    let first = env.get(&env.url("accounts?$select=name"), &prefer).await;
    assert_eq!(first.headers["preference-applied"], "odata.maxpagesize=100");
    let next = first.json["@odata.nextLink"]
        .as_str()
        .expect("a next link")
        .to_owned();
    assert!(
        next.contains("$skiptoken=%3Ccookie%20pagenumber%3D%222%22"),
        "{next}"
    );
    assert!(
        next.contains("%253C"),
        "the inner cookie is encoded twice: {next}"
    );
    assert!(!next.contains("$skip="), "{next}");
    assert!(next.contains("$select=name"), "{next}");

    let pages = env.pages(&env.url("accounts?$select=name"), &prefer).await;
    assert_eq!(pages.len(), 13);
    assert!(
        pages.iter().all(|p| p.get("@odata.deltaLink").is_none()),
        "not tracking"
    );
    let ids: Vec<String> = rows(&pages)
        .iter()
        .map(|r| r["accountid"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicates");
    let stored: BTreeSet<String> = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| r["accountid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        stored,
        "no gaps"
    );
    let keys: Vec<Vec<u8>> = ids.iter().map(|id| sql_guid_key(id)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "SQL Server's GUID order"
    );
    let mut text_order = ids.clone();
    text_order.sort();
    assert_ne!(ids, text_order, "not the GUIDs' text order");
}

#[tokio::test]
async fn a_re_encoded_skiptoken_and_skip_are_refused() {
    let env = env::start(config(30, 0)).await;
    let first = env
        .get(&env.url("accounts"), &["odata.maxpagesize=10"])
        .await;
    let next = first.json["@odata.nextLink"].as_str().unwrap();
    let (base, token) = next.split_once("$skiptoken=").unwrap();
    let twice = format!("{base}$skiptoken={}", token.replace('%', "%25"));
    let (code, _) = env
        .error(&twice, &["odata.maxpagesize=10"], StatusCode::BAD_REQUEST)
        .await;
    assert!(code.starts_with("0x"), "{code}");
    let (code, message) = env
        .error(&env.url("accounts?$skip=10"), &[], StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(code, "0x80060888");
    assert!(message.contains("$skip"), "{message}");
}

#[tokio::test]
async fn top_wins_over_maxpagesize_and_pages_stop_at_5000() {
    let env = env::start(config(5100, 0)).await;
    let reply = env
        .get(&env.url("accounts?$top=250"), &["odata.maxpagesize=100"])
        .await;
    assert_eq!(reply.json["value"].as_array().unwrap().len(), 250);
    assert!(
        reply.json.get("@odata.nextLink").is_none(),
        "$top: no next link"
    );
    let reply = env
        .get(
            &env.url("accounts?$select=name"),
            &["odata.maxpagesize=9000"],
        )
        .await;
    assert_eq!(reply.json["value"].as_array().unwrap().len(), 5000);
    assert_eq!(
        reply.headers["preference-applied"],
        "odata.maxpagesize=5000"
    );
    assert!(reply.json["@odata.nextLink"].is_string());
    let reply = env.get(&env.url("accounts?$select=name"), &[]).await;
    assert_eq!(
        reply.json["value"].as_array().unwrap().len(),
        5000,
        "the default page"
    );
}

#[tokio::test]
async fn orderby_pages_by_the_cookie_too() {
    let env = env::start(config(50, 0)).await;
    let pages = env
        .pages(
            &env.url("accounts?$select=name&$orderby=name desc"),
            &["odata.maxpagesize=7"],
        )
        .await;
    assert_eq!(pages.len(), 8);
    let all = rows(&pages);
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|r| r["accountid"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 50);
    let names: Vec<String> = all
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "{names:?}");
}
