//! The example definitions the demo applies: the files in `config/examples/`, compiled in so the demo
//! runs from any folder, pointed at the in-process sandbox.

use std::path::{Path, PathBuf};

/// `(file name, contents)` of each example, in apply order.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "customers.toml",
        include_str!("../../../config/examples/customers.toml"),
    ),
    (
        "contacts.toml",
        include_str!("../../../config/examples/contacts.toml"),
    ),
    (
        "items.toml",
        include_str!("../../../config/examples/items.toml"),
    ),
    (
        "dataverse.toml",
        include_str!("../../../config/examples/dataverse.toml"),
    ),
];

/// The sandbox address the examples are written for (`ferry-sandbox`'s default).
const EXAMPLE_BASE: &str = "http://127.0.0.1:8080";

/// The integrations the examples define, in the order the demo runs them: the first
/// [`FIRST_WAVE`] side by side, then the rest, which look the first ones' rows up (contacts their
/// customer, Dataverse contacts their account).
pub const INTEGRATIONS: &[&str] = &[
    "customers",
    "accounts",
    "contacts",
    "items",
    "dataverse_contacts",
];

/// How many of [`INTEGRATIONS`] run before the others.
pub const FIRST_WAVE: usize = 2;

/// The connections the examples define, each signed in with the sandbox's client secret.
pub const CONNECTIONS: &[&str] = &["bc", "dataverse"];

/// The examples' target tables and the source entity each mirrors, for the summary's row counts.
pub const TABLES: &[(&str, &str)] = &[
    ("customer", "RescoCustomer"),
    ("contact", "RescoContact"),
    ("item", "RescoItem"),
    ("account", "account"),
    ("dataverse_contact", "contact"),
];

/// Writes the examples into `dir`, pointed at the sandbox at `base_url`. The client secrets are stored
/// encrypted instead of read from the environment, so the demo needs no environment at all.
pub fn write(dir: &Path, base_url: &str) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    EXAMPLES
        .iter()
        .map(|(name, text)| {
            let text: String = text
                .replace(EXAMPLE_BASE, base_url)
                .lines()
                .filter(|line| !line.trim_start().starts_with("client_secret_env"))
                .map(|line| format!("{line}\n"))
                .collect();
            let file = dir.join(name);
            std::fs::write(&file, text)?;
            Ok(file)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_point_at_the_sandbox_and_name_no_secret_variable() {
        let dir = std::env::temp_dir().join(format!("ferry-demo-examples-{}", std::process::id()));
        let files = write(&dir, "http://127.0.0.1:4321").unwrap();
        assert_eq!(files.len(), EXAMPLES.len());
        let customers = std::fs::read_to_string(&files[0]).unwrap();
        assert!(customers.contains("url = \"http://127.0.0.1:4321/v2.0/sandbox/"));
        assert!(customers.contains("authority = \"http://127.0.0.1:4321\""));
        assert!(!customers.contains("client_secret_env"));
        assert!(!customers.contains(EXAMPLE_BASE));
        let dataverse = std::fs::read_to_string(&files[3]).unwrap();
        assert!(dataverse.contains("scope = \"http://127.0.0.1:4321/.default\""));
        assert!(!dataverse.contains("client_secret_env"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
