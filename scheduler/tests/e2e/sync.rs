//! The import path end to end: sandbox → queue → worker → database, on Postgres + Redis and on SQLite.

use ferry_shared::queue;
use ferry_shared::runs::{Claim, Mode};
use ferry_shared::sync::execute;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

crate::on_both_backends!(
    #[tokio::test]
    full_import_equals_the_source_field_by_field
);
async fn full_import_equals_the_source_field_by_field(backend: Backend) {
    let env = TestEnv::start_on(backend, 1_234, 50).await;
    env.apply(&env.write_definitions("")).await;

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 1_234);
    assert_eq!((run.updated, run.unchanged, run.failed), (0, 0, 0));
    assert_eq!(run.rows_read, 1_234);
    assert_eq!(run.definition_version, 1);
    let max_version = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["RowVersionNumber"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(
        run.checkpoint_after,
        Some(serde_json::json!({"kind": "version", "value": max_version}))
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    second_run_writes_exactly_the_changed_rows
);
async fn second_run_writes_exactly_the_changed_rows(backend: Backend) {
    let env = TestEnv::start_on(backend, 800, 20).await;
    env.apply(&env.write_definitions("")).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, 800);

    let changed = env.mutate("RescoCustomer", 7, 100, 0);
    assert_eq!(changed.updated.len(), 100);
    let second = env.run("customers", Mode::Incremental).await;

    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!((second.inserted, second.updated), (7, 100));
    assert_eq!(second.rows_read, 107, "only the delta is read");
    assert_eq!(second.checkpoint_before, first.checkpoint_after);
    assert_customers_equal_source(&env).await;

    // Nothing changed since: an empty run that keeps its checkpoint.
    let third = env.run("customers", Mode::Incremental).await;
    assert_eq!(third.status, "succeeded");
    assert_eq!((third.rows_read, third.inserted, third.updated), (0, 0, 0));
    assert_eq!(third.checkpoint_before, second.checkpoint_after);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_full_run_rereads_everything_and_writes_nothing_unchanged
);
async fn a_full_run_rereads_everything_and_writes_nothing_unchanged(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 10).await;
    env.apply(&env.write_definitions("")).await;
    env.run("customers", Mode::Incremental).await;

    let full = env.run("customers", Mode::Full).await;

    assert_eq!(full.status, "succeeded");
    assert_eq!(full.rows_read, 300);
    assert_eq!((full.inserted, full.updated, full.unchanged), (0, 0, 300));
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_duplicated_job_applies_once
);
async fn a_duplicated_job_applies_once(backend: Backend) {
    let env = TestEnv::start_on(backend, 200, 10).await;
    env.apply(&env.write_definitions("")).await;
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.inserted, 200);
    env.mutate("RescoCustomer", 0, 10, 0);

    // A redelivered job for the finished run, executed directly: the claim refuses it.
    let ctx = env.sync_context().await;
    let claim = execute(&ctx, run.run_id, "another-worker").await.unwrap();
    assert!(matches!(claim, Claim::NotQueued), "{claim:?}");

    // And through the queue: the duplicate is delivered before the next run's job (one worker, FIFO).
    let mut storage = queue::storage(&env.settings.queue, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    queue::push(&mut storage, run.run_id, None).await.unwrap();
    let next = env.run("customers", Mode::Incremental).await;

    let again = ferry_shared::runs::get(&env.db, run.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.attempt, 1,
        "the duplicate did not start the run again"
    );
    assert_eq!((again.inserted, again.updated), (200, 0));
    assert_eq!(
        next.updated, 10,
        "the ten changes were applied once, by the next run"
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    triggers_coalesce_into_the_queued_run
);
async fn triggers_coalesce_into_the_queued_run(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 50, 5).await;
    env.apply(&env.write_definitions("")).await;
    let first =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();
    let second =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();
    assert_eq!(first, second, "a second trigger joins the queued run");
    let refused =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Reconcile)
            .await
            .expect_err("a reconcile cannot hide behind a queued incremental run");
    let message = refused.to_string();
    assert!(
        message.contains(&format!("queued incremental run (run {first})")),
        "{message}"
    );
    let full = ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Full)
        .await
        .unwrap();
    assert_eq!(full, first, "a full trigger upgrades the queued run");
    let upgraded = ferry_shared::runs::get(&env.db, first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upgraded.mode, "full");
    let mut env = env;
    env.start_worker();
    let run = ferry_scheduler::cli::wait_for(&env.db, first, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((run.status.as_str(), run.inserted), ("succeeded", 50));
    env.finish().await;
}

#[tokio::test]
async fn a_wrong_secret_fails_the_run_with_the_servers_reason_and_no_secret() {
    let env = TestEnv::start(10, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("BC_SANDBOX_SECRET", "BC_SANDBOX_WRONG_SECRET");
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(run.status, "failed");
    let error = run.error.unwrap();
    assert!(error.contains("invalid_client"), "{error}");
    assert!(
        !error.contains("not-the-secret"),
        "the secret is not echoed: {error}"
    );
    env.finish().await;
}

#[tokio::test]
async fn a_field_missing_at_the_source_fails_the_run_naming_it() {
    let env = TestEnv::start(10, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("from = \"City\"", "from = \"Town\"");
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(run.status, "failed");
    let error = run.error.unwrap();
    assert!(error.contains("\"Town\" not found on entity"), "{error}");
    env.finish().await;
}
