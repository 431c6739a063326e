//! Building OData query strings. Spaces are `%20`, never `+`: real OData servers read `+` as a plus.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::prefer::Preference;

/// Characters escaped inside a query option value: those that would end or change the option
/// (`&`, `=`, `#`, `+`, `%`) and those not allowed in a URL at all.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');

/// The system query options Ferry sends, and the preferences the answer depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub select: Vec<String>,
    pub filter: Option<String>,
    pub orderby: Vec<String>,
    pub top: Option<u64>,
    /// Sent in the `Prefer` header of every page of the read (`prefer::header`), not in the URL:
    /// what the rows carry is decided with what is asked for.
    pub prefer: Vec<Preference>,
}

impl Query {
    /// `$select=…&$filter=…&$orderby=…&$top=…`, each value percent-encoded.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.select.is_empty() {
            parts.push(("$select", self.select.join(",")));
        }
        if let Some(filter) = &self.filter {
            parts.push(("$filter", filter.clone()));
        }
        if !self.orderby.is_empty() {
            parts.push(("$orderby", self.orderby.join(",")));
        }
        if let Some(top) = self.top {
            parts.push(("$top", top.to_string()));
        }
        parts
            .into_iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(&v, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// An OData string literal: single quotes, with a quote inside doubled.
pub fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_are_percent_twenty_and_plus_is_escaped() {
        let query = Query {
            select: vec!["No".into(), "Name".into()],
            filter: Some("(City eq 'A+B C') and RowVersionNumber gt 5".into()),
            orderby: vec!["RowVersionNumber asc".into()],
            top: None,
            prefer: Vec::new(),
        };
        assert_eq!(
            query.to_query_string(),
            "$select=No,Name&$filter=(City%20eq%20'A%2BB%20C')%20and%20RowVersionNumber%20gt%205\
             &$orderby=RowVersionNumber%20asc"
        );
    }

    #[test]
    fn quotes_are_doubled_in_literals() {
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
    }
}
