//! Checkpoints (ARCHITECTURE.md, "Invariants", invariants 2 and 7): a watermark holds only for what it measured, a
//! retried full run resumes where it left off, and a run records what it really started from.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

/// The `ferry apply` output for `file`.
async fn apply_output(env: &TestEnv, file: &std::path::Path) -> String {
    let output = env.ferry_output(&["apply", file.to_str().unwrap()]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

crate::on_both_backends!(
    #[tokio::test]
    a_widened_filter_reads_everything_again_and_says_why
);
/// Widening the filter leaves rows below the watermark that were never read: continuing from it would
/// miss them for good. `apply` says so, and the next run reads everything, recording why.
async fn a_widened_filter_reads_everything_again_and_says_why(backend: Backend) {
    let env = TestEnv::start_on(backend, 200, 5).await;
    let file = env.write_definitions("");
    let narrow = std::fs::read_to_string(&file).unwrap().replace(
        r#"version = "RowVersionNumber" }"#,
        r#"version = "RowVersionNumber", filter = "City ne 'Salt Lake City'" }"#,
    );
    std::fs::write(&file, &narrow).unwrap();
    env.apply(&file).await;
    let left_out = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| r["City"] == "Salt Lake City")
        .count() as i64;
    assert!(left_out > 0, "the filter leaves rows out");
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, 200 - left_out);
    assert_eq!(first.connection_version, Some(1));

    // The filter goes: `apply --dry-run` says what storing it would do, and stores nothing.
    let wide = narrow.replace(r#", filter = "City ne 'Salt Lake City'""#, "");
    std::fs::write(&file, wide).unwrap();
    // Off the test's runtime thread: blocking it would stall the in-process worker, which on SQLite
    // may hold the write lock the child's apply waits for (the cause of this test's old flake).
    let dry = env
        .ferry_output(&["apply", "--dry-run", file.to_str().unwrap()])
        .await;
    let (status, stderr) = (
        dry.status,
        String::from_utf8_lossy(&dry.stderr).into_owned(),
    );
    let dry = String::from_utf8(dry.stdout).unwrap();
    assert!(
        dry.contains("dry run: nothing was stored"),
        "{status}: {dry}{stderr}"
    );
    assert!(
        dry.contains("updated   integration customers (version 2)"),
        "{dry}"
    );
    assert!(
        dry.contains(r#"source.filter: removed (was "City ne 'Salt Lake City'")"#),
        "{dry}"
    );
    assert!(
        dry.contains("customers: the filter changed, so its next run reads everything again"),
        "{dry}"
    );
    // `apply` says what the next run will do.
    let said = apply_output(&env, &file).await;
    assert!(
        said.contains("updated   integration customers (version 2)"),
        "the dry run stored no version 2: {said}"
    );
    assert!(
        said.contains("customers: the filter changed, so its next run reads everything again"),
        "{said}"
    );

    let second = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (second.mode.as_str(), second.reason.as_deref()),
        ("full", Some("the filter changed"))
    );
    assert_eq!(second.checkpoint_before, None, "it read from the start");
    assert_eq!(
        (second.inserted, second.unchanged),
        (left_out, 200 - left_out)
    );
    assert_customers_equal_source(&env).await;

    // Measured again, the checkpoint holds: the next run is incremental once more.
    env.mutate("RescoCustomer", 0, 3, 0);
    let third = env.run("customers", Mode::Incremental).await;
    assert_eq!((third.mode.as_str(), third.reason), ("incremental", None));
    assert_eq!(third.updated, 3);
    env.finish().await;
}

/// A connection change that leaves the source as it was (a trailing slash on the URL) keeps the
/// checkpoint; runs record the connection version they executed.
#[tokio::test]
async fn runs_record_the_connection_version_they_executed() {
    let env = TestEnv::start(30, 2).await;
    let file = env.write_definitions("");
    env.apply(&file).await;
    let first = env.run("customers", Mode::Incremental).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let url = env.sandbox.resco_url();
    std::fs::write(&file, text.replace(&url, &format!("{url}/"))).unwrap();
    let said = apply_output(&env, &file).await;
    assert!(said.contains("updated   connection bc"), "{said}");
    assert!(!said.contains("note:"), "{said}");
    env.mutate("RescoCustomer", 0, 2, 0);
    let second = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (first.connection_version, second.connection_version),
        (Some(1), Some(2))
    );
    assert_eq!((second.mode.as_str(), second.updated), ("incremental", 2));
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_retried_full_run_resumes_from_its_last_committed_page
);
async fn a_retried_full_run_resumes_from_its_last_committed_page(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 3_000, 5).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(300).await;
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Full)
        .await
        .unwrap();
    env.start_worker();
    env.wait_until(run_id, "two pages committed", |r| r.rows_read >= 1_000)
        .await;
    // One connection reset: a retriable failure, so the run is handed back and tried again. The
    // first matching rule wins, so the reset goes in before the latency.
    env.clear_faults().await;
    env.control(
        "/_sandbox/faults",
        serde_json::json!({ "route": "*/RescoCustomer*", "kind": "reset", "count": 1 }),
    )
    .await;
    env.slow_pages(300).await;
    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        (run.status.as_str(), run.attempt, run.mode.as_str()),
        ("succeeded", 2, "full"),
        "{:?}",
        run.error
    );
    assert_eq!(
        run.rows_read, 3_000,
        "the second attempt went on from the last committed page, not from the start"
    );
    assert_eq!(run.inserted, 3_000);
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

/// `checkpoint_before` is the checkpoint a run started from, not the one there was when it was queued:
/// a run queued behind another starts where that one ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_before_is_where_the_run_started() {
    let mut env = TestEnv::without_worker(2_000, 5).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(300).await;
    let first = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    env.start_worker();
    env.wait_until(first, "a first page committed", |r| r.rows_read > 0)
        .await;
    let second = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    assert_ne!(
        first, second,
        "the second run queues behind the running one"
    );
    let first = cli::wait_for(&env.db, first, Duration::from_secs(60))
        .await
        .unwrap();
    let second = cli::wait_for(&env.db, second, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(first.checkpoint_before, None);
    assert!(first.checkpoint_after.is_some());
    assert_eq!(
        second.checkpoint_before, first.checkpoint_after,
        "the queued run started where the one before it ended"
    );
    assert_eq!((second.status.as_str(), second.rows_read), ("succeeded", 0));
    env.finish().await;
}
