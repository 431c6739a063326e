//! deploy/ stays true to the binaries. Every YAML and TOML file under deploy/ parses; every `ferry …` and
//! `ferry-worker …` command that a compose file, Kubernetes manifest, systemd unit or Dockerfile runs is
//! accepted by the real binary (`COMMAND --help` exits 0); every `FERRY__SECTION__KEY` any file mentions
//! names a setting of config/default.toml; settings files load; definition files validate.
//!
//! No database, Redis or network is needed: commands are checked with `--help`, which clap answers before
//! Ferry reads settings or connects anywhere.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

#[path = "support/worker_binary.rs"]
#[allow(dead_code)]
mod worker_binary;
use worker_binary::ferry_worker;

/// The `ferry` binary of this package, built by cargo for this test.
const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the scheduler crate sits in the workspace")
        .to_path_buf()
}

/// Every file under `root`, sorted, so reports are stable.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn extension(path: &Path) -> &str {
    path.extension().and_then(|e| e.to_str()).unwrap_or("")
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// A command line some deploy file runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    file: String,
    argv: Vec<String>,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`", self.file, self.argv.join(" "))
    }
}

/// `ferry` or `ferry-worker`, whatever folder the file runs it from.
fn ferry_binary(word: &str) -> Option<&'static str> {
    match word.rsplit('/').next().unwrap_or(word) {
        "ferry" => Some("ferry"),
        "ferry-worker" => Some("ferry-worker"),
        _ => None,
    }
}

/// Splits a shell-ish line into words, honouring single and double quotes (no escapes or expansions:
/// deploy files are kept free of quoting tricks).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Splits a script (systemd Exec lines, `sh -c` scripts) into simple commands at `;`, `&&`, `||`, `|`,
/// `&` and newlines.
fn simple_commands(script: &str) -> Vec<Vec<String>> {
    script
        .replace("&&", ";")
        .replace("||", ";")
        .split([';', '|', '&', '\n'])
        .map(shell_words)
        .filter(|argv| !argv.is_empty())
        .collect()
}

/// Keeps the argv when it runs a Ferry binary (after an optional `exec`); looks inside `sh -c SCRIPT`.
fn collect(file: &str, argv: Vec<String>, out: &mut Vec<Found>) {
    let mut argv = argv;
    if argv.first().is_some_and(|w| w == "exec") {
        argv.remove(0);
    }
    let Some(first) = argv.first() else { return };
    let shell = matches!(
        first.rsplit('/').next(),
        Some("sh" | "bash" | "dash" | "ash")
    );
    if shell && argv.get(1).is_some_and(|a| a == "-c") {
        if let Some(script) = argv.get(2) {
            for argv in simple_commands(script) {
                collect(file, argv, out);
            }
        }
        return;
    }
    if ferry_binary(first).is_some() {
        out.push(Found {
            file: file.to_string(),
            argv,
        });
    }
}

fn yaml_argv(value: &serde_yaml_ng::Value) -> Option<Vec<String>> {
    match value {
        serde_yaml_ng::Value::Sequence(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        serde_yaml_ng::Value::String(s) => Some(shell_words(s)),
        _ => None,
    }
}

/// Finds command lines in a YAML tree: Kubernetes containers (`command` + `args`), exec probes
/// (`command`), compose services (`entrypoint` + `command`) and compose health checks (`test`).
fn yaml_commands(file: &str, value: &serde_yaml_ng::Value, out: &mut Vec<Found>) {
    match value {
        serde_yaml_ng::Value::Mapping(map) => {
            let get = |key: &str| map.get(key).and_then(yaml_argv);
            let command = get("command");
            let args = get("args");
            let entrypoint = get("entrypoint");
            if command.is_some() || entrypoint.is_some() {
                let argv: Vec<String> = [entrypoint, command, args]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .collect();
                collect(file, argv, out);
            }
            if let Some(mut test) = get("test") {
                match test.first().map(String::as_str) {
                    Some("CMD") => {
                        test.remove(0);
                        collect(file, test, out);
                    }
                    Some("CMD-SHELL") => {
                        for argv in simple_commands(&test[1..].join(" ")) {
                            collect(file, argv, out);
                        }
                    }
                    _ => {}
                }
            }
            for (_, v) in map {
                yaml_commands(file, v, out);
            }
        }
        serde_yaml_ng::Value::Sequence(items) => {
            for v in items {
                yaml_commands(file, v, out);
            }
        }
        serde_yaml_ng::Value::Tagged(tagged) => yaml_commands(file, &tagged.value, out),
        _ => {}
    }
}

/// What checking one deploy folder found.
#[derive(Debug, Default)]
struct Report {
    commands: Vec<Found>,
    problems: Vec<String>,
}

/// Every `(section, key)` Ferry reads: the keys of config/default.toml, plus the ones it documents there
/// as commented-out lines (`# token = "…"`), which have no default.
fn settings_keys() -> &'static BTreeSet<(String, String)> {
    static KEYS: OnceLock<BTreeSet<(String, String)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let path = workspace().join("config/default.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let mut keys = BTreeSet::new();
        for (section, value) in &table {
            let section_table = value
                .as_table()
                .unwrap_or_else(|| panic!("default.toml: {section} is not a section"));
            for key in section_table.keys() {
                keys.insert((section.clone(), key.clone()));
            }
        }
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
            } else if let Some(comment) = line.strip_prefix('#')
                && let Some((key, _)) = comment.split_once('=')
            {
                let key = key.trim();
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    keys.insert((section.clone(), key.to_string()));
                }
            }
        }
        keys
    })
}

/// Names starting with `FERRY_` (one underscore) that Ferry reads besides the FERRY__ settings.
/// FERRY_CONFIG is a `--config` flag's variable (checked against `ferry --help` below); FERRY_MASTER_KEY
/// is the key for encrypted secrets.
const OTHER_FERRY_VARIABLES: [&str; 2] = ["FERRY_CONFIG", "FERRY_MASTER_KEY"];

/// Every `FERRY_…` word in `text`.
fn ferry_variables(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(pos) = text[i..].find("FERRY_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if start == 0 || !word(bytes[start - 1]) {
            found.push(text[start..end].to_string());
        }
        i = end.max(start + 1);
    }
    found
}

/// Why `name` is not a variable Ferry reads, if it is not; `shell` files may use FERRY_ for their own.
fn variable_problem(name: &str, shell: bool) -> Option<String> {
    if let Some(rest) = name.strip_prefix("FERRY__") {
        let parts: Vec<&str> = rest.split("__").collect();
        let [section, key] = parts.as_slice() else {
            return Some(format!("{name} is not FERRY__SECTION__KEY"));
        };
        let known = settings_keys().contains(&(section.to_lowercase(), key.to_lowercase()));
        (!known).then(|| {
            format!(
                "{name} names no setting: config/default.toml has no {}.{}",
                section.to_lowercase(),
                key.to_lowercase()
            )
        })
    } else if shell || OTHER_FERRY_VARIABLES.contains(&name) {
        None
    } else {
        Some(format!(
            "{name} is not a variable Ferry reads (settings are FERRY__SECTION__KEY; others: {})",
            OTHER_FERRY_VARIABLES.join(", ")
        ))
    }
}

/// Checks one deploy folder: parses, collects commands, checks variables, settings and definitions.
/// Commands are collected here and run by [`check_commands`].
fn check_files(root: &Path) -> Report {
    let mut report = Report::default();
    for path in files_under(root) {
        let name = path
            .strip_prefix(root.parent().unwrap_or(root))
            .unwrap_or(&path)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(&path) else {
            report.problems.push(format!("{name}: not UTF-8 text"));
            continue;
        };
        let shell = extension(&path) == "sh";
        for variable in ferry_variables(&text) {
            if let Some(problem) = variable_problem(&variable, shell) {
                report.problems.push(format!("{name}: {problem}"));
            }
        }
        match extension(&path) {
            "yaml" | "yml" => {
                for (n, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
                    match serde_yaml_ng::Value::deserialize(document) {
                        Ok(mut value) => {
                            if let Err(e) = value.apply_merge() {
                                report
                                    .problems
                                    .push(format!("{name}: document {}: {e}", n + 1));
                            }
                            yaml_commands(&name, &value, &mut report.commands);
                        }
                        Err(e) => {
                            report
                                .problems
                                .push(format!("{name}: document {}: not YAML: {e}", n + 1));
                            // The document iterator does not advance past a syntax error.
                            break;
                        }
                    }
                }
            }
            "toml" => check_toml(&name, &path, &text, &mut report.problems),
            "service" | "target" | "socket" | "timer" => {
                for line in text.lines().map(str::trim) {
                    let Some((key, value)) = line.split_once('=') else {
                        continue;
                    };
                    if key.starts_with("Exec") {
                        let argv = value
                            .trim_start_matches(['-', '@', ':', '+', '!'])
                            .split_whitespace()
                            .map(str::to_string)
                            .collect();
                        collect(&name, argv, &mut report.commands);
                    }
                }
            }
            _ if file_name(&path) == "Dockerfile" => {
                for line in text.lines().map(str::trim) {
                    let Some((instruction, rest)) = line.split_once(' ') else {
                        continue;
                    };
                    if instruction == "CMD" || instruction == "ENTRYPOINT" {
                        match serde_json::from_str::<Vec<String>>(rest.trim()) {
                            Ok(argv) => collect(&name, argv, &mut report.commands),
                            Err(_) => {
                                for argv in simple_commands(rest) {
                                    collect(&name, argv, &mut report.commands);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    report
}

/// A TOML file is either definitions (`[[connection]]` / `[[integration]]`), validated by Ferry's own
/// loader, or a settings file, loaded the way `--config` loads it.
fn check_toml(name: &str, path: &Path, text: &str, problems: &mut Vec<String>) {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            problems.push(format!("{name}: not TOML: {e}"));
            return;
        }
    };
    if table.contains_key("connection") || table.contains_key("integration") {
        if let Err(errors) = ferry_shared::definitions::load_files(&[path.to_path_buf()], &[]) {
            for e in errors {
                problems.push(format!("{name}: invalid definition: {e}"));
            }
        }
    } else if let Err(e) = ferry_shared::settings::Settings::load(Some(path)) {
        problems.push(format!("{name}: not a valid settings file: {e}"));
    }
}

/// Runs each found command with `--help` appended: clap accepts it only when the subcommand and every
/// flag before it exist. Returns a problem per rejected command.
fn check_commands(found: &[Found]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in found {
        let binary = match ferry_binary(&f.argv[0]) {
            Some("ferry") => PathBuf::from(FERRY),
            Some(_) => ferry_worker().to_path_buf(),
            None => continue,
        };
        let out = Command::new(&binary)
            .args(&f.argv[1..])
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            problems.push(format!(
                "{f} is not a command {} accepts: {}",
                ferry_binary(&f.argv[0]).unwrap_or("ferry"),
                stderr.lines().next().unwrap_or("").trim()
            ));
        }
    }
    problems
}

fn fail_on(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "deploy/ is out of step with Ferry ({} problem(s)):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// The value an env-style (`NAME=value`) or YAML (`NAME: value`) line gives `name`, unless the line is
/// a comment or only mentions the name (`key: NAME` in a secret reference).
fn assigned<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let rest = line.strip_prefix(name)?.trim_start();
    let value = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
    Some(value.trim().trim_matches(['"', '\'']))
}

/// What is wrong with the API tokens a deploy folder ships. Compose requires a value
/// (`${API_TOKEN:?…}`, which refuses unset and empty alike); every literal token an example ships, in
/// compose's env file or in the systemd and Kubernetes examples, must be one Ferry refuses to start
/// the API with (a placeholder such as `CHANGE-ME`) or empty (no token: every route 401), so no example
/// opens the API as shipped and each says how to make a real one.
fn api_token_problems(root: &Path) -> Vec<String> {
    let refused = |value: &str| {
        let api = ferry_shared::settings::ApiSettings::deserialize(serde_json::json!({
            "listen": "127.0.0.1:0",
            "token": value,
        }))
        .expect("api settings deserialize");
        api.token.is_none() || api.check_token().is_err()
    };
    let mut problems = Vec::new();
    for path in files_under(root) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path.display().to_string();
        let compose_variables: Vec<&str> = text
            .lines()
            .filter_map(|l| assigned(l, "FERRY__API__TOKEN"))
            .filter_map(|v| v.strip_prefix("${"))
            .collect();
        let literals: Vec<&str> = text
            .lines()
            .filter_map(|l| assigned(l, "FERRY__API__TOKEN"))
            .filter(|v| !v.starts_with("${"))
            .collect();
        for reference in compose_variables {
            let variable = reference.split([':', '}', '-', '?']).next().unwrap_or("");
            if !reference.starts_with(&format!("{variable}:?")) {
                problems.push(format!(
                    "{name}: FERRY__API__TOKEN takes ${{{reference}: use ${{{variable}:?…}} so compose refuses to start without it"
                ));
            }
            let env_example = path.with_file_name("env.example");
            let example = std::fs::read_to_string(&env_example).unwrap_or_default();
            for value in example.lines().filter_map(|l| assigned(l, variable)) {
                if !refused(value) {
                    problems.push(format!(
                        "{}: {variable} ships a token the API would accept; ship a placeholder",
                        env_example.display()
                    ));
                }
            }
        }
        for value in &literals {
            if !refused(value) {
                problems.push(format!(
                    "{name}: FERRY__API__TOKEN ships a token the API would accept; ship a placeholder"
                ));
            }
        }
        if !literals.is_empty() && !text.contains("openssl rand -hex 32") {
            problems.push(format!(
                "{name}: sets FERRY__API__TOKEN without saying how to make one (`openssl rand -hex 32`)"
            ));
        }
    }
    problems
}

#[test]
fn example_api_tokens_are_required_or_refused_so_none_opens_the_api() {
    let root = workspace().join("deploy");
    fail_on(&api_token_problems(&root));
    // Each way of deploying sets the token, so each was checked.
    let sets_token = |file: &str| {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        text.lines()
            .any(|l| assigned(l, "FERRY__API__TOKEN").is_some())
    };
    for file in [
        "docker/compose.yml",
        "systemd/ferry.env.example",
        "kubernetes/secret.yaml",
    ] {
        assert!(sets_token(file), "{file} no longer sets FERRY__API__TOKEN");
    }

    // And the check catches a usable token, an optional compose variable and a missing hint.
    let scratch = std::env::temp_dir().join(format!("ferry-token-check-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let usable = "0123456789abcdef0123456789abcdef";
    std::fs::write(
        scratch.join("ferry.env.example"),
        format!("FERRY__API__TOKEN={usable}\n"),
    )
    .unwrap();
    std::fs::write(
        scratch.join("compose.yml"),
        "x:\n  FERRY__API__TOKEN: ${API_TOKEN}\n",
    )
    .unwrap();
    std::fs::write(scratch.join("env.example"), format!("API_TOKEN={usable}\n")).unwrap();
    let problems = api_token_problems(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    for needle in [
        "ferry.env.example: FERRY__API__TOKEN ships a token the API would accept",
        "ferry.env.example: sets FERRY__API__TOKEN without saying how to make one",
        "compose.yml: FERRY__API__TOKEN takes ${API_TOKEN}",
        "env.example: API_TOKEN ships a token the API would accept",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem {needle:?} in {problems:#?}"
        );
    }
}

#[test]
fn deploy_files_parse_and_use_real_commands_and_settings() {
    let root = workspace().join("deploy");
    let report = check_files(&root);
    fail_on(&report.problems);
    fail_on(&check_commands(&report.commands));

    // The scan found what the files are for: each way of deploying runs a scheduler and workers, and
    // the scheduler's definitions are applied in each.
    let runs = |file: &str, argv: &[&str]| {
        report
            .commands
            .iter()
            .any(|f| f.file == file && f.argv.iter().map(String::as_str).eq(argv.iter().copied()))
    };
    for (file, argv) in [
        (
            "deploy/systemd/ferry-scheduler.service",
            &["/usr/local/bin/ferry", "scheduler"][..],
        ),
        (
            "deploy/systemd/ferry-scheduler.service",
            &["/usr/local/bin/ferry", "apply", "/etc/ferry/definitions"],
        ),
        (
            "deploy/systemd/ferry-worker@.service",
            &["/usr/local/bin/ferry-worker"],
        ),
        ("deploy/docker/Dockerfile", &["ferry", "scheduler"]),
        ("deploy/docker/compose.yml", &["ferry", "scheduler"]),
        ("deploy/docker/compose.yml", &["ferry-worker"]),
        (
            "deploy/docker/compose.yml",
            &["ferry", "apply", "/etc/ferry/definitions"],
        ),
        ("deploy/kubernetes/scheduler.yaml", &["ferry", "scheduler"]),
        (
            "deploy/kubernetes/scheduler.yaml",
            &["ferry", "apply", "/etc/ferry/definitions"],
        ),
        ("deploy/kubernetes/worker.yaml", &["ferry-worker"]),
    ] {
        assert!(
            runs(file, argv),
            "{file} should run `{}`; found: {:#?}",
            argv.join(" "),
            report.commands
        );
    }
}

#[test]
fn every_variable_ferry_reads_is_known_to_the_check() {
    // The commented-out keys of default.toml count: the API token has no default but is a setting.
    let keys = settings_keys();
    for (section, key) in [
        ("api", "token"),
        ("api", "callback_secret"),
        ("database", "url"),
        ("worker", "shutdown_grace_secs"),
    ] {
        assert!(
            keys.contains(&(section.to_string(), key.to_string())),
            "{section}.{key} missing from {keys:?}"
        );
    }
    // FERRY_CONFIG is the variable of `--config`.
    let help = Command::new(FERRY).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("FERRY_CONFIG"),
        "ferry --help no longer mentions FERRY_CONFIG"
    );
}

#[test]
fn the_check_catches_wrong_commands_variables_and_files() {
    let root = std::env::temp_dir().join(format!("ferry-deploy-check-{}", std::process::id()));
    let deploy = root.join("deploy");
    std::fs::create_dir_all(deploy.join("kubernetes")).unwrap();
    std::fs::write(
        deploy.join("kubernetes/worker.yaml"),
        "spec:\n  containers:\n    - name: w\n      command: [\"ferry\", \"schedule\"]\n      env:\n        - name: FERRY__WORKER__CONCURENCY\n          value: \"2\"\n        - name: FERRY_DATABASE__URL\n          value: x\n---\nservices:\n  s:\n    command: sh -c \"ferry apply /defs && exec ferry-worker --bogus\"\n",
    )
    .unwrap();
    std::fs::write(
        deploy.join("ferry.service"),
        "[Service]\nExecStart=-/usr/bin/ferry run customers --wiat\n",
    )
    .unwrap();
    std::fs::write(deploy.join("ferry.toml"), "[worker]\nconcurency = 2\n").unwrap();
    std::fs::write(
        deploy.join("defs.toml"),
        "[[integration]]\nname = \"x\"\nconnection = \"nowhere\"\n",
    )
    .unwrap();
    std::fs::write(deploy.join("broken.yaml"), "a: [1, 2\n").unwrap();

    let report = check_files(&deploy);
    let mut problems = report.problems.clone();
    problems.extend(check_commands(&report.commands));
    let _ = std::fs::remove_dir_all(&root);

    let has = |file: &str, needle: &str| {
        problems
            .iter()
            .any(|p| p.starts_with(&format!("deploy/{file}:")) && p.contains(needle))
    };
    for (file, needle) in [
        ("kubernetes/worker.yaml", "`ferry schedule`"),
        (
            "kubernetes/worker.yaml",
            "FERRY__WORKER__CONCURENCY names no setting",
        ),
        (
            "kubernetes/worker.yaml",
            "FERRY_DATABASE__URL is not a variable",
        ),
        ("kubernetes/worker.yaml", "`ferry-worker --bogus`"),
        ("ferry.service", "`/usr/bin/ferry run customers --wiat`"),
        ("ferry.toml", "not a valid settings file"),
        ("defs.toml", "invalid definition"),
        ("broken.yaml", "not YAML"),
    ] {
        assert!(
            has(file, needle),
            "no problem {needle:?} for {file} in {problems:#?}"
        );
    }
    // The good command inside the `sh -c` script is found and passes.
    assert!(
        report
            .commands
            .iter()
            .any(|f| f.argv == ["ferry", "apply", "/defs"])
    );
    assert!(!problems.iter().any(|p| p.contains("`ferry apply /defs`")));
}
