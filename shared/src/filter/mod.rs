//! The OData `$filter` subset an integration may use (`source.filter`): comparisons (`eq ne gt ge lt
//! le`) of a field with a text, number, boolean, `null` or date; `contains`, `startswith`, `endswith`;
//! `and`, `or`, `not` and parentheses. A filter is parsed at `apply` (errors point at the token), its
//! fields are checked against `$metadata` when a run starts, and it reaches the URL only re-rendered from
//! the syntax tree, combined with the version predicate.

mod ast;
mod lex;
mod parse;

pub use ast::{Comparison, Expr, Function, Literal};
pub use parse::{FilterError, parse};

/// `(<user filter>) and <version> gt <watermark>`: the delta query's `$filter`.
pub fn with_version(user: Option<&Expr>, version_field: &str, watermark: Literal) -> String {
    let version = Expr::Compare {
        field: version_field.to_string(),
        op: Comparison::Gt,
        value: watermark,
    };
    match user {
        Some(user) => Expr::And(Box::new(user.clone()), Box::new(version)).render(),
        None => version.render(),
    }
}

/// `(K1 eq 'a' and K2 eq 1) or (…)`: the records whose key fields equal those of `rows`. Built as a tree
/// and rendered, so key values are quoted like any literal (GUIDs, of the fields `is_guid` names,
/// bare).
pub fn by_keys(
    key: &[String],
    rows: &[crate::odata::client::Row],
    is_guid: &impl Fn(&str) -> bool,
) -> Expr {
    let one = |row: &crate::odata::client::Row| {
        key.iter()
            .map(|field| compare(field, Comparison::Eq, row, is_guid))
            .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
            .expect("a source key has at least one field")
    };
    rows.iter()
        .map(one)
        .reduce(|a, b| Expr::Or(Box::new(a), Box::new(b)))
        .unwrap_or(Expr::Compare {
            field: key[0].clone(),
            op: Comparison::Eq,
            value: Literal::Null,
        })
}

/// The records after `row` in key order: `K1 gt a or (K1 eq a and K2 gt b) or …`, the service's own
/// comparison (its collation, not Ferry's), so a scan in key order resumes exactly after the last
/// record it wrote.
pub fn after_key(
    key: &[String],
    row: &crate::odata::client::Row,
    is_guid: &impl Fn(&str) -> bool,
) -> Expr {
    (0..key.len())
        .map(|i| {
            key[..i]
                .iter()
                .map(|field| compare(field, Comparison::Eq, row, is_guid))
                .chain([compare(&key[i], Comparison::Gt, row, is_guid)])
                .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
                .expect("one comparison at least")
        })
        .reduce(|a, b| Expr::Or(Box::new(a), Box::new(b)))
        .expect("a source key has at least one field")
}

/// `field op <row's value of field>`, the value as the literal its JSON kind is.
fn compare(
    field: &str,
    op: Comparison,
    row: &crate::odata::client::Row,
    is_guid: &impl Fn(&str) -> bool,
) -> Expr {
    Expr::Compare {
        field: field.to_string(),
        op,
        value: match row.get(field) {
            Some(serde_json::Value::Number(n)) => Literal::Number(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Literal::Bool(*b),
            Some(serde_json::Value::String(s)) if is_guid(field) => Literal::guid(s),
            Some(serde_json::Value::String(s)) => Literal::String(s.clone()),
            _ => Literal::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_key_continues_past_a_composite_key() {
        let row: crate::odata::client::Row =
            serde_json::from_str(r#"{"doc":"O'1","line":20000,"x":1}"#).unwrap();
        let key = ["doc".to_string(), "line".to_string()];
        assert_eq!(
            after_key(&key, &row, &|_| false).render(),
            "(doc gt 'O''1' or (doc eq 'O''1' and line gt 20000))"
        );
        assert_eq!(
            after_key(&key[..1], &row, &|_| false).render(),
            "doc gt 'O''1'"
        );
    }

    #[test]
    fn the_version_predicate_is_anded_outside_the_user_filter() {
        let user = parse("City eq 'X' or City eq 'Y'").unwrap();
        assert_eq!(
            with_version(
                Some(&user),
                "RowVersionNumber",
                Literal::Number("42".into())
            ),
            "((City eq 'X' or City eq 'Y') and RowVersionNumber gt 42)"
        );
        assert_eq!(
            with_version(None, "v", Literal::Number("0".into())),
            "v gt 0"
        );
    }

    #[test]
    fn quotes_in_texts_cannot_break_out() {
        let user = parse("Name eq 'a'' or 1 eq 1 or ''x'").unwrap();
        assert_eq!(user.fields(), vec!["Name"]);
        assert_eq!(user.render(), "Name eq 'a'' or 1 eq 1 or ''x'");
    }

    #[test]
    fn guid_keys_are_written_bare_and_only_guids() {
        let rows: Vec<crate::odata::client::Row> = vec![
            serde_json::from_str(r#"{"accountid":"6e8d4a9e-0e5b-4b9a-9f3c-0123456789ab"}"#)
                .unwrap(),
            serde_json::from_str(r#"{"accountid":"x' or 1 eq 1 or 'y"}"#).unwrap(),
        ];
        let keys = ["accountid".to_string()];
        assert_eq!(
            by_keys(&keys, &rows, &|f| f == "accountid").render(),
            "(accountid eq 6e8d4a9e-0e5b-4b9a-9f3c-0123456789ab or \
             accountid eq 'x'' or 1 eq 1 or ''y')"
        );
        let user = parse("accountid eq '6e8d4a9e-0e5b-4b9a-9f3c-0123456789ab' and name eq 'a'")
            .unwrap()
            .with_guids(&|f| f == "accountid");
        assert_eq!(
            user.render(),
            "(accountid eq 6e8d4a9e-0e5b-4b9a-9f3c-0123456789ab and name eq 'a')"
        );
    }

    #[test]
    fn key_filters_quote_every_value() {
        let rows: Vec<crate::odata::client::Row> = vec![
            serde_json::from_str(r#"{"T":"Order","No":"O'1","Line":10000}"#).unwrap(),
            serde_json::from_str(r#"{"T":"Order","No":"O2","Line":20000}"#).unwrap(),
        ];
        let keys = ["T".to_string(), "No".to_string(), "Line".to_string()];
        assert_eq!(
            by_keys(&keys, &rows, &|_| false).render(),
            "(((T eq 'Order' and No eq 'O''1') and Line eq 10000) or \
             ((T eq 'Order' and No eq 'O2') and Line eq 20000))"
        );
    }
}
