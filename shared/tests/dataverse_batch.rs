//! `batch_multipart` against the sandbox's Dataverse `$batch` over real HTTP, signed in with client
//! credentials like a connection: each refusal comes back in the service's own code and words on
//! its own operation, and only what was accepted is written.

use ferry_sandbox::{MutateRequest, Sandbox, SandboxConfig};
use ferry_shared::definitions::ConnectionDef;
use ferry_shared::odata::batch::{Answer, Operation};
use ferry_shared::odata::client::http_client;
use ferry_shared::odata::multipart::NOT_CARRIED_OUT;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::SecretsSettings;
use ferry_shared::source::Source;
use serde_json::value::RawValue;
use serde_json::{Value, json};

const NEW: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const TOO_LONG: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const MISSING: &str = "bbbbbbbb-0000-4000-8000-000000000003";
const LATER: &str = "bbbbbbbb-0000-4000-8000-000000000004";

/// A sandbox with one account, and a signed-in Dataverse source on it.
async fn start() -> (Sandbox, Source) {
    let config = SandboxConfig {
        accounts: 1,
        dv_contacts: 0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("the sandbox starts");
    let connection: ConnectionDef = toml::from_str(&format!(
        r#"
name = "dataverse"
kind = "dataverse"
url = "{environment}"
[auth]
flow = "client_credentials"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "BC_SANDBOX_SECRET"
scope = "{scope}"
"#,
        environment = sandbox.dataverse_environment_url(),
        authority = sandbox.base_url(),
        scope = sandbox.dataverse_scope(),
    ))
    .unwrap();
    // The secret comes from the environment (.cargo/config.toml): the store is never opened.
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let credentials = Credentials::new(db, &SecretsSettings::default()).unwrap();
    let source = Source::connect(
        &connection,
        &credentials,
        &ferry_shared::budget::Budgets::in_process(Default::default()),
        http_client(),
        10,
    )
    .await
    .expect("signs in");
    (sandbox, source)
}

fn operation(
    source: &Source,
    method: &'static str,
    id: &str,
    headers: &[(&'static str, &str)],
    body: Option<Value>,
) -> Operation {
    Operation {
        id: format!("{method} {id}"),
        method,
        url: source.record_url("accounts", &format!("({id})")),
        headers: headers.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        body: body.map(|b| RawValue::from_string(b.to_string()).unwrap()),
    }
}

fn seeded_id(sandbox: &Sandbox) -> String {
    sandbox.rows("accounts")[0]["accountid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn statuses(answers: &[Answer]) -> Vec<u16> {
    answers.iter().map(|a| a.status).collect()
}

#[tokio::test]
async fn with_continue_on_error_every_operation_gets_its_own_answer() {
    let (sandbox, source) = start().await;
    let seeded = seeded_id(&sandbox);
    // The seeded account's ETag, then a change behind Ferry's back: that ETag is stale.
    let record = source
        .record(&source.record_url("accounts", &format!("({seeded})")))
        .await
        .unwrap()
        .expect("the seeded account");
    let stale = record["@odata.etag"].as_str().unwrap().to_string();
    sandbox
        .mutate(MutateRequest {
            entity: "account".into(),
            insert: 0,
            update: 1,
            delete: 0,
        })
        .unwrap();
    let before = sandbox.rows("accounts");

    let create = json!({"name": "Made in a batch"});
    let operations = [
        operation(
            &source,
            "PATCH",
            NEW,
            &[("If-None-Match", "*"), ("Prefer", "return=representation")],
            Some(create.clone()),
        ),
        operation(
            &source,
            "PATCH",
            NEW,
            &[("If-None-Match", "*")],
            Some(create),
        ),
        operation(
            &source,
            "PATCH",
            &seeded,
            &[("If-Match", &stale)],
            Some(json!({"name": "Overwritten"})),
        ),
        operation(
            &source,
            "PATCH",
            TOO_LONG,
            &[],
            Some(json!({"name": "x".repeat(161)})),
        ),
        operation(&source, "DELETE", MISSING, &[("If-Match", "*")], None),
    ];
    let answers = source.batch_multipart(&operations, true).await.unwrap();

    assert_eq!(statuses(&answers), [201, 412, 412, 400, 404]);
    let created = &answers[0];
    assert_eq!(created.body["name"], "Made in a batch");
    assert!(
        created
            .etag
            .as_deref()
            .is_some_and(|e| e.starts_with("W/\"")),
        "{created:?}"
    );
    assert_eq!(
        created.entity_id.as_deref(),
        Some(format!("{}accounts({NEW})", sandbox.dataverse_url()).as_str())
    );
    let messages: Vec<String> = answers[1..].iter().map(Answer::error_message).collect();
    assert_eq!(
        messages,
        [
            "0x80040237: A record with matching key values already exists.".to_string(),
            "0x80060882: The version of the existing record doesn't match the RowVersion property provided."
                .to_string(),
            "0x80044331: A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."
                .to_string(),
            format!("0x80040217: account With Id = {MISSING} Does Not Exist"),
        ]
    );
    for refused in &answers[1..] {
        assert_eq!((&refused.etag, &refused.entity_id), (&None, &None));
    }

    let after = sandbox.rows("accounts");
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.contains(&before[0]),
        "the stale write changed nothing"
    );
    let new = after
        .iter()
        .find(|r| r["accountid"] == NEW)
        .expect("created");
    assert_eq!(new["name"], "Made in a batch");
}

#[tokio::test]
async fn without_continue_on_error_the_batch_stops_at_the_first_failure() {
    let (sandbox, source) = start().await;
    let seeded = seeded_id(&sandbox);
    let operations = [
        operation(
            &source,
            "PATCH",
            NEW,
            &[("If-None-Match", "*")],
            Some(json!({"name": "First"})),
        ),
        operation(
            &source,
            "PATCH",
            &seeded,
            &[("If-None-Match", "*")],
            Some(json!({"name": "Not a create"})),
        ),
        operation(
            &source,
            "PATCH",
            LATER,
            &[("If-None-Match", "*")],
            Some(json!({"name": "Never sent on"})),
        ),
        operation(&source, "DELETE", &seeded, &[("If-Match", "*")], None),
    ];
    let answers = source.batch_multipart(&operations, false).await.unwrap();

    assert_eq!(
        statuses(&answers),
        [204, 412, NOT_CARRIED_OUT, NOT_CARRIED_OUT]
    );
    assert_eq!(
        answers[0].entity_id.as_deref(),
        Some(format!("{}accounts({NEW})", sandbox.dataverse_url()).as_str())
    );
    assert_eq!(answers[0].body, Value::Null, "a 204 has no body");
    assert!(
        answers[1].error_message().starts_with("0x80040237"),
        "{}",
        answers[1].error_message()
    );
    assert!(
        answers[2].error_message().contains("Not carried out"),
        "{}",
        answers[2].error_message()
    );

    let ids: Vec<Value> = sandbox
        .rows("accounts")
        .iter()
        .map(|r| r["accountid"].clone())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&json!(NEW)) && ids.contains(&json!(seeded)));
}
