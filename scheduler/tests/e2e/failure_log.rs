//! The failure log says what is still owed: a bad record read again unchanged is not logged twice, and
//! a record written later in the run that first failed it ends resolved.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::{self, Mode};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::TestEnv;
use crate::mapping::median_name_length;

/// `narrow` with a source `overlap` that re-reads every row on each incremental run.
const NARROW_OVERLAP: &str = r#"
[[integration]]
name = "narrow"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", overlap = 100000000 }
target = { table = "narrow", key = ["no"] }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
"#;

async fn narrow_table(env: &TestEnv, width: usize) {
    env.db
        .execute_unprepared(&format!(
            "CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar({width}))"
        ))
        .await
        .unwrap();
}

/// Keys of `narrow` whose failure is open.
async fn open_keys(env: &TestEnv) -> Vec<String> {
    let rows = env
        .db
        .query_all_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT DISTINCT record_key FROM ferry_run_errors \
             WHERE integration = 'narrow' AND resolved_at IS NULL ORDER BY record_key",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect()
}

/// Keys of source customers whose name is longer than `width`, sorted.
fn too_long(env: &TestEnv, width: usize) -> Vec<String> {
    let mut keys: Vec<String> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["Name"].as_str().unwrap_or_default().chars().count() > width)
        .map(|r| r["No"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn an_unchanged_bad_record_read_again_is_not_logged_again() {
    let env = TestEnv::start(150, 1).await;
    let width = median_name_length(&env);
    narrow_table(&env, width).await;
    env.apply(&env.write_definitions(NARROW_OVERLAP)).await;
    let bad = too_long(&env, width).len() as i64;
    assert!(bad > 0);

    let first = env.run("narrow", Mode::Incremental).await;
    assert_eq!((first.status.as_str(), first.failed), ("partial", bad));

    // Nothing changed at the source: the overlap reads every row again, the bad ones included.
    let second = env.run("narrow", Mode::Incremental).await;
    assert_eq!(second.rows_read, 150, "the overlap re-read everything");
    assert_eq!(
        (second.status.as_str(), second.failed, second.unchanged),
        ("succeeded", 0, 150),
        "an open failure read again unchanged is not a new failure"
    );
    let logged = env
        .db
        .query_one_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT count(*) FROM ferry_run_errors WHERE integration = 'narrow'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(logged, bad, "each failure is logged once");
    assert_eq!(open_keys(&env).await, too_long(&env, width));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_failed_earlier_in_the_run_and_was_written_later_ends_resolved() {
    let mut env = TestEnv::without_worker(2_000, 1).await;
    env.settings.worker.page_size = 200;
    // Pages in version order, so a row changed while the run pages comes again later in the same run
    // (a first load in key order leaves rows it passed to the next delta).
    env.settings.worker.scan_in_key_order = false;
    let width = median_name_length(&env);
    narrow_table(&env, width).await;
    env.apply(&env.write_definitions(NARROW_OVERLAP)).await;
    env.control(
        "/_sandbox/faults",
        serde_json::json!({ "route": "*/RescoCustomer*", "latency_ms": 200, "rate": 1.0 }),
    )
    .await;
    let run_id = cli::trigger(&env.db, &env.settings, "narrow", Mode::Incremental)
        .await
        .unwrap();
    env.start_worker();
    for _ in 0..600 {
        let run = runs::get(&env.db, run_id).await.unwrap().unwrap();
        if run.failed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every row changes while the run pages: each comes again, later in the same run, with a new name
    // that may now fit.
    env.mutate("RescoCustomer", 0, 2_000, 0);
    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(run.status, "partial");
    assert_eq!(
        open_keys(&env).await,
        too_long(&env, width),
        "exactly the records whose last version does not fit are still open"
    );
    env.finish().await;
}
