//! Deleted entries of a delta response (OData v4 JSON format, "Delta Responses"): the service says a
//! record is gone either the 4.0 way, as an object whose `@odata.context` ends in `$deletedEntity`
//! with the entity's `id` (Dataverse sends the bare GUID, other services an entity-id such as
//! `Customers('ALFKI')`), or the 4.01 way, with a `@removed` annotation and the key properties or an
//! `@id`. Link entries (`$link`, `$deletedLink`) describe relationships, not records.

use serde_json::Value as Json;

use super::rows::Row;

/// What a delta entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Record,
    Removed,
    /// An added or deleted link between records: nothing for a row-by-row copy.
    Link,
}

/// Tells a delta response's entry apart from a record.
pub fn entry(row: &Row) -> Entry {
    let context = row
        .get("@odata.context")
        .or_else(|| row.get("@context"))
        .and_then(Json::as_str)
        .unwrap_or_default();
    if context.ends_with("$deletedEntity") || removed_401(row) {
        return Entry::Removed;
    }
    if context.ends_with("$link") || context.ends_with("$deletedLink") {
        return Entry::Link;
    }
    Entry::Record
}

/// The 4.01 form: a `@removed` annotation (the `odata.` prefix may be kept).
fn removed_401(row: &Row) -> bool {
    row.contains_key("@removed") || row.contains_key("@odata.removed")
}

/// The source key of a removed entry, as the key fields' texts in `key`'s order: a 4.01 entry's key
/// properties when it carries them, else read from its id (a 4.0 `$deletedEntity`'s `id` is always
/// the entity-id, even where a key property is itself called `id`). `None` when the id names no key
/// Ferry can read (a composite key given positionally, a malformed id).
pub fn key_of(entry: &Row, key: &[String]) -> Option<Vec<String>> {
    if removed_401(entry) && key.iter().all(|k| entry.contains_key(k)) {
        return Some(
            key.iter()
                .map(|k| crate::mapping::record_key::field_text(entry.get(k)))
                .collect(),
        );
    }
    let names: &[&str] = if removed_401(entry) {
        &["@id", "@odata.id"]
    } else {
        &["id"]
    };
    let id = names
        .iter()
        .find_map(|name| entry.get(*name))
        .map(|id| crate::mapping::record_key::field_text(Some(id)))?;
    key_of_id(&id, key)
}

/// The key in an entity-id: `accounts(<guid>)`, `Customers('O''Brien')`, `Lines(doc='A',line=2)`,
/// absolute or relative, or a bare key value (Dataverse).
fn key_of_id(id: &str, key: &[String]) -> Option<Vec<String>> {
    let inner = match (id.rfind('('), id.ends_with(')')) {
        (Some(open), true) => &id[open + 1..id.len() - 1],
        _ => return (key.len() == 1 && !id.is_empty()).then(|| vec![id.to_string()]),
    };
    let parts = split_outside_quotes(inner);
    if parts.len() == 1 && !parts[0].contains('=') {
        return (key.len() == 1).then(|| vec![literal(parts[0])]);
    }
    let named: Vec<(&str, String)> = parts
        .iter()
        .map(|p| {
            let (name, value) = p.split_once('=')?;
            Some((name.trim(), literal(value)))
        })
        .collect::<Option<_>>()?;
    key.iter()
        .map(|k| named.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .collect()
}

/// Splits at commas that are not inside a quoted literal.
fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A key literal's text: a quoted string unquoted (`''` is one quote), anything else as written.
fn literal(text: &str) -> String {
    let text = text.trim();
    match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(quoted) => quoted.replace("''", "'"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> Row {
        serde_json::from_str(json).unwrap()
    }

    fn key(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dataverse_names_the_deleted_record_by_its_bare_guid() {
        let gone = row(
            r#"{"@odata.context":"https://org/api/data/v9.2/$metadata#accounts/$deletedEntity","id":"6e8d4a9e-0000-0000-0000-000000000001","reason":"deleted"}"#,
        );
        assert_eq!(entry(&gone), Entry::Removed);
        assert_eq!(
            key_of(&gone, &key(&["accountid"])),
            Some(vec!["6e8d4a9e-0000-0000-0000-000000000001".to_string()])
        );
    }

    #[test]
    fn an_entity_id_gives_its_key_single_or_named() {
        let single = row(
            r#"{"@odata.context":"$metadata#Customers/$deletedEntity","id":"Customers('O''Brien')"}"#,
        );
        assert_eq!(key_of(&single, &key(&["No"])), Some(vec!["O'Brien".into()]));
        let named = row(
            r#"{"@removed":{"reason":"deleted"},"@id":"http://h/svc/Lines(doc='A,1',line=2)"}"#,
        );
        assert_eq!(entry(&named), Entry::Removed);
        assert_eq!(
            key_of(&named, &key(&["doc", "line"])),
            Some(vec!["A,1".into(), "2".into()])
        );
        assert_eq!(key_of(&named, &key(&["doc", "other"])), None);
    }

    #[test]
    fn key_properties_win_over_the_id() {
        let gone = row(r#"{"@removed":{"reason":"changed"},"No":"C1","@id":"Customers('X')"}"#);
        assert_eq!(key_of(&gone, &key(&["No"])), Some(vec!["C1".into()]));
    }

    #[test]
    fn a_deleted_entity_id_is_the_entity_id_even_when_the_key_is_called_id() {
        let gone = row(r#"{"@odata.context":"$metadata#Orders/$deletedEntity","id":"Orders(42)"}"#);
        assert_eq!(key_of(&gone, &key(&["id"])), Some(vec!["42".into()]));
        let prefixed = row(r#"{"@odata.removed":{"reason":"deleted"},"@odata.id":"Orders(7)"}"#);
        assert_eq!(entry(&prefixed), Entry::Removed);
        assert_eq!(key_of(&prefixed, &key(&["id"])), Some(vec!["7".into()]));
    }

    #[test]
    fn records_and_links_are_not_removals() {
        assert_eq!(
            entry(&row(r#"{"accountid":"1","name":"A"}"#)),
            Entry::Record
        );
        assert_eq!(
            entry(&row(
                r#"{"@odata.context":"$metadata#accounts/$deletedLink","source":"x"}"#
            )),
            Entry::Link
        );
    }
}
