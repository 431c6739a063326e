//! What an update changes, field by field: the lines `ferry apply` prints under an updated definition
//! (and `--dry-run` before storing it). Mapped fields and lookups are matched by their target column,
//! so adding one in the middle names that one, not every field after it.

use serde_json::Value;

/// The changes from the stored form `old` to `new` (both canonical JSON), e.g. `source.filter: "a" →
/// "b"`, `fields (→ city): added {"from":"City","to":"city"}`.
pub fn changes(old: &str, new: &str) -> Vec<String> {
    let (Ok(old), Ok(new)) = (
        serde_json::from_str::<Value>(old),
        serde_json::from_str::<Value>(new),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk("", &old, &new, &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let at = join(path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(&at, x, y, out),
                    (None, Some(y)) => out.push(format!("{at}: added {y}")),
                    (Some(x), None) => out.push(format!("{at}: removed (was {x})")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if by_column(a) && by_column(b) => {
            let column = |v: &Value| v["to"].as_str().unwrap_or_default().to_string();
            for x in a {
                let at = format!("{path} (→ {})", column(x));
                match b.iter().find(|y| column(y) == column(x)) {
                    Some(y) => walk(&at, x, y, out),
                    None => out.push(format!("{at}: removed (was {x})")),
                }
            }
            for y in b
                .iter()
                .filter(|y| !a.iter().any(|x| column(x) == column(y)))
            {
                out.push(format!("{path} (→ {}): added {y}", column(y)));
            }
        }
        _ if old != new => out.push(format!("{path}: {old} → {new}")),
        _ => {}
    }
}

/// Whether each element is a table with its own target column (`fields`, `lookups`), all distinct.
fn by_column(items: &[Value]) -> bool {
    let columns: Vec<&str> = items.iter().filter_map(|v| v["to"].as_str()).collect();
    let mut distinct = columns.clone();
    distinct.sort();
    distinct.dedup();
    columns.len() == items.len() && distinct.len() == columns.len()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::changes;

    #[test]
    fn each_change_is_named_by_its_path_and_fields_by_their_column() {
        let old = r#"{"name":"c","source":{"entity":"E","filter":"A eq 1"},"schedule":"0 * * * * *",
            "fields":[{"from":"No","to":"no"},{"from":"City","to":"city"},{"from":"Name","to":"name"}]}"#;
        let new = r#"{"name":"c","source":{"entity":"E","filter":"A eq 2"},
            "fields":[{"from":"No","to":"no"},{"from":"Town","to":"city"},{"from":"Mail","to":"email"},{"from":"Name","to":"name"}]}"#;
        assert_eq!(
            changes(old, new),
            [
                r#"fields (→ city).from: "City" → "Town""#,
                r#"fields (→ email): added {"from":"Mail","to":"email"}"#,
                r#"schedule: removed (was "0 * * * * *")"#,
                r#"source.filter: "A eq 1" → "A eq 2""#,
            ]
        );
        assert!(changes(old, old).is_empty());
    }
}
