mod common;

use std::collections::{BTreeMap, BTreeSet};

use ferry_sandbox::MutateRequest;
use reqwest::StatusCode;

#[tokio::test]
async fn full_walk_returns_every_row_once_with_absolute_next_links() {
    let env = common::start(common::config(1000, 50, 3)).await;
    let url = env.entity_url("RescoCustomer", "");
    let (status, headers, first) = env.get_paged(&url, Some(97)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["preference-applied"], "odata.maxpagesize=97");
    assert_eq!(first["value"].as_array().unwrap().len(), 97);
    let next = first["@odata.nextLink"].as_str().expect("nextLink");
    assert!(
        next.starts_with(&format!("{}/companies(", env.sandbox.resco_url())),
        "absolute: {next}"
    );
    assert!(next.contains("$skiptoken="));

    let (rows, pages) = env.walk(&url, Some(97)).await;
    assert_eq!(pages, 11); // ceil(1000 / 97)
    let walked = common::keys(&rows);
    let expected: Vec<String> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(walked, expected, "every row exactly once, in key order");

    // Without a Prefer header the page is 20,000 rows, so 1,000 rows come back in one page.
    let (status, headers, body) = env.get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("preference-applied").is_none());
    assert_eq!(body["value"].as_array().unwrap().len(), 1000);
    assert!(body.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn next_link_keeps_query_options_encoded_with_percent_20() {
    let env = common::start(common::config(300, 10, 3)).await;
    let url = env.entity_url(
        "RescoCustomer",
        "?$filter=State ne 'ZZ' and Email ne ''&$select=No,Email&$orderby=City desc,No",
    );
    let (status, _, body) = env.get_paged(&url, Some(10)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$filter=State%20ne%20'ZZ'%20and%20Email%20ne%20''"),
        "{next}"
    );
    assert!(
        next.contains("$orderby=City%20desc,No") && next.contains("$select=No,Email"),
        "{next}"
    );
    assert!(!next.contains('+') && !next.contains(' '), "{next}");

    // Walking a non-indexed order still yields every matching row once, in order.
    let (rows, _) = env.walk(&url, Some(10)).await;
    let mut expected: Vec<(String, String)> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["Email"] != "")
        .map(|r| {
            (
                r["City"].as_str().unwrap().to_owned(),
                r["No"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: Vec<String> = expected.into_iter().map(|(_, no)| no).collect();
    assert_eq!(common::keys(&rows), expected);
    assert!(
        rows.iter().all(|r| r.as_object().unwrap().len() == 3),
        "etag + No + Email only"
    );
}

#[tokio::test]
async fn top_is_respected_across_pages() {
    let env = common::start(common::config(500, 10, 3)).await;
    let url = env.entity_url("RescoCustomer", "?$top=250&$skip=10");
    let (status, _, first) = env.get_paged(&url, Some(100)).await;
    assert_eq!(status, StatusCode::OK);
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$top=150") && !next.contains("$skip="),
        "{next}"
    );
    let (rows, pages) = env.walk(&url, Some(100)).await;
    assert_eq!((rows.len(), pages), (250, 3));
    let all = env.sandbox.rows("RescoCustomer");
    let expected: Vec<String> = all[10..260]
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(common::keys(&rows), expected);

    // $top equal to the page size: no next link.
    let (_, _, body) = env
        .get_paged(&env.entity_url("RescoCustomer", "?$top=100"), Some(100))
        .await;
    assert!(
        body.get("@odata.nextLink").is_none(),
        "{}",
        body["@odata.nextLink"]
    );
}

#[tokio::test]
async fn page_size_above_20000_is_413() {
    let env = common::start(common::config(5, 5, 3)).await;
    let (status, _, body) = env
        .get_paged(&env.entity_url("RescoCustomer", ""), Some(20_001))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("20000"),
        "{body}"
    );
    let (status, _, _) = env
        .get_paged(&env.entity_url("RescoCustomer", ""), Some(20_000))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The delta query Ferry runs: rows changed between page requests move to the end (new version)
/// and are read again there; nothing is skipped and no (row, version) is read twice.
#[tokio::test]
async fn version_paging_stays_exactly_once_under_concurrent_updates() {
    let env = common::start(common::config(2000, 10, 5)).await;
    let before = env.sandbox.rows("RescoCustomer");
    let watermark = before
        .iter()
        .map(|r| r["RowVersionNumber"].as_i64().unwrap())
        .min()
        .unwrap()
        + 300;

    let mut next = Some(env.entity_url(
        "RescoCustomer",
        &format!("?$filter=RowVersionNumber gt {watermark}&$orderby=RowVersionNumber&$select=No,RowVersionNumber"),
    ));
    let mut seen: Vec<(String, i64)> = Vec::new();
    let mut updated_during_walk = BTreeSet::new();
    let mut inserted_during_walk = BTreeSet::new();
    while let Some(url) = next {
        let (status, _, body) = env.get_paged(&url, Some(150)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for row in body["value"].as_array().unwrap() {
            seen.push((
                row["No"].as_str().unwrap().to_owned(),
                row["RowVersionNumber"].as_i64().unwrap(),
            ));
        }
        next = body["@odata.nextLink"].as_str().map(str::to_owned);
        let changed = env
            .sandbox
            .mutate(MutateRequest {
                entity: "RescoCustomer".into(),
                insert: 3,
                update: 40,
                delete: 0,
            })
            .unwrap();
        updated_during_walk.extend(changed.updated);
        inserted_during_walk.extend(changed.inserted);
    }

    let versions: Vec<i64> = seen.iter().map(|(_, v)| *v).collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing versions, no duplicates"
    );
    assert!(versions.iter().all(|v| *v > watermark));

    // Every row whose current version is above the watermark was read with that version.
    let latest: BTreeMap<&str, i64> = seen.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let after = env.sandbox.rows("RescoCustomer");
    let mut checked = 0;
    for row in &after {
        let (no, version) = (
            row["No"].as_str().unwrap(),
            row["RowVersionNumber"].as_i64().unwrap(),
        );
        if version > watermark && version <= *versions.last().unwrap() {
            assert_eq!(
                latest.get(no),
                Some(&version),
                "{no} at version {version} was skipped"
            );
            checked += 1;
        }
    }
    assert!(checked > 1700, "{checked}");
    assert!(!updated_during_walk.is_empty() && !inserted_during_walk.is_empty());
    let reread = seen
        .iter()
        .filter(|(k, _)| updated_during_walk.contains(k))
        .count();
    assert!(
        reread > updated_during_walk.len() / 2,
        "updated rows show up again later"
    );
}
