//! Late commits (ARCHITECTURE.md, "Late commits"): a slow source transaction becomes visible below versions already read.
//! The overlap window re-reads below the checkpoint and catches it; without one the rows are lost.

use ferry_sandbox::MutateRequest;
use ferry_shared::runs::Mode;

use crate::helpers::{TestEnv, assert_customers_equal_source};

/// Imports 100 customers, then updates 5 in a transaction that commits only after 10 later updates
/// were read, and runs again. Returns the env and what the run after the late commit updated.
async fn late_commit(overlap: Option<i64>) -> (TestEnv, i64) {
    let env = TestEnv::start(100, 5).await;
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
