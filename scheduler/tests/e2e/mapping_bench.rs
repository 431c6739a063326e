//! Figures for the mapping engine at the issue's sizes (5,000 customers, 8,000 contacts), run on demand:
//! `cargo test -p ferry-scheduler --test e2e mapping_bench -- --ignored --nocapture`.

use ferry_shared::runs::Mode;

use crate::helpers::TestEnv;

const CONTACTS: &str = r#"
[[integration]]
name = "contacts_plain"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber" }
target = { table = "contact_plain", key = ["bc_no"], create = true }
fields = [{ from = "No", to = "bc_no" }, { from = "CustomerNo", to = "customer_no" }, { from = "Name", to = "name" }]

[[integration]]
name = "contacts"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber" }
target = { table = "contact", key = ["bc_no"], create = true }
fields = [{ from = "No", to = "bc_no" }, { from = "CustomerNo", to = "customer_no" }, { from = "Name", to = "name" }]
lookups = [{ to = "customer_name", from = ["CustomerNo"], table = "customer", match = ["bc_no"], select = "name", missing = "defer" }]
"#;

#[tokio::test]
#[ignore = "a measurement, not a check; run with --ignored --nocapture"]
async fn lookup_cost_at_issue_sizes() {
    let env = TestEnv::start(5_000, 8_000).await;
    env.apply(&env.write_definitions(CONTACTS)).await;
    let early = env.run("contacts", Mode::Incremental).await;
    let customers = env.run("customers", Mode::Incremental).await;
    let newest = ferry_scheduler::cli::print_runs(&env.db, Some("contacts"), 1)
        .await
        .unwrap();
    let resolved = ferry_scheduler::cli::wait_for(
        &env.db,
        newest[0].run_id,
        std::time::Duration::from_secs(300),
    )
    .await
    .unwrap();
    let full = env.run("contacts", Mode::Full).await;
    let plain_first = env.run("contacts_plain", Mode::Full).await;
    let plain = env.run("contacts_plain", Mode::Full).await;
    let reconcile = env.run("customers", Mode::Reconcile).await;
    for run in [
        &early,
        &customers,
        &resolved,
        &full,
        &plain_first,
        &plain,
        &reconcile,
    ] {
        println!(
            "{:<15} {:<13} read {:>5} inserted {:>5} updated {:>5} unchanged {:>5} deferred {:>5} {:>6} ms",
            run.integration,
            run.mode,
            run.rows_read,
            run.inserted,
            run.updated,
            run.unchanged,
            run.deferred,
            run.duration_ms.unwrap_or_default()
        );
    }
    assert_eq!(resolved.deferred, 0);
    env.finish().await;
}
