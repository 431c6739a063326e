//! Bounded reads (issue 21, item 4): a server that answers `$metadata` or a token request with a
//! gigabyte fails the attempt at the cap of that kind of answer (`limits.*`), naming the setting, and
//! the process reading it stays small, where it used to read the whole gigabyte into memory.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ferry_shared::runs::Mode;

use crate::helpers::TestEnv;

/// A megabyte of spaces, the unit of the hostile answers.
static MEGABYTE: [u8; 1 << 20] = [b' '; 1 << 20];

/// A gigabyte, streamed a megabyte at a time with no declared length (so only reading tells its size).
fn gigabyte() -> Body {
    let chunks = (0..1024).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&MEGABYTE)));
    Body::from_stream(futures::stream::iter(chunks))
}

/// A service whose `$metadata` is a gigabyte, and a token endpoint whose answer is one. It lives as
/// long as the test's runtime.
async fn hostile() -> SocketAddr {
    async fn endless() -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "application/xml")], gigabyte())
    }
    async fn token() -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "application/json")], gigabyte())
    }
    let app = Router::new()
        .route("/svc/$metadata", get(endless))
        .route("/{tenant}/oauth2/v2.0/token", post(token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Peak resident memory of process `pid` so far, in MB (`VmHWM`), while it runs.
fn peak_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_metadata_fails_at_the_cap_and_memory_stays_bounded() {
    let service = hostile().await;
    let env = TestEnv::start(1, 1).await;
    env.apply(&crate::hostile::definitions(
        &env,
        service,
        r#"flow = "none""#,
    ))
    .await;

    // `ferry discover hostile` reads the connection's $metadata in its own process, whose peak memory
    // is watched while it runs.
    let mut child = env
        .ferry(&["discover", "hostile"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(mb) = peak_mb(child.id()) {
            peak = peak.max(mb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "discover ends"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("limits.metadata_bytes") && stderr.contains("268435456 bytes"),
        "{stderr}"
    );
    println!("ferry discover's peak memory: {peak} MB");
    assert!(
        peak > 0 && peak < 400,
        "peak memory {peak} MB: read as it streams, up to a 256 MB cap, never a gigabyte held"
    );

    // A run fails the same way, for good (the same answer would come again).
    let run = env.run("products", Mode::Incremental).await;
    assert_eq!(run.status, "failed", "{run:?}");
    let error = run.error.unwrap_or_default();
    assert!(error.contains("limits.metadata_bytes"), "{error}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_answer_fails_clearly() {
    let service = hostile().await;
    let env = TestEnv::start(1, 1).await;
    let auth = format!(
        r#"flow = "client_credentials"
authority = "http://{service}"
tenant = "t"
client_id = "ferry"
client_secret_env = "BC_SANDBOX_SECRET"
scope = "https://api.businesscentral.dynamics.com/.default""#
    );
    env.apply(&crate::hostile::definitions(&env, service, &auth))
        .await;
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "products", Mode::Incremental)
            .await
            .unwrap();
    env.wait_until(run_id, "the attempt fails", |run| {
        run.error.is_some() && run.status != "running"
    })
    .await;
    let run = ferry_shared::runs::get(&env.db, run_id)
        .await
        .unwrap()
        .unwrap();
    let error = run.error.unwrap_or_default();
    println!("{error}");
    assert!(
        error.contains("token endpoint") && error.contains("limits.token_bytes"),
        "{error}"
    );
    env.finish().await;
}
