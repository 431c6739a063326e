//! Stored client secrets: sealed at rest, usable by workers, re-sealed by `ferry keys rotate` (bound
//! to the same endpoints as before), and a clear message when no master key is configured.

use std::io::Write;
use std::process::Stdio;

use ferry_shared::auth::binding;
use ferry_shared::definitions::load_connection;
use ferry_shared::runs::Mode;
use ferry_shared::secrets::{Binding, Credentials, SecretsError};
use ferry_shared::settings::SecretsSettings;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::{Backend, TEST_MASTER_KEY, TestEnv, definitions};

/// The sandbox's client secret (ARCHITECTURE.md, "Outside facts").
const SECRET: &str = "ferry-secret";
/// A second key for rotation: 32 bytes of 0x07.
const NEW_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// The standard definitions with the secret stored instead of named by `client_secret_env`.
fn stored_secret_definitions(env: &TestEnv) -> std::path::PathBuf {
    let text =
        definitions(&env.sandbox, "").replace("client_secret_env = \"BC_SANDBOX_SECRET\"\n", "");
    let file = env.dir.join("stored.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn set_secret(
    env: &TestEnv,
    command: &mut std::process::Command,
    secret: &str,
) -> std::process::Output {
    let _ = env;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn keyring(current: &str, previous: &[&str]) -> SecretsSettings {
    SecretsSettings {
        master_key: Some(current.into()),
        key_file: None,
        previous_keys: previous.iter().map(|k| (*k).into()).collect(),
        env_prefix: None,
    }
}

/// What a secret of the stored connection `bc` is bound to (its endpoints as stored).
async fn bc_binding(env: &TestEnv) -> Binding {
    binding(&load_connection(&env.db, "bc").await.unwrap().unwrap())
}

crate::on_both_backends!(
    #[tokio::test]
    a_stored_client_secret_signs_in_and_never_sits_in_the_database_in_plaintext
);
async fn a_stored_client_secret_signs_in_and_never_sits_in_the_database_in_plaintext(
    backend: Backend,
) {
    let mut env = TestEnv::without_worker_on(backend, 40, 1).await;
    env.apply(&stored_secret_definitions(&env)).await;

    let output = set_secret(
        &env,
        &mut env.ferry(&["connection", "set-secret", "bc"]),
        SECRET,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    env.start_worker();
    let run = env.run("customers", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 40);
    let dump = env.database_dump();
    assert!(
        dump.contains("ferry_credentials"),
        "the dump covers the credentials table"
    );
    assert!(
        !dump.contains(SECRET),
        "the client secret is in the database in plaintext"
    );
    let stored = env
        .credentials()
        .client_secret("bc", &bc_binding(&env).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expose_secret(), SECRET);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    without_a_master_key_set_secret_says_how_to_create_one
);
async fn without_a_master_key_set_secret_says_how_to_create_one(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 1, 1).await;
    env.apply(&stored_secret_definitions(&env)).await;

    let mut command = env.ferry(&["connection", "set-secret", "bc"]);
    command.env_remove("FERRY__SECRETS__MASTER_KEY");
    let output = set_secret(&env, &mut command, SECRET);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FERRY_MASTER_KEY"), "{stderr}");
    assert!(stderr.contains("openssl rand -base64 32"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    keys_rotate_reseals_every_secret_under_the_new_key
);
async fn keys_rotate_reseals_every_secret_under_the_new_key(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 1, 1).await;
    env.apply(&stored_secret_definitions(&env)).await;
    env.credentials()
        .set_client_secret("bc", &bc_binding(&env).await, &SECRET.into())
        .await
        .unwrap();

    let output = env
        .ferry(&["keys", "rotate", "--json"])
        .env("FERRY__SECRETS__MASTER_KEY", NEW_KEY)
        .env("FERRY_PREVIOUS_MASTER_KEYS", TEST_MASTER_KEY)
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotation: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (
            rotation["resealed"].as_u64(),
            rotation["already_current"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let new_only = Credentials::new(env.db.clone(), &keyring(NEW_KEY, &[])).unwrap();
    let bound = bc_binding(&env).await;
    let opened = new_only.client_secret("bc", &bound).await.unwrap().unwrap();
    assert_eq!(opened.expose_secret(), SECRET);
    // The rotation kept the binding: the secret still opens for no other endpoints.
    let elsewhere = Binding::of(&[("auth.token_url", "http://127.0.0.1:9/token".into())]);
    let refused = new_only.client_secret("bc", &elsewhere).await.unwrap_err();
    assert!(
        matches!(refused, SecretsError::SignInAgain { unbound: false, .. }),
        "{refused}"
    );
    let status = new_only.status(Some("bc")).await.unwrap();
    assert_eq!(status[0].key_id, rotation["key_id"].as_str().unwrap());
    let old_only = Credentials::new(env.db.clone(), &keyring(TEST_MASTER_KEY, &[])).unwrap();
    let err = old_only.client_secret("bc", &bound).await.unwrap_err();
    assert!(matches!(err, SecretsError::UnknownKey { .. }), "{err}");
    env.finish().await;
}
