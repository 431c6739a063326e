//! The real `ferry-worker` binary for tests of this package (included with `#[path]` by the test
//! binaries that need it). Cargo gives a test only its own package's binaries (`CARGO_BIN_EXE_ferry`),
//! so this builds the worker crate's binary — quick when the workspace was built already — and takes
//! its path from cargo's JSON messages.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The path of the `ferry-worker` executable, built once per test process in the profile the tests
/// run in.
pub fn ferry_worker() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the scheduler crate sits in the workspace");
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace)
            .args(["build", "--quiet", "--message-format=json"])
            .args(["-p", "ferry-worker", "--bin", "ferry-worker"]);
        // Drop what cargo set for this test process: build scripts (ring's) watch these variables, and
        // seeing them changed would rebuild half the dependency tree here and again in the next build.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_for_tests = name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_CFG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_MANIFEST_LINKS",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref());
            if set_for_tests {
                build.env_remove(name.as_ref());
            }
        }
        if Path::new(env!("CARGO_BIN_EXE_ferry"))
            .components()
            .any(|c| c.as_os_str() == "release")
        {
            build.arg("--release");
        }
        let out = build.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "building ferry-worker failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["target"]["name"] == "ferry-worker")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reports the ferry-worker executable")
    })
}

/// Peak resident memory of process `pid` so far, in MB (`VmHWM` of `/proc/PID/status`); `None` when
/// the process is gone.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
