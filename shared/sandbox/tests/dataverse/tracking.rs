//! Change tracking ("Use change tracking to synchronize data with external systems").

use std::collections::BTreeSet;

use ferry_sandbox::MutateRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::env::{self, Env, config, rows};

const TRACK: &str = "odata.track-changes";

/// A full tracked read; returns its rows and the delta link of the last page.
async fn full_read(env: &Env, page: usize) -> (Vec<Value>, String) {
    let size = format!("odata.maxpagesize={page}");
    let pages = env
        .pages(&env.url("accounts?$select=name"), &[TRACK, &size])
        .await;
    let (last, rest) = pages.split_last().unwrap();
    assert!(
        rest.iter().all(|p| p.get("@odata.deltaLink").is_none()),
        "only the last page"
    );
    let link = last["@odata.deltaLink"]
        .as_str()
        .expect("a delta link")
        .to_owned();
    (rows(&pages), link)
}

#[tokio::test]
async fn the_delta_link_returns_changes_then_deletes_in_the_documented_shape() {
    let env = env::start(config(25, 0)).await;
    let (all, link) = full_read(&env, 10).await;
    assert_eq!(all.len(), 25);
    assert!(
        link.contains("$select=name") && link.contains("$deltatoken="),
        "{link}"
    );

    let changed = env
        .sandbox
        .mutate(MutateRequest {
            entity: "account".into(),
            insert: 2,
            update: 3,
            delete: 2,
        })
        .unwrap();
    let reply = env.get(&link, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let context = reply.json["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("$metadata#accounts(name)/$delta"),
        "{context}"
    );
    let value = reply.json["value"].as_array().unwrap();
    assert_eq!(value.len(), 7, "{}", reply.text);
    let (upserts, deletes) = value.split_at(5);
    let upserted: BTreeSet<&str> = upserts
        .iter()
        .map(|r| r["accountid"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = changed
        .inserted
        .iter()
        .chain(&changed.updated)
        .map(String::as_str)
        .collect();
    assert_eq!(upserted, expected);
    for row in upserts {
        assert!(row["@odata.etag"].as_str().unwrap().starts_with("W/\""));
        assert!(row["name"].is_string());
        assert!(row.get("emailaddress1").is_none(), "the same $select");
    }
    let root = env.sandbox.dataverse_url();
    let mut deleted: Vec<&str> = Vec::new();
    for row in deletes {
        let id = row["id"].as_str().unwrap();
        assert_eq!(
            row,
            &json!({
                "@odata.context": format!("{root}$metadata#accounts/$deletedEntity"),
                "id": id,
                "reason": "deleted"
            })
        );
        deleted.push(id);
    }
    deleted.sort_unstable();
    let mut expected: Vec<&str> = changed.deleted.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(deleted, expected);
    assert!(reply.json.get("@odata.nextLink").is_none());

    // Nothing changed since: an empty delta, and again a link.
    let link = reply.json["@odata.deltaLink"].as_str().unwrap();
    let reply = env.get(link, &[]).await;
    assert_eq!(reply.json["value"], json!([]));
    assert!(reply.json["@odata.deltaLink"].is_string());
}

#[tokio::test]
async fn a_delta_pages_like_a_read_and_deletes_come_last() {
    let env = env::start(config(20, 0)).await;
    let (_, link) = full_read(&env, 50).await;
    env.sandbox
        .mutate(MutateRequest {
            entity: "account".into(),
            insert: 0,
            update: 4,
            delete: 4,
        })
        .unwrap();
    let pages = env.pages(&link, &["odata.maxpagesize=3"]).await;
    assert_eq!(pages.len(), 3);
    assert!(
        pages[..2]
            .iter()
            .all(|p| p.get("@odata.deltaLink").is_none())
    );
    assert!(pages[2]["@odata.deltaLink"].is_string());
    let all = rows(&pages);
    let kinds: Vec<bool> = all.iter().map(|r| r.get("reason").is_some()).collect();
    assert_eq!(kinds, [false, false, false, false, true, true, true, true]);
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|r| r["accountid"].as_str().or(r["id"].as_str()).unwrap())
        .collect();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn filter_orderby_top_and_expand_are_refused_with_tracking() {
    let env = env::start(config(3, 0)).await;
    for query in [
        "$filter=name eq 'x'",
        "$orderby=name",
        "$top=5",
        "$expand=x",
    ] {
        let (code, message) = env
            .error(
                &env.url(&format!("accounts?{query}")),
                &[TRACK],
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert!(code.starts_with("0x"), "{query}: {code}");
        let option = query.split('=').next().unwrap();
        assert!(message.contains(option), "{query}: {message}");
    }
}

#[tokio::test]
async fn an_expired_token_asks_for_a_full_sync() {
    let env = env::start(config(5, 0)).await;
    let (_, link) = full_read(&env, 10).await;
    assert_eq!(env.get(&link, &[]).await.status, StatusCode::OK);

    // Older than the retention period (7 days): a token issued 8 days ago.
    let (base, token) = link.split_once("$deltatoken=").unwrap();
    let version = token.split('!').next().unwrap();
    let old = (chrono::Utc::now() - chrono::Duration::days(8)).format("%m/%d/%Y %H:%M:%S");
    let aged = format!(
        "{base}$deltatoken={version}!{}",
        old.to_string().replace(' ', "%20")
    );
    let (code, message) = env.error(&aged, &[], StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "0x80044352");
    assert!(message.contains("full sync"), "{message}");

    // Expired on demand.
    let (status, _) = env.control("dataverse/expire_tokens", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (code, _) = env.error(&link, &[], StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "0x80044352");
    // A new full read gives a token that works.
    let (_, fresh) = full_read(&env, 10).await;
    assert_eq!(env.get(&fresh, &[]).await.status, StatusCode::OK);
}
