//! The web console in a real headless Chromium (ChromeDriver): an operator signs in, previews an
//! integration, runs it and reads its counts, sees a dropped source field as drift and cleans it up,
//! and replays failed records once they can be written. Screenshots of the main pages go to
//! `$FERRY_SCREENSHOTS` when set (the README's come from there).

use std::path::PathBuf;

use ferry_shared::definitions::latest_integration;
use serde_json::json;

use crate::helpers::{API_TOKEN, TestEnv};
use crate::webdriver::Browser;

const NARROW: &str = r#"
[[integration]]
name = "narrow"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "narrow", key = ["no"] }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
"#;

/// Where screenshots go: `$FERRY_SCREENSHOTS`, or the test's own folder.
fn shots(env: &TestEnv) -> PathBuf {
    let dir = std::env::var_os("FERRY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.dir.join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The number a summary card shows above `label`.
fn card(html: &str, label: &str) -> Option<i64> {
    let end = html.find(&format!("<span class=\"k\">{label}</span>"))?;
    let start = html[..end].rfind("<span class=\"n\">")? + "<span class=\"n\">".len();
    html[start..end]
        .trim_end_matches("</span>")
        .replace('\u{202f}', "")
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_previews_runs_cleans_up_drift_and_replays_failures_in_a_browser() {
    let mut env = TestEnv::start(60, 1).await;
    env.execute("CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar(8))")
        .await;
    env.apply(&env.write_definitions(NARROW)).await;
    let base = env.start_scheduler().await;
    let shots = shots(&env);
    let browser = Browser::start(1280, 900).await;

    // Sign in: every page sends a stranger to the sign-in form first.
    browser.goto(&format!("{base}/runs")).await;
    assert!(
        browser.url().await.contains("/sign-in?next="),
        "{}",
        browser.url().await
    );
    let token = browser.find("#token").await;
    browser.type_into(&token, API_TOKEN).await;
    browser
        .click(&browser.find_text("button", "Sign in").await)
        .await;
    browser.wait_for_text("Runs").await;
    assert!(
        browser.url().await.ends_with("/runs"),
        "back where it started"
    );
    let cookie = browser
        .cookie("ferry_session")
        .await
        .expect("a session cookie");
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Strict");

    // Integrations, then the preview of the first run: 60 customers to insert.
    browser.goto(&format!("{base}/")).await;
    browser.wait_for_text("customers").await;
    browser.screenshot(&shots.join("integrations.png")).await;
    browser
        .click(&browser.find_text("a", "customers").await)
        .await;
    browser.wait_for_text("Definition").await;
    browser
        .click(&browser.find_text("a", "Preview").await)
        .await;
    browser.wait_for_text("rows read").await;
    let preview = browser.source().await;
    assert_eq!(card(&preview, "insert"), Some(60), "preview:\n{preview}");
    assert_eq!(card(&preview, "update"), Some(0));
    browser.screenshot(&shots.join("preview.png")).await;

    // Run it from the preview; the run's page follows it live until it succeeds.
    browser
        .click(&browser.find_text("button", "Run it now").await)
        .await;
    browser.wait_for_text("succeeded").await;
    let run = browser.source().await;
    assert_eq!(card(&run, "inserted"), Some(60), "run:\n{run}");
    assert_eq!(card(&run, "rows read"), Some(60));
    assert_eq!(env.count("SELECT count(*) FROM customer").await, 60);
    browser.screenshot(&shots.join("run.png")).await;

    // A field dropped at the source shows as drift, and the clean-up stores a version without it.
    env.control(
        "/_sandbox/schema",
        json!({ "entity": "RescoCustomer", "drop_field": "HomePage" }),
    )
    .await;
    browser
        .goto(&format!("{base}/integrations/customers"))
        .await;
    browser
        .click(
            &browser
                .find_text("button", "Check against the source now")
                .await,
        )
        .await;
    let drift = browser.wait_for_text("breaks fields[").await;
    assert!(drift.contains("HomePage"), "{drift}");
    browser.screenshot(&shots.join("drift.png")).await;
    // The editor flags the mapping too.
    browser
        .goto(&format!("{base}/integrations/customers/edit"))
        .await;
    browser.wait_for_text("gone at the source").await;
    browser
        .goto(&format!("{base}/integrations/customers"))
        .await;
    browser
        .click(&browser.find_text("button", "Clean up").await)
        .await;
    browser.accept_dialog().await;
    browser
        .wait_for_text("Stored a new version without the fields that are gone.")
        .await;
    let (version, def) = latest_integration(&env.db, "customers")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 2);
    assert!(
        def.fields
            .iter()
            .all(|f| f.from.as_deref() != Some("HomePage"))
    );
    assert!(browser.main_text().await.contains("version 2"));

    // Failed records: names longer than the column fail, with their payloads; once the column is
    // wide enough, Replay writes them.
    browser.goto(&format!("{base}/integrations/narrow")).await;
    browser
        .click(&browser.find_text("button", "Run now").await)
        .await;
    browser.wait_for_text("partial").await;
    let partial = browser.source().await;
    let failed = card(&partial, "failed").unwrap();
    assert!(failed > 0, "{partial}");
    assert!(
        partial.contains("payload"),
        "each failure keeps its payload"
    );
    assert!(
        partial.contains("Attempts"),
        "the run's attempts are listed"
    );
    browser.screenshot(&shots.join("failures.png")).await;
    env.execute("ALTER TABLE narrow ALTER COLUMN name TYPE varchar(200)")
        .await;
    browser
        .click(&browser.find_text("button", "Replay").await)
        .await;
    browser.wait_for_text("succeeded").await;
    let replay = browser.source().await;
    assert!(replay.contains("retry_failed"), "a --retry-failed run");
    assert_eq!(card(&replay, "inserted"), Some(failed));
    assert_eq!(env.count("SELECT count(*) FROM narrow").await, 60);
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_run_errors WHERE resolved_at IS NULL")
            .await,
        0
    );

    // The remaining pages, for the README, and the integrations on a phone.
    for (path, file) in [("/queue", "queue.png"), ("/connections", "connections.png")] {
        browser.goto(&format!("{base}{path}")).await;
        browser
            .wait_for_text(if path == "/queue" {
                "Workers"
            } else {
                "Sign-in"
            })
            .await;
        browser.screenshot(&shots.join(file)).await;
    }
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/")).await;
    browser.wait_for_text("customers").await;
    browser.screenshot(&shots.join("phone.png")).await;

    // Signing out ends it: the next page asks to sign in again.
    browser
        .click(&browser.find_text("button", "Sign out").await)
        .await;
    browser.find("#token").await;
    browser.goto(&format!("{base}/queue")).await;
    assert!(browser.url().await.contains("/sign-in"));
    drop(browser);
    env.finish().await;
}

/// Connections from the console: a form refused with its errors next to the fields, a client secret
/// typed once and stored sealed, a test of the connection, and a device-code sign-in through the
/// provider's own verification page, then signing out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_connections_tests_one_and_signs_in_with_a_device_code_in_a_browser() {
    let mut env = TestEnv::with_sandbox_on(
        crate::helpers::Backend::Postgres,
        crate::auth::sandbox(5, |_| {}),
    )
    .await;
    let base = env.start_scheduler().await;
    let shots = shots(&env);
    let browser = Browser::start(1280, 900).await;
    // The one-time link `ferry demo --keep-running` prints signs in without the token.
    let link = ferry_scheduler::console::sign_in_link(&env.settings, &base).unwrap();
    browser.goto(&link).await;
    browser.wait_for_text("Integrations").await;

    // A client-credentials connection with its secret typed into the page; the URL left out first.
    browser.goto(&format!("{base}/connections/new")).await;
    let fill = |id: &'static str, text: String| {
        let browser = &browser;
        async move {
            let field = browser.find(&format!("#{id}")).await;
            browser.type_into(&field, &text).await;
        }
    };
    fill("name", "bcapp".into()).await;
    fill("company", "CRONUS USA, Inc.".into()).await;
    fill("authority", env.sandbox.base_url()).await;
    fill("tenant", "sandbox".into()).await;
    fill("client_id", "ferry".into()).await;
    fill(
        "client_secret",
        ferry_sandbox::routes::identity::CLIENT_SECRET.into(),
    )
    .await;
    browser
        .click(&browser.find_text("button", "Save connection").await)
        .await;
    let refused = browser.wait_for_text("Not saved").await;
    let url_error = browser.text(&browser.find("#url-error").await).await;
    assert!(
        !url_error.is_empty(),
        "the URL's error sits by the URL: {refused}"
    );
    assert_eq!(env.count("SELECT count(*) FROM ferry_connections").await, 0);
    // The secret is not sent back into the page.
    assert!(
        !browser
            .source()
            .await
            .contains(ferry_sandbox::routes::identity::CLIENT_SECRET)
    );
    fill("url", env.sandbox.resco_url()).await;
    fill(
        "client_secret",
        ferry_sandbox::routes::identity::CLIENT_SECRET.into(),
    )
    .await;
    browser
        .click(&browser.find_text("button", "Save connection").await)
        .await;
    browser.wait_for_text("Connection saved.").await;
    let page = browser.source().await;
    assert!(!page.contains(ferry_sandbox::routes::identity::CLIENT_SECRET));
    assert!(browser.main_text().await.contains("set (stored sealed)"));
    let sealed = env
        .count(&format!(
            "SELECT count(*) FROM ferry_credentials WHERE connection = 'bcapp' AND kind = 'client_secret' \
             AND position('{}' in ciphertext) = 0",
            ferry_sandbox::routes::identity::CLIENT_SECRET
        ))
        .await;
    assert_eq!(sealed, 1, "stored, and not in plaintext");
    browser
        .click(&browser.find_text("button", "Test").await)
        .await;
    browser
        .wait_for_text("Signed in and read the service's $metadata")
        .await;

    // A device-code connection, then its sign-in through the provider's verification page.
    browser.goto(&format!("{base}/connections/new")).await;
    fill("name", "bcdev".into()).await;
    fill("url", env.sandbox.resco_url()).await;
    fill("company", "CRONUS USA, Inc.".into()).await;
    fill("authority", env.sandbox.base_url()).await;
    fill("tenant", "sandbox".into()).await;
    fill("client_id", "ferry-cli".into()).await;
    browser
        .click(&browser.find("#flow option[value=\"device_code\"]").await)
        .await;
    browser
        .click(&browser.find_text("button", "Save connection").await)
        .await;
    browser.wait_for_text("Connection saved.").await;
    browser.screenshot(&shots.join("connections.png")).await;
    let sign_in = browser
        .find("form[action=\"/connections/bcdev/sign-in\"] button")
        .await;
    browser.click(&sign_in).await;
    let code = browser.text(&browser.find("#user-code").await).await;
    assert!(!code.is_empty());
    browser.screenshot(&shots.join("device-code.png")).await;
    let verify = browser.find("main a[target=\"_blank\"]").await;
    let verification_uri = browser.text(&verify).await;
    assert_eq!(
        verification_uri,
        format!("{}/devicelogin", env.sandbox.base_url())
    );
    browser.goto(&verification_uri).await;
    browser
        .type_into(&browser.find("input[name=\"user_code\"]").await, &code)
        .await;
    browser
        .click(&browser.find("button[value=\"approve\"]").await)
        .await;
    // The provider's answer, before leaving its page (leaving sooner could cancel the approval).
    browser.wait_for("body", "You have signed in").await;
    browser
        .goto(&format!("{base}/connections/bcdev/sign-in"))
        .await;
    let done = browser.wait_for_text("Signed in").await;
    assert!(!done.contains("Not signed in"), "{done}");
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_credentials WHERE connection = 'bcdev' AND kind = 'refresh_token'")
            .await,
        1
    );
    browser.goto(&format!("{base}/connections")).await;
    browser.wait_for_text("Sign in again").await;
    browser
        .click(
            &browser
                .find("form[action=\"/connections/bcdev/sign-out\"] button")
                .await,
        )
        .await;
    browser.accept_dialog().await;
    browser.wait_for_text("Signed out").await;
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_credentials WHERE connection = 'bcdev' AND kind = 'refresh_token'")
            .await,
        0
    );
    drop(browser);
    env.finish().await;
}

/// The integration editor: entity sets from the connection's `$metadata`, fields auto-matched by name,
/// a filter `apply` cannot parse refused with the error (pointing at the token) by the filter, then a
/// save that is a new version, and a run of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_builds_an_integration_from_discovered_fields_in_a_browser() {
    let mut env = TestEnv::start(20, 10).await;
    let file = env.dir.join("connection.toml");
    std::fs::write(
        &file,
        crate::helpers::bc_connection(&env.sandbox, "bc", &env.sandbox.resco_url()),
    )
    .unwrap();
    env.apply(&file).await;
    let base = env.start_scheduler().await;
    let shots = shots(&env);
    let browser = Browser::start(1280, 900).await;
    let link = ferry_scheduler::console::sign_in_link(&env.settings, &base).unwrap();
    browser.goto(&link).await;
    browser.wait_for_text("Integrations").await;

    browser
        .click(&browser.find_text("a", "New integration").await)
        .await;
    browser
        .click(&browser.find_text("button", "List its entity sets").await)
        .await;
    let entity = browser.find("#entity").await;
    browser.type_into(&entity, "RescoCustomer").await;
    browser
        .type_into(&browser.find("#table").await, "crm_customer")
        .await;
    browser
        .click(&browser.find_text("button", "Match fields").await)
        .await;
    browser.wait_for_text("Fields").await;
    let name = browser.find("#name").await;
    browser.clear(&name).await;
    browser.type_into(&name, "crm").await;
    browser
        .click(&browser.find("input[aria-label=\"Map HomePage\"]").await)
        .await;
    browser
        .click(
            &browser
                .find("select[aria-label=\"Transform of Email\"] option[value=\"lower\"]")
                .await,
        )
        .await;
    // The filter is checked as it is typed: a field the entity lacks, then a value that is not one.
    let filter = browser.find("#filter").await;
    browser.type_into(&filter, "Nmae eq 'x'").await;
    browser
        .wait_for_text("`Nmae` is not a field of RescoCustomer")
        .await;
    browser.clear(&filter).await;
    browser.type_into(&filter, "Name eq Smith").await;
    browser.wait_for_text("(`Smith`): expected a value").await;
    browser.screenshot(&shots.join("editor.png")).await;
    browser
        .click(&browser.find_text("button", "Save as a new version").await)
        .await;
    browser.wait_for_text("Not saved").await;
    let filter_error = browser.text(&browser.find("#filter-note").await).await;
    assert!(
        filter_error.contains("`Smith`"),
        "the error points at the token: {filter_error}"
    );
    assert!(latest_integration(&env.db, "crm").await.unwrap().is_none());
    let filter = browser.find("#filter").await;
    browser.clear(&filter).await;
    browser
        .click(&browser.find_text("button", "Save as a new version").await)
        .await;
    browser.wait_for_text("Saved as a new version").await;
    let (version, def) = latest_integration(&env.db, "crm").await.unwrap().unwrap();
    assert_eq!(version, 1);
    assert_eq!(def.target.table, "crm_customer");
    assert_eq!(def.source.version.as_deref(), Some("RowVersionNumber"));
    assert!(
        def.fields
            .iter()
            .all(|f| f.from.as_deref() != Some("HomePage"))
    );
    let email = def
        .fields
        .iter()
        .find(|f| f.from.as_deref() == Some("Email"))
        .unwrap();
    assert_eq!(email.to, "email");
    assert_eq!(
        email.transform.as_ref().and_then(|t| t.as_str()),
        Some("lower")
    );

    browser
        .click(&browser.find_text("button", "Run now").await)
        .await;
    browser.wait_for_text("succeeded").await;
    assert_eq!(env.count("SELECT count(*) FROM crm_customer").await, 20);

    // Contacts with a lookup of their customer's name in the table just filled.
    browser
        .goto(&format!(
            "{base}/integrations/new?connection=bc&entity=RescoContact&table=crm_contact"
        ))
        .await;
    browser.wait_for_text("Lookups").await;
    for (field, text) in [
        ("column", "customer_name"),
        ("source fields", "CustomerNo"),
        ("table", "crm_customer"),
        ("match columns", "no"),
        ("select column", "name"),
    ] {
        let input = browser
            .find(&format!("input[aria-label=\"Lookup 1: {field}\"]"))
            .await;
        browser.type_into(&input, text).await;
    }
    browser
        .click(&browser.find_text("button", "Save as a new version").await)
        .await;
    browser.wait_for_text("Saved as a new version").await;
    let (_, contacts) = latest_integration(&env.db, "resco_contact")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contacts.lookups.len(), 1);
    assert_eq!(contacts.lookups[0].match_columns, vec!["no".to_string()]);
    browser
        .goto(&format!("{base}/integrations/resco_contact/edit"))
        .await;
    let editing = browser.wait_for_text("Lookups").await;
    assert!(
        editing.contains("email"),
        "the lookup table's columns are offered: {editing}"
    );
    browser
        .goto(&format!("{base}/integrations/resco_contact"))
        .await;
    browser
        .click(&browser.find_text("button", "Run now").await)
        .await;
    browser.wait_for_text("succeeded").await;
    // Every contact of a customer carries that customer's name.
    let of_a_customer = env
        .count(
            "SELECT count(*) FROM crm_contact WHERE customer_no IN (SELECT no FROM crm_customer)",
        )
        .await;
    assert!(of_a_customer > 0);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM crm_contact c JOIN crm_customer k ON k.no = c.customer_no \
             WHERE c.customer_name = k.name"
        )
        .await,
        of_a_customer
    );
    drop(browser);
    env.finish().await;
}
