//! A Redis of the scenario's own on a free loopback port, so it can be killed and restarted empty
//! without touching the shared one. The child is killed when dropped.

use std::time::Duration;

use tokio::process::{Child, Command};

#[derive(Debug)]
pub struct PrivateRedis {
    pub port: u16,
    server: Option<Child>,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let mut redis = PrivateRedis {
            port: super::free_port(),
            server: None,
        };
        redis.launch().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `kill -9`: every queued job, heartbeat and lock is gone with it (no persistence is configured).
    pub async fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill().await.expect("SIGKILL redis-server");
        }
    }

    /// Starts an empty server on the same port again.
    pub async fn launch(&mut self) {
        assert!(self.server.is_none(), "redis-server is already running");
        let server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (deploy/test.sh installs it)");
        self.server = Some(server);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..250 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("private redis-server on port {} did not answer", self.port);
    }
}
