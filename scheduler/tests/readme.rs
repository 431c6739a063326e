//! The README's `ferry apply …` commands work as written: each one in a shell block is run from the
//! repository root against a fresh SQLite database, and must store the definitions it names (or, with
//! `--dry-run`, say what it would store and store nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The arguments of every `ferry apply` in the README's `sh` blocks, up to `&&`, `|`, `;` or a comment.
fn apply_commands(readme: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if let Some(fence) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(fence, "sh" | "bash" | "shell");
            continue;
        }
        if !in_shell {
            continue;
        }
        let words: Vec<&str> = trimmed
            .split_whitespace()
            .take_while(|w| !matches!(*w, "&&" | "|" | ";") && !w.starts_with('#'))
            .collect();
        if words.len() > 2 && words[0] == "ferry" && words[1] == "apply" {
            commands.push(words[2..].iter().map(|w| w.to_string()).collect());
        }
    }
    commands
}

#[test]
fn the_readmes_apply_commands_store_what_they_name() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = apply_commands(&readme);
    assert!(
        !commands.is_empty(),
        "the README shows how to apply definitions"
    );
    for args in commands {
        let dir =
            std::env::temp_dir().join(format!("ferry-readme-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = format!("sqlite:{}?mode=rwc", dir.join("ferry.db").display());
        let run = |argv: &[&str]| {
            Command::new(FERRY)
                .args(argv)
                .current_dir(&root)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("FERRY__DATABASE__URL", &database)
                .env("FERRY__QUEUE__URL", &database)
                .output()
                .unwrap()
        };
        let mut argv = vec!["apply"];
        argv.extend(args.iter().map(String::as_str));
        let applied = run(&argv);
        assert!(
            applied.status.success(),
            "ferry {}: {}{}",
            argv.join(" "),
            String::from_utf8_lossy(&applied.stdout),
            String::from_utf8_lossy(&applied.stderr)
        );
        let listed = run(&["integrations", "--json"]);
        assert!(
            listed.status.success(),
            "{}",
            String::from_utf8_lossy(&listed.stderr)
        );
        let integrations: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        let stored = integrations.as_array().is_some_and(|a| !a.is_empty());
        if args.iter().any(|a| a == "--dry-run") {
            assert!(!stored, "ferry {} stored: {integrations}", argv.join(" "));
            let said = String::from_utf8_lossy(&applied.stdout);
            assert!(said.contains("created   integration"), "{said}");
        } else {
            assert!(
                stored,
                "ferry {} stored no integration: {integrations}",
                argv.join(" ")
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_settings_file_given_to_apply_is_named_as_one() {
    let root = workspace();
    let dir = std::env::temp_dir().join(format!("ferry-readme-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite:{}?mode=rwc", dir.join("ferry.db").display());
    let output = Command::new(FERRY)
        .args(["apply", "config/"])
        .current_dir(&root)
        .env("FERRY__DATABASE__URL", &database)
        .env("FERRY__QUEUE__URL", &database)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("default.toml") && stderr.contains("settings file"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("unknown key"),
        "one clear error, not one per section: {stderr}"
    );
}
