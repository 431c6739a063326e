//! Failed records: `ferry errors RUN_ID`, `ferry run --retry-failed`, and a fixed record clearing its
//! failure.

use ferry_shared::runs::{Mode, run_failures};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::TestEnv;
use crate::mapping::median_name_length;

const NARROW: &str = r#"
[[integration]]
name = "narrow"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "narrow", key = ["no"] }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
"#;

/// Names longer than `n` characters at the source.
fn longer_than(env: &TestEnv, n: usize) -> i64 {
    env.sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["Name"].as_str().unwrap_or_default().chars().count() > n)
        .count() as i64
}

/// Postgres only: records fail here on a `varchar` narrower than the names, which SQLite does not
/// enforce (Ferry adopts a table's widths on Postgres only, `mapping::adopt`), and the fix is an
/// `ALTER COLUMN … TYPE`, which SQLite does not have.
#[tokio::test]
async fn retry_failed_replays_only_failed_records_and_clears_fixed_ones() {
    let env = TestEnv::start(150, 1).await;
    // Widths around the median name length: some fail at the first, fewer at the second.
    let (first_width, second_width) = (median_name_length(&env) - 2, median_name_length(&env) + 1);
    env.db
        .execute_unprepared(&format!(
            "CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar({first_width}))"
        ))
        .await
        .unwrap();
    env.apply(&env.write_definitions(NARROW)).await;
    let (over_first, over_second) = (
        longer_than(&env, first_width),
        longer_than(&env, second_width),
    );
    assert!(
        over_first > over_second && over_second > 0,
        "{over_first} {over_second}"
    );

    let first = env.run("narrow", Mode::Incremental).await;
    assert_eq!(
        (first.status.as_str(), first.failed),
        ("partial", over_first)
    );

    // `ferry errors` lists each with its payload.
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["errors", &first.run_id.to_string(), "--json"])
        .envs(env.env_vars())
        .env("FERRY__LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.len() as i64, over_first);
    for failure in &listed {
        assert_eq!(failure["payload"]["No"], failure["record_key"]);
        let message = failure["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("maximum length {first_width}")),
            "{message}"
        );
        assert!(failure["resolved_at"].is_null());
        // The values mapped before the failing column: the key, not the name that did not fit.
        assert_eq!(
            failure["mapped"],
            serde_json::json!({ "no": failure["record_key"] }),
            "{failure}"
        );
    }

    // The table shows them too, under each failure.
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["errors", &first.run_id.to_string()])
        .envs(env.env_vars())
        .env("FERRY__LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    let key = listed[0]["record_key"].as_str().unwrap();
    assert!(table.contains(&format!("mapped: no=\"{key}\"")), "{table}");

    // Widen the column part of the way: only the failed records are re-read; some now fit.
    env.db
        .execute_unprepared(&format!(
            "ALTER TABLE narrow ALTER COLUMN name TYPE varchar({second_width})"
        ))
        .await
        .unwrap();
    let retry = env.run("narrow", Mode::RetryFailed).await;
    assert_eq!(retry.mode, "retry_failed");
    assert_eq!(
        retry.rows_read, over_first,
        "only the failed records are read"
    );
    assert_eq!(
        (retry.inserted, retry.failed),
        (over_first - over_second, over_second)
    );
    assert_eq!(retry.checkpoint_before, first.checkpoint_after);
    assert_eq!(retry.checkpoint_after, None, "no page moved the checkpoint");
    let resolved = run_failures(&env.db, first.run_id)
        .await
        .unwrap()
        .iter()
        .filter(|f| f.resolved_at.is_some())
        .count() as i64;
    assert_eq!(resolved, over_first - over_second);

    env.db
        .execute_unprepared("ALTER TABLE narrow ALTER COLUMN name TYPE text")
        .await
        .unwrap();
    let last = env.run("narrow", Mode::RetryFailed).await;
    assert_eq!(
        (last.status.as_str(), last.rows_read, last.inserted),
        ("succeeded", over_second, over_second)
    );
    let open = run_failures(&env.db, retry.run_id)
        .await
        .unwrap()
        .iter()
        .filter(|f| f.resolved_at.is_none())
        .count();
    assert_eq!(open, 0);
    let nothing = env.run("narrow", Mode::RetryFailed).await;
    assert_eq!((nothing.rows_read, nothing.inserted), (0, 0));
    assert_eq!(env.table("narrow", &["no"], "no").await.len(), 150);
    env.finish().await;
}

/// Postgres only: records fail here on a `varchar` narrower than the names, which SQLite does not
/// enforce (Ferry adopts a table's widths on Postgres only, `mapping::adopt`), and the fix is an
/// `ALTER COLUMN … TYPE`, which SQLite does not have.
#[tokio::test]
async fn an_incremental_run_that_writes_a_failed_record_clears_its_failure() {
    let env = TestEnv::start(60, 1).await;
    env.db
        .execute_unprepared(&format!(
            "CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar({}))",
            median_name_length(&env)
        ))
        .await
        .unwrap();
    env.apply(&env.write_definitions(NARROW)).await;
    let first = env.run("narrow", Mode::Incremental).await;
    assert!(first.failed > 0);
    env.db
        .execute_unprepared("ALTER TABLE narrow ALTER COLUMN name TYPE text")
        .await
        .unwrap();

    let full = env.run("narrow", Mode::Full).await;

    assert_eq!(
        (full.status.as_str(), full.inserted),
        ("succeeded", first.failed)
    );
    let failures = run_failures(&env.db, first.run_id).await.unwrap();
    assert!(failures.iter().all(|f| f.resolved_at.is_some()));
    env.finish().await;
}
