//! A reconcile deletes only what nothing else backs: two source records can map to one target row (a
//! non-key `target.key`), and two integrations can write one table (`target.shared`). A row stays while
//! any live coupling still points at it, and goes with the last one. On both backends.

use std::collections::{BTreeMap, BTreeSet};

use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv};

/// Contacts land in one row per customer they belong to: many source keys, one target row.
const BUYERS: &str = r#"
[[integration]]
name = "buyers"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber", filter = "CustomerNo ne ''" }
target = { table = "buyer", key = ["customer_no"], create = true }
fields = [{ from = "CustomerNo", to = "customer_no" }]
deletes = { detect = "reconcile", max_share = 1.0 }
"#;

/// Customers and the customers their contacts name, in one table written by two integrations.
const PARTIES: &str = r#"
[[integration]]
name = "customer_parties"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "party", key = ["no"], create = true, shared = true }
fields = [{ from = "No", to = "no" }]
deletes = { detect = "reconcile", max_share = 1.0 }

[[integration]]
name = "contact_parties"
connection = "bc"
source = { entity = "RescoContact", key = ["No"], version = "RowVersionNumber", filter = "CustomerNo ne ''" }
target = { table = "party", key = ["no"], create = true, shared = true }
fields = [{ from = "CustomerNo", to = "no" }]
deletes = { detect = "reconcile", max_share = 1.0 }
"#;

/// Contact `No` → the customer it belongs to, for contacts that belong to one.
fn contacts_by_customer(env: &TestEnv) -> BTreeMap<String, String> {
    env.sandbox
        .rows("RescoContact")
        .iter()
        .filter_map(|r| {
            let customer = r["CustomerNo"].as_str().filter(|c| !c.is_empty())?;
            Some((r["No"].as_str()?.to_string(), customer.to_string()))
        })
        .collect()
}

fn customers(env: &TestEnv) -> BTreeSet<String> {
    env.sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_string())
        .collect()
}

async fn rows(env: &TestEnv, table: &str, key: &str) -> BTreeSet<String> {
    env.table(table, &[key], key)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

crate::on_both_backends!(
    #[tokio::test]
    a_row_two_source_records_map_to_stays_while_one_is_left
);
async fn a_row_two_source_records_map_to_stays_while_one_is_left(backend: Backend) {
    let env = TestEnv::start_on(backend, 100, 400).await;
    env.apply(&env.write_definitions(BUYERS)).await;
    let before = contacts_by_customer(&env);
    let run = env.run("buyers", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded");
    let owners: BTreeSet<String> = before.values().cloned().collect();
    assert_eq!(rows(&env, "buyer", "customer_no").await, owners);

    let gone = env.mutate("RescoContact", 0, 0, 150).deleted;
    let after = contacts_by_customer(&env);
    let still_owned: BTreeSet<String> = after.values().cloned().collect();
    // The case that matters is there: a customer lost a contact and kept another.
    let still_backed = gone
        .iter()
        .filter_map(|c| before.get(c))
        .filter(|customer| still_owned.contains(*customer))
        .count();
    assert!(still_backed > 0, "the data has no shared row to keep");
    // A preview lists what the reconcile will remove: the vanished contacts no other contact backs.
    let preview = ferry_shared::sync::preview(
        &env.db,
        &env.credentials(),
        &env.budgets(),
        ferry_shared::odata::client::http_client(),
        50,
        "buyers",
        ferry_shared::sync::PreviewOptions::default(),
    )
    .await
    .unwrap();
    let unbacked: BTreeSet<String> = gone
        .iter()
        .filter(|c| {
            before
                .get(*c)
                .is_some_and(|owner| !still_owned.contains(owner))
        })
        .cloned()
        .collect();
    let listed: BTreeSet<String> = preview
        .records
        .iter()
        .filter(|r| r.op == ferry_shared::sync::Op::Delete)
        .map(|r| r.key.clone())
        .collect();
    assert_eq!(listed, unbacked);
    assert_eq!(preview.summary.delete, unbacked.len() as u64);
    let reconciled = env.run("buyers", Mode::Reconcile).await;
    assert_eq!(reconciled.status, "succeeded", "{:?}", reconciled.error);
    assert_eq!(rows(&env, "buyer", "customer_no").await, still_owned);
    assert_eq!(
        reconciled.deleted,
        (owners.len() - still_owned.len()) as i64,
        "only the rows no contact backs any more"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_row_two_shared_integrations_write_stays_while_either_backs_it
);
async fn a_row_two_shared_integrations_write_stays_while_either_backs_it(backend: Backend) {
    let env = TestEnv::start_on(backend, 100, 300).await;
    env.apply(&env.write_definitions(PARTIES)).await;
    for name in ["customer_parties", "contact_parties"] {
        let run = env.run(name, Mode::Incremental).await;
        assert_eq!(run.status, "succeeded", "{name}: {:?}", run.error);
    }
    let named =
        |env: &TestEnv| -> BTreeSet<String> { contacts_by_customer(env).into_values().collect() };
    let expected = |env: &TestEnv| -> BTreeSet<String> {
        customers(env).union(&named(env)).cloned().collect()
    };
    assert_eq!(rows(&env, "party", "no").await, expected(&env));

    // Contacts vanish: a customer no contact names any more keeps its row, the other integration's.
    let before = contacts_by_customer(&env);
    let gone = env.mutate("RescoContact", 0, 0, 150).deleted;
    let named_now = named(&env);
    let only_customer = gone
        .iter()
        .filter_map(|c| before.get(c))
        .filter(|customer| !named_now.contains(*customer))
        .count();
    assert!(only_customer > 0, "the data has no shared row to keep");
    let contacts = env.run("contact_parties", Mode::Reconcile).await;
    assert_eq!(contacts.status, "succeeded", "{:?}", contacts.error);
    assert_eq!(contacts.deleted, 0, "every row is still a customer's");
    assert_eq!(rows(&env, "party", "no").await, expected(&env));

    // Customers vanish (BC blanks their contacts' links): a row goes once neither integration's live
    // couplings point at it. Until the contact integration reconciles, its couplings still back the
    // rows of the customers its contacts named.
    let synced = named(&env);
    env.mutate("RescoCustomer", 0, 0, 40);
    let customers_run = env.run("customer_parties", Mode::Reconcile).await;
    assert_eq!(
        customers_run.status, "succeeded",
        "{:?}",
        customers_run.error
    );
    let still_claimed: BTreeSet<String> = customers(&env).union(&synced).cloned().collect();
    assert_eq!(rows(&env, "party", "no").await, still_claimed);
    let contacts = env.run("contact_parties", Mode::Reconcile).await;
    assert_eq!(contacts.status, "succeeded", "{:?}", contacts.error);
    assert!(contacts.deleted > 0);
    assert_eq!(rows(&env, "party", "no").await, expected(&env));
    env.finish().await;
}
