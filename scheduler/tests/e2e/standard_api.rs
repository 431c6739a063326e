//! Business Central without the Resco extension: the standard API v2.0 has no row version, so an
//! integration orders its changes by `lastModifiedDateTime` (`source.modified`) and keeps a timestamp
//! checkpoint, re-reading `overlap_secs` below it.

use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, bc_connection, text};

/// A connection to the standard API beside the fixture's `bc`, and customers by last-modified time.
fn standard_customers(env: &TestEnv) -> String {
    let connection = bc_connection(&env.sandbox, "bc_standard", &env.sandbox.standard_url());
    format!(
        r#"{connection}
[[integration]]
name = "std_customers"
connection = "bc_standard"
source = {{ entity = "customers", key = ["id"], modified = "lastModifiedDateTime", overlap_secs = 5 }}
target = {{ table = "std_customer", key = ["id"], create = true }}
fields = [
  {{ from = "id", to = "id" }},
  {{ from = "number", to = "number" }},
  {{ from = "displayName", to = "name" }},
  {{ from = "city", to = "city" }},
  {{ from = "lastModifiedDateTime", to = "modified_at" }},
]
"#
    )
}

/// Asserts the target holds exactly the source's customers, field by field.
async fn assert_equal_to_source(env: &TestEnv) {
    let mut source: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("customers")
        .iter()
        .map(|r| {
            ["id", "number", "displayName", "city"]
                .iter()
                .map(|f| text(&r[*f]))
                .collect()
        })
        .collect();
    source.sort();
    let mut target = env
        .table("std_customer", &["id", "number", "name", "city"], "id")
        .await;
    target.sort();
    assert_eq!(target.len(), source.len());
    assert_eq!(target, source);
}

crate::on_both_backends!(
    #[tokio::test]
    standard_api_customers_sync_by_last_modified_time
);
async fn standard_api_customers_sync_by_last_modified_time(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 1).await;
    let file = env.dir.join("standard.toml");
    std::fs::write(&file, standard_customers(&env)).unwrap();
    env.apply(&env.write_definitions("")).await;
    env.apply(&file).await;
    let total = env.sandbox.rows("customers").len() as i64;
    assert!(total > 0);

    let first = env.run("std_customers", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    assert_eq!(first.inserted, total);
    let checkpoint = first.checkpoint_after.clone().unwrap();
    assert_eq!(checkpoint["kind"], "modified", "{checkpoint}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(checkpoint["at"].as_str().unwrap()).is_ok(),
        "{checkpoint}"
    );
    assert_equal_to_source(&env).await;

    // 100 customers change: the next run writes exactly those (re-reading only the overlap window).
    let changed = env.mutate("customers", 0, 100, 0);
    assert_eq!(changed.updated.len(), 100);
    let second = env.run("std_customers", Mode::Incremental).await;
    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!(second.updated, 100, "{second:?}");
    assert_eq!(second.inserted, 0);
    assert!(second.rows_read < total, "an incremental read: {second:?}");
    assert_eq!(second.checkpoint_before, Some(checkpoint));
    assert_equal_to_source(&env).await;

    // Nothing changed: only the overlap window is read again, and nothing is written.
    let third = env.run("std_customers", Mode::Incremental).await;
    assert_eq!((third.inserted, third.updated), (0, 0), "{third:?}");
    env.finish().await;
}
