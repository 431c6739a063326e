//! `ferry preview`: per-record operations and a summary, and nothing written anywhere.

use ferry_shared::runs::Mode;
use ferry_shared::sync::{Op, PreviewOptions, preview};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{Backend, TestEnv};

/// Row counts of Ferry's own tables and whether the target exists: all must stay as they were.
async fn footprint(env: &TestEnv) -> Vec<i64> {
    let tables = match env.backend {
        Backend::Postgres => "pg_class WHERE relname = 'customer'",
        Backend::Sqlite => "sqlite_master WHERE type = 'table' AND name = 'customer'",
    };
    let sql = format!(
        "SELECT (SELECT count(*) FROM ferry_runs), (SELECT count(*) FROM ferry_checkpoints), \
         (SELECT count(*) FROM ferry_run_errors), (SELECT count(*) FROM ferry_deferred), \
         (SELECT count(*) FROM {tables})"
    );
    let row = env
        .db
        .query_one_raw(Statement::from_string(env.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    (0..5).map(|i| row.try_get_by_index(i).unwrap()).collect()
}

crate::on_both_backends!(
    #[tokio::test]
    preview_lists_inserts_and_writes_nothing
);
async fn preview_lists_inserts_and_writes_nothing(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 1).await;
    env.apply(&env.write_definitions("")).await;
    let before = footprint(&env).await;

    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["preview", "customers", "--limit", "20", "--json"])
        .envs(env.env_vars())
        .env("FERRY_TEST_BC_SECRET", "ferry-secret")
        .env("FERRY__LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let records = json["records"].as_array().unwrap();
    assert_eq!(records.len(), 20);
    assert!(records.iter().all(|r| r["op"] == "insert"), "{json}");
    assert_eq!(json["summary"]["insert"], 20);
    assert_eq!(json["summary"]["rows_read"], 20);
    let first_keys: Vec<&str> = records.iter().map(|r| r["key"].as_str().unwrap()).collect();
    let mut by_version = env.sandbox.rows("RescoCustomer");
    by_version.sort_by_key(|r| r["RowVersionNumber"].as_i64());
    let expected: Vec<&str> = by_version[..20]
        .iter()
        .map(|r| r["No"].as_str().unwrap())
        .collect();
    assert_eq!(
        first_keys, expected,
        "the first 20 records a run would read"
    );
    assert_eq!(
        footprint(&env).await,
        before,
        "no table, run, checkpoint or error"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    preview_shows_updates_with_before_and_after
);
async fn preview_shows_updates_with_before_and_after(backend: Backend) {
    let env = TestEnv::start_on(backend, 200, 1).await;
    env.apply(&env.write_definitions("")).await;
    env.run("customers", Mode::Incremental).await;
    let changed = env.mutate("RescoCustomer", 3, 10, 0);
    let before = footprint(&env).await;
    let target_before = env
        .table("customer", &["bc_no", "name", "email"], "bc_no")
        .await;

    let full = preview(
        &env.db,
        &env.credentials(),
        ferry_shared::odata::client::http_client(),
        50,
        "customers",
        PreviewOptions {
            limit: None,
            full: true,
        },
    )
    .await
    .unwrap();

    assert_eq!(full.summary.rows_read, 203);
    assert_eq!(
        (
            full.summary.insert,
            full.summary.update,
            full.summary.unchanged
        ),
        (3, 10, 190)
    );
    let updated: Vec<_> = full.records.iter().filter(|r| r.op == Op::Update).collect();
    for record in &updated {
        let changes = record.changes.as_ref().unwrap();
        assert!(changes.contains_key("row_version"), "{changes:?}");
        let change = &changes["row_version"];
        assert!(change.after.as_i64() > change.before.as_i64());
    }
    let mut updated_keys: Vec<String> = updated.iter().map(|r| r.key.clone()).collect();
    updated_keys.sort();
    let mut expected: Vec<String> = changed.updated.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(updated_keys, expected);

    // The delta preview reads only what changed, as the next incremental run would.
    let delta = preview(
        &env.db,
        &env.credentials(),
        ferry_shared::odata::client::http_client(),
        50,
        "customers",
        PreviewOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            delta.summary.insert,
            delta.summary.update,
            delta.summary.unchanged
        ),
        (3, 10, 0)
    );

    assert_eq!(footprint(&env).await, before);
    assert_eq!(
        env.table("customer", &["bc_no", "name", "email"], "bc_no")
            .await,
        target_before
    );
    env.finish().await;
}
