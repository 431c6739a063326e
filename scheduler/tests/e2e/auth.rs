//! Device-code sign-in against the sandbox's Microsoft identity emulator: the CLI flow, every refusal,
//! `slow_down`, refresh-token rotation under concurrency, an access token expiring mid-run, and no
//! token or secret anywhere in the database or the logs.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_sandbox::SandboxConfig;
use ferry_shared::auth::device_code::{self, DeviceAuthorization};
use ferry_shared::auth::{AuthError, begin_login};
use ferry_shared::definitions::{ConnectionDef, load_connection};
use ferry_shared::odata::client::http_client;
use ferry_shared::runs::Mode;
use ferry_shared::source::Source;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestEnv, captured_logs, definitions};

/// A device-code connection to the sandbox and an integration over it (table `customer_dev`).
pub(crate) fn device_definitions(env: &TestEnv) -> std::path::PathBuf {
    let text = format!(
        r#"{standard}
[[connection]]
name = "bcdev"
kind = "business_central"
url = "{url}"
company = "CRONUS USA, Inc."
[connection.auth]
flow = "device_code"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry-cli"
scope = "https://api.businesscentral.dynamics.com/.default"

[[integration]]
name = "customers_dev"
connection = "bcdev"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer_dev", key = ["bc_no"], create = true }}
fields = [
  {{ from = "No", to = "bc_no" }},
  {{ from = "Name", to = "name" }},
  {{ from = "RowVersionNumber", to = "row_version" }},
]
"#,
        standard = definitions(&env.sandbox, ""),
        url = env.sandbox.resco_url(),
        authority = env.sandbox.base_url(),
    );
    let file = env.dir.join("device.toml");
    std::fs::write(&file, text).unwrap();
    file
}

pub(crate) fn sandbox(customers: usize, tweak: impl FnOnce(&mut SandboxConfig)) -> SandboxConfig {
    let mut config = SandboxConfig {
        customers,
        contacts: 1,
        seed: 7,
        device_code_interval: 1,
        ..SandboxConfig::default()
    };
    tweak(&mut config);
    config
}

pub(crate) async fn connection(env: &TestEnv) -> ConnectionDef {
    load_connection(&env.db, "bcdev").await.unwrap().unwrap()
}

/// Signs `bcdev` in through the library, approving the code as the user would.
pub(crate) async fn sign_in(env: &TestEnv) {
    let http = http_client();
    let credentials = env.credentials();
    let pending = begin_login(&connection(env).await, &credentials, &http)
        .await
        .unwrap();
    env.control(
        "/_sandbox/devicecode/approve",
        json!({ "user_code": pending.user_code() }),
    )
    .await;
    pending.finish(&http, &credentials).await.unwrap();
}

pub(crate) async fn issued(env: &TestEnv, kind: &str) -> usize {
    let issued: Value = reqwest::get(format!("{}/_sandbox/issued", env.sandbox.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued[kind].as_array().unwrap().len()
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    login_prints_the_servers_message_and_runs_use_the_stored_sign_in_without_leaking_it
);
async fn login_prints_the_servers_message_and_runs_use_the_stored_sign_in_without_leaking_it(
    backend: Backend,
) {
    let logs = captured_logs();
    let mut env = TestEnv::with_sandbox_on(backend, sandbox(25, |_| {})).await;
    env.apply(&device_definitions(&env)).await;

    let mut child = env
        .ferry(&["auth", "login", "bcdev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (message, rest) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        (first, reader)
    })
    .await
    .unwrap();
    let prefix = format!(
        "To sign in, use a web browser to open the page {}/devicelogin and enter the code ",
        env.sandbox.base_url()
    );
    assert!(message.starts_with(&prefix), "{message}");
    let user_code = message[prefix.len()..].split_whitespace().next().unwrap();
    env.control(
        "/_sandbox/devicecode/approve",
        json!({ "user_code": user_code }),
    )
    .await;
    let (status, login_out, login_err) = tokio::task::spawn_blocking(move || {
        let mut rest_out = String::new();
        let mut rest = rest;
        rest.read_to_string(&mut rest_out).unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (child.wait().unwrap(), rest_out, err)
    })
    .await
    .unwrap();
    assert!(status.success(), "{login_err}");
    assert!(login_out.contains("Signed in to bcdev"), "{login_out}");

    let output = env
        .ferry(&["auth", "status", "bcdev", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status[0]["connection"], "bcdev");
    assert_eq!(status[0]["flow"], "device_code");
    assert_eq!(status[0]["signed_in"], true);
    let table = env.ferry(&["auth", "status"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.contains("bcdev") && table.contains("bc "), "{table}");

    env.start_worker();
    let run = env.run("customers_dev", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 25);
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);

    let secrets = env.issued_secrets().await;
    assert!(secrets.len() >= 4, "tokens were issued: {}", secrets.len());
    let dump = env.database_dump();
    assert!(dump.contains("ferry_credentials"));
    let logs = logs();
    let cli_output = [
        message.clone(),
        login_out,
        login_err,
        String::from_utf8_lossy(&output.stdout).into(),
        table,
    ];
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a token or secret is in the database"
        );
        assert!(
            !logs.contains(secret.as_str()),
            "a token or secret is in the logs"
        );
        for text in &cli_output {
            assert!(
                !text.contains(secret.as_str()),
                "a token or secret was printed"
            );
        }
    }
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    every_refusal_stops_with_its_own_message_and_slow_down_is_honoured
);
async fn every_refusal_stops_with_its_own_message_and_slow_down_is_honoured(backend: Backend) {
    let env = TestEnv::with_sandbox_on(backend, sandbox(1, |_| {})).await;
    env.apply(&device_definitions(&env)).await;
    let http = http_client();
    let credentials = env.credentials();
    let def = connection(&env).await;

    // Declined by the user.
    let pending = begin_login(&def, &credentials, &http).await.unwrap();
    env.control(
        "/_sandbox/devicecode/decline",
        json!({ "user_code": pending.user_code() }),
    )
    .await;
    let err = pending.finish(&http, &credentials).await.unwrap_err();
    assert!(matches!(err, AuthError::Declined), "{err}");
    assert!(err.to_string().contains("declined"));

    // A device code the server never issued.
    let token_url = format!("{}/sandbox/oauth2/v2.0/token", env.sandbox.base_url());
    let forged = DeviceAuthorization {
        device_code: "not-a-device-code".into(),
        user_code: "NOPE".into(),
        verification_uri: String::new(),
        message: String::new(),
        expires_in: Duration::from_secs(60),
        interval: Duration::from_millis(10),
    };
    let err = device_code::poll_token_endpoint(&http, &token_url, "ferry-cli", None, &forged)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadCode), "{err}");
    assert!(err.to_string().contains("not recognised"), "{err}");

    // Polling faster than the interval: the server answers slow_down, after which every poll waits
    // 5 s more. With our own deadline at 3 s, honouring it means the next poll (and the give-up)
    // comes only after 5 s; ignoring it would give up at 3 s.
    let device_url = format!("{}/sandbox/oauth2/v2.0/devicecode", env.sandbox.base_url());
    let mut authorization = device_code::request(
        &http,
        &device_url,
        "ferry-cli",
        "https://api.businesscentral.dynamics.com/.default offline_access",
    )
    .await
    .unwrap();
    assert_eq!(
        authorization.interval,
        Duration::from_secs(1),
        "the server's interval"
    );
    authorization.interval = Duration::ZERO;
    authorization.expires_in = Duration::from_secs(3);
    let started = Instant::now();
    let err =
        device_code::poll_token_endpoint(&http, &token_url, "ferry-cli", None, &authorization)
            .await
            .unwrap_err();
    assert!(matches!(err, AuthError::CodeExpired), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "slow_down adds 5 s to the interval: gave up after {:?}",
        started.elapsed()
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    device_code_polling_rides_out_a_failing_token_endpoint
);
/// RFC 8628 §3.5: a connection failure while polling means poll less often, not give up — the user may
/// be approving the code at that moment.
async fn device_code_polling_rides_out_a_failing_token_endpoint(backend: Backend) {
    let env = TestEnv::with_sandbox_on(backend, sandbox(1, |_| {})).await;
    let http = http_client();
    let base = env.sandbox.base_url();
    let mut authorization = device_code::request(
        &http,
        &format!("{base}/sandbox/oauth2/v2.0/devicecode"),
        "ferry-cli",
        "https://api.businesscentral.dynamics.com/.default offline_access",
    )
    .await
    .unwrap();
    env.control(
        "/_sandbox/devicecode/approve",
        json!({ "user_code": authorization.user_code }),
    )
    .await;
    env.control(
        "/_sandbox/faults",
        json!({ "route": "*/oauth2/v2.0/token", "status": 503, "count": 2 }),
    )
    .await;
    authorization.interval = Duration::from_millis(10);
    let token_url = format!("{base}/sandbox/oauth2/v2.0/token");
    let tokens =
        device_code::poll_token_endpoint(&http, &token_url, "ferry-cli", None, &authorization)
            .await
            .expect("two 503s from the token endpoint are ridden out");
    assert!(tokens.refresh_token.is_some());
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    an_expired_device_code_stops_with_a_clear_message
);
async fn an_expired_device_code_stops_with_a_clear_message(backend: Backend) {
    let env = TestEnv::with_sandbox_on(
        backend,
        sandbox(1, |c| c.device_code_lifetime = Duration::ZERO),
    )
    .await;
    env.apply(&device_definitions(&env)).await;
    let http = http_client();
    let device_url = format!("{}/sandbox/oauth2/v2.0/devicecode", env.sandbox.base_url());
    let token_url = format!("{}/sandbox/oauth2/v2.0/token", env.sandbox.base_url());
    let mut authorization =
        device_code::request(&http, &device_url, "ferry-cli", "x/.default offline_access")
            .await
            .unwrap();
    // Keep polling past our own deadline, so the server's expired_token is what stops us.
    authorization.expires_in = Duration::from_secs(60);
    authorization.interval = Duration::from_millis(1100);

    let err =
        device_code::poll_token_endpoint(&http, &token_url, "ferry-cli", None, &authorization)
            .await
            .unwrap_err();

    assert!(matches!(err, AuthError::CodeExpired), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_workers_spend_the_rotating_refresh_token_once
);
async fn concurrent_workers_spend_the_rotating_refresh_token_once(backend: Backend) {
    let env = TestEnv::with_sandbox_on(backend, sandbox(1, |_| {})).await;
    env.apply(&device_definitions(&env)).await;
    sign_in(&env).await;
    assert_eq!(issued(&env, "refresh_tokens").await, 1);
    env.control("/_sandbox/tokens", json!({ "expire_access_tokens": true }))
        .await;

    // Six "workers", each with its own token source, all meeting a dead access token at once.
    let def = Arc::new(connection(&env).await);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let def = def.clone();
            let credentials = env.credentials();
            let budgets = env.budgets();
            tokio::spawn(async move {
                let source =
                    Source::connect(&def, &credentials, &budgets, http_client(), 10).await?;
                source
                    .metadata()
                    .await
                    .map(|m| m.entity("RescoCustomer").is_some())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().map_err(|e| e.to_string()), Ok(true));
    }

    assert_eq!(
        issued(&env, "refresh_tokens").await,
        2,
        "exactly one refresh: the others re-read its access token"
    );
    // The rotated refresh token was stored: it still works.
    env.control("/_sandbox/tokens", json!({ "expire_access_tokens": true }))
        .await;
    let source = Source::connect(&def, &env.credentials(), &env.budgets(), http_client(), 10).await;
    assert!(source.is_ok(), "{:?}", source.err());
    assert_eq!(issued(&env, "refresh_tokens").await, 3);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    an_access_token_expiring_mid_run_is_refreshed_and_the_run_goes_on
);
async fn an_access_token_expiring_mid_run_is_refreshed_and_the_run_goes_on(backend: Backend) {
    let mut env = TestEnv::with_sandbox_on(
        backend,
        sandbox(400, |c| {
            c.access_token_lifetime = Duration::from_secs(2);
        }),
    )
    .await;
    env.settings.worker.page_size = 20;
    env.apply(&device_definitions(&env)).await;
    sign_in(&env).await;
    env.control(
        "/_sandbox/faults",
        json!({ "latency_ms": 150, "rate": 1.0 }),
    )
    .await;
    env.start_worker();
    let before = issued(&env, "access_tokens").await;

    let run = env.run("customers_dev", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!((run.inserted, run.rows_read), (400, 400));
    assert!(
        run.duration_ms.unwrap_or_default() > 3_000,
        "the run outlived several tokens"
    );
    let refreshed = issued(&env, "access_tokens").await - before;
    assert!(
        refreshed >= 2,
        "access tokens refreshed mid-run: {refreshed}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    explicit_endpoints_sign_in_without_microsofts_layout
);
async fn explicit_endpoints_sign_in_without_microsofts_layout(backend: Backend) {
    let mut env = TestEnv::with_sandbox_on(backend, sandbox(5, |_| {})).await;
    let base = env.sandbox.base_url();
    // No authority or tenant: the endpoints are named, as for any RFC 8628 provider, and the scope
    // is taken as written (offline_access included by the operator).
    let text = std::fs::read_to_string(device_definitions(&env))
        .unwrap()
        .replace(
            &format!("authority = \"{base}\"\ntenant = \"sandbox\"\nclient_id = \"ferry-cli\""),
            &format!(
                "device_authorization_url = \"{base}/sandbox/oauth2/v2.0/devicecode\"\n\
                 token_url = \"{base}/sandbox/oauth2/v2.0/token\"\nclient_id = \"ferry-cli\""
            ),
        )
        .replace(
            "scope = \"https://api.businesscentral.dynamics.com/.default\"\n\n[[integration]]\nname = \"customers_dev\"",
            "scope = \"https://api.businesscentral.dynamics.com/.default offline_access\"\n\n[[integration]]\nname = \"customers_dev\"",
        );
    assert!(text.contains("device_authorization_url") && text.contains("default offline_access"));
    let file = env.dir.join("explicit.toml");
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    let def = connection(&env).await;
    assert!(def.auth.tenant.is_none() && def.auth.authority.is_none());

    sign_in(&env).await;
    env.start_worker();
    let run = env.run("customers_dev", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 5);
    env.finish().await;
}
