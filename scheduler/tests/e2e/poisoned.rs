//! One poisoned value fails one record (issue 21, item 3): a NUL character (PostgreSQL text cannot
//! hold it), a lone UTF-16 surrogate, a number past `f64` or nesting deeper than the parser allows in
//! one row of a page used to fail the whole page on every run. Now that row is a failed record with
//! its text and the reason, the rest of the page is written and the checkpoint moves past it.

use ferry_shared::checkpoint;
use ferry_shared::runs::{self, Mode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestEnv};
use crate::odata_service::METADATA;
use crate::on_both_backends;
use crate::raw_service::RawService;

const PRODUCTS: &str = r#"
[[integration]]
name = "products"
connection = "raw"
source = { entity = "Products", key = ["Code"], version = "Version" }
target = { table = "product", key = ["code"], create = true }
fields = [{ from = "Code", to = "code" }, { from = "Title", to = "title" }, { from = "Version", to = "version" }]
"#;

/// A page of five products whose second carries `poison` as its title.
fn page(poison: &str) -> String {
    let row = |n: u32, title: &str| {
        format!(r#"{{"Code":"P{n}","Title":{title},"Price":1.5,"Version":"{n}"}}"#)
    };
    let rows = [
        row(1, r#""fine""#),
        row(2, poison),
        row(3, r#""fine""#),
        row(4, r#""fine""#),
        row(5, r#""fine""#),
    ];
    format!(r#"{{"value":[{}]}}"#, rows.join(","))
}

/// Runs the products integration against a page with `poison` in record P2; checks that P2 alone
/// failed, with `reason` in its message, and that the checkpoint reached the last row.
async fn one_record_fails(backend: Backend, poison: &str, reason: &str) -> runs::RecordFailure {
    let service = RawService::start(METADATA, &page(poison)).await;
    let env = TestEnv::start_on(backend, 1, 1).await;
    let file = env.dir.join("raw.toml");
    std::fs::write(&file, service.definitions(PRODUCTS)).unwrap();
    env.apply(&file).await;

    let run = env.run("products", Mode::Incremental).await;
    assert_eq!(run.status, "partial", "{run:?}");
    assert_eq!(
        (run.rows_read, run.inserted, run.failed),
        (5, 4, 1),
        "{run:?}"
    );
    let codes = env.table("product", &["code"], "code").await;
    let codes: Vec<_> = codes.into_iter().flatten().flatten().collect();
    assert_eq!(codes, ["P1", "P3", "P4", "P5"]);

    let failures = runs::run_failures(&env.db, run.run_id).await.unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = failures.into_iter().next().unwrap();
    assert!(failure.message.contains(reason), "{}", failure.message);
    let stored = checkpoint::load(&env.db, "products")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&stored.json).unwrap(),
        json!({ "kind": "version", "value": 5 }),
        "the checkpoint moved past the failed record"
    );

    // The next run is not stuck on it: it reads on from the checkpoint and succeeds.
    let again = env.run("products", Mode::Incremental).await;
    assert_ne!(again.status, "failed", "{again:?}");
    env.finish().await;
    failure
}

async fn a_nul_character_fails_one_record(backend: Backend) {
    let failure = one_record_fails(backend, r#""bad\u0000title""#, "NUL character").await;
    assert!(failure.record_key.contains("P2"), "{failure:?}");
    assert_eq!(failure.payload["Title"], json!("bad\u{0}title"));
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_nul_character_fails_one_record
);

async fn a_lone_surrogate_fails_one_record(backend: Backend) {
    let failure = one_record_fails(backend, r#""bad\ud800""#, "cannot decode the record").await;
    assert!(failure.record_key.contains("P2"), "{failure:?}");
    assert!(failure.message.contains("\"Title\""), "{failure:?}");
    let raw = failure.payload.as_str().unwrap_or_default();
    assert!(
        raw.contains(r#""Title":"bad\ud800""#),
        "the text as sent: {raw}"
    );
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_lone_surrogate_fails_one_record
);

async fn nesting_deeper_than_the_parser_allows_fails_one_record(backend: Backend) {
    let nested = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let failure = one_record_fails(backend, &nested, "cannot decode the record").await;
    assert!(failure.message.contains("recursion"), "{failure:?}");
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    nesting_deeper_than_the_parser_allows_fails_one_record
);

/// A number no `f64` holds is no reason to fail anything: it arrives as the text the service sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_past_f64_arrives_as_sent() {
    let service = RawService::start(METADATA, &page("1e999")).await;
    let env = TestEnv::start(1, 1).await;
    let file = env.dir.join("raw.toml");
    std::fs::write(&file, service.definitions(PRODUCTS)).unwrap();
    env.apply(&file).await;
    let run = env.run("products", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 5),
        "{run:?}"
    );
    let titles = env.table("product", &["title"], "code").await;
    assert_eq!(titles[1], [Some("1e999".to_string())]);
    env.finish().await;
}
