//! Late commits (ARCHITECTURE.md, "Late commits"): a slow source transaction becomes visible below versions already read.
//! The overlap window re-reads below the checkpoint and catches it; without one the rows are lost.

use ferry_sandbox::MutateRequest;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

/// Imports 100 customers, then updates 5 in a transaction that commits only after 10 later updates
/// were read, and runs again. Returns the env and what the run after the late commit updated.
async fn late_commit(overlap: Option<i64>) -> (TestEnv, i64) {
    late_commit_on(Backend::Postgres, overlap).await
}

async fn late_commit_on(backend: Backend, overlap: Option<i64>) -> (TestEnv, i64) {
    let env = TestEnv::start_on(backend, 100, 5).await;
    let mut definitions = std::fs::read_to_string(env.write_definitions("")).unwrap();
    if let Some(overlap) = overlap {
        definitions = definitions.replace(
            r#"version = "RowVersionNumber" }"#,
            &format!(r#"version = "RowVersionNumber", overlap = {overlap} }}"#),
        );
    }
    let file = env.dir.join("overlap.toml");
    std::fs::write(&file, definitions).unwrap();
    env.apply(&file).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, 100);

    let request = |update| MutateRequest {
        entity: "RescoCustomer".into(),
        insert: 0,
        update,
        delete: 0,
    };
    let held = env.sandbox.mutate_held(request(5)).unwrap();
    env.sandbox.mutate(request(10)).unwrap();
    let meanwhile = env.run("customers", Mode::Incremental).await;
    assert!(
        Checkpoint(meanwhile.checkpoint_after.clone()).value() > *held.versions.last().unwrap(),
        "the checkpoint passed the held rows' versions before they were visible"
    );
    env.sandbox.release(Some(held.hold_id));
    env.sandbox.clear_requests();
    let after = env.run("customers", Mode::Incremental).await;
    assert_eq!(after.status, "succeeded", "{:?}", after.error);
    (env, after.updated)
}

struct Checkpoint(Option<serde_json::Value>);

impl Checkpoint {
    fn value(&self) -> i64 {
        self.0.as_ref().unwrap()["value"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn an_overlap_window_catches_rows_committed_late() {
    let (env, updated) = late_commit(Some(1_000)).await;
    assert_eq!(updated, 5, "the late rows, and only they, are written");
    assert_customers_equal_source(&env).await;
    env.finish().await;
}

/// The control: the sandbox really produces the loss the window exists for.
#[tokio::test]
async fn without_an_overlap_rows_committed_late_are_missed() {
    let (env, updated) = late_commit(None).await;
    assert_eq!(updated, 0);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    the_window_is_read_by_key_and_version_and_only_changed_records_fetched
);
/// The window (here every row: 1,000 versions over 115 rows) is read with only the key and the
/// version; of its records only the five committed late differ from their couplings, and only they
/// are fetched whole.
async fn the_window_is_read_by_key_and_version_and_only_changed_records_fetched(backend: Backend) {
    let (env, updated) = late_commit_on(backend, Some(1_000)).await;
    assert_eq!(updated, 5);
    let reads: Vec<Vec<(String, String)>> = env
        .sandbox
        .requests()
        .iter()
        .filter_map(|line| line.strip_prefix("GET "))
        .filter_map(|target| target.split_once("/RescoCustomer?"))
        .map(|(_, q)| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .collect();
    let option = |read: &Vec<(String, String)>, name: &str| {
        read.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    assert_eq!(
        reads.len(),
        3,
        "window, the changed records, the delta: {reads:?}"
    );
    assert_eq!(
        option(&reads[0], "$select").as_deref(),
        Some("No,RowVersionNumber"),
        "the window asks for the key and version only"
    );
    let fetched = option(&reads[1], "$filter").unwrap();
    assert_eq!(
        fetched.matches("No eq ").count(),
        5,
        "only the late records are fetched whole: {fetched}"
    );
    assert!(
        option(&reads[2], "$filter")
            .unwrap()
            .starts_with("RowVersionNumber gt "),
        "{reads:?}"
    );
    assert_customers_equal_source(&env).await;
    env.finish().await;
}
