//! `--retry-failed` at scale, through the real `ferry-worker` binary: 10,000 records fail (a lookup
//! their rows cannot satisfy yet), their runs age past retention, the cause is fixed, and one replay
//! writes every one of them — with the worker's peak resident memory under 100 MB, since open
//! failures are read a page at a time (invariant 5).

use std::time::Duration;

use ferry_shared::runs::{self, Mode};
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestEnv};
use crate::retention::{age_runs, create_known, know};
use crate::worker_binary::{ferry_worker, peak_rss_mb};

const FAILING: usize = 10_000;

/// The customer integration of ARCHITECTURE.md, "The definition format" (every field, so each failure keeps a full payload) with a
/// lookup that fails until `known` holds the customer.
const LOOKUP: &str = r#"lookups = [{ to = "label", from = ["No"], table = "known", match = ["no"], select = "label", missing = "fail" }]"#;

#[tokio::test]
async fn ten_thousand_open_failures_survive_retention_and_replay_in_bounded_memory() {
    let mut env = TestEnv::start_on(Backend::Postgres, FAILING, 1).await;
    create_known(&env).await;
    env.apply(&env.write_definitions(LOOKUP)).await;
    let failed = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (failed.status.as_str(), failed.failed),
        ("partial", FAILING as i64)
    );
    env.stop_worker().await;

    age_runs(&env).await;
    runs::prune(&env.db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    let open = open_failures(&env).await;
    assert_eq!(open, FAILING as i64, "retention kept every open failure");

    let keys: Vec<String> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_string())
        .collect();
    know(&env, &keys).await;
    let mut worker = tokio::process::Command::new(ferry_worker())
        .envs(env.env_vars())
        .env("BC_SANDBOX_SECRET", "ferry-secret")
        .env("FERRY__LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("ferry-worker starts");
    let pid = worker.id().expect("a running worker");
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::RetryFailed)
            .await
            .unwrap();
    let replay = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(600))
        .await
        .unwrap();
    let peak = peak_rss_mb(pid).expect("the worker still runs");
    worker.kill().await.ok();

    println!("ferry-worker peak RSS replaying {FAILING} open failures: {peak:.1} MB");
    assert_eq!(replay.status, "succeeded", "{:?}", replay.error);
    assert_eq!(
        (replay.rows_read, replay.inserted, replay.failed),
        (FAILING as i64, FAILING as i64, 0)
    );
    assert_eq!(open_failures(&env).await, 0);
    assert_eq!(
        env.table("customer", &["bc_no"], "bc_no").await.len(),
        FAILING
    );
    assert!(peak < 100.0, "peak RSS {peak:.1} MB");
    env.finish().await;
}

async fn open_failures(env: &TestEnv) -> i64 {
    env.db
        .query_one_raw(sea_orm::Statement::from_string(
            env.db.get_database_backend(),
            "SELECT count(*) FROM ferry_run_errors WHERE resolved_at IS NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}
