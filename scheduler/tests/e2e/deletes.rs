//! Delete detection by key-set reconciliation: `ferry run NAME --reconcile`, bounded by `max_share`, on
//! both backends.

use ferry_shared::runs::Mode;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

crate::on_both_backends!(
    #[tokio::test]
    reconcile_deletes_vanished_rows_and_refuses_past_max_share
);
async fn reconcile_deletes_vanished_rows_and_refuses_past_max_share(backend: Backend) {
    let env = TestEnv::start_on(backend, 5_000, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  { to = \"origin\", value = \"bc\" },\n]",
        "  { to = \"origin\", value = \"bc\" },\n]\ndeletes = { detect = \"reconcile\", every = \"1h\", max_share = 0.1 }",
    );
    assert!(text.contains("max_share"));
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, 5_000);

    let gone = env.mutate("RescoCustomer", 0, 0, 50);
    assert_eq!(gone.deleted.len(), 50);
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["run", "customers", "--reconcile", "--wait", "--json"])
        .envs(env.env_vars())
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
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["deleted"], 50, "{summary}");
    assert_eq!(summary["mode"], "reconcile");
    assert_eq!(
        summary["rows_read"], 5_000,
        "the 4,950 keys read and the 50 vanished couplings compared"
    );
    assert_customers_equal_source(&env).await;

    // 1,000 more of 4,950 (20%) is past max_share 10%: the run fails and deletes nothing.
    env.mutate("RescoCustomer", 0, 0, 1_000);
    let refused = env.run("customers", Mode::Reconcile).await;
    assert_eq!(refused.status, "failed");
    assert_eq!(refused.deleted, 0);
    let error = refused.error.unwrap_or_default();
    assert!(
        error.contains("would delete 1000 of 4950 rows") && error.contains("nothing was deleted"),
        "{error}"
    );
    assert_eq!(
        env.table("customer", &["bc_no"], "bc_no").await.len(),
        4_950
    );
    // Nor did it forget any coupling: the rows are still the integration's to reconcile later.
    let coupled = env
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM ferry_couplings WHERE integration = 'customers'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(coupled, 4_950);
    // Neither reconcile left its staged key set behind.
    for table in ["ferry_key_scans", "ferry_scanned_keys"] {
        let left = env
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT count(*) FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    reconcile_respects_the_filter_and_keeps_rows_still_at_the_source
);
async fn reconcile_respects_the_filter_and_keeps_rows_still_at_the_source(backend: Backend) {
    let env = TestEnv::start_on(backend, 400, 1).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "salt"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "City ne 'Salt Lake City'" }
target = { table = "salt", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
deletes = { detect = "reconcile", max_share = 0.5 }
"#,
    ))
    .await;
    let run = env.run("salt", Mode::Incremental).await;
    let quiet = env.run("salt", Mode::Reconcile).await;
    assert_eq!((quiet.status.as_str(), quiet.deleted), ("succeeded", 0));
    assert_eq!(quiet.rows_read, run.inserted);

    env.mutate("RescoCustomer", 0, 0, 7);
    let after = env.run("salt", Mode::Reconcile).await;
    let expected: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["City"] != "Salt Lake City")
        .map(|r| vec![r["No"].as_str().map(str::to_string)])
        .collect();
    assert_eq!(after.deleted, run.inserted - expected.len() as i64);
    assert_eq!(env.table("salt", &["no"], "no").await, expected);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    an_incremental_run_reconciles_once_every_has_passed
);
async fn an_incremental_run_reconciles_once_every_has_passed(backend: Backend) {
    let env = TestEnv::start_on(backend, 200, 1).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "kept"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "kept", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
deletes = { detect = "reconcile", every = "1h" }
"#,
    ))
    .await;
    // The first run reconciles (none before): nothing to delete, and the time is noted.
    let first = env.run("kept", Mode::Incremental).await;
    assert_eq!(
        (first.status.as_str(), first.inserted, first.deleted),
        ("succeeded", 200, 0)
    );
    assert_eq!(first.rows_read, 400, "the delta, then the key set");

    env.mutate("RescoCustomer", 0, 0, 4);
    let within = env.run("kept", Mode::Incremental).await;
    assert_eq!(
        (within.deleted, within.rows_read),
        (0, 0),
        "an hour has not passed"
    );

    // Pretend the last reconcile was two hours ago, instead of waiting for it.
    let two_hours_earlier = match env.backend {
        Backend::Postgres => "reconciled_at - interval '2 hours'",
        Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%f+00:00', reconciled_at, '-2 hours')",
    };
    env.db
        .execute_unprepared(&format!(
            "UPDATE ferry_reconciles SET reconciled_at = {two_hours_earlier}"
        ))
        .await
        .unwrap();
    let due = env.run("kept", Mode::Incremental).await;
    assert_eq!((due.status.as_str(), due.deleted), ("succeeded", 4));
    assert_eq!(env.table("kept", &["no"], "no").await.len(), 196);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_flag_marks_vanished_rows_instead_of_deleting_them
);
async fn a_flag_marks_vanished_rows_instead_of_deleting_them(backend: Backend) {
    let env = TestEnv::start_on(backend, 200, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  { to = \"origin\", value = \"bc\" },\n]",
        "  { to = \"origin\", value = \"bc\" },\n]\ndeletes = { detect = \"reconcile\", max_share = 0.5, flag = \"deleted_at\" }",
    );
    assert!(text.contains("flag = "));
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    assert_eq!(env.run("customers", Mode::Incremental).await.inserted, 200);

    let gone = env.mutate("RescoCustomer", 0, 0, 7);
    let run = env.run("customers", Mode::Reconcile).await;
    assert_eq!(
        (run.status.as_str(), run.deleted),
        ("succeeded", 7),
        "{:?}",
        run.error
    );
    let flagged = || async {
        env.table(
            "customer",
            &[
                "bc_no",
                "CASE WHEN deleted_at IS NULL THEN 'live' ELSE 'flagged' END",
            ],
            "bc_no",
        )
        .await
        .into_iter()
        .filter(|row| row[1].as_deref() == Some("flagged"))
        .map(|row| row[0].clone().unwrap())
        .collect::<Vec<String>>()
    };
    let mut expected = gone.deleted.clone();
    expected.sort();
    assert_eq!(flagged().await, expected, "exactly the vanished rows");
    assert_eq!(
        env.table("customer", &["bc_no"], "bc_no").await.len(),
        200,
        "nothing was deleted"
    );

    // Writing other rows leaves the flags alone, and flagged rows are no longer reconciled.
    env.mutate("RescoCustomer", 0, 10, 0);
    let delta = env.run("customers", Mode::Incremental).await;
    assert_eq!(delta.updated, 10);
    assert_eq!(env.run("customers", Mode::Reconcile).await.deleted, 0);
    assert_eq!(flagged().await, expected);
    env.finish().await;
}
