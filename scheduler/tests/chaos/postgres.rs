//! A PostgreSQL server of the chaos suite's own (initdb + pg_ctl under a temp dir, loopback only), so a
//! scenario can crash and restart it without touching the shared server every other test uses, or
//! one that takes only TLS connections with a password, as a managed PostgreSQL does. It stops
//! itself when dropped, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug)]
pub struct PrivatePostgres {
    /// The server's `bin` directory (initdb, pg_ctl).
    bin: PathBuf,
    /// The temp dir holding the cluster, its socket and its log; removed on drop.
    dir: PathBuf,
    pub port: u16,
    /// Whether it serves TLS (`ssl = on`, the certificate and key copied into `dir`).
    tls: bool,
}

/// What a TLS-only PostgreSQL serves and requires.
#[derive(Debug, Clone)]
pub struct PostgresTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The password of the `postgres` user, required over TCP (scram-sha-256).
    pub password: String,
}

impl PrivatePostgres {
    /// initdb (trust auth, user `postgres`) and start on a free loopback port.
    pub fn start() -> PrivatePostgres {
        PrivatePostgres::start_with(None)
    }

    /// Like `start`, but TCP connections must use TLS (`hostssl` only) and the `postgres` user's
    /// password; the Unix socket in the temp dir stays trusted.
    pub fn start_tls(tls: &PostgresTls) -> PrivatePostgres {
        PrivatePostgres::start_with(Some(tls))
    }

    fn start_with(tls: Option<&PostgresTls>) -> PrivatePostgres {
        let bin = server_bin();
        let dir = std::env::temp_dir().join(format!(
            "ferry-chaos-pg-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let server = PrivatePostgres {
            bin,
            dir,
            port: super::free_port(),
            tls: tls.is_some(),
        };
        let mut initdb = vec!["-A", "trust", "-U", "postgres", "--no-sync"];
        let password_file = server.dir.join("password");
        if let Some(tls) = tls {
            // The server reads its key only when the key is private to the server's account.
            std::fs::copy(&tls.cert, server.dir.join("server.pem")).unwrap();
            std::fs::copy(&tls.key, server.dir.join("server.key")).unwrap();
            std::fs::write(&password_file, &tls.password).unwrap();
            run(Command::new("chmod").args(["600", path(&server.dir.join("server.key"))]));
            initdb.extend(["--pwfile", path(&password_file)]);
        }
        if running_as_root() {
            // PostgreSQL refuses to run as root; the cluster belongs to the `postgres` account.
            run(Command::new("chown").args(["-R", "postgres:", path(&server.dir)]));
        }
        let data = server.data();
        run(server
            .command("initdb")
            .args(["-D", path(&data)])
            .args(initdb));
        if tls.is_some() {
            std::fs::remove_file(&password_file).unwrap();
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
        }
        server.pg_ctl_start();
        server
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Crash-stops the server (`-m immediate`: no checkpoint, connections cut, WAL recovery on start)
    /// and starts it again on the same port.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    /// `-m immediate`, so a scenario sees what a crashed database does to open connections.
    pub fn stop(&self) {
        run(self.command("pg_ctl").args([
            "-D",
            path(&self.data()),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]));
    }

    fn pg_ctl_start(&self) {
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off \
             -c max_connections=100",
            self.port,
            self.dir.display()
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.dir.join("server.pem").display(),
                self.dir.join("server.key").display()
            ));
        }
        let log = self.dir.join("postgres.log");
        run(self.command("pg_ctl").args([
            "-D",
            path(&self.data()),
            "-l",
            path(&log),
            "-w",
            "-t",
            "60",
            "-o",
            options.as_str(),
            "start",
        ]));
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server program, as the `postgres` account when this process is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", path(&self.data()), "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's bin dir (`FERRY_CHAOS_PG_BIN` overrides).
fn server_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("FERRY_CHAOS_PG_BIN") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL server binaries under /usr/lib/postgresql (deploy/test.sh installs them)",
        )
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
        .1
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Runs a setup command to completion; its output is shown when it fails.
fn run(command: &mut Command) {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
