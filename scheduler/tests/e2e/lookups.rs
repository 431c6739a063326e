//! Lookups end to end: contacts refer to customers by `CustomerNo`, service lines to service orders by
//! (document type, document number); every `missing` policy, and deferred records resolving later.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::{Mode, RunSummary};
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestEnv, text};

/// Contacts with a lookup on CustomerNo → customer.bc_no, selecting the customer's name.
fn contacts(missing: &str) -> String {
    format!(
        r#"
[[integration]]
name = "contacts"
connection = "bc"
source = {{ entity = "RescoContact", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "contact", key = ["bc_no"], create = true }}
fields = [{{ from = "No", to = "bc_no" }}, {{ from = "CustomerNo", to = "customer_no" }}]
lookups = [
  {{ to = "customer_name", from = ["CustomerNo"], table = "customer", match = ["bc_no"], select = "name", missing = "{missing}" }},
]
"#
    )
}

/// The newest run of `integration`, which must have been triggered by a lookup, waited for to its end.
async fn woken_run(env: &TestEnv, integration: &str) -> RunSummary {
    let newest = cli::print_runs(&env.db, Some(integration), 1)
        .await
        .unwrap();
    let run = newest.first().expect("a run was triggered");
    assert_eq!(run.trigger, "lookup");
    cli::wait_for(&env.db, run.run_id, Duration::from_secs(120))
        .await
        .unwrap()
}

/// `(contacts with a customer, contacts without)` at the source.
fn contact_counts(env: &TestEnv) -> (i64, i64) {
    let rows = env.sandbox.rows("RescoContact");
    let with = rows
        .iter()
        .filter(|r| !r["CustomerNo"].as_str().unwrap_or_default().is_empty())
        .count() as i64;
    (with, rows.len() as i64 - with)
}

/// Asserts every contact's customer_name equals its customer's name (null without a customer).
async fn assert_names_resolved(env: &TestEnv) {
    let names: std::collections::HashMap<String, Option<String>> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| (text(&r["No"]).unwrap(), text(&r["Name"])))
        .collect();
    let got = env
        .table(
            "contact",
            &["bc_no", "customer_no", "customer_name"],
            "bc_no",
        )
        .await;
    assert_eq!(got.len(), env.sandbox.rows("RescoContact").len());
    for row in got {
        let customer = row[1].clone().unwrap_or_default();
        let expected = if customer.is_empty() {
            None
        } else {
            names[&customer].clone()
        };
        assert_eq!(row[2], expected, "contact {:?}", row[0]);
    }
}

crate::on_both_backends!(
    #[tokio::test]
    deferred_contacts_resolve_once_customers_are_imported
);
async fn deferred_contacts_resolve_once_customers_are_imported(backend: Backend) {
    let env = TestEnv::start_on(backend, 400, 700).await;
    env.apply(&env.write_definitions(&contacts("defer"))).await;
    let (with, without) = contact_counts(&env);
    assert!(with > 0 && without > 0, "the sandbox mixes both");

    let early = env.run("contacts", Mode::Incremental).await;
    assert_eq!(early.status, "succeeded", "{:?}", early.error);
    assert_eq!(early.deferred, with, "every contact with a customer waits");
    assert_eq!(early.inserted, without);

    // Still nothing to refer to: the parked ones are retried and stay parked.
    let again = env.run("contacts", Mode::Incremental).await;
    assert_eq!((again.deferred, again.inserted), (with, 0));

    let customers = env.run("customers", Mode::Incremental).await;
    assert_eq!(customers.status, "succeeded");
    // Customers succeeding wakes contacts, whose parked records wait on the customer table.
    let resolved = woken_run(&env, "contacts").await;
    assert_eq!(resolved.status, "succeeded", "{:?}", resolved.error);
    assert_eq!(resolved.deferred, 0);
    assert_eq!(resolved.inserted, with);
    assert_names_resolved(&env).await;

    // /metrics counts every deferral, run after run.
    let deferred_total = env
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            env.db.get_database_backend(),
            "SELECT CAST(value AS BIGINT) FROM ferry_counters WHERE metric = 'ferry_rows_total' \
             AND labels = 'integration=\"contacts\",op=\"deferred\"'",
        ))
        .await
        .unwrap()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap());
    assert_eq!(deferred_total, Some(early.deferred + again.deferred));

    // Nothing parked remains, so the next run has nothing to replay.
    let quiet = env.run("contacts", Mode::Incremental).await;
    assert_eq!((quiet.deferred, quiet.inserted, quiet.updated), (0, 0, 0));
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    null_writes_the_record_without_the_reference
);
async fn null_writes_the_record_without_the_reference(backend: Backend) {
    let env = TestEnv::start_on(backend, 100, 200).await;
    env.apply(&env.write_definitions(&contacts("null"))).await;
    let run = env.run("contacts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded");
    assert_eq!((run.inserted, run.deferred, run.failed), (200, 0, 0));
    let names = env.table("contact", &["customer_name"], "bc_no").await;
    assert!(names.iter().all(|r| r[0].is_none()));

    env.run("customers", Mode::Incremental).await;
    let full = env.run("contacts", Mode::Full).await;
    let (with, _) = contact_counts(&env);
    assert_eq!(full.updated, with, "a full run fills the references in");
    assert_names_resolved(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    skip_leaves_unresolved_records_out
);
async fn skip_leaves_unresolved_records_out(backend: Backend) {
    let env = TestEnv::start_on(backend, 100, 200).await;
    env.apply(&env.write_definitions(&contacts("skip"))).await;
    let (_, without) = contact_counts(&env);
    let run = env.run("contacts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded");
    assert_eq!((run.inserted, run.deferred, run.failed), (without, 0, 0));
    assert_eq!(run.rows_read, 200);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    fail_records_each_unresolved_record_as_failed
);
async fn fail_records_each_unresolved_record_as_failed(backend: Backend) {
    let env = TestEnv::start_on(backend, 100, 200).await;
    env.apply(&env.write_definitions(&contacts("fail"))).await;
    let (with, without) = contact_counts(&env);
    env.run("customers", Mode::Incremental).await;
    // Drop some customers locally so their contacts cannot resolve.
    env.db
        .execute_unprepared("DELETE FROM customer WHERE bc_no IN (SELECT bc_no FROM customer ORDER BY bc_no LIMIT 10)")
        .await
        .unwrap();
    let gone: std::collections::HashSet<String> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .take(10)
        .map(|r| text(&r["No"]).unwrap())
        .collect();
    let orphans = env
        .sandbox
        .rows("RescoContact")
        .iter()
        .filter(|r| gone.contains(r["CustomerNo"].as_str().unwrap_or_default()))
        .count() as i64;

    let run = env.run("contacts", Mode::Incremental).await;

    assert_eq!(run.failed, orphans);
    assert_eq!(run.inserted, with + without - orphans);
    assert_eq!(
        run.status,
        if orphans > 0 { "partial" } else { "succeeded" }
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_composite_lookup_resolves_service_lines_to_their_order
);
async fn a_composite_lookup_resolves_service_lines_to_their_order(backend: Backend) {
    let env = TestEnv::start_on(backend, 50, 50).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "orders"
connection = "bc"
source = { entity = "RescoServiceOrder", key = ["No"], version = "RowVersionNumber" }
target = { table = "service_order", key = ["no"], create = true }
fields = [
  { from = "No", to = "no" },
  { from = "DocumentType", to = "document_type" },
  { from = "id", to = "bc_id" },
]

[[integration]]
name = "lines"
connection = "bc"
source = { entity = "RescoServiceLineItem", key = ["documentType", "documentNo", "lineNo"], version = "rowVersionNumber" }
target = { table = "service_line", key = ["document_no", "line_no"], create = true }
fields = [
  { from = "documentNo", to = "document_no" },
  { from = "lineNo", to = "line_no" },
]
lookups = [
  { to = "order_id", from = ["documentType", "documentNo"], table = "service_order", match = ["document_type", "no"], select = "bc_id", missing = "defer" },
]
"#,
    ))
    .await;
    let lines = env.sandbox.rows("RescoServiceLineItem");

    let early = env.run("lines", Mode::Incremental).await;
    assert_eq!(early.deferred, lines.len() as i64);
    env.run("orders", Mode::Incremental).await;
    let run = woken_run(&env, "lines").await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!((run.inserted, run.deferred), (lines.len() as i64, 0));
    let orders: std::collections::HashMap<(String, String), String> = env
        .sandbox
        .rows("RescoServiceOrder")
        .iter()
        .map(|o| {
            (
                (text(&o["DocumentType"]).unwrap(), text(&o["No"]).unwrap()),
                text(&o["id"]).unwrap().to_lowercase(),
            )
        })
        .collect();
    let got = env
        .table(
            "service_line",
            &["document_no", "line_no", "order_id"],
            "document_no",
        )
        .await;
    let mut expected: Vec<Vec<Option<String>>> = lines
        .iter()
        .map(|l| {
            let key = (
                text(&l["documentType"]).unwrap(),
                text(&l["documentNo"]).unwrap(),
            );
            vec![
                Some(key.1.clone()),
                text(&l["lineNo"]),
                orders.get(&key).cloned(),
            ]
        })
        .collect();
    let mut got = got;
    got.sort();
    expected.sort();
    assert!(
        expected.iter().all(|r| r[2].is_some()),
        "every line has its order"
    );
    assert_eq!(got, expected);
    env.finish().await;
}

/// Two integrations whose `defer` lookups read each other's tables and never resolve.
const MUTUAL: &str = r#"
[[integration]]
name = "left"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "left_t", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
lookups = [{ to = "partner", from = ["Name"], table = "right_t", match = ["no"], select = "no", missing = "defer" }]

[[integration]]
name = "right"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "right_t", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
lookups = [{ to = "partner", from = ["Name"], table = "left_t", match = ["no"], select = "no", missing = "defer" }]
"#;

/// Runs of `integration`, oldest first.
async fn runs_of(env: &TestEnv, integration: &str) -> Vec<RunSummary> {
    let mut runs = cli::print_runs(&env.db, Some(integration), 1_000)
        .await
        .unwrap();
    runs.reverse();
    runs
}

/// Two integrations that defer on each other wake each other once per upstream run, not for ever: a
/// run woken by a lookup never wakes an integration in the chain that woke it.
async fn integrations_that_defer_on_each_other_do_not_wake_each_other_for_ever(backend: Backend) {
    let env = TestEnv::start_on(backend, 30, 0).await;
    env.apply(&env.write_definitions(MUTUAL)).await;
    let left = env.run("left", Mode::Incremental).await;
    assert_eq!(left.deferred, 30, "{left:?}");
    let right = env.run("right", Mode::Incremental).await;
    assert_eq!(right.deferred, 30, "{right:?}");
    // right's run wakes left (its parked records read right_t); left's woken run must not wake right.
    let woken = woken_run(&env, "left").await;
    assert_eq!(
        woken.deferred, 30,
        "the parked records are replayed, still unresolved"
    );
    // A storm makes a run every few hundred milliseconds; give it time to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lefts = runs_of(&env, "left").await;
    let rights = runs_of(&env, "right").await;
    assert_eq!(
        (lefts.len(), rights.len()),
        (2, 1),
        "left: {:?}, right: {:?}",
        lefts.iter().map(|r| &r.trigger).collect::<Vec<_>>(),
        rights.iter().map(|r| &r.trigger).collect::<Vec<_>>()
    );
    let chain: Option<String> = env
        .db
        .query_one_raw(ferry_shared::storage::statement(
            env.db.get_database_backend(),
            "SELECT woken_by FROM ferry_runs WHERE id = ?",
            [woken.run_id.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(
        chain.as_deref(),
        Some(r#"["right"]"#),
        "the woken run says who woke it"
    );
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    integrations_that_defer_on_each_other_do_not_wake_each_other_for_ever
);

/// A record parked longer than `lookups.max_defer_hours` becomes a failed record with the reason it
/// waited for, and leaves the parking: nothing stays deferred for ever unseen.
async fn records_deferred_too_long_become_failed_records(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 25, 0).await;
    env.settings.lookups.max_defer_hours = 0;
    env.start_worker();
    env.apply(&env.write_definitions(MUTUAL)).await;
    let first = env.run("left", Mode::Incremental).await;
    assert_eq!((first.deferred, first.failed), (25, 0), "{first:?}");
    let second = env.run("left", Mode::Incremental).await;
    assert_eq!(
        (
            second.status.as_str(),
            second.deferred,
            second.failed,
            second.rows_read
        ),
        ("partial", 0, 25, 25),
        "{second:?}"
    );
    let message: String = env
        .db
        .query_one_raw(ferry_shared::storage::statement(
            env.db.get_database_backend(),
            "SELECT message FROM ferry_run_errors WHERE run_id = ? ORDER BY id",
            [second.run_id.into()],
        ))
        .await
        .unwrap()
        .expect("the overdue records are logged")
        .try_get_by_index(0)
        .unwrap();
    assert!(
        message.contains("still deferred after 0 h") && message.contains("right_t"),
        "{message}"
    );
    let third = env.run("left", Mode::Incremental).await;
    assert_eq!(
        (third.deferred, third.failed),
        (0, 0),
        "the parking is empty"
    );
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    records_deferred_too_long_become_failed_records
);
