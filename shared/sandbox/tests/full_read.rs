//! A manual measurement, not a pass/fail benchmark:
//! `cargo test --release -p ferry-sandbox --test full_read -- --ignored --nocapture`

use std::time::Instant;

use ferry_sandbox::{Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow; run in release to measure"]
async fn read_a_million_customers_in_20000_row_pages() {
    let t0 = Instant::now();
    let config = SandboxConfig {
        customers: 1_000_000,
        contacts: 1000,
        ..Default::default()
    };
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let generated = t0.elapsed();

    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{}/sandbox/oauth2/v2.0/token", sandbox.base_url()))
        .basic_auth("ferry", Some("ferry-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "x/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let company: serde_json::Value = client
        .get(format!("{}/companies", sandbox.resco_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let company = company["value"][0]["id"].as_str().unwrap().to_owned();

    let t1 = Instant::now();
    let mut next = Some(format!(
        "{}/companies({company})/RescoCustomer?$orderby=RowVersionNumber",
        sandbox.resco_url()
    ));
    let (mut rows, mut pages, mut bytes) = (0usize, 0usize, 0usize);
    const LINK: &str = "\"@odata.nextLink\":\"";
    while let Some(url) = next {
        let body = client
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=20000")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Cheap scanning instead of a JSON parse, so the time is mostly the sandbox's.
        rows += body.matches("\"@odata.etag\"").count();
        pages += 1;
        bytes += body.len();
        next = body.rfind(LINK).map(|i| {
            let rest = &body[i + LINK.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        });
    }
    let read = t1.elapsed();
    println!(
        "generated 1,001,000 rows in {generated:?}; read {rows} rows in {pages} pages ({} MB) in {read:?}",
        bytes / 1_000_000
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!("process peak RSS {peak}");
    assert_eq!(rows, 1_000_000);
    assert_eq!(pages, 50);
}

/// The speed bar: at page size 5,000 the sandbox serves at least 100,000 RescoCustomer
/// rows per second on one core. A current-thread runtime puts the server (and the cheap client)
/// on one core. Prints the figure; a benchmark, not a pass/fail test.
#[tokio::test(flavor = "current_thread")]
#[ignore = "slow; run in release to measure"]
async fn crawl_200k_customers_at_page_size_5000_on_one_core() {
    let config = SandboxConfig {
        customers: 200_000,
        contacts: 1000,
        ..Default::default()
    };
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{}/sandbox/oauth2/v2.0/token", sandbox.base_url()))
        .basic_auth("ferry", Some("ferry-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "x/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let company: serde_json::Value = client
        .get(format!("{}/companies", sandbox.resco_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let company = company["value"][0]["id"].as_str().unwrap().to_owned();
    let t = Instant::now();
    let mut next = Some(format!(
        "{}/companies({company})/RescoCustomer",
        sandbox.resco_url()
    ));
    let (mut rows, mut pages) = (0usize, 0usize);
    const LINK: &str = "\"@odata.nextLink\":\"";
    while let Some(url) = next {
        let body = client
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=5000")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        rows += body.matches("\"@odata.etag\"").count();
        pages += 1;
        next = body.rfind(LINK).map(|i| {
            let rest = &body[i + LINK.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        });
    }
    let elapsed = t.elapsed();
    println!(
        "read {rows} rows in {pages} pages in {elapsed:?}: {:.0} rows/s",
        rows as f64 / elapsed.as_secs_f64()
    );
    assert_eq!((rows, pages), (200_000, 40));
}
