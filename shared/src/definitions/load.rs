//! Reading definition files. Each `[[connection]]` and `[[integration]]` entry is decoded on its own so
//! one bad entry does not hide the errors of the next.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::model::{ConnectionDef, ConnectionKind, IntegrationDef};
use super::validate;

/// One problem in one definition file, located by file and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: PathBuf,
    /// Where in the file, e.g. `integration "customers".fields[2].to`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
    }
}

/// Every definition read from a set of files, each with the file it came from.
#[derive(Debug, Default)]
pub struct DefinitionSet {
    pub connections: Vec<(PathBuf, ConnectionDef)>,
    pub integrations: Vec<(PathBuf, IntegrationDef)>,
}

/// Reads and validates `paths` (files, or folders of `*.toml` files). Returns every error of every file,
/// or the definitions when there is none. `known_connections` are names already stored, which
/// integrations may refer to without redefining them.
pub fn load_files(
    paths: &[PathBuf],
    known_connections: &[String],
) -> Result<DefinitionSet, Vec<DefinitionError>> {
    load_files_against(paths, known_connections, &[], &[], None)
}

/// Like `load_files`, also checking the files against `stored_integrations` (the latest stored
/// definitions), so a conflict with one (two integrations writing one table's rows,
/// `shared_target_errors`) is listed with every other error, against the kinds of the stored
/// connections (what a source may default to), and against `env_prefix` (`secrets.env_prefix`),
/// which every `client_secret_env` must start with when set.
pub fn load_files_against(
    paths: &[PathBuf],
    known_connections: &[String],
    stored_kinds: &[(String, ConnectionKind)],
    stored_integrations: &[IntegrationDef],
    env_prefix: Option<&str>,
) -> Result<DefinitionSet, Vec<DefinitionError>> {
    let mut set = DefinitionSet::default();
    let mut errors = Vec::new();
    for file in expand(paths, &mut errors) {
        read_file(&file, &mut set, &mut errors);
    }
    validate::validate(
        &set,
        known_connections,
        stored_kinds,
        env_prefix,
        &mut errors,
    );
    errors.extend(super::targets::shared_target_errors(
        &set,
        stored_integrations,
    ));
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

/// Folders stand for the `*.toml` files directly inside them, in name order.
fn expand(paths: &[PathBuf], errors: &mut Vec<DefinitionError>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(file_error(
                            path,
                            "no definitions found: the folder has no .toml files".into(),
                        ));
                    }
                    files.extend(found);
                }
                Err(e) => errors.push(file_error(path, format!("cannot read folder: {e}"))),
            }
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// The sections of a settings file (`crate::settings::Settings`), which no definition file has.
const SETTINGS_SECTIONS: &[&str] = &[
    "database",
    "queue",
    "worker",
    "scheduler",
    "retry",
    "api",
    "retention",
    "lookups",
    "log",
    "limits",
    "secrets",
];

fn read_file(file: &Path, set: &mut DefinitionSet, errors: &mut Vec<DefinitionError>) {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return errors.push(file_error(file, format!("cannot read file: {e}"))),
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(e) => return errors.push(file_error(file, format!("not valid TOML: {e}"))),
    };
    if table.is_empty() {
        return errors.push(file_error(
            file,
            "no definitions found (expected [[connection]] or [[integration]] entries)".into(),
        ));
    }
    if table
        .keys()
        .all(|key| SETTINGS_SECTIONS.contains(&key.as_str()))
    {
        return errors.push(file_error(
            file,
            "this is a settings file (like config/default.toml), not definitions; keep \
             [[connection]] and [[integration]] files in a folder of their own (e.g. `ferry apply \
             config/examples/`); settings are read with --config FILE or FERRY__SECTION__KEY"
                .into(),
        ));
    }
    for (key, value) in table {
        match key.as_str() {
            "connection" => {
                for def in entries::<ConnectionDef>(file, "connection", value, errors) {
                    set.connections.push((file.to_path_buf(), def));
                }
            }
            "integration" => {
                for def in entries::<IntegrationDef>(file, "integration", value, errors) {
                    set.integrations.push((file.to_path_buf(), def));
                }
            }
            other => errors.push(DefinitionError {
                file: file.to_path_buf(),
                key: other.to_string(),
                message: "unknown key (expected [[connection]] or [[integration]])".into(),
            }),
        }
    }
}

/// Decodes each element of an array of tables, reporting each failure under `kind[i]` (or the entry's
/// name when it has one).
fn entries<T: DeserializeOwned>(
    file: &Path,
    kind: &str,
    value: toml::Value,
    errors: &mut Vec<DefinitionError>,
) -> Vec<T> {
    let toml::Value::Array(items) = value else {
        errors.push(DefinitionError {
            file: file.to_path_buf(),
            key: kind.to_string(),
            message: format!("must be an array of tables ([[{kind}]])"),
        });
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let label = entry_label(kind, i, &item);
        match decode::<T>(item) {
            Ok(def) => out.push(def),
            Err(found) => errors.extend(found.into_iter().map(|(path, message)| DefinitionError {
                file: file.to_path_buf(),
                key: if path.is_empty() {
                    label.clone()
                } else {
                    format!("{label}.{path}")
                },
                message,
            })),
        }
    }
    out
}

/// How many errors one entry reports at most.
const MAX_ERRORS_PER_ENTRY: usize = 16;

/// Decodes one entry, or lists its errors with the path of each (`source.overlap`). Serde stops at the
/// first error; to find the next, the offending value is taken out and the entry decoded again. It ends
/// at a required value that was taken out ("missing field" of it is not the operator's error).
fn decode<T: DeserializeOwned>(mut item: toml::Value) -> Result<T, Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut removed: Vec<Vec<Step>> = Vec::new();
    while found.len() < MAX_ERRORS_PER_ENTRY {
        let e = match serde_path_to_error::deserialize::<_, T>(item.clone()) {
            Ok(def) if found.is_empty() => return Ok(def),
            Ok(_) => break,
            Err(e) => e,
        };
        let mut segments: Vec<Step> = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let message = e.inner().message().trim().to_string();
        if let Some(field) = missing_field(&message) {
            let mut whose = segments.clone();
            whose.push(Step::Key(field.to_string()));
            if removed.contains(&whose) {
                break;
            }
        }
        // An unknown key is an error of the table it sits in: that table is the place to fix.
        let at = segments.clone();
        if message.starts_with("unknown field") {
            segments.pop();
        }
        found.push((render(&segments), message));
        if at.is_empty() || !remove(&mut item, &at) {
            break;
        }
        removed.push(at);
    }
    Err(found)
}

/// One step of a path into an entry: a table's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `source.overlap`, `fields[3].from`: the path as the operator finds it in the file.
fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// The field a serde "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Takes the value at `path` out of `item`; false when there is none.
fn remove(item: &mut toml::Value, path: &[Step]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = item;
    for segment in parents {
        let next = match (at, segment) {
            (toml::Value::Table(table), Step::Key(key)) => table.get_mut(key),
            (toml::Value::Array(items), Step::Index(index)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    match (at, last) {
        (toml::Value::Table(table), Step::Key(key)) => table.remove(key).is_some(),
        // An element cannot leave an array without renumbering the rest; stop there.
        _ => false,
    }
}

/// `integration "customers"` when the entry is named, else `integration[3]`.
fn entry_label(kind: &str, index: usize, item: &toml::Value) -> String {
    match item.get("name").and_then(|n| n.as_str()) {
        Some(name) => format!("{kind} {name:?}"),
        None => format!("{kind}[{index}]"),
    }
}

fn file_error(file: &Path, message: String) -> DefinitionError {
    DefinitionError {
        file: file.to_path_buf(),
        key: "(file)".into(),
        message,
    }
}
