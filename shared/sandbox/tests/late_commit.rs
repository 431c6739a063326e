//! Late commits (ARCHITECTURE.md, "Late commits"): a row version taken now, visible only after higher versions are.

mod common;

use ferry_sandbox::MutateRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn update(entity: &str, n: usize) -> MutateRequest {
    MutateRequest {
        entity: entity.into(),
        insert: 0,
        update: n,
        delete: 0,
    }
}

/// Keys and versions of rows with `RowVersionNumber gt after`.
async fn delta(env: &common::Env, after: i64) -> Vec<(String, i64)> {
    let url = env.entity_url(
        "RescoCustomer",
        &format!("?$filter=RowVersionNumber gt {after}&$orderby=RowVersionNumber&$select=No,RowVersionNumber"),
    );
    let (rows, _) = env.walk(&url, None).await;
    rows.iter()
        .map(|r| {
            (
                r["No"].as_str().unwrap().to_owned(),
                r["RowVersionNumber"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_reader_without_overlap_misses_a_late_commit() {
    let env = common::start(common::config(50, 5, 3)).await;
    let held = env
        .sandbox
        .mutate_held(MutateRequest {
            insert: 1,
            ..update("RescoCustomer", 1)
        })
        .unwrap();
    assert_eq!(held.versions.len(), 2);
    let late_keys: Vec<String> = held
        .response
        .updated
        .iter()
        .chain(&held.response.inserted)
        .cloned()
        .collect();
    let low = held.versions[0];

    // Rows written after the held ones are visible first, with higher versions.
    let later = env.sandbox.mutate(update("RescoCustomer", 2)).unwrap();
    let seen = delta(&env, low - 1).await;
    assert!(
        seen.iter().all(|(_, v)| *v > held.versions[1]),
        "held rows invisible: {seen:?}"
    );
    assert_eq!(seen.len(), later.updated.len());
    let watermark = seen.iter().map(|(_, v)| *v).max().unwrap();
    assert!(
        !env.sandbox
            .rows("RescoCustomer")
            .iter()
            .any(|r| r["No"] == held.response.inserted[0].as_str())
    );

    assert_eq!(env.sandbox.release(Some(held.hold_id)), vec![held.hold_id]);
    // Past the watermark: nothing new, although two rows just appeared.
    assert!(delta(&env, watermark).await.is_empty());
    // An overlap window below the watermark finds them with their original versions.
    let overlap = delta(&env, low - 1).await;
    // Versions were taken updates first, then inserts.
    for (key, version) in late_keys.iter().zip(&held.versions) {
        assert!(
            overlap.contains(&(key.clone(), *version)),
            "{key}@{version} in {overlap:?}"
        );
    }
    assert!(
        env.sandbox.release(Some(held.hold_id)).is_empty(),
        "releasing twice is harmless"
    );
}

#[tokio::test]
async fn hold_and_release_over_http() {
    let env = common::start(common::config(20, 5, 1)).await;
    let base = env.sandbox.base_url();
    let held: Value = env
        .client
        .post(format!("{base}/_sandbox/mutate"))
        .json(&json!({"entity": "RescoCustomer", "insert": 1, "hold": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = held["inserted"][0].as_str().unwrap().to_owned();
    let version = held["versions"][0].as_i64().unwrap();
    let single = env.entity_url(&format!("RescoCustomer('{key}')"), "");
    assert_eq!(
        env.get(&single).await.0,
        StatusCode::NOT_FOUND,
        "not committed yet"
    );

    let released: Value = env
        .client
        .post(format!("{base}/_sandbox/release"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released["released"], json!([held["hold_id"]]));
    let (status, _, row) = env.get(&single).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["RowVersionNumber"], version);
}

#[tokio::test]
async fn commit_delay_commits_on_its_own() {
    let env = common::start(common::config(20, 5, 1)).await;
    let held: Value = env
        .client
        .post(format!("{}/_sandbox/mutate", env.sandbox.base_url()))
        .json(&json!({"entity": "RescoCustomer", "insert": 1, "commit_delay_ms": 200}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = held["inserted"][0].as_str().unwrap().to_owned();
    let visible = || {
        env.sandbox
            .rows("RescoCustomer")
            .iter()
            .any(|r| r["No"] == key.as_str())
    };
    for _ in 0..200 {
        if visible() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the delayed commit never became visible");
}
