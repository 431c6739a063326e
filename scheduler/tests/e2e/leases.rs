//! Leases (ARCHITECTURE.md, "Invariants", invariant 1): a claim's fencing token guards every write of a running run, lease
//! times come from the database's clock, and a queued run has at most one live job.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::{self, Mode};
use ferry_shared::sync::execute;
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_slot_whose_lease_was_taken_commits_nothing_even_under_the_same_worker_name
);
/// The frozen-process case: a slot's lease expires while its task lives on, recovery re-queues
/// the run, and another slot of the *same* worker (same owner name) claims it. The stale slot's next
/// page must commit nothing: not its rows, not its counts, not its checkpoint.
async fn a_slot_whose_lease_was_taken_commits_nothing_even_under_the_same_worker_name(
    backend: Backend,
) {
    let env = TestEnv::without_worker_on(backend, 3_000, 10).await;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(400).await;
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    let ctx = env.sync_context().await;
    let stale = {
        let ctx = ctx.clone();
        tokio::spawn(async move { execute(&ctx, run_id, "worker-1").await })
    };
    env.wait_until(run_id, "a first page committed", |r| r.rows_read > 0)
        .await;

    // The lease expires (as if the process had been frozen) and recovery takes the run back.
    env.db
        .execute_unprepared(&format!(
            "UPDATE ferry_runs SET lease_expires_at = '2000-01-01T00:00:00+00:00' WHERE id = {run_id}"
        ))
        .await
        .unwrap();
    let recovered = runs::recover_expired(&env.db, 5).await.unwrap();
    assert_eq!(recovered, vec![runs::Recovered::Requeued(run_id)]);
    let fresh = {
        let ctx = ctx.clone();
        tokio::spawn(async move { execute(&ctx, run_id, "worker-1").await })
    };
    stale.await.unwrap().unwrap();
    fresh.await.unwrap().unwrap();

    let run = runs::get(&env.db, run_id).await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.attempt),
        ("succeeded", 2),
        "{:?}",
        run.error
    );
    assert_eq!(
        run.rows_read, 3_000,
        "every page was counted once: the stale slot committed none after its lease was taken"
    );
    assert_eq!(run.inserted, 3_000);
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

/// The fence holds for every kind of write, and an incremental checkpoint never moves back.
#[tokio::test]
async fn every_write_of_a_stale_claim_is_refused() {
    let env = TestEnv::without_worker(20, 2).await;
    env.apply(&env.write_definitions("")).await;
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    let lease_for = Duration::from_secs(30);
    let runs::Claim::Claimed(first) = runs::claim(&env.db, run_id, "worker-1", lease_for)
        .await
        .unwrap()
    else {
        panic!("the queued run is claimed");
    };
    let (stale, _) = *first;
    env.db
        .execute_unprepared(&format!(
            "UPDATE ferry_runs SET lease_expires_at = '2000-01-01T00:00:00+00:00' WHERE id = {run_id}"
        ))
        .await
        .unwrap();
    runs::recover_expired(&env.db, 5).await.unwrap();
    let runs::Claim::Claimed(second) = runs::claim(&env.db, run_id, "worker-1", lease_for)
        .await
        .unwrap()
    else {
        panic!("the re-queued run is claimed again");
    };
    let (current, _) = *second;
    assert_eq!(stale.owner, current.owner, "one worker, two claims");
    assert_ne!(stale.token, current.token, "each claim has its own token");

    let lost = |r: Result<_, runs::RunError>| matches!(r, Err(runs::RunError::LeaseLost(_)));
    assert!(lost(runs::renew(&env.db, &stale).await));
    assert!(lost(
        runs::add_progress(&env.db, &stale, 5, Default::default(), None).await
    ));
    assert!(lost(
        runs::hand_back(&env.db, &stale, None, None)
            .await
            .map(|_| ())
    ));
    assert!(lost(
        runs::finish(&env.db, &stale, runs::Outcome::Completed)
            .await
            .map(|_| ())
    ));
    runs::renew(&env.db, &current).await.unwrap();
    let run = runs::get(&env.db, run_id).await.unwrap().unwrap();
    assert_eq!((run.state.as_str(), run.rows_read), ("running", 0));
    runs::finish(&env.db, &current, runs::Outcome::Completed)
        .await
        .unwrap();
    env.finish().await;
}

/// A queued run behind a long running one has at most one live job at any moment: the job that found
/// the integration busy is dropped (not bounced), joining triggers and cron ticks push nothing, the
/// recovery leaves a run alone while its integration's run holds a live lease, and the running run's
/// worker rings for it when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_run_behind_a_running_one_has_at_most_one_live_job() {
    let mut env = TestEnv::without_worker(5_000, 10).await;
    env.settings.worker.concurrency = 2;
    env.settings.worker.page_size = 500;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"* * * * * *\"\nallow_frequent = true",
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    // Ten pages of three seconds: a run of about 30 s.
    env.slow_pages(3_000).await;
    let running = cli::trigger(&env.db, &env.settings, "customers", Mode::Full)
        .await
        .unwrap();
    env.start_worker();
    env.wait_until(running, "the long run started", |r| r.status == "running")
        .await;
    let queued = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    assert_ne!(queued, running);
    env.start_scheduler().await;

    let redis = redis::Client::open(env.settings.queue.url.as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let mut most = 0;
    let mut samples = 0;
    loop {
        // Joining triggers push nothing either.
        if samples % 10 == 0 {
            let joined = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
                .await
                .unwrap();
            if joined != queued {
                // Only once the queued run has started (between the last look and this trigger)
                // may a trigger make a new run: while one is queued, every trigger joins it.
                let run = runs::get(&env.db, queued).await.unwrap().unwrap();
                assert_ne!(run.state, "queued", "a trigger joins the queued run");
                break;
            }
        }
        let live = live_jobs(&env, &mut conn, queued).await;
        most = most.max(live);
        samples += 1;
        let run = runs::get(&env.db, queued).await.unwrap().unwrap();
        if run.state != "queued" || samples > 1_200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = cli::wait_for(&env.db, queued, Duration::from_secs(60))
        .await
        .unwrap();
    let long = runs::get(&env.db, running).await.unwrap().unwrap();
    env.stop_schedulers().await;
    assert_eq!(long.state, "succeeded", "{:?}", long.error);
    assert!(
        samples > 100,
        "the queued run waited behind the running one ({samples} samples)"
    );
    assert_eq!(
        waited.status, "succeeded",
        "it ran once the integration was free: {:?}",
        waited.error
    );
    assert!(
        most <= 1,
        "at most one live job for the queued run, saw {most}"
    );
    env.finish().await;
}

/// Jobs of `run_id` that are live in Redis right now (active, scheduled or in flight), read in one
/// atomic step so a job moving between lists is counted once.
async fn live_jobs(
    env: &TestEnv,
    conn: &mut redis::aio::MultiplexedConnection,
    run_id: i64,
) -> usize {
    let queue = ferry_shared::queue::queue_name(&env.settings.queue);
    let config = apalis_redis::Config::default().queue(queue);
    let script = redis::Script::new(
        r"local ids = redis.call('lrange', KEYS[1], 0, -1)
          for _, id in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do table.insert(ids, id) end
          for _, set in ipairs(redis.call('keys', ARGV[1])) do
            for _, id in ipairs(redis.call('smembers', set)) do table.insert(ids, id) end
          end
          local jobs = {}
          for _, id in ipairs(ids) do table.insert(jobs, redis.call('hget', KEYS[3], id) or '') end
          return jobs",
    );
    let jobs: Vec<Vec<u8>> = script
        .key(config.active_jobs_list())
        .key(config.scheduled_jobs_set())
        .key(config.job_data_hash())
        .arg(format!("{}*", config.inflight_jobs_set()))
        .invoke_async(conn)
        .await
        .unwrap();
    jobs.iter()
        .filter_map(|job| serde_json::from_slice::<ferry_shared::queue::SyncJob>(job).ok())
        .filter(|job| job.run_id == run_id)
        .count()
}

/// libfaketime from Debian's `faketime` package (`deploy/test.sh` installs it), to preload into the
/// worker itself: the `faketime` wrapper forks, so killing it (or dropping it when the test fails) left
/// the worker running after the test.
fn libfaketime() -> std::path::PathBuf {
    std::fs::read_dir("/usr/lib")
        .expect("/usr/lib")
        .filter_map(|dir| Some(dir.ok()?.path().join("faketime/libfaketime.so.1")))
        .find(|lib| lib.exists())
        .expect(
            "libfaketime.so.1 under /usr/lib/<arch>/faketime (deploy/test.sh installs faketime)",
        )
}

/// A worker whose clock is 90 s behind (libfaketime) keeps its leases: expiries are computed and
/// judged by the database's clock, so a scheduler recovering expired runs every 2 s with
/// `worker.lease_secs = 5` never takes the run away. And a job pushed by a process with the right
/// time reaches the lagging worker at once, not 90 s later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_clock_is_90_s_behind_keeps_its_leases() {
    let mut env = TestEnv::without_worker(200_000, 10).await;
    env.settings.scheduler.reconcile_secs = 2;
    env.apply(&env.write_definitions("")).await;
    let log = std::fs::File::create(env.dir.join("worker.log")).unwrap();
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("worker")
        .envs(env.env_vars())
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", "-90s")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FERRY__WORKER__LEASE_SECS", "5")
        .env("FERRY__WORKER__PAGE_SIZE", "5000")
        .env("FERRY__WORKER__POLL_INTERVAL_MS", "100")
        .env("FERRY__LOG__LEVEL", "info")
        .env_remove("RUST_LOG")
        .env_remove("FERRY_MASTER_KEY")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ferry worker starts");
    env.start_scheduler().await;

    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(300))
        .await
        .unwrap();
    env.stop_schedulers().await;
    let _ = worker.kill().await;
    let logged = std::fs::read_to_string(env.dir.join("worker.log")).unwrap_or_default();
    assert_eq!(
        (run.status.as_str(), run.attempt, run.inserted),
        ("succeeded", 1, 200_000),
        "{:?}\n{}",
        run.error,
        logged.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    // The worker's own log times are its clock: 90 s behind, though it started just before the run
    // was queued (so libfaketime did take hold).
    let first_logged = logged
        .lines()
        .find_map(|line| {
            // `ESC[2m2026-12-08T06:41:45.212895ZESC[0m  INFO …`: the first word without colour codes.
            let mut parts = line.split('\u{1b}');
            let mut plain = parts.next().unwrap_or_default().to_string();
            for part in parts {
                plain.push_str(part.split_once('m').map_or(part, |(_, rest)| rest));
            }
            chrono::DateTime::parse_from_rfc3339(plain.split_whitespace().next()?).ok()
        })
        .unwrap_or_else(|| panic!("the worker logged no timestamped line:\n{logged}"));
    assert!(
        first_logged < run.queued_at - chrono::Duration::seconds(60),
        "worker clock {first_logged} is not behind the database's {}",
        run.queued_at
    );
    let waited = run.started_at.unwrap() - run.queued_at;
    assert!(
        waited < chrono::Duration::seconds(30),
        "the lagging worker saw the job at once, not after its lag ({waited})"
    );
    env.finish().await;
}
