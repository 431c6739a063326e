//! Retention prunes history, never what is owed: a failure stays until a later write resolves it (it is
//! what `--retry-failed` replays), so do the runs owning open failures and the runs whose parked records
//! still wait; resolved failures and runs that owe nothing go. On both backends.

use std::time::Duration;

use ferry_shared::runs::{self, Mode};
use ferry_shared::storage::statement;
use sea_orm::{ConnectionTrait, Value};

use crate::helpers::{Backend, TestEnv};

/// Customers whose lookup into `known` (`missing` as given) fails until the test adds their keys.
fn looked_up(name: &str, missing: &str) -> String {
    format!(
        r#"
[[integration]]
name = "{name}"
connection = "bc"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "{name}", key = ["no"], create = true }}
fields = [{{ from = "No", to = "no" }}]
lookups = [{{ to = "label", from = ["No"], table = "known", match = ["no"], select = "label", missing = "{missing}" }}]
"#
    )
}

/// Retention as the scheduler runs it, with the default 30 days.
const RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Makes every finished run 60 days old, instead of waiting for them to age.
pub async fn age_runs(env: &TestEnv) {
    let old = (chrono::Utc::now() - chrono::Duration::days(60)).fixed_offset();
    env.db
        .execute_raw(statement(
            env.db.get_database_backend(),
            "UPDATE ferry_runs SET finished_at = ? WHERE finished_at IS NOT NULL",
            [old.into()],
        ))
        .await
        .unwrap();
}

/// Adds the given source keys to the lookup table `known`, so their lookups resolve.
pub async fn know(env: &TestEnv, keys: &[String]) {
    for chunk in keys.chunks(1_000) {
        let tuples = vec!["(?, 'ok')"; chunk.len()].join(", ");
        let values: Vec<Value> = chunk.iter().map(|k| k.clone().into()).collect();
        env.db
            .execute_raw(statement(
                env.db.get_database_backend(),
                &format!("INSERT INTO known (no, label) VALUES {tuples}"),
                values,
            ))
            .await
            .unwrap();
    }
}

pub async fn create_known(env: &TestEnv) {
    env.db
        .execute_unprepared("CREATE TABLE known (no varchar(20) PRIMARY KEY, label text)")
        .await
        .unwrap();
}

fn source_keys(env: &TestEnv) -> Vec<String> {
    env.sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_string())
        .collect()
}

crate::on_both_backends!(
    #[tokio::test]
    retention_keeps_open_failures_and_their_runs_and_prunes_resolved_ones
);
async fn retention_keeps_open_failures_and_their_runs_and_prunes_resolved_ones(backend: Backend) {
    let env = TestEnv::start_on(backend, 50, 1).await;
    create_known(&env).await;
    env.apply(&env.write_definitions(&looked_up("owed", "fail")))
        .await;
    let keys = source_keys(&env);

    let first = env.run("owed", Mode::Incremental).await;
    assert_eq!((first.status.as_str(), first.failed), ("partial", 50));
    know(&env, &keys[..20]).await;
    let second = env.run("owed", Mode::RetryFailed).await;
    assert_eq!((second.inserted, second.failed), (20, 30));
    let third = env.run("owed", Mode::Incremental).await;
    assert_eq!((third.status.as_str(), third.rows_read), ("succeeded", 0));

    age_runs(&env).await;
    let pruned = runs::prune(&env.db, RETENTION).await.unwrap();
    assert_eq!(pruned, 1, "only the run that owes nothing goes");
    let first_left = runs::run_failures(&env.db, first.run_id).await.unwrap();
    assert_eq!(first_left.len(), 30, "its 20 resolved failures went");
    assert!(first_left.iter().all(|f| f.resolved_at.is_none()));
    assert_eq!(
        runs::run_failures(&env.db, second.run_id)
            .await
            .unwrap()
            .len(),
        30
    );
    let left = env.count("SELECT count(*) FROM ferry_runs").await;
    assert_eq!(left, 2, "the runs owning open failures stay");

    // Fixed at last: the replay still finds every owed record, and then nothing is owed.
    know(&env, &keys[20..]).await;
    let replay = env.run("owed", Mode::RetryFailed).await;
    assert_eq!(
        (replay.status.as_str(), replay.rows_read, replay.inserted),
        ("succeeded", 30, 30)
    );
    assert_eq!(env.table("owed", &["no"], "no").await.len(), 50);
    age_runs(&env).await;
    assert_eq!(runs::prune(&env.db, RETENTION).await.unwrap(), 3);
    assert_eq!(env.count("SELECT count(*) FROM ferry_run_errors").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM ferry_runs").await, 0);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    retention_keeps_parked_records_and_the_run_that_parked_them
);
async fn retention_keeps_parked_records_and_the_run_that_parked_them(backend: Backend) {
    let env = TestEnv::start_on(backend, 30, 1).await;
    create_known(&env).await;
    env.apply(&env.write_definitions(&looked_up("waiting", "defer")))
        .await;
    let parked = env.run("waiting", Mode::Incremental).await;
    assert_eq!(parked.deferred, 30);

    age_runs(&env).await;
    assert_eq!(runs::prune(&env.db, RETENTION).await.unwrap(), 0);
    assert_eq!(env.count("SELECT count(*) FROM ferry_deferred").await, 30);
    let parked_by = env
        .count(&format!(
            "SELECT count(*) FROM ferry_deferred d JOIN ferry_runs r ON r.id = d.run_id \
             WHERE r.id = {}",
            parked.run_id
        ))
        .await;
    assert_eq!(parked_by, 30, "the run that parked them stays");

    know(&env, &source_keys(&env)).await;
    let written = env.run("waiting", Mode::Incremental).await;
    assert_eq!(
        (written.status.as_str(), written.inserted),
        ("succeeded", 30)
    );
    assert_eq!(env.count("SELECT count(*) FROM ferry_deferred").await, 0);
    age_runs(&env).await;
    assert_eq!(runs::prune(&env.db, RETENTION).await.unwrap(), 2);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    retention_sweeps_a_key_scan_a_crash_left_behind
);
async fn retention_sweeps_a_key_scan_a_crash_left_behind(backend: Backend) {
    use ferry_shared::sink::key_scan::{self, KeyScan};
    let env = TestEnv::without_worker_on(backend, 1, 1).await;
    let abandoned = KeyScan::start(&env.db, "customers", Some(1)).await.unwrap();
    abandoned
        .add(&env.db, vec!["C1".into(), "C2".into(), "C1".into()])
        .await
        .unwrap();
    let fresh = KeyScan::start(&env.db, "customers", None).await.unwrap();
    fresh.add(&env.db, vec!["C3".into()]).await.unwrap();
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).fixed_offset();
    env.db
        .execute_raw(statement(
            env.db.get_database_backend(),
            "UPDATE ferry_key_scans SET started_at = ? WHERE id = ?",
            [two_days_ago.into(), abandoned.id.into()],
        ))
        .await
        .unwrap();
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_scanned_keys").await,
        3
    );

    assert_eq!(key_scan::sweep(&env.db).await.unwrap(), 1);
    assert_eq!(env.count("SELECT count(*) FROM ferry_key_scans").await, 1);
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_scanned_keys").await,
        1
    );
    env.finish().await;
}

/// Idempotency keys go with their runs: once retention deleted the run a key stood for, the same key
/// starts a new run rather than answering with the deleted run's id.
async fn idempotency_keys_are_pruned_with_their_runs(backend: Backend) {
    let mut env = TestEnv::start_on(backend, 10, 0).await;
    env.apply(&env.write_definitions("")).await;
    let base = env.start_scheduler().await;
    let trigger = || {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/integrations/customers/runs"))
            .bearer_auth(crate::helpers::API_TOKEN)
            .header("Idempotency-Key", "nightly-1")
            .send()
    };
    let first: serde_json::Value = trigger().await.unwrap().json().await.unwrap();
    let first = first["run_id"].as_i64().unwrap();
    ferry_scheduler::cli::wait_for(&env.db, first, Duration::from_secs(60))
        .await
        .unwrap();
    age_runs(&env).await;
    runs::prune(&env.db, RETENTION).await.unwrap();
    assert!(
        runs::get(&env.db, first).await.unwrap().is_none(),
        "the run was pruned"
    );
    let second: serde_json::Value = trigger().await.unwrap().json().await.unwrap();
    let second = second["run_id"].as_i64().unwrap();
    assert_ne!(second, first, "the key starts a new run");
    assert!(runs::get(&env.db, second).await.unwrap().is_some());
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    idempotency_keys_are_pruned_with_their_runs
);
