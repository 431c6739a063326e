//! `ferry preview`: per-record operations and a summary, and nothing written anywhere.

use ferry_sandbox::MutateRequest;
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
         (SELECT count(*) FROM {tables}), (SELECT count(*) FROM ferry_couplings)"
    );
    let row = env
        .db
        .query_one_raw(Statement::from_string(env.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    (0..6).map(|i| row.try_get_by_index(i).unwrap()).collect()
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
        .env("BC_SANDBOX_SECRET", "ferry-secret")
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
        &env.budgets(),
        ferry_shared::odata::client::http_client(),
        50,
        "customers",
        PreviewOptions {
            limit: None,
            full: true,
            reconcile: false,
            max_defer: None,
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
        &env.budgets(),
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

const OWNED: &str = r#"
[[integration]]
name = "owned"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "owned", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
deletes = { detect = "reconcile", max_share = 0.1 }

[[integration]]
name = "plain"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "plain", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
"#;

#[tokio::test]
async fn preview_lists_the_owned_rows_a_reconcile_would_delete_and_deletes_nothing() {
    let env = TestEnv::start(200, 1).await;
    env.apply(&env.write_definitions(OWNED)).await;
    env.run("owned", Mode::Incremental).await;
    env.run("plain", Mode::Incremental).await;
    // A row nobody coupled: not the integration's to delete, so never listed.
    env.db
        .execute_unprepared("INSERT INTO owned (no, name) VALUES ('LOCAL-1', 'by hand')")
        .await
        .unwrap();
    let gone = env.mutate("RescoCustomer", 0, 0, 5);
    let before = footprint(&env).await;
    let owned_before = env.table("owned", &["no", "name"], "no").await;

    let look = |name: &'static str, reconcile: bool| {
        let env = &env;
        async move {
            preview(
                &env.db,
                &env.credentials(),
                &env.budgets(),
                ferry_shared::odata::client::http_client(),
                50,
                name,
                PreviewOptions {
                    reconcile,
                    ..PreviewOptions::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let deleted_keys = |p: &ferry_shared::sync::Preview| {
        let mut keys: Vec<String> = p
            .records
            .iter()
            .filter(|r| r.op == Op::Delete)
            .map(|r| r.key.clone())
            .collect();
        keys.sort();
        keys
    };
    let mut expected = gone.deleted.clone();
    expected.sort();

    // `deletes` configured: listed without asking.
    let owned = look("owned", false).await;
    assert_eq!(deleted_keys(&owned), expected);
    assert_eq!(owned.summary.delete, 5);
    assert_eq!(owned.summary.delete_refused, None);
    // No `deletes` setting: listed only when asked, as `ferry run --reconcile` would delete them.
    assert_eq!(look("plain", false).await.summary.delete, 0);
    assert_eq!(deleted_keys(&look("plain", true).await), expected);

    // Past max_share (10%): still listed, with the reason the reconcile would refuse them.
    env.mutate("RescoCustomer", 0, 0, 30);
    let refused = look("owned", false).await;
    assert_eq!(refused.summary.delete, 35);
    let reason = refused.summary.delete_refused.clone().unwrap_or_default();
    assert!(reason.contains("would delete 35 of 200 rows"), "{reason}");

    // The command line says the same, as JSON.
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["preview", "plain", "--reconcile", "--json"])
        .envs(env.env_vars())
        .env("BC_SANDBOX_SECRET", "ferry-secret")
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
    assert_eq!(json["summary"]["delete"], 35, "{json}");
    assert!(json["summary"]["delete_refused"].is_string(), "{json}");
    let listed = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["op"] == "delete")
        .count();
    assert_eq!(listed, 35);

    assert_eq!(footprint(&env).await, before);
    assert_eq!(
        env.table("owned", &["no", "name"], "no").await,
        owned_before
    );
    env.finish().await;
}

/// The preview and the run after it agree record for record: the preview reads from where the run does
/// (the checkpoint less the overlap, so a late commit below the checkpoint is in both) and replays the
/// records parked by `defer` lookups first, as the run does.
#[tokio::test]
async fn preview_agrees_with_the_run_that_follows_it_overlap_and_parked_records_included() {
    let env = TestEnv::start(60, 120).await;
    let contacts = r#"
[[integration]]
name = "contacts"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber", overlap = 1000 }
target = { table = "contact", key = ["bc_no"], create = true }
fields = [{ from = "No", to = "bc_no" }, { from = "Name", to = "name" }, { from = "CustomerNo", to = "customer_no" }]
lookups = [
  { to = "customer_name", from = ["CustomerNo"], table = "customer", match = ["bc_no"], select = "name", missing = "defer" },
]
"#;
    env.apply(&env.write_definitions(contacts)).await;
    // The customer table holds half the customers; contacts of the others are parked.
    env.db
        .execute_unprepared("CREATE TABLE customer (bc_no text PRIMARY KEY, name text)")
        .await
        .unwrap();
    let customers = env.sandbox.rows("RescoCustomer");
    let insert = |rows: &[serde_json::Map<String, serde_json::Value>]| {
        let values: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "('{}', 'name of {}')",
                    r["No"].as_str().unwrap(),
                    r["No"].as_str().unwrap()
                )
            })
            .collect();
        format!(
            "INSERT INTO customer (bc_no, name) VALUES {}",
            values.join(", ")
        )
    };
    let (first_half, second_half) = customers.split_at(customers.len() / 2);
    env.db
        .execute_unprepared(&insert(first_half))
        .await
        .unwrap();
    let first = env.run("contacts", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    assert!(first.deferred > 0 && first.inserted > 0, "{first:?}");

    // A late commit below the checkpoint, then the other customers arrive.
    let request = |update| MutateRequest {
        entity: "RescoContact".into(),
        insert: 0,
        update,
        delete: 0,
    };
    let held = env.sandbox.mutate_held(request(5)).unwrap();
    env.sandbox.mutate(request(10)).unwrap();
    let meanwhile = env.run("contacts", Mode::Incremental).await;
    assert_eq!(meanwhile.status, "succeeded", "{:?}", meanwhile.error);
    env.sandbox.release(Some(held.hold_id));
    env.db
        .execute_unprepared(&insert(second_half))
        .await
        .unwrap();
    env.mutate("RescoContact", 2, 3, 0);

    let said = preview(
        &env.db,
        &env.credentials(),
        &env.budgets(),
        ferry_shared::odata::client::http_client(),
        50,
        "contacts",
        PreviewOptions::default(),
    )
    .await
    .unwrap()
    .summary;
    let run = env.run("contacts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert!(
        run.updated >= 5 + 3,
        "the late rows are in the run: {run:?}"
    );
    assert!(said.parked > 0 && said.read_from > 0, "{said:?}");
    assert_eq!(
        (
            said.rows_read as i64,
            said.insert as i64,
            said.update as i64,
            said.unchanged as i64,
            said.deferred as i64,
            said.error as i64,
            said.skipped as i64,
        ),
        (
            run.rows_read,
            run.inserted,
            run.updated,
            run.unchanged,
            run.deferred,
            run.failed,
            run.skipped,
        ),
        "preview {said:?} against run {run:?}"
    );
    env.finish().await;
}
