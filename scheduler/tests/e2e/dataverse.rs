//! Dataverse as a source (the sandbox's Web API at `{environment}/api/data/v9.2/`): a connection names
//! the environment, signs in with the environment's scope, and an integration either follows
//! Dataverse's change tracking (delta links, deletes included: the default) or polls `versionnumber`
//! like any row version. Money arrives exactly.

use ferry_sandbox::SandboxConfig;
use ferry_shared::runs::Mode;

use crate::helpers::{Backend, TestEnv, dataverse_connection, text};

/// The `source` of the accounts integration that polls `versionnumber`.
const BY_VERSION: &str =
    r#"{ entity = "accounts", key = ["accountid"], version = "versionnumber", overlap = 50 }"#;

/// The `source` of the accounts integration that follows change tracking (the default).
const TRACKED: &str = r#"{ entity = "accounts", key = ["accountid"] }"#;

/// A Dataverse connection to the sandbox and accounts by `versionnumber`.
fn accounts(env: &TestEnv) -> String {
    accounts_reading(env, BY_VERSION)
}

/// A Dataverse connection to the sandbox and accounts read through `source`.
fn accounts_reading(env: &TestEnv, source: &str) -> String {
    let connection = dataverse_connection(&env.sandbox, "dv");
    format!(
        r#"{connection}
[[integration]]
name = "accounts"
connection = "dv"
source = {source}
target = {{ table = "account", key = ["accountid"], create = true }}
fields = [
  {{ from = "accountid", to = "accountid" }},
  {{ from = "name", to = "name" }},
  {{ from = "accountnumber", to = "account_number" }},
  {{ from = "revenue", to = "revenue" }},
  {{ from = "numberofemployees", to = "employees" }},
  {{ from = "industrycode", to = "industry" }},
  {{ from = "versionnumber", to = "version" }},
]
"#,
    )
}

/// A decimal's text without trailing zeros, so `20000.0000` (Dataverse's Money) and `20000` compare.
fn decimal(text: Option<String>) -> Option<String> {
    text.map(|t| match t.contains('.') {
        true => t.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => t,
    })
}

/// Asserts the target holds exactly the source's accounts, field by field, money exactly.
async fn assert_accounts_equal_source(env: &TestEnv) {
    let mut source: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| {
            vec![
                text(&r["accountid"]),
                text(&r["name"]),
                text(&r["accountnumber"]),
                decimal(text(&r["revenue"])),
                text(&r["numberofemployees"]),
                text(&r["industrycode"]),
            ]
        })
        .collect();
    source.sort();
    let mut target: Vec<Vec<Option<String>>> = env
        .table(
            "account",
            &[
                "accountid",
                "name",
                "account_number",
                "revenue",
                "employees",
                "industry",
            ],
            "accountid",
        )
        .await
        .into_iter()
        .map(|mut row| {
            row[3] = decimal(row[3].take());
            row
        })
        .collect();
    target.sort();
    assert_eq!(target.len(), source.len());
    assert_eq!(target, source);
}

crate::on_both_backends!(
    // `ferry check` runs as a child process while this test's runtime serves the sandbox.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    dataverse_accounts_sync_by_versionnumber
);
async fn dataverse_accounts_sync_by_versionnumber(backend: Backend) {
    let env = TestEnv::start_on(backend, 5, 1).await;
    let file = env.dir.join("dataverse.toml");
    std::fs::write(&file, accounts(&env)).unwrap();
    env.apply(&file).await;
    let total = env.sandbox.rows("account").len() as i64;
    assert!(total > 0, "the sandbox has accounts");

    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    assert_eq!(first.inserted, total);
    assert_accounts_equal_source(&env).await;

    // discover and check read Dataverse's $metadata like any other.
    let check = env.ferry(&["check", "accounts"]).output().unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let discovered = env
        .ferry(&["discover", "dv", "accounts", "--json"])
        .output()
        .unwrap();
    let discovered: serde_json::Value = serde_json::from_slice(&discovered.stdout).unwrap();
    assert_eq!(
        discovered["entity_sets"][0]["key"],
        serde_json::json!(["accountid"])
    );

    env.mutate("account", 2, 7, 0);
    let second = env.run("accounts", Mode::Incremental).await;
    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!((second.inserted, second.updated), (2, 7), "{second:?}");
    assert_accounts_equal_source(&env).await;
    env.finish().await;
}

/// Contacts refer to their account through the lookup Dataverse reads as `_parentcustomerid_value` (a
/// GUID): a Ferry lookup resolves it to the account row the accounts integration wrote.
#[tokio::test]
async fn contacts_resolve_their_parent_account_through_the_guid_lookup() {
    let env = TestEnv::start(5, 1).await;
    let contacts = r#"
[[integration]]
name = "dv_contacts"
connection = "dv"
source = { entity = "contacts", key = ["contactid"], version = "versionnumber" }
target = { table = "dv_contact", key = ["contactid"], create = true }
fields = [
  { from = "contactid", to = "contactid" },
  { from = "fullname", to = "fullname" },
  { from = "_parentcustomerid_value", to = "parent_id" },
]
lookups = [
  { to = "parent_name", from = ["_parentcustomerid_value"], table = "account", match = ["accountid"], select = "name", missing = "defer" },
]
"#;
    let file = env.dir.join("dataverse.toml");
    std::fs::write(&file, format!("{}{contacts}", accounts(&env))).unwrap();
    env.apply(&file).await;
    let accounts_run = env.run("accounts", Mode::Incremental).await;
    assert_eq!(accounts_run.status, "succeeded", "{:?}", accounts_run.error);
    let run = env.run("dv_contacts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let source = env.sandbox.rows("contact");
    assert_eq!(run.inserted, source.len() as i64, "{run:?}");

    let names: std::collections::HashMap<String, Option<String>> = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| (text(&r["accountid"]).unwrap(), text(&r["name"])))
        .collect();
    let rows = env
        .table(
            "dv_contact",
            &["contactid", "parent_id", "parent_name"],
            "contactid",
        )
        .await;
    assert_eq!(rows.len(), source.len());
    let with_parent = rows.iter().filter(|r| r[1].is_some()).count();
    assert!(with_parent > 0, "the sandbox links contacts to accounts");
    for row in rows {
        let expected = row[1]
            .as_ref()
            .and_then(|id| names[&id.to_lowercase()].clone());
        assert_eq!(row[2], expected, "contact {:?}", row[0]);
    }
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    tracked_accounts_import_then_apply_updates_and_deletes_from_the_delta_link
);
async fn tracked_accounts_import_then_apply_updates_and_deletes_from_the_delta_link(
    backend: Backend,
) {
    let mut env = TestEnv::with_sandbox_on(
        backend,
        SandboxConfig {
            accounts: 400,
            dv_contacts: 1,
            seed: 7,
            ..SandboxConfig::default()
        },
    )
    .await;
    env.settings.worker.page_size = 90;
    env.start_worker();
    let file = env.dir.join("dataverse.toml");
    // Dataverse refuses $filter with change tracking: apply says so before any run would fail on it.
    let filtered = TRACKED.replace(" }", r#", filter = "statecode eq 0" }"#);
    std::fs::write(&file, accounts_reading(&env, &filtered)).unwrap();
    let refused = ferry_scheduler::cli::apply(&env.db, std::slice::from_ref(&file))
        .await
        .unwrap()
        .expect_err("a filter with change tracking is refused");
    assert!(
        refused.iter().any(|e| e
            .to_string()
            .contains("cannot be combined with change tracking")),
        "{refused:?}"
    );
    std::fs::write(&file, accounts_reading(&env, TRACKED)).unwrap();
    env.apply(&file).await;

    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    assert_eq!((first.rows_read, first.inserted), (400, 400), "{first:?}");
    assert_accounts_equal_source(&env).await;
    let link = first.checkpoint_after.as_ref().expect("a checkpoint");
    assert_eq!(link["kind"], "delta", "{link}");
    assert!(
        link["link"].as_str().unwrap().contains("$deltatoken="),
        "{link}"
    );

    // Nothing changed: the delta link reads nothing and hands out the next one.
    let quiet = env.run("accounts", Mode::Incremental).await;
    assert_eq!(quiet.status, "succeeded", "{:?}", quiet.error);
    assert_eq!(quiet.rows_read, 0, "{quiet:?}");

    let changed = env.mutate("account", 3, 100, 50);
    assert_eq!((changed.updated.len(), changed.deleted.len()), (100, 50));
    // The preview follows the same delta link (a link may be followed again) and says what the run
    // will do, deletes included, writing nothing.
    let said = ferry_shared::sync::preview(
        &env.db,
        &env.credentials(),
        &env.budgets(),
        ferry_shared::odata::client::http_client(),
        90,
        "accounts",
        ferry_shared::sync::PreviewOptions::default(),
    )
    .await
    .unwrap();
    let mut deleted: Vec<String> = said
        .records
        .iter()
        .filter(|r| r.op == ferry_shared::sync::Op::Delete)
        .map(|r| r.key.clone())
        .collect();
    deleted.sort();
    let mut expected = changed.deleted.clone();
    expected.sort();
    assert_eq!(deleted, expected, "the preview names the deleted accounts");
    let said = said.summary;
    assert_eq!(
        (said.rows_read, said.insert, said.update, said.delete),
        (153, 3, 100, 50),
        "{said:?}"
    );
    let second = env.run("accounts", Mode::Incremental).await;
    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!(second.mode, "incremental");
    assert_eq!(
        (
            second.rows_read,
            second.inserted,
            second.updated,
            second.deleted
        ),
        (153, 3, 100, 50),
        "{second:?}"
    );
    assert_accounts_equal_source(&env).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_delta_link_reads_everything_again_and_says_why() {
    let mut env = TestEnv::with_sandbox_on(
        Backend::Postgres,
        SandboxConfig {
            accounts: 200,
            dv_contacts: 1,
            seed: 7,
            ..SandboxConfig::default()
        },
    )
    .await;
    env.start_worker();
    let file = env.dir.join("dataverse.toml");
    std::fs::write(&file, accounts_reading(&env, TRACKED)).unwrap();
    env.apply(&file).await;
    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);

    // Dataverse keeps change tracking for a while only: past it, the token is refused.
    env.sandbox.expire_delta_tokens();
    env.mutate("account", 0, 4, 6);
    let reread = env.run("accounts", Mode::Incremental).await;
    assert_eq!(reread.status, "succeeded", "{:?}", reread.error);
    assert_eq!(reread.mode, "full", "{reread:?}");
    let reason = reread.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("refused the stored delta link") && reason.contains("0x80044352"),
        "{reason}"
    );
    // Deletes made while the link lapsed are in no delta: the re-read finds them by key.
    assert_eq!((reread.updated, reread.deleted), (4, 6), "{reread:?}");
    assert_accounts_equal_source(&env).await;

    // And the re-read stored a fresh link that the next run follows.
    env.mutate("account", 0, 2, 1);
    let next = env.run("accounts", Mode::Incremental).await;
    assert_eq!(next.mode, "incremental", "{next:?}");
    assert_eq!(
        (next.rows_read, next.updated, next.deleted),
        (3, 2, 1),
        "{next:?}"
    );
    assert_accounts_equal_source(&env).await;

    // A --full run replaces the link too: the deletes since the old one are found by key as well.
    env.mutate("account", 0, 0, 3);
    let full = env.run("accounts", Mode::Full).await;
    assert_eq!(full.status, "succeeded", "{:?}", full.error);
    assert_eq!(full.deleted, 3, "{full:?}");
    assert_accounts_equal_source(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_tracked_delete_flags_the_row_when_deletes_name_a_flag
);
async fn a_tracked_delete_flags_the_row_when_deletes_name_a_flag(backend: Backend) {
    let env = TestEnv::start_on(backend, 5, 1).await;
    let file = env.dir.join("dataverse.toml");
    let definitions = accounts_reading(&env, TRACKED)
        + r#"deletes = { detect = "track", flag = "deleted_at" }
"#;
    std::fs::write(&file, definitions).unwrap();
    env.apply(&file).await;
    let total = env.sandbox.rows("account").len();
    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);

    let gone = env.mutate("account", 0, 0, 4).deleted;
    let second = env.run("accounts", Mode::Incremental).await;
    assert_eq!(second.status, "succeeded", "{:?}", second.error);
    assert_eq!((second.rows_read, second.deleted), (4, 4), "{second:?}");
    let rows = env
        .table("account", &["accountid", "deleted_at"], "accountid")
        .await;
    assert_eq!(rows.len(), total, "flagged rows stay");
    let mut flagged: Vec<String> = rows
        .into_iter()
        .filter(|r| r[1].is_some())
        .filter_map(|r| r[0].clone())
        .collect();
    flagged.sort();
    let mut gone = gone;
    gone.sort();
    assert_eq!(flagged, gone);
    env.finish().await;
}

/// `--retry-failed` reads the failed records again by key: on Dataverse the key is a GUID, which OData
/// writes bare in a `$filter` (`accountid eq 6e8d…`); quoted, Dataverse refuses the comparison.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_accounts_are_read_again_by_their_guid_key() {
    use sea_orm::ConnectionTrait;
    let env = TestEnv::start_on(Backend::Postgres, 5, 1).await;
    env.db
        .execute_unprepared(
            "CREATE TABLE account (accountid uuid PRIMARY KEY, name varchar(12), \
             account_number text, revenue numeric, employees integer, industry integer, \
             version bigint)",
        )
        .await
        .unwrap();
    let file = env.dir.join("dataverse.toml");
    std::fs::write(
        &file,
        accounts_reading(&env, TRACKED).replace("create = true", "create = false"),
    )
    .unwrap();
    env.apply(&file).await;
    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.status, "partial", "{:?}", first.error);
    assert!(first.failed > 0, "some names are longer than 12: {first:?}");

    env.db
        .execute_unprepared("ALTER TABLE account ALTER COLUMN name TYPE text")
        .await
        .unwrap();
    let retry = env.run("accounts", Mode::RetryFailed).await;
    assert_eq!(retry.status, "succeeded", "{:?}", retry.error);
    assert_eq!(
        (retry.rows_read, retry.inserted, retry.failed),
        (first.failed, first.failed, 0),
        "{retry:?}"
    );
    assert_accounts_equal_source(&env).await;
    env.finish().await;
}
