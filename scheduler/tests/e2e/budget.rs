//! The request budget every worker shares (`shared/src/budget/`, DESIGN.md "Source limits"): four
//! real `ferry-worker` processes running eight integrations on one Business Central connection stay
//! within the sandbox's limit of 5 concurrent requests — no 503, no 429 — while the same fleet with
//! a budget above the limit meets it. And a slot held by a worker that dies comes back when its
//! lease runs out.

use std::time::{Duration, Instant};

use ferry_sandbox::faults::CountsSnapshot;
use ferry_shared::budget::{Budget, BudgetError, Budgets, Window};
use ferry_shared::runs::{Mode, RunSummary};
use serde_json::json;
use tokio::process::Child;

use crate::helpers::{Backend, TestEnv, bc_connection};
use crate::worker_binary::ferry_worker;

const WORKERS: usize = 4;
const INTEGRATIONS: usize = 8;
const CUSTOMERS: usize = 400;

/// One connection `bc` (with `budget`, a `[connection.budget]` body, when given) and eight
/// integrations reading the same customers into tables of their own.
fn definitions(env: &TestEnv, budget: Option<&str>) -> std::path::PathBuf {
    let mut text = bc_connection(&env.sandbox, "bc", &env.sandbox.resco_url());
    if let Some(budget) = budget {
        text.push_str(&format!("[connection.budget]\n{budget}\n"));
    }
    for n in 1..=INTEGRATIONS {
        text.push_str(&format!(
            r#"
[[integration]]
name = "customers_{n}"
connection = "bc"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer_{n}", key = ["bc_no"], create = true }}
fields = [{{ from = "No", to = "bc_no" }}, {{ from = "Name", to = "name" }}]
"#
        ));
    }
    let file = env.dir.join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `WORKERS` worker processes, two runs each at a time, pages of ten rows (forty requests a run).
fn start_workers(env: &TestEnv) -> Vec<Child> {
    (0..WORKERS)
        .map(|_| {
            tokio::process::Command::new(ferry_worker())
                .envs(env.env_vars())
                .env("BC_SANDBOX_SECRET", "ferry-secret")
                .env("FERRY__WORKER__CONCURRENCY", "2")
                .env("FERRY__WORKER__PAGE_SIZE", "10")
                .env("FERRY__WORKER__POLL_INTERVAL_MS", "20")
                .env("FERRY__LOG__LEVEL", "warn")
                .kill_on_drop(true)
                .spawn()
                .expect("ferry-worker starts")
        })
        .collect()
}

/// The sandbox's BC limiter counts (`GET /_sandbox/limits/counts`).
async fn counts(env: &TestEnv) -> CountsSnapshot {
    reqwest::get(format!("{}/_sandbox/limits/counts", env.sandbox.base_url()))
        .await
        .expect("sandbox answers")
        .json()
        .await
        .expect("counts")
}

/// A sandbox that holds BC's limit of 5 concurrent requests strictly (an extra one is refused at
/// once with 503 instead of queueing) and whose customer pages take 40 ms, so runs overlap.
async fn strict_sandbox(budget: Option<&str>) -> TestEnv {
    let env = TestEnv::without_worker_on(Backend::Postgres, CUSTOMERS, 1).await;
    env.apply(&definitions(&env, budget)).await;
    env.control(
        "/_sandbox/limits",
        json!({ "max_concurrent": 5, "queue_timeout_ms": 0 }),
    )
    .await;
    env.slow_pages(40).await;
    env
}

async fn trigger_all(env: &TestEnv) -> Vec<i64> {
    let mut runs = Vec::new();
    for n in 1..=INTEGRATIONS {
        let name = format!("customers_{n}");
        runs.push(
            ferry_scheduler::cli::trigger(&env.db, &env.settings, &name, Mode::Incremental)
                .await
                .unwrap(),
        );
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_on_one_connection_keep_within_its_limit_of_five() {
    let env = strict_sandbox(None).await;
    let workers = start_workers(&env);
    let started = Instant::now();
    let mut summaries: Vec<RunSummary> = Vec::new();
    for run in trigger_all(&env).await {
        summaries.push(
            ferry_scheduler::cli::wait_for(&env.db, run, Duration::from_secs(240))
                .await
                .unwrap(),
        );
    }
    let elapsed = started.elapsed();
    drop(workers);
    let seen = counts(&env).await;
    println!(
        "shared budget (default 5 at once): {INTEGRATIONS} runs in {elapsed:?}, sandbox saw {seen:?}"
    );
    for run in &summaries {
        assert_eq!(run.status, "succeeded", "{run:?}");
        assert_eq!(run.inserted, CUSTOMERS as i64, "{run:?}");
        assert_eq!(
            run.requests_retried, 0,
            "no request met a busy answer: {run:?}"
        );
    }
    assert_eq!(
        (seen.busy, seen.too_many),
        (0, 0),
        "no 503 and no 429: {seen:?}"
    );
    assert!(seen.max_in_flight <= 5, "{seen:?}");
    assert!(
        seen.admitted >= (INTEGRATIONS * CUSTOMERS / 10) as u64,
        "every page was asked for: {seen:?}"
    );
    env.finish().await;
}

/// The same fleet with a budget above the service's limit: the sandbox refuses requests, so the
/// test above would fail without the shared budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_fleet_with_a_budget_above_the_limit_meets_503s() {
    let env = strict_sandbox(Some("concurrent = 50")).await;
    let workers = start_workers(&env);
    trigger_all(&env).await;
    // Polled until the first refusal (or the deadline): how the runs end after it does not matter.
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        let seen = counts(&env).await;
        if seen.busy + seen.too_many > 0 || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(workers);
    println!("budget of 50 at once against a limit of 5: sandbox saw {seen:?}");
    assert!(
        seen.busy > 0,
        "eight runs at once exceed five slots: {seen:?}"
    );
    assert!(
        seen.max_in_flight <= 5,
        "the sandbox holds its limit: {seen:?}"
    );
    env.finish().await;
}

/// One-process mode (a SQLite queue): the budget is counted in the process, and eight runs at once
/// on one connection still keep within its five slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_mode_keeps_within_the_limit_too() {
    let mut env = TestEnv::without_worker_on(Backend::Sqlite, CUSTOMERS, 1).await;
    env.settings.worker.concurrency = INTEGRATIONS;
    env.settings.worker.page_size = 10;
    env.apply(&definitions(&env, None)).await;
    env.control(
        "/_sandbox/limits",
        json!({ "max_concurrent": 5, "queue_timeout_ms": 0 }),
    )
    .await;
    env.slow_pages(40).await;
    env.start_worker();
    for run in trigger_all(&env).await {
        let run = ferry_scheduler::cli::wait_for(&env.db, run, Duration::from_secs(240))
            .await
            .unwrap();
        assert_eq!(run.status, "succeeded", "{run:?}");
        assert_eq!(run.requests_retried, 0, "{run:?}");
    }
    let seen = counts(&env).await;
    println!("one process, budget in the process: sandbox saw {seen:?}");
    assert_eq!((seen.busy, seen.too_many), (0, 0), "{seen:?}");
    assert!(seen.max_in_flight <= 5, "{seen:?}");
    env.finish().await;
}

/// The window's count is shared in Redis too: three requests per second between two "processes",
/// the fourth waits until the first leaves the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_window_is_shared_and_a_spent_one_waits() {
    let env = TestEnv::without_worker_on(Backend::Postgres, 0, 0).await;
    let three_a_second = Budget {
        concurrent: 10,
        window: Some(Window {
            requests: 3,
            per: Duration::from_secs(1),
        }),
    };
    let first = Budgets::for_queue(&env.settings.queue, Default::default());
    let second = Budgets::for_queue(&env.settings.queue, Default::default());
    let started = Instant::now();
    for budgets in [&first, &second, &first] {
        drop(
            budgets
                .gate("dv", three_a_second, Duration::from_secs(5))
                .enter()
                .await
                .unwrap(),
        );
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(
        second
            .gate("dv", three_a_second, Duration::from_secs(5))
            .enter()
            .await
            .unwrap(),
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(950),
        "the fourth request waited for the window: {waited:?}"
    );
    env.finish().await;
}

fn one_at_a_time() -> Budget {
    Budget {
        concurrent: 1,
        window: None,
    }
}

/// Two "processes" (two budgets on one Redis prefix) share one slot; a holder that vanishes without
/// giving its slot back (its runtime gone, as a killed process's) loses it when its lease runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_slots_are_shared_and_a_vanished_holders_lease_runs_out() {
    let env = TestEnv::without_worker_on(Backend::Postgres, 0, 0).await;
    let lease = Duration::from_secs(1);
    let first = Budgets::in_redis(&env.settings.queue, lease, Default::default());
    let second = Budgets::in_redis(&env.settings.queue, lease, Default::default());

    let held = first
        .gate("bc", one_at_a_time(), Duration::from_secs(1))
        .enter()
        .await
        .unwrap();
    let refused = second
        .gate("bc", one_at_a_time(), Duration::from_millis(300))
        .enter()
        .await
        .unwrap_err();
    assert!(matches!(refused, BudgetError::Spent { .. }), "{refused}");
    drop(held);
    // Given back at once (not after the lease), and renewed while held past its lease.
    let renewed = second
        .gate("bc", one_at_a_time(), Duration::from_millis(500))
        .enter()
        .await
        .unwrap();
    tokio::time::sleep(lease * 3).await;
    assert!(
        first
            .gate("bc", one_at_a_time(), Duration::from_millis(200))
            .enter()
            .await
            .is_err(),
        "a lease renewed while held outlives its first term"
    );
    drop(renewed);

    // A holder that never gives its slot back: its runtime ends with the slot taken.
    let queue = env.settings.queue.clone();
    let taken = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let budgets = Budgets::in_redis(&queue, lease, Default::default());
            // Timed from before the slot is taken: its lease starts inside that call, so an instant
            // taken after it returns would be late by the round trip (CI saw 999.8 ms of a 1 s lease).
            let asked = Instant::now();
            let permit = budgets
                .gate("bc", one_at_a_time(), Duration::from_secs(5))
                .enter()
                .await
                .unwrap();
            std::mem::forget(permit);
            asked
        })
    })
    .join()
    .unwrap();
    assert!(
        first
            .gate("bc", one_at_a_time(), Duration::from_millis(200))
            .enter()
            .await
            .is_err(),
        "the vanished holder's slot is still taken"
    );
    let back = first
        .gate("bc", one_at_a_time(), Duration::from_secs(10))
        .enter()
        .await
        .expect("the slot comes back");
    let after = taken.elapsed();
    println!("a vanished holder's slot came back after {after:?} (lease {lease:?})");
    assert!(after >= lease, "not before its lease ran out: {after:?}");
    drop(back);
    env.finish().await;
}

/// The real thing: a `ferry-worker` killed with SIGKILL while its request is in flight. Its slot
/// stays taken until the lease it stopped renewing runs out, then comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_slot_comes_back_when_its_lease_runs_out() {
    let env = TestEnv::without_worker_on(Backend::Postgres, 20, 1).await;
    env.apply(&definitions(&env, None)).await;
    // Customer pages take a minute: the worker's request is in flight when it is killed.
    env.slow_pages(60_000).await;
    let mut worker = start_workers(&env).remove(0);
    ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers_1", Mode::Incremental)
        .await
        .unwrap();
    let probe = Budgets::in_redis(
        &env.settings.queue,
        Duration::from_secs(15),
        Default::default(),
    );
    let gate = probe.gate("bc", one_at_a_time(), Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(60);
    // The worker holds a slot once its customer page is asked for.
    loop {
        match gate.enter().await {
            Err(BudgetError::Spent { .. }) => break,
            Err(e) => panic!("{e}"),
            Ok(_) => {
                assert!(Instant::now() < deadline, "the worker never took a slot");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    worker.kill().await.unwrap();
    let killed = Instant::now();
    assert!(
        probe
            .gate("bc", one_at_a_time(), Duration::from_secs(2))
            .enter()
            .await
            .is_err(),
        "a killed worker gives nothing back: its slot stays taken"
    );
    probe
        .gate("bc", one_at_a_time(), Duration::from_secs(30))
        .enter()
        .await
        .expect("the slot comes back when the lease runs out");
    println!(
        "a killed worker's slot came back {:?} after the kill",
        killed.elapsed()
    );
    env.finish().await;
}
