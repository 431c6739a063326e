//! A Redis of the scenario's own on a free loopback port, so it can be killed and restarted empty
//! without touching the shared one, or one that speaks only TLS and wants a password, as a managed
//! Redis does. The child is killed when dropped.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

#[derive(Debug)]
pub struct PrivateRedis {
    pub port: u16,
    server: Option<Child>,
    tls: Option<RedisTls>,
}

/// What a TLS-only Redis serves and requires.
#[derive(Debug, Clone)]
pub struct RedisTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA that signed `cert`, which the readiness check trusts.
    pub ca: PathBuf,
    /// `requirepass`.
    pub password: String,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        PrivateRedis::start_with(None).await
    }

    /// A Redis that listens only for TLS (`--port 0 --tls-port …`), on 127.0.0.1, and requires
    /// `tls.password`. Clients need no certificate of their own.
    pub async fn start_tls(tls: RedisTls) -> PrivateRedis {
        PrivateRedis::start_with(Some(tls)).await
    }

    async fn start_with(tls: Option<RedisTls>) -> PrivateRedis {
        let mut redis = PrivateRedis {
            port: super::free_port(),
            server: None,
            tls,
        };
        redis.launch().await;
        redis
    }

    /// `redis://127.0.0.1:PORT`, or for TLS `rediss://localhost:PORT` (a name the certificate
    /// carries), without the password.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }

    /// A client for the readiness check: the password and the CA when the server wants them.
    fn client(&self) -> redis::Client {
        let Some(tls) = &self.tls else {
            return redis::Client::open(self.url()).unwrap();
        };
        let url = format!("rediss://:{}@localhost:{}", tls.password, self.port);
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(&tls.ca).unwrap()),
        };
        redis::Client::build_with_tls(url, certificates).unwrap()
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
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => command.arg("--port").arg(self.port.to_string()),
            Some(tls) => command
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args(["--tls-auth-clients", "no", "--requirepass", &tls.password]),
        };
        let server = command
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (deploy/test.sh installs it)");
        self.server = Some(server);
        let client = self.client();
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
