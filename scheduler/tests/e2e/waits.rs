//! Every wait is bounded and visible (issue 20, item 6): a stalled source fails its attempt after the
//! connection's `timeout_secs`, saying "timed out", and is retried; busy answers repeated within an
//! attempt are counted on the run with the time they cost and the last answer.

use std::time::{Duration, Instant};

use ferry_scheduler::cli;
use ferry_shared::runs::Mode;
use serde_json::json;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

/// The test definitions with `timeout_secs` on the connection.
fn with_timeout(env: &TestEnv, secs: u64) -> std::path::PathBuf {
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "company = \"CRONUS USA, Inc.\"\n",
        &format!("company = \"CRONUS USA, Inc.\"\ntimeout_secs = {secs}\n"),
        1,
    );
    assert!(
        text.contains("timeout_secs"),
        "the connection takes the limit"
    );
    std::fs::write(&file, text).unwrap();
    file
}

async fn a_stalled_source_fails_its_attempt_within_the_connections_timeout(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 0).await;
    env.apply(&with_timeout(&env, 3)).await;
    // The first request for customers stalls for a minute; the retry is served.
    env.control(
        "/_sandbox/faults",
        json!({ "route": "*/RescoCustomer*", "latency_ms": 60_000, "count": 1 }),
    )
    .await;

    let started = Instant::now();
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    env.wait_until(run_id, "the stalled attempt ends", |run| {
        run.error
            .as_deref()
            .is_some_and(|e| e.contains("timed out"))
    })
    .await;
    let failed_after = started.elapsed();
    assert!(
        failed_after < Duration::from_secs(10),
        "a 3 s limit ends the attempt well before the 60 s stall: {failed_after:?}"
    );
    let run = ferry_shared::runs::get(&env.db, run_id)
        .await
        .unwrap()
        .unwrap();
    let error = run.error.clone().unwrap();
    assert!(
        error.contains("within 3 s") && error.contains("RescoCustomer"),
        "the record says which request timed out and after how long: {error}"
    );

    let summary = cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        summary.status, "succeeded",
        "the retry reads the delta: {summary:?}"
    );
    assert_eq!(
        summary.attempt, 2,
        "one attempt timed out, the next finished"
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test]
    a_stalled_source_fails_its_attempt_within_the_connections_timeout
);

async fn busy_answers_repeated_within_an_attempt_are_counted_on_the_run(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 0).await;
    env.apply(&env.write_definitions("")).await;
    env.control(
        "/_sandbox/faults",
        json!({ "route": "*/RescoCustomer*", "status": 429, "retry_after": 1, "count": 2 }),
    )
    .await;

    let summary = env.run("customers", Mode::Incremental).await;
    assert_eq!(summary.status, "succeeded", "{summary:?}");
    assert_eq!(
        summary.attempt, 1,
        "busy answers cost requests, not attempts"
    );
    assert_eq!(summary.requests_retried, 2, "{summary:?}");
    assert!(
        summary.retry_wait_ms >= 2_000,
        "two Retry-After: 1 waits: {} ms",
        summary.retry_wait_ms
    );
    let last = summary.last_retried_error.clone().unwrap_or_default();
    assert!(
        last.starts_with("429") && last.contains("RescoCustomer"),
        "{last}"
    );

    // A run without busy answers records none.
    let quiet = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (quiet.requests_retried, quiet.retry_wait_ms),
        (0, 0),
        "{quiet:?}"
    );
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test]
    busy_answers_repeated_within_an_attempt_are_counted_on_the_run
);

#[tokio::test]
async fn apply_refuses_a_timeout_outside_its_range() {
    let env = TestEnv::without_worker(0, 0).await;
    let file = with_timeout(&env, 0);
    let errors = cli::apply(&env.db, std::slice::from_ref(&file))
        .await
        .expect("apply runs")
        .expect_err("a zero timeout is refused");
    let message: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let message = message.join("\n");
    assert!(
        message.contains("timeout_secs") && message.contains("between 1 and 3600"),
        "{message}"
    );
    env.finish().await;
}

/// `ferry run --wait` with no worker alive says so at once, instead of waiting out its timeout in
/// silence; with a worker, it says nothing of the kind.
async fn run_wait_says_when_no_worker_is_alive(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 20, 0).await;
    env.apply(&env.write_definitions("")).await;
    let vars = env.env_vars();
    let ferry = |args: &'static [&'static str]| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .envs(vars.clone())
            .env("FERRY__LOG__LEVEL", "warn")
            .kill_on_drop(true)
            .output()
    };
    let alone = ferry(&["run", "customers", "--wait", "--timeout", "2"])
        .await
        .expect("ferry runs");
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert!(!alone.status.success(), "nothing ran the run");
    assert!(stderr.contains("no worker is alive"), "{stderr}");

    env.start_worker();
    // The worker registers with the queue as it starts.
    let mut queue = ferry_shared::queue::storage(&env.settings.queue, Duration::from_secs(10))
        .await
        .unwrap();
    for _ in 0..200 {
        let now = chrono::Utc::now().timestamp();
        let bookkeeping = ferry_shared::queue::bookkeeping(&mut queue).await.unwrap();
        if bookkeeping
            .workers
            .iter()
            .any(|w| w.alive(now, env.settings.worker.lease()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = ferry(&["run", "customers", "--wait", "--timeout", "60"])
        .await
        .expect("ferry runs");
    let stderr = String::from_utf8_lossy(&served.stderr);
    assert!(served.status.success(), "{stderr}");
    assert!(!stderr.contains("no worker is alive"), "{stderr}");
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    run_wait_says_when_no_worker_is_alive
);
