//! Recovery with a stuck row: a frozen worker's open page transaction holds its run's row lock. The
//! recovery gives up on that row after `lock_timeout` and recovers the others, cron ticks and
//! leadership go on beside it, and the server ends the idle transaction, after which that run is
//! recovered too.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::{self, Claim, Mode};
use ferry_shared::storage;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use crate::helpers::TestEnv;

const MORE: &str = r#"
[[integration]]
name = "contacts"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber" }
target = { table = "contact", key = ["bc_no"], create = true }
fields = [{ from = "No", to = "bc_no" }, { from = "Name", to = "name" }]

[[integration]]
name = "ticking"
connection = "bc"
schedule = "* * * * * *"
allow_frequent = true
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "ticking", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
"#;

/// Claims `integration`'s queued run as a worker that then froze: its lease is already over.
async fn frozen_run(env: &TestEnv, integration: &str) -> i64 {
    let run_id = cli::trigger(&env.db, &env.settings, integration, Mode::Incremental)
        .await
        .unwrap();
    let Claim::Claimed(_) = runs::claim(&env.db, run_id, "frozen-worker", Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("{integration}'s run is claimed");
    };
    env.db
        .execute_unprepared(&format!(
            "UPDATE ferry_runs SET lease_expires_at = now() - interval '1 minute' WHERE id = {run_id}"
        ))
        .await
        .unwrap();
    run_id
}

async fn scalar(env: &TestEnv, sql: &str) -> i64 {
    env.db
        .query_one_raw(Statement::from_string(env.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_run_row_stalls_neither_ticks_nor_leadership_nor_other_recoveries() {
    let mut env = TestEnv::without_worker(20, 5).await;
    env.settings.database.lock_timeout_ms = 300;
    env.settings.database.idle_in_transaction_timeout_ms = 6_000;
    env.apply(&env.write_definitions(MORE)).await;
    let stuck = frozen_run(&env, "customers").await;
    let other = frozen_run(&env, "contacts").await;
    assert!(stuck < other, "recovery meets the stuck row first");

    // The frozen worker's page transaction: it wrote its run's row and then stopped.
    let frozen = storage::connect(&env.settings.database).await.unwrap();
    let txn = frozen.begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "UPDATE ferry_runs SET rows_read = rows_read WHERE id = {stuck}"
    ))
    .await
    .unwrap();
    let locked_at = tokio::time::Instant::now();

    env.start_worker();
    env.start_scheduler().await;
    let mut recovered_other = false;
    let mut ticks = 0;
    while locked_at.elapsed() < Duration::from_secs(4) {
        let run = runs::get(&env.db, other).await.unwrap().unwrap();
        recovered_other |= run.attempt >= 2;
        ticks = scalar(
            &env,
            "SELECT count(*) FROM ferry_runs WHERE integration = 'ticking' AND trigger = 'schedule'",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leading = scalar(
        &env,
        "SELECT count(*) FROM ferry_leases WHERE name = 'scheduler' AND expires_at > now()",
    )
    .await;
    let still_stuck = runs::get(&env.db, stuck).await.unwrap().unwrap();
    assert_eq!(
        (still_stuck.state.as_str(), still_stuck.attempt),
        ("running", 1),
        "the stuck run waits for its row"
    );
    assert!(
        recovered_other,
        "the other expired run was recovered meanwhile"
    );
    assert!(ticks >= 2, "cron ticks went on ({ticks})");
    assert_eq!(leading, 1, "leadership was renewed");

    // The server ends the idle transaction; then the stuck run is recovered and finished too.
    let done = cli::wait_for(&env.db, stuck, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.attempt),
        ("succeeded", 2),
        "{:?}",
        done.error
    );
    assert!(
        txn.commit().await.is_err(),
        "the frozen transaction was ended by the server"
    );
    let other = cli::wait_for(&env.db, other, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(other.status, "succeeded", "{:?}", other.error);
    env.finish().await;
}

/// A run whose worker was lost while another run of its integration waited is not a failure: its work
/// goes on in the queued run, so it ends `interrupted`, and neither the dead count nor
/// `ferry_runs_total{status="failed"}` counts it.
#[tokio::test]
async fn a_lost_run_superseded_by_a_queued_one_is_interrupted_not_failed() {
    let env = TestEnv::without_worker(20, 5).await;
    env.apply(&env.write_definitions("")).await;
    let lost = frozen_run(&env, "customers").await;
    let queued = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    assert_ne!(queued, lost);

    let recovered = runs::recover_expired(&env.db, 5).await.unwrap();
    assert_eq!(recovered, vec![runs::Recovered::Interrupted(lost)]);
    let run = runs::get(&env.db, lost).await.unwrap().unwrap();
    assert_eq!(run.state, "interrupted");
    assert_eq!(
        run.error.as_deref(),
        Some("worker lost; a queued run continues from the checkpoint")
    );
    let counted = |status: &str| {
        format!(
            "SELECT count(*) FROM ferry_counters WHERE metric = 'ferry_runs_total' \
             AND labels LIKE '%status=\"{status}\"%'"
        )
    };
    assert_eq!(scalar(&env, &counted("interrupted")).await, 1);
    assert_eq!(scalar(&env, &counted("failed")).await, 0);
    assert_eq!(
        runs::lost_jobs(&env.db, Duration::ZERO).await.unwrap(),
        vec![queued],
        "the queued run gets its job: nothing holds the integration now"
    );
    env.finish().await;
}
