//! Cancelling runs: `ferry cancel RUN_ID` and `POST /api/v1/runs/{id}/cancel`.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::checkpoint;
use ferry_shared::runs::Mode;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

crate::on_both_backends!(
    #[tokio::test]
    a_queued_run_is_cancelled_at_once
);
async fn a_queued_run_is_cancelled_at_once(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 20, 2).await;
    env.apply(&env.write_definitions("")).await;
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();

    let output = env
        .ferry(&["cancel", &run_id.to_string()])
        .env("USER", "alice")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("run {run_id} cancelled")
    );
    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (run.status.as_str(), run.error.as_deref()),
        ("cancelled", Some("cancelled by cli:alice"))
    );
    assert!(run.finished_at.is_some());

    // A run that ended cannot be cancelled again: a clear error and exit code 1.
    let again = env
        .ferry(&["cancel", &run_id.to_string()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains(&format!("run {run_id} already ended cancelled")),
        "{said}"
    );
    // And the integration is free: the next trigger makes a new run.
    let next = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    assert_ne!(next, run_id);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_running_run_stops_at_its_next_page_and_keeps_what_it_committed
);
async fn a_running_run_stops_at_its_next_page_and_keeps_what_it_committed(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 3_000, 2).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(300).await;
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    env.start_worker();
    let api = env.start_scheduler().await;
    env.wait_until(run_id, "a first page committed", |r| r.rows_read > 0)
        .await;

    let token = env.settings.api.token.clone().unwrap();
    let client = reqwest::Client::new();
    let cancel = |id: i64| {
        client
            .post(format!("{api}/api/v1/runs/{id}/cancel"))
            .bearer_auth(token.expose_secret())
            .send()
    };
    let answer = cancel(run_id).await.unwrap();
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "cancelling");

    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (run.status.as_str(), run.error.as_deref()),
        ("cancelled", Some("cancelled by api"))
    );
    assert!(
        run.rows_read > 0 && run.rows_read < 3_000,
        "it stopped part of the way ({} rows)",
        run.rows_read
    );
    let kept = env.table("customer", &["bc_no"], "bc_no").await.len() as i64;
    assert_eq!(kept, run.inserted, "what it committed stays");
    let stored = checkpoint::load(&env.db, "customers")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(serde_json::from_str::<Value>(&stored.json).unwrap()),
        run.checkpoint_after,
        "the checkpoint stays with the last committed page"
    );

    // Cancelling it again is a conflict; an unknown run is not found.
    assert_eq!(cancel(run_id).await.unwrap().status(), 409);
    assert_eq!(cancel(run_id + 1_000).await.unwrap().status(), 404);

    // The next run goes on from the checkpoint.
    env.clear_faults().await;
    let next = env.run("customers", Mode::Incremental).await;
    assert_eq!(next.inserted, 3_000 - run.inserted);
    assert_customers_equal_source(&env).await;
    env.finish().await;
}
