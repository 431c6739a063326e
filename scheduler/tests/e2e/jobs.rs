//! The job system under failure: killed workers, a wiped queue, shutdown mid-run, retries, two
//! schedulers. Each checks the database (the truth) and that the target equals the source.

use std::time::Duration;

use ferry_shared::runs::{self, Mode};
use sea_orm::{ConnectionTrait, Statement};
use tokio::process::{Child, Command};

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

/// Polls the run until `ready` says so (bounded), returning the last state seen.
async fn wait_until(
    env: &TestEnv,
    run_id: i64,
    what: &str,
    ready: impl Fn(&ferry_shared::storage::entities::run::Model) -> bool,
) -> ferry_shared::storage::entities::run::Model {
    for _ in 0..1500 {
        let run = runs::get(&env.db, run_id).await.unwrap().unwrap();
        if ready(&run) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {run_id} never became {what}");
}

/// `ferry worker` as a separate process, so it can be killed with SIGKILL.
fn worker_process(env: &TestEnv) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("worker")
        .envs(env.env_vars())
        .env(
            "FERRY__WORKER__LEASE_SECS",
            env.settings.worker.lease_secs.to_string(),
        )
        .env(
            "FERRY__WORKER__PAGE_SIZE",
            env.settings.worker.page_size.to_string(),
        )
        .env("FERRY__WORKER__POLL_INTERVAL_MS", "20")
        .env("FERRY__LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("ferry worker starts")
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_run_whose_worker_is_killed_is_finished_by_another_worker
);
async fn a_run_whose_worker_is_killed_is_finished_by_another_worker(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 30_000, 10).await;
    env.settings.worker.lease_secs = 3;
    env.settings.worker.page_size = 100;
    env.apply(&env.write_definitions("")).await;
    env.start_scheduler().await;
    let mut doomed = worker_process(&env);
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();

    wait_until(&env, run_id, "part-written", |r| {
        r.state == "running" && r.rows_read > 0
    })
    .await;
    doomed.kill().await.expect("SIGKILL");
    env.start_worker();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(180))
        .await
        .unwrap();

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(
        run.attempt, 2,
        "the second worker's claim is the second attempt"
    );
    assert_eq!(run.inserted + run.updated + run.unchanged, run.rows_read);
    // The run's story: the first attempt lost with its worker, the second succeeded.
    let attempts = ferry_shared::runs::attempts(&env.db, run_id).await.unwrap();
    let story: Vec<(i32, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(
        story,
        [(1, "lease expired"), (2, "succeeded")],
        "{attempts:?}"
    );
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("worker lost")
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.started_at.is_some_and(|s| s <= a.ended_at))
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

/// A Redis of this test's own, so wiping it touches no other test.
struct PrivateRedis {
    url: String,
    _server: Child,
}

impl PrivateRedis {
    async fn start() -> PrivateRedis {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let server = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (deploy/test.sh installs it)");
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).unwrap();
        for _ in 0..250 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return PrivateRedis {
                    url,
                    _server: server,
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("private redis-server did not answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_job_was_wiped_from_redis_still_completes() {
    let redis_server = PrivateRedis::start().await;
    let mut env = TestEnv::without_worker(500, 5).await;
    env.settings.queue.url = redis_server.url.clone();
    env.apply(&env.write_definitions("")).await;
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();
    let client = redis::Client::open(redis_server.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let before: usize = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
    assert!(before > 0, "the job is in Redis");
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();

    env.start_scheduler().await;
    env.start_worker();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!((run.status.as_str(), run.inserted), ("succeeded", 500));
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_worker_stopped_mid_run_hands_the_run_back_at_its_checkpoint
);
async fn a_worker_stopped_mid_run_hands_the_run_back_at_its_checkpoint(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 30_000, 10).await;
    env.settings.worker.page_size = 100;
    env.apply(&env.write_definitions("")).await;
    env.start_worker();
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();
    wait_until(&env, run_id, "part-written", |r| {
        r.state == "running" && r.rows_read > 0
    })
    .await;

    env.stop_worker().await;

    let handed_back = runs::get(&env.db, run_id).await.unwrap().unwrap();
    assert_eq!(handed_back.state, "queued");
    assert_eq!(handed_back.lease_owner, None, "the lease is released");
    assert_eq!(
        handed_back.attempt, 0,
        "a graceful stop does not use up an attempt"
    );
    assert!(handed_back.rows_read > 0 && handed_back.rows_read < 30_000);
    let stored: String = env
        .db
        .query_one_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT value FROM ferry_checkpoints WHERE integration = 'customers'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(
        Some(serde_json::from_str::<serde_json::Value>(&stored).unwrap()),
        handed_back
            .checkpoint_after
            .map(|c| serde_json::from_str(&c).unwrap()),
        "the committed checkpoint is the run's last page"
    );

    env.start_worker();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(180))
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 30_000, "every row once, across both workers");
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    an_unreachable_source_is_retried_with_backoff_then_fails_with_the_cause
);
async fn an_unreachable_source_is_retried_with_backoff_then_fails_with_the_cause(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 1, 1).await;
    env.settings.retry.max_attempts = 3;
    let file = env.write_definitions("");
    let unreachable = std::fs::read_to_string(&file)
        .unwrap()
        .replace(&env.sandbox.base_url(), "http://127.0.0.1:9");
    std::fs::write(&file, unreachable).unwrap();
    env.apply(&file).await;
    env.start_worker();

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(run.status, "failed");
    assert_eq!(run.attempt, 3);
    let attempts = ferry_shared::runs::attempts(&env.db, run.run_id)
        .await
        .unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retrying", "retrying", "failed"], "{attempts:?}");
    assert!(
        attempts.iter().all(|a| a
            .error
            .as_deref()
            .is_some_and(|e| e.contains("unreachable"))),
        "{attempts:?}"
    );
    let error = run.error.unwrap();
    assert!(error.contains("unreachable"), "{error}");
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_refused_sign_in_is_not_retried
);
async fn a_refused_sign_in_is_not_retried(backend: Backend) {
    let env = TestEnv::start_on(backend, 1, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("BC_SANDBOX_SECRET", "BC_SANDBOX_WRONG_SECRET");
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!((run.status.as_str(), run.attempt), ("failed", 1));
    env.finish().await;
}

/// A 503 from the token endpoint is the endpoint being busy, not a verdict on the credentials: the run
/// is retried and succeeds.
#[tokio::test]
async fn a_busy_token_endpoint_is_retried_not_taken_for_a_refusal() {
    let env = TestEnv::start(10, 1).await;
    env.apply(&env.write_definitions("")).await;
    env.control(
        "/_sandbox/faults",
        serde_json::json!({ "route": "*/oauth2/v2.0/token", "status": 503, "count": 1 }),
    )
    .await;

    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(
        (run.status.as_str(), run.attempt, run.inserted),
        ("succeeded", 2, 10),
        "{:?}",
        run.error
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    two_schedulers_enqueue_each_tick_at_most_once
);
async fn two_schedulers_enqueue_each_tick_at_most_once(backend: Backend) {
    let mut env = TestEnv::start_on(backend, 20, 2).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"*/2 * * * * *\"\nallow_frequent = true",
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    env.start_scheduler().await;
    env.start_scheduler().await;

    tokio::time::sleep(Duration::from_secs(12)).await;
    env.stop_schedulers().await;

    let rows = env
        .db
        .query_all_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT scheduled_for, count(*) FROM ferry_runs WHERE scheduled_for IS NOT NULL \
             GROUP BY scheduled_for",
        ))
        .await
        .unwrap();
    assert!(rows.len() >= 3, "ticks were enqueued: {}", rows.len());
    for row in rows {
        let n: i64 = row.try_get_by_index(1).unwrap();
        assert_eq!(n, 1, "one run per tick");
    }
    env.finish().await;
}
