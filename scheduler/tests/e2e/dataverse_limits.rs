//! Dataverse's service protection ("Service protection API limits"): past a user's request budget the
//! service answers 429 with `Retry-After`. A storm of them is ridden out request by request, honouring
//! the wait the service asked for, so the import completes in its first attempt, exactly, and the run
//! says what the waiting cost.

use ferry_sandbox::faults::Limits;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, dataverse_connection, text};

/// Accounts by `versionnumber`, a few of their fields.
fn accounts(env: &TestEnv) -> String {
    let connection = dataverse_connection(&env.sandbox, "dv");
    format!(
        r#"{connection}
[[integration]]
name = "accounts"
connection = "dv"
source = {{ entity = "accounts", key = ["accountid"], version = "versionnumber" }}
target = {{ table = "account", key = ["accountid"], create = true }}
fields = [
  {{ from = "accountid", to = "accountid" }},
  {{ from = "name", to = "name" }},
  {{ from = "industrycode", to = "industry" }},
  {{ from = "versionnumber", to = "version" }},
]
"#
    )
}

async fn a_storm_of_429s_is_ridden_out_with_retry_after(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 0, 0).await;
    // Pages of five: ten requests or more for the sandbox's accounts.
    env.settings.worker.page_size = 5;
    env.start_worker();
    let file = env.dir.join("dataverse.toml");
    std::fs::write(&file, accounts(&env)).unwrap();
    env.apply(&file).await;
    // Two requests a second: Ferry asks faster than that, so most requests meet a 429 with
    // `Retry-After: 1` first.
    env.sandbox.set_dataverse_limits(Limits {
        requests_per_window: 2,
        window_secs: 1,
        ..Limits::dataverse()
    });

    let run = env.run("accounts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!(run.attempt, 1, "each 429 cost a request, not the attempt");
    assert!(
        run.requests_retried > 0,
        "the sandbox refused requests: {run:?}"
    );
    assert!(
        run.retry_wait_ms >= 1_000 * run.requests_retried,
        "each repeat waited the Retry-After the service asked for: {run:?}"
    );
    let last = run.last_retried_error.clone().unwrap_or_default();
    assert!(last.starts_with("429"), "{last}");

    let mut source: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| {
            ["accountid", "name", "industrycode", "versionnumber"]
                .iter()
                .map(|f| text(&r[*f]))
                .collect()
        })
        .collect();
    source.sort();
    assert!(source.len() > 10, "several pages: {}", source.len());
    let mut target = env
        .table(
            "account",
            &["accountid", "name", "industry", "version"],
            "accountid",
        )
        .await;
    target.sort();
    assert_eq!(run.inserted, source.len() as i64, "{run:?}");
    assert_eq!(target, source);
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test]
    a_storm_of_429s_is_ridden_out_with_retry_after
);
