//! Scenario 5: an export of local inserts to Business Central, its lease holder killed with
//! `kill -9` between and during its `$batch` writes. Every record must reach Business Central exactly
//! once, none may fail (a second create would fail with "already exists"), and the change log must
//! be empty at the end.

use std::time::Duration;

use ferry_shared::runs::Mode;
use sea_orm::ConnectionTrait;

use crate::helpers::bc_connection;
use crate::world::World;

/// Local rows to export: 20 pages of 100.
const ROWS: usize = 2_000;
const KILLS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_mid_write_creates_every_record_exactly_once() {
    let mut world = World::start("export_kills", false).await;
    world
        .db
        .execute_unprepared(
            "CREATE TABLE outbox (no varchar(20) PRIMARY KEY, name text, city text)",
        )
        .await
        .unwrap();
    let values: Vec<String> = (0..ROWS)
        .map(|n| format!("('OUT-{n:05}', 'Outbound {n}', 'Coimbra')"))
        .collect();
    world
        .db
        .execute_unprepared(&format!(
            "INSERT INTO outbox (no, name, city) VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
    let file = world.file(
        "outbox.toml",
        &format!(
            r#"{}
[[integration]]
name = "outbox"
connection = "bc_out"
direction = "export"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "outbox", key = ["no"] }}
fields = [
  {{ from = "No", to = "no" }},
  {{ from = "Name", to = "name" }},
  {{ from = "City", to = "city" }},
]
"#,
            bc_connection(&world.sandbox, "bc_out", &world.sandbox.resco_url())
        ),
    );
    ferry_scheduler::cli::apply(&world.db, std::slice::from_ref(&file))
        .await
        .expect("apply runs")
        .expect("definitions are valid");
    // Slow batches, so the kills land while pages are being written: before a batch is carried
    // out, and after (applied, its answer not yet back, nothing committed locally).
    reqwest::Client::new()
        .post(format!("{}/_sandbox/faults", world.sandbox.base_url()))
        .json(&serde_json::json!({ "route": "*$batch*", "latency_ms": 150, "latency_after_ms": 300, "rate": 1.0 }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    // A full export logs every local row (they were there before the triggers).
    let run_id = ferry_scheduler::cli::trigger(&world.db, &world.settings, "outbox", Mode::Full)
        .await
        .expect("trigger");
    let slice = ROWS as f64 / (KILLS + 2) as f64;
    for i in 0..KILLS {
        let point = ((i as f64 + 0.5 + world.rng.f64()) * slice) as i64;
        if !changes_read(&world, run_id, point).await {
            world.fail(&format!("the export ended after {i} kills"));
        }
        tokio::time::sleep(Duration::from_millis(world.rng.u64(0..300))).await;
        let run = world.run(run_id).await.expect("the run row");
        let victim = world.lease_holder(&run).unwrap_or(0);
        world.kill_and_restart_worker(victim).await;
        println!(
            "export kill {i}: worker {victim} at {point} changes, attempt {}",
            run.attempt
        );
    }
    let run = world.wait_final(run_id, Duration::from_secs(300)).await;
    assert_eq!(run.state, "succeeded", "{run:#?}");
    assert_eq!(
        run.export_failed, 0,
        "no record was refused as a duplicate: {run:#?}"
    );
    let remote: Vec<_> = world
        .sandbox
        .rows("RescoCustomer")
        .into_iter()
        .filter(|r| r["No"].as_str().is_some_and(|no| no.starts_with("OUT-")))
        .collect();
    assert_eq!(remote.len(), ROWS, "every local row exists remotely, once");
    for row in &remote {
        let n: usize = row["No"].as_str().unwrap()[4..].parse().unwrap();
        assert_eq!(row["Name"], format!("Outbound {n}"));
    }
    let left = world
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM ferry_changes",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(left, 0, "the change log is drained");
    println!(
        "exported {ROWS} records over {} attempts; inserted {} + adopted {}",
        run.attempt, run.export_inserted, run.export_unchanged
    );
    world.finish().await;
}

/// Polls until the run has committed `changes` change log entries (its `rows_read`); false when it
/// ended first.
async fn changes_read(world: &World, run_id: i64, changes: i64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while tokio::time::Instant::now() < deadline {
        match world.run(run_id).await {
            Some(run) if run.rows_read >= changes => return true,
            Some(run) if run.state != "queued" && run.state != "running" => return false,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    world.fail(&format!(
        "run {run_id} read fewer than {changes} changes within 120 s"
    ))
}
