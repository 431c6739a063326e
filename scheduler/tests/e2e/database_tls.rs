//! PostgreSQL's TLS default (issue 21, item 7), against the real `ferry` binary. A database URL to a
//! host that is not loopback, without `sslmode`, must not fall back to plain text: a stand-in server (on
//! loopback, addressed as `0.0.0.0`) refuses TLS, and Ferry sends it no startup message (user name,
//! then password exchange) in the clear and says how to opt out. Written out, `sslmode=disable` is
//! the operator's choice, and the same server then sees the startup message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// PostgreSQL's SSLRequest code (protocol 3.0, "Message Formats").
const SSL_REQUEST: u32 = 80_877_103;
/// Protocol 3.0 in a StartupMessage.
const PROTOCOL_3: u32 = 196_608;

/// The host the URLs name: `0.0.0.0` is not loopback by name, so Ferry treats it as a remote host,
/// yet Linux delivers a connection to it to the stand-in listening on 127.0.0.1, so no traffic leaves
/// the machine.
const NOT_LOOPBACK_BY_NAME: &str = "0.0.0.0";

/// A server that speaks just enough PostgreSQL: it answers an SSLRequest with `N` (no TLS) and
/// records every StartupMessage that reaches it in plain text.
async fn stand_in() -> (u16, Arc<Mutex<Vec<String>>>) {
    let startups = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = startups.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 1024];
                loop {
                    let read =
                        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
                            .await;
                    let Ok(Ok(n)) = read else { return };
                    if n < 8 {
                        return;
                    }
                    let code = u32::from_be_bytes(buffer[4..8].try_into().unwrap());
                    if code == SSL_REQUEST {
                        stream.write_all(b"N").await.ok();
                        continue;
                    }
                    if code == PROTOCOL_3 {
                        let text = String::from_utf8_lossy(&buffer[8..n]).replace('\0', " ");
                        seen.lock().unwrap().push(text.trim().to_string());
                    }
                    return;
                }
            });
        }
    });
    (port, startups)
}

fn ferry_runs(url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["runs"])
        .env("FERRY__DATABASE__URL", url)
        .env_remove("PGSSLMODE")
        .env_remove("PGHOST")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_off_loopback_without_sslmode_is_verified_never_plain_text() {
    let (port, startups) = stand_in().await;
    let address = format!("{NOT_LOOPBACK_BY_NAME}:{port}");

    let output = ferry_runs(&format!("postgres://ferry:db-password@{address}/ferry"));

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(
        *startups.lock().unwrap(),
        Vec::<String>::new(),
        "a startup message went to {address} in plain text"
    );
    assert!(
        stderr.contains("sslmode=verify-full")
            && stderr.contains("sslmode=require")
            && stderr.contains("sslmode=disable"),
        "says what it did and how to opt out: {stderr}"
    );
    assert!(!stderr.contains("db-password"), "{stderr}");

    // The stand-in is a fair witness: a URL that asks for plain text does reach it in the clear.
    let output = ferry_runs(&format!(
        "postgres://ferry:db-password@{address}/ferry?sslmode=disable"
    ));
    assert!(!output.status.success());
    let startups = startups.lock().unwrap().clone();
    assert!(
        startups.iter().any(|s| s.contains("user ferry")),
        "{startups:?}"
    );
}
