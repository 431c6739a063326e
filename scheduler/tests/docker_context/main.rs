//! The container image's build context and toolchain, checked without Docker (no image can be built
//! here): every tracked file the build needs survives `deploy/docker/Dockerfile.dockerignore`, and the
//! image's Rust is new enough for the workspace and every locked dependency.

mod dockerignore;

use std::path::{Path, PathBuf};
use std::process::Command;

use dockerignore::DockerIgnore;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the scheduler crate sits in the workspace")
        .to_path_buf()
}

/// Tracked files the image does not need: CI's own scripts.
fn not_for_the_image(path: &str) -> bool {
    path.starts_with(".ci/")
}

fn tracked_files() -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(workspace())
        .args(["ls-files", "-z"])
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("paths are UTF-8")
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Tools and ignore files treat a folder named `target` as build output (Cargo's), so no source folder
/// may carry that name: the sink lives in `shared/src/sink/` (ARCHITECTURE.md, "Code map").
#[test]
fn no_source_folder_is_named_target() {
    let files = tracked_files();
    let named_target: Vec<&String> = files
        .iter()
        .filter(|f| f.split('/').rev().skip(1).any(|folder| folder == "target"))
        .collect();
    assert!(files.len() > 100, "the check sees the repository");
    assert!(
        named_target.is_empty(),
        "tracked files inside a folder named target: {named_target:?}"
    );
}

#[test]
fn the_build_context_keeps_every_source_file() {
    let ignore_file = workspace().join("deploy/docker/Dockerfile.dockerignore");
    let ignore = DockerIgnore::parse(&std::fs::read_to_string(&ignore_file).unwrap());
    let files = tracked_files();
    assert!(
        files.iter().any(|f| f == "shared/src/sink/mod.rs"),
        "the check sees the repository"
    );
    let dropped: Vec<&String> = files
        .iter()
        .filter(|f| !not_for_the_image(f) && ignore.excludes(f))
        .collect();
    assert!(
        dropped.is_empty(),
        "{} leaves {} tracked file(s) out of the build context, so `docker build` cannot compile:\n  {}",
        ignore_file.display(),
        dropped.len(),
        dropped
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    // What it is for: the build output and secrets stay out.
    for path in ["target/debug/ferry", ".git/HEAD", "deploy/docker/.env"] {
        assert!(
            ignore.excludes(path),
            "{path} should stay out of the context"
        );
    }
}

/// `major.minor` of a version such as `1.94` or `1.94.0`.
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn the_images_rust_builds_the_workspace_and_its_locked_dependencies() {
    let dockerfile = std::fs::read_to_string(workspace().join("deploy/docker/Dockerfile")).unwrap();
    let image = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("FROM rust:"))
        .and_then(|rest| rest.split(['-', ' ']).next())
        .expect("the builder stage is FROM rust:<version>-…");
    let image = major_minor(image);

    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap()).unwrap();
    let workspace_rust = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("workspace.package.rust-version");
    assert!(
        image >= major_minor(workspace_rust),
        "the image's Rust {image:?} is older than the workspace's rust-version {workspace_rust}"
    );

    // Cargo refuses a dependency whose rust-version is newer than the compiler, even with --locked.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let too_new: Vec<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["rust_version"].as_str()?)))
        .filter(|(_, needs)| major_minor(needs) > image)
        .map(|(name, needs)| format!("{name} needs Rust {needs}"))
        .collect();
    assert!(
        too_new.is_empty(),
        "the image's Rust {image:?} cannot build: {too_new:?}"
    );
}
