//! A changed definition cannot exfiltrate a secret (issue 21, item 1). Whoever can write
//! `ferry_connections` points a connection's sign-in at a token endpoint of their own on loopback,
//! which records every request; the real `ferry-worker` then runs the integration. A stored client
//! secret or sign-in opens only for the endpoints it was stored for, so the endpoint receives nothing
//! and the run fails saying to sign in again. `ferry apply` of such a change says so up front, and
//! `secrets.env_prefix` limits which variables `client_secret_env` may name, at apply and at use. A
//! secret sealed before binding (format `v1`) opens for nobody until it is stored again.

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};
use ferry_shared::auth::binding;
use ferry_shared::definitions::load_connection;
use ferry_shared::runs::Mode;
use ferry_shared::storage::entities::{connection, credential};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::ExposeSecret;

use crate::auth::{device_definitions, sandbox, sign_in};
use crate::helpers::{TestEnv, definitions};
use crate::worker_binary::ferry_worker;

/// The sandbox's client secret (ARCHITECTURE.md, "Outside facts").
const SECRET: &str = "ferry-secret";

/// Every request the thief's endpoint received: method, path and query, `Authorization`, body.
type Received = Arc<Mutex<Vec<String>>>;

/// A token endpoint of the thief's, on loopback: it records whatever reaches it, on any path.
async fn thief() -> (String, Received) {
    let received = Received::default();
    let seen = received.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let authorization = headers
                    .get(header::AUTHORIZATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                    .unwrap_or_default();
                seen.lock().unwrap().push(format!(
                    "{method} {uri} [{authorization}] {}",
                    String::from_utf8_lossy(&body)
                ));
                axum::Json(serde_json::json!({ "access_token": "stolen", "expires_in": 3600 }))
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

/// Changes the stored definition of connection `name` behind `apply`'s back, as someone with write
/// access to the database would: `from` becomes `to` in its JSON.
async fn tamper(env: &TestEnv, name: &str, from: &str, to: &str) {
    let row = connection::Entity::find()
        .filter(connection::Column::Name.eq(name))
        .one(&env.db)
        .await
        .unwrap()
        .expect("the connection is stored");
    assert!(row.definition.contains(from), "{}", row.definition);
    let definition = row.definition.replace(from, to);
    let mut row: connection::ActiveModel = row.into();
    row.definition = Set(definition);
    row.update(&env.db).await.unwrap();
}

/// The real `ferry-worker` binary on this test's database and queue (killed when dropped).
fn worker(env: &TestEnv, extra: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(ferry_worker())
        .envs(env.env_vars())
        .envs(extra.iter().copied())
        .env("FERRY__WORKER__POLL_INTERVAL_MS", "20")
        .env("FERRY__LOG__LEVEL", "warn")
        .env_remove("FERRY_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ferry-worker starts")
}

/// The standard definitions with the client secret stored instead of named by `client_secret_env`.
fn stored_secret_definitions(env: &TestEnv, authority: &str) -> std::path::PathBuf {
    let text = definitions(&env.sandbox, "")
        .replace("client_secret_env = \"BC_SANDBOX_SECRET\"\n", "")
        .replace(
            &format!("authority = \"{}\"", env.sandbox.base_url()),
            &format!("authority = \"{authority}\""),
        );
    let file = env
        .dir
        .join(format!("stored-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, text).unwrap();
    file
}

/// `ferry connection set-secret bc`, the secret on standard input.
fn set_secret(env: &TestEnv) {
    let mut child = env
        .ferry(&["connection", "set-secret", "bc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{SECRET}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_nothing_received(received: &Received) {
    let received = received.lock().unwrap().clone();
    assert_eq!(
        received,
        Vec::<String>::new(),
        "the changed token endpoint received requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_client_secret_never_reaches_a_token_endpoint_changed_in_the_database() {
    let (thief, received) = thief().await;
    let env = TestEnv::without_worker(5, 1).await;
    let authority = env.sandbox.base_url();
    env.apply(&stored_secret_definitions(&env, &authority))
        .await;
    set_secret(&env);
    let _worker = worker(&env, &[]);
    let before = env.run("customers", Mode::Incremental).await;
    assert_eq!(before.status, "succeeded", "{:?}", before.error);

    tamper(&env, "bc", &authority, &thief).await;
    let after = env.run("customers", Mode::Incremental).await;

    assert_nothing_received(&received);
    assert_eq!(after.status, "failed", "{:?}", after.error);
    let error = after.error.unwrap_or_default();
    assert!(error.contains("sign in again"), "{error}");
    assert!(error.contains("ferry connection set-secret bc"), "{error}");
    assert!(!error.contains(SECRET), "{error}");
    assert_eq!(after.attempt, 1, "not retried: it would never open");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_sign_in_is_never_spent_at_a_token_endpoint_changed_in_the_database() {
    let (thief, received) = thief().await;
    // Access tokens die at once, so every run must spend the refresh token.
    let config = sandbox(5, |c| c.access_token_lifetime = Duration::from_secs(2));
    let env = TestEnv::with_sandbox_on(crate::helpers::Backend::Postgres, config).await;
    env.apply(&device_definitions(&env)).await;
    sign_in(&env).await;
    let _worker = worker(&env, &[("BC_SANDBOX_SECRET", SECRET)]);

    let token_url = format!("{thief}/sandbox/oauth2/v2.0/token");
    let authority = format!("\"authority\":\"{}\"", env.sandbox.base_url());
    tamper(
        &env,
        "bcdev",
        &authority,
        &format!("{authority},\"token_url\":\"{token_url}\""),
    )
    .await;
    let run = env.run("customers_dev", Mode::Incremental).await;

    assert_nothing_received(&received);
    assert_eq!(run.status, "failed", "{:?}", run.error);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("sign in again"), "{error}");
    assert!(error.contains("ferry auth login bcdev"), "{error}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_of_a_changed_endpoint_says_the_stored_secret_will_not_open_until_set_again() {
    let env = TestEnv::without_worker(1, 1).await;
    let authority = env.sandbox.base_url();
    env.apply(&stored_secret_definitions(&env, &authority))
        .await;
    set_secret(&env);
    let moved = authority.replace("127.0.0.1", "localhost");

    let output = env
        .ferry(&["apply"])
        .arg(stored_secret_definitions(&env, &moved))
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("auth.authority")
            && stdout.contains("the stored client secret will not open until it is set again")
            && stdout.contains("ferry connection set-secret bc"),
        "{stdout}"
    );
    let stored = load_connection(&env.db, "bc").await.unwrap().unwrap();
    let refused = env
        .credentials()
        .client_secret("bc", &binding(&stored))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("sign in again"), "{refused}");
    set_secret(&env);
    let opened = env
        .credentials()
        .client_secret("bc", &binding(&stored))
        .await
        .unwrap()
        .expect("stored again");
    assert_eq!(opened.expose_secret(), SECRET);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_env_must_start_with_secrets_env_prefix_at_apply_and_at_use() {
    let env = TestEnv::without_worker(3, 1).await;
    let file = env.write_definitions("");

    let refused = env
        .ferry(&["apply"])
        .arg(&file)
        .env("FERRY__SECRETS__ENV_PREFIX", "SOURCE_SECRET_")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "applied: {stderr}");
    assert!(
        stderr.contains("auth.client_secret_env")
            && stderr.contains("does not start with \"SOURCE_SECRET_\""),
        "{stderr}"
    );
    assert!(load_connection(&env.db, "bc").await.unwrap().is_none());

    let allowed = env
        .ferry(&["apply"])
        .arg(&file)
        .env("FERRY__SECRETS__ENV_PREFIX", "BC_SANDBOX_")
        .output()
        .unwrap();
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );

    // A worker whose settings narrow the prefix refuses the stored definition where it reads it.
    let _worker = worker(
        &env,
        &[
            ("BC_SANDBOX_SECRET", SECRET),
            ("FERRY__SECRETS__ENV_PREFIX", "SOURCE_SECRET_"),
        ],
    );
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.status, "failed", "{:?}", run.error);
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("does not start with \"SOURCE_SECRET_\""),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_sealed_before_binding_is_refused_and_keys_rotate_leaves_it() {
    let env = TestEnv::without_worker(1, 1).await;
    let authority = env.sandbox.base_url();
    env.apply(&stored_secret_definitions(&env, &authority))
        .await;
    set_secret(&env);
    // What an older Ferry wrote: format v1, bound to its row only.
    let row = credential::Entity::find()
        .filter(credential::Column::Connection.eq("bc"))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    let legacy = format!("v1.{}.{}", row.key_id, "A".repeat(40));
    let mut row: credential::ActiveModel = row.into();
    row.ciphertext = Set(legacy);
    row.update(&env.db).await.unwrap();

    let stored = load_connection(&env.db, "bc").await.unwrap().unwrap();
    let refused = env
        .credentials()
        .client_secret("bc", &binding(&stored))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("before secrets were bound") && refused.contains("sign in again"),
        "{refused}"
    );
    let output = env.ferry(&["keys", "rotate", "--json"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotation: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rotation["unbound"], 1, "{rotation}");
    set_secret(&env);
    let opened = env
        .credentials()
        .client_secret("bc", &binding(&stored))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.expose_secret(), SECRET, "set-secret binds it anew");
    env.finish().await;
}
