//! Where a version Ferry stored itself (`ferry check --clean-up`) lands in the operator's own files.
//! The files stay the definitions' source: unless they change too, the next `ferry apply` of the
//! unchanged file stores the old mapping again and quietly undoes the clean-up. So Ferry names the
//! lines to delete, or deletes them itself (`--write`), touching nothing else in the file.

use std::ops::Range;

use toml_edit::{Document, Item, Value};

use super::IntegrationDef;

/// One mapped entry to take out of an integration: a `fields` or `lookups` element, named by its
/// target column (`to`), which is unique within its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub list: &'static str,
    pub to: String,
}

/// A line of the file that holds an entry to delete (1-based), with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub text: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("not a TOML file Ferry can edit: {0}")]
    Parse(String),
    #[error("it defines no integration {0:?}")]
    NotDefined(String),
    #[error(
        "its integration {integration:?} does not read as a definition ({message}); `ferry apply --dry-run` on the file lists what to fix"
    )]
    Invalid {
        integration: String,
        message: String,
    },
    #[error(
        "integration {integration:?} writes its {list} as [[…]] tables; delete the one with to = {to:?} by hand"
    )]
    NotInline {
        integration: String,
        list: &'static str,
        to: String,
    },
}

/// The definition of `integration` as the file `text` writes it (decoded, not validated: only its
/// mapping is read, to see what of it a clean-up drops).
pub fn integration_in(text: &str, integration: &str) -> Result<IntegrationDef, EditError> {
    let file: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| EditError::Parse(e.message().to_string()))?;
    let entry = file
        .get("integration")
        .and_then(toml::Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|t| t.get("name").and_then(toml::Value::as_str) == Some(integration))
        })
        .ok_or_else(|| EditError::NotDefined(integration.to_string()))?;
    entry
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| EditError::Invalid {
            integration: integration.to_string(),
            message: e.message().to_string(),
        })
}

/// The lines holding `entries` of `integration` in the file `text` (an entry the file does not have
/// is left out: it may have been deleted already).
pub fn locate(text: &str, integration: &str, entries: &[Entry]) -> Result<Vec<Line>, EditError> {
    let doc = Document::parse(text).map_err(|e| EditError::Parse(e.message().to_string()))?;
    let table = integration_table(doc.as_table(), integration)?;
    let mut lines = Vec::new();
    for entry in entries {
        let Some(span) = element(table, integration, entry)?.and_then(|v| v.span()) else {
            continue;
        };
        lines.extend(lines_of(text, span));
    }
    lines.sort_by_key(|l| l.number);
    lines.dedup();
    Ok(lines)
}

/// `text` without `entries` of `integration`; every other byte of the file is kept as it was. An entry
/// on lines of its own goes with those lines (its comment too); one sharing a line goes with its comma.
pub fn remove(text: &str, integration: &str, entries: &[Entry]) -> Result<String, EditError> {
    let doc = Document::parse(text).map_err(|e| EditError::Parse(e.message().to_string()))?;
    let table = integration_table(doc.as_table(), integration)?;
    let mut cuts: Vec<Range<usize>> = Vec::new();
    for entry in entries {
        if let Some(span) = element(table, integration, entry)?.and_then(|v| v.span()) {
            cuts.push(cut(text, span));
        }
    }
    // Neighbours' cuts may share a comma: join those, then cut from the end so no cut shifts the next.
    cuts.sort_by_key(|c| c.start);
    let mut joined: Vec<Range<usize>> = Vec::new();
    for c in cuts {
        match joined.last_mut() {
            Some(last) if c.start <= last.end => last.end = last.end.max(c.end),
            _ => joined.push(c),
        }
    }
    let mut edited = text.to_string();
    for c in joined.into_iter().rev() {
        edited.replace_range(c, "");
    }
    // The edit is plain text: prove it left a file that still reads, without those entries.
    let left = locate(&edited, integration, entries)?;
    if !left.is_empty() {
        return Err(EditError::Parse(format!(
            "line {} could not be taken out",
            left[0].number
        )));
    }
    Ok(edited)
}

/// What to delete for an element at `span`: its whole lines when nothing else is on them but its
/// comma and a comment; otherwise the element and the comma that joins it to its neighbour.
fn cut(text: &str, span: Range<usize>) -> Range<usize> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i + 1);
    let before = &text[line_start..span.start];
    let after = text[span.end..line_end].trim_start();
    let after = after.strip_prefix(',').unwrap_or(after).trim();
    if before.trim().is_empty() && (after.is_empty() || after.starts_with('#')) {
        return line_start..line_end;
    }
    let rest = &text[span.end..];
    let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    if rest[gap..].starts_with(',') {
        let comma = span.end + gap + 1;
        let spaces = text[comma..].len() - text[comma..].trim_start_matches([' ', '\t']).len();
        return span.start..comma + spaces;
    }
    // The last element: the comma before it goes instead.
    let head = text[..span.start].trim_end_matches([' ', '\t']);
    match head.strip_suffix(',') {
        Some(head) => head.len()..span.end,
        None => span,
    }
}

fn integration_table<'a>(
    top: &'a toml_edit::Table,
    integration: &str,
) -> Result<&'a toml_edit::Table, EditError> {
    top.get("integration")
        .and_then(Item::as_array_of_tables)
        .and_then(|a| a.iter().find(|t| named(t, integration)))
        .ok_or_else(|| EditError::NotDefined(integration.to_string()))
}

fn named(table: &toml_edit::Table, name: &str) -> bool {
    table.get("name").and_then(Item::as_str) == Some(name)
}

fn element<'a>(
    table: &'a toml_edit::Table,
    integration: &str,
    entry: &Entry,
) -> Result<Option<&'a Value>, EditError> {
    match table.get(entry.list) {
        None => Ok(None),
        Some(item) => match item.as_array() {
            Some(array) => Ok(array.iter().find(|v| targets(v, &entry.to))),
            None => Err(not_inline(integration, entry)),
        },
    }
}

fn targets(value: &Value, to: &str) -> bool {
    value
        .as_inline_table()
        .and_then(|t| t.get("to"))
        .and_then(Value::as_str)
        == Some(to)
}

fn not_inline(integration: &str, entry: &Entry) -> EditError {
    EditError::NotInline {
        integration: integration.to_string(),
        list: entry.list,
        to: entry.to.clone(),
    }
}

/// The whole lines a byte range touches.
fn lines_of(text: &str, span: Range<usize>) -> Vec<Line> {
    let first = text[..span.start].matches('\n').count();
    let last = first + text[span.start..span.end].matches('\n').count();
    text.lines()
        .enumerate()
        .filter(|(i, _)| (first..=last).contains(i))
        .map(|(i, line)| Line {
            number: i + 1,
            text: line.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# customers from BC
[[integration]]
name = "other"
connection = "bc"
fields = [{ from = "HomePage", to = "home_page" }]

[[integration]]
name = "customers"   # the main one
connection = "bc"
fields = [
  { from = "No", to = "bc_no" },
  { from = "HomePage", to = "home_page" },   # the web site
  { from = "Name", to = "name" },
  { to = "origin", value = "bc" },
  { from = "Fax", to = "fax" },
]
lookups = [
  { to = "contact_id", from = ["Fax"], table = "contact", match = ["fax"], select = "id" },
]
"#;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                list: "fields",
                to: "home_page".into(),
            },
            Entry {
                list: "fields",
                to: "fax".into(),
            },
            Entry {
                list: "lookups",
                to: "contact_id".into(),
            },
        ]
    }

    #[test]
    fn locate_names_the_lines_of_the_right_integration() {
        let lines = locate(FILE, "customers", &entries()).unwrap();
        let numbers: Vec<usize> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [12, 15, 18]);
        assert_eq!(
            lines[0].text,
            r#"  { from = "HomePage", to = "home_page" },   # the web site"#
        );
    }

    #[test]
    fn remove_takes_out_only_those_entries_and_keeps_the_rest_of_the_file() {
        let edited = remove(FILE, "customers", &entries()).unwrap();
        let expected = FILE
            .replace("  { from = \"HomePage\", to = \"home_page\" },   # the web site\n", "")
            .replace("  { from = \"Fax\", to = \"fax\" },\n", "")
            .replace(
                "  { to = \"contact_id\", from = [\"Fax\"], table = \"contact\", match = [\"fax\"], select = \"id\" },\n",
                "",
            );
        assert_eq!(edited, expected);
        // Another integration's entry of the same column stays, and the result still parses.
        assert!(edited.contains(r#"fields = [{ from = "HomePage", to = "home_page" }]"#));
        assert!(locate(&edited, "customers", &entries()).unwrap().is_empty());
    }

    #[test]
    fn an_entry_sharing_its_line_goes_with_its_comma() {
        let file = "[[integration]]\nname = \"c\"\nfields = [{ from = \"A\", to = \"a\" }, { from = \"B\", to = \"b\" }, { from = \"C\", to = \"c\" }]\n";
        let entry = |to: &str| Entry {
            list: "fields",
            to: to.into(),
        };
        assert_eq!(
            remove(file, "c", &[entry("a"), entry("c")]).unwrap(),
            "[[integration]]\nname = \"c\"\nfields = [{ from = \"B\", to = \"b\" }]\n"
        );
        assert_eq!(
            remove(file, "c", &[entry("b")]).unwrap(),
            "[[integration]]\nname = \"c\"\nfields = [{ from = \"A\", to = \"a\" }, { from = \"C\", to = \"c\" }]\n"
        );
    }

    #[test]
    fn a_file_without_the_integration_or_with_table_arrays_is_refused_clearly() {
        assert_eq!(
            remove(FILE, "items", &entries()),
            Err(EditError::NotDefined("items".into()))
        );
        let tables =
            "[[integration]]\nname = \"c\"\n[[integration.fields]]\nfrom = \"A\"\nto = \"a\"\n";
        let entry = [Entry {
            list: "fields",
            to: "a".into(),
        }];
        assert!(matches!(
            remove(tables, "c", &entry),
            Err(EditError::NotInline { .. })
        ));
    }
}
