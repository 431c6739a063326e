//! Dataverse choices as their value or, with `label = true` on the field, their formatted label: the
//! read asks for `OData.Community.Display.V1.FormattedValue` annotations and the labelled column holds
//! exactly what the source shows a user, in a text column Ferry made for it.

use ferry_sandbox::model::dataverse::choices;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, dataverse_connection, text};

/// Accounts with their industry both as the choice's value and as its label.
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
  {{ from = "industrycode", to = "industry" }},
  {{ from = "industrycode", to = "industry_label", label = true }},
  {{ from = "statecode", to = "state", label = true }},
]
"#
    )
}

/// `(accountid, industry value, industry label, state label)` of every account as the sandbox holds
/// and labels it (`choices` is the table its Web API formats values with); no label for a null.
fn source(env: &TestEnv) -> Vec<Vec<Option<String>>> {
    let label = |column: &str, value: &serde_json::Value| {
        value
            .as_i64()
            .map(|v| choices::label(column, v).expect("every value has a label"))
            .map(str::to_string)
    };
    let mut rows: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| {
            vec![
                text(&r["accountid"]),
                text(&r["industrycode"]),
                label("industrycode", &r["industrycode"]),
                label("statecode", &r["statecode"]),
            ]
        })
        .collect();
    rows.sort();
    rows
}

async fn target(env: &TestEnv) -> Vec<Vec<Option<String>>> {
    let mut rows = env
        .table(
            "account",
            &["accountid", "industry", "industry_label", "state"],
            "accountid",
        )
        .await;
    rows.sort();
    rows
}

async fn choices_arrive_as_values_or_with_label_true_as_labels(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 0, 0).await;
    // Pages of ten: every page after the first is asked for its labels too.
    env.settings.worker.page_size = 10;
    env.start_worker();
    let file = env.dir.join("dataverse.toml");
    std::fs::write(&file, accounts(&env)).unwrap();
    env.apply(&file).await;
    let expected = source(&env);
    assert!(
        expected.iter().any(|r| r[2].is_some()) && expected.iter().any(|r| r[2].is_none()),
        "the sandbox has accounts with and without an industry: {expected:?}"
    );

    let run = env.run("accounts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, expected.len() as i64, "{run:?}");
    assert_eq!(target(&env).await, expected);

    // The value keeps the choice's type; the label gets a text column.
    let table = ferry_shared::drift::target_table(&env.db, "account")
        .await
        .unwrap()
        .expect("the run created the table");
    let declared = |column: &str| table.columns[column].data_type.clone();
    assert_eq!(declared("industry"), "integer");
    assert_eq!(declared("industry_label"), "text");
    assert_eq!(declared("state"), "text");

    // Accounts added later arrive labelled by the next incremental run.
    env.mutate("account", 5, 0, 0);
    let second = env.run("accounts", Mode::Incremental).await;
    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!(second.inserted, 5, "{second:?}");
    assert_eq!(target(&env).await, source(&env));
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test]
    choices_arrive_as_values_or_with_label_true_as_labels
);
