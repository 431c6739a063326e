use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child even when an assertion fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_listening_line_and_serves() {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ferry-sandbox"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--customers",
                "10",
                "--contacts",
                "5",
                "--seed",
                "3",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ferry-sandbox"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .expect("read stdout");
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .expect("loopback url")
        .parse()
        .expect("port");
    assert_ne!(port, 0, "the real port is printed");
    let response = reqwest::Client::new()
        .post(format!("{url}/sandbox/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .basic_auth("ferry", Some("ferry-secret"))
        .send()
        .await
        .expect("server is up when the line is printed");
    assert_eq!(response.status(), 200);
    let rows: Vec<serde_json::Value> = reqwest::get(format!("{url}/_sandbox/rows/RescoCustomer"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows.len(), 10, "--customers is honored");
}
