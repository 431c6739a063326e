//! The initial load in key order (ARCHITECTURE.md, "Initial load"): a read of everything asks for the
//! high-water version once, then reads the entity by key, never sorted by the version Business Central
//! has no index for; the checkpoint ends at the high-water mark, so what changed during the scan comes
//! with the next delta; and a scan stopped part way goes on by key.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

/// The sandbox's reads of `RescoCustomer` so far, each as its decoded query options.
fn customer_reads(env: &TestEnv) -> Vec<Vec<(String, String)>> {
    env.sandbox
        .requests()
        .iter()
        .filter_map(|line| line.strip_prefix("GET "))
        .filter_map(|target| target.split_once("/RescoCustomer?"))
        .map(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .collect()
}

fn option<'a>(read: &'a [(String, String)], name: &str) -> Option<&'a str> {
    read.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Whether `read` asks for the high-water mark: the top row by version, descending.
fn is_high_water(read: &[(String, String)]) -> bool {
    option(read, "$orderby") == Some("RowVersionNumber desc") && option(read, "$top") == Some("1")
}

/// The highest row version the sandbox holds now.
fn source_high(env: &TestEnv) -> i64 {
    env.sandbox
        .rows("RescoCustomer")
        .iter()
        .filter_map(|r| r["RowVersionNumber"].as_i64())
        .max()
        .unwrap()
}

fn checkpoint_value(checkpoint: &Option<serde_json::Value>) -> i64 {
    let checkpoint = checkpoint.as_ref().expect("a checkpoint");
    assert_eq!(checkpoint["kind"], "version", "{checkpoint}");
    checkpoint["value"].as_i64().unwrap()
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_first_load_reads_the_high_water_mark_then_scans_by_key
);
/// The first request of a first load is the high-water mark; every page after it is ordered by the
/// key, none by the version; the checkpoint ends at that mark.
async fn a_first_load_reads_the_high_water_mark_then_scans_by_key(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 2_000, 5).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.start_worker();
    let high = source_high(&env);
    env.sandbox.clear_requests();
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 2_000),
        "{:?}",
        run.error
    );
    let reads = customer_reads(&env);
    assert!(is_high_water(&reads[0]), "first read: {:?}", reads[0]);
    let scan = &reads[1..];
    assert_eq!(scan.len(), 4, "four pages of 500: {scan:?}");
    for read in scan {
        assert_eq!(option(read, "$orderby"), Some("No asc"), "{read:?}");
    }
    assert_eq!(checkpoint_value(&run.checkpoint_after), high);
    assert_customers_equal_source(&env).await;

    // `--full` reads the same way, and a delta after it orders by the version again.
    env.sandbox.clear_requests();
    let full = env.run("customers", Mode::Full).await;
    assert_eq!((full.status.as_str(), full.rows_read), ("succeeded", 2_000));
    let reads = customer_reads(&env);
    assert!(is_high_water(&reads[0]), "{:?}", reads[0]);
    assert!(
        reads[1..]
            .iter()
            .all(|r| option(r, "$orderby") == Some("No asc"))
    );
    env.mutate("RescoCustomer", 0, 3, 0);
    env.sandbox.clear_requests();
    let delta = env.run("customers", Mode::Incremental).await;
    assert_eq!(delta.updated, 3);
    let reads = customer_reads(&env);
    assert_eq!(
        option(&reads[0], "$orderby"),
        Some("RowVersionNumber asc"),
        "{reads:?}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    rows_changed_during_the_scan_come_with_the_next_delta
);
/// Rows the scan already passed are changed while it runs: the checkpoint is the high-water mark read
/// before the scan, so the next delta reads them, and the target ends equal to the source.
async fn rows_changed_during_the_scan_come_with_the_next_delta(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 3_000, 5).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(200).await;
    let high = source_high(&env);
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    env.start_worker();
    env.wait_until(run_id, "two pages committed", |r| r.rows_read >= 1_000)
        .await;
    // Every row changes: the scan has passed a third of them, and meets the rest as they are now.
    env.mutate("RescoCustomer", 0, 3_000, 0);
    let run = cli::wait_for(&env.db, run_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(
        checkpoint_value(&run.checkpoint_after),
        high,
        "the checkpoint is the high-water mark read before the scan, not the largest version met"
    );
    env.clear_faults().await;
    let delta = env.run("customers", Mode::Incremental).await;
    assert_eq!(delta.status, "succeeded", "{:?}", delta.error);
    assert_eq!(delta.rows_read, 3_000, "every row changed after the mark");
    assert!(
        (1_000..3_000).contains(&delta.updated),
        "the rows the scan had passed (and only those, unchanged otherwise) are written: {}",
        delta.updated
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_first_load_stopped_part_way_goes_on_by_key
);
/// A retriable failure part way through a first load: the retry goes on after the last key written,
/// with the high-water mark it had, and reads no committed page again.
async fn a_first_load_stopped_part_way_goes_on_by_key(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 3_000, 5).await;
    env.settings.worker.page_size = 500;
    env.apply(&env.write_definitions("")).await;
    env.slow_pages(300).await;
    let high = source_high(&env);
    env.sandbox.clear_requests();
    let run_id = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
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
        (run.status.as_str(), run.attempt),
        ("succeeded", 2),
        "{:?}",
        run.error
    );
    assert_eq!(
        run.rows_read, 3_000,
        "the second attempt went on from the last committed page"
    );
    assert_eq!(run.inserted, 3_000);
    assert_eq!(checkpoint_value(&run.checkpoint_after), high);
    let reads = customer_reads(&env);
    assert_eq!(
        reads.iter().filter(|r| is_high_water(r)).count(),
        1,
        "the retry kept the high-water mark"
    );
    assert!(
        reads
            .iter()
            .any(|r| option(r, "$filter").is_some_and(|f| f.starts_with("No gt '"))),
        "the retry asked for the keys after the last one written: {reads:?}"
    );
    assert!(
        reads
            .iter()
            .all(|r| option(r, "$orderby") != Some("RowVersionNumber asc")),
        "{reads:?}"
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

/// `line` without its ANSI colour sequences (`ESC [ … m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Customers into a table of their own, and contacts folded on purpose by their customer number into
/// an empty table: a later page meets a target key an earlier page wrote. The names are this test's
/// own, since its log lines are told from other tests' by them.
const CONTACTS_BY_CUSTOMER: &str = r#"
[[integration]]
name = "customers_by_insert"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "customers_by_insert", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]

[[integration]]
name = "contacts_by_customer"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber" }
target = { table = "contacts_by_customer", key = ["customer_no"], create = true }
fields = [{ from = "CustomerNo", to = "customer_no" }, { from = "Name", to = "name" }]
"#;

/// On PostgreSQL a first load into an empty table writes by plain insert (no upsert's probe before
/// each row). A key met twice fails that page with a unique violation; the page rolls back and the
/// run goes on from its checkpoint by upsert, in the same attempt, and ends as an upsert would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_inserts_and_a_key_met_twice_turns_it_to_upsert() {
    let logs = crate::helpers::captured_logs();
    let mut env = TestEnv::without_worker(300, 400).await;
    env.settings.worker.page_size = 37;
    env.apply(&env.write_definitions(CONTACTS_BY_CUSTOMER))
        .await;
    env.start_worker();

    let run = env.run("customers_by_insert", Mode::Incremental).await;
    assert_eq!((run.status.as_str(), run.inserted), ("succeeded", 300));
    let stored = env.table("customers_by_insert", &["no"], "no").await.len();
    assert_eq!(stored, 300);
    // Whether a log line of `integration` says `what` (the lines carry terminal colours; every test
    // of this process logs into the same buffer, and run ids repeat across their databases).
    let said = |integration: &str, what: &str| {
        logs().lines().any(|line| {
            let plain = without_colours(line);
            plain.contains(what)
                && plain
                    .replace('"', "")
                    .contains(&format!("integration={integration}"))
        })
    };
    assert!(said("customers_by_insert", "rows land by plain insert"));
    assert!(!said("customers_by_insert", "writing by upsert"));

    let run = env.run("contacts_by_customer", Mode::Incremental).await;
    let customers: std::collections::BTreeSet<String> = env
        .sandbox
        .rows("RescoContact")
        .iter()
        .filter_map(|r| r["CustomerNo"].as_str().map(str::to_string))
        .collect();
    assert!(said("contacts_by_customer", "rows land by plain insert"));
    assert!(
        said("contacts_by_customer", "writing by upsert"),
        "a key was met twice"
    );
    assert_eq!(run.rows_read, 400, "{:?}", run.error);
    assert_eq!(run.inserted as usize, customers.len());
    assert_eq!(
        run.rows_read,
        run.inserted + run.updated + run.unchanged + run.folded,
        "{run:?}"
    );
    let attempts = ferry_shared::runs::attempts(&env.db, run.run_id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let stored: Vec<String> = env
        .table("contacts_by_customer", &["customer_no"], "customer_no")
        .await
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect();
    assert_eq!(stored, customers.into_iter().collect::<Vec<_>>());
    env.finish().await;
}
