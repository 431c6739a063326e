//! `$filter`: tokenizer → recursive-descent parser → binding against the entity schema → evaluation.

mod bind;
mod lexer;
mod parser;

pub use bind::{Pred, Term, TextFn};
pub use parser::{Ast, CmpOp, Lit};

use crate::model::EntitySchema;
use crate::odata::error::ODataError;

/// Parses and types a `$filter` expression for `schema`.
pub fn compile(text: &str, schema: &EntitySchema) -> Result<Pred, ODataError> {
    let ast = parse(text)?;
    bind::Binder {
        schema,
        fold_case: false,
    }
    .pred(&ast)
}

/// Like [`compile`], but string comparisons ignore case, as Dataverse's do.
pub fn compile_ignoring_case(text: &str, schema: &EntitySchema) -> Result<Pred, ODataError> {
    let ast = parse(text)?;
    bind::Binder {
        schema,
        fold_case: true,
    }
    .pred(&ast)
}

/// Parses without typing (exposed for tests and tools).
pub fn parse(text: &str) -> Result<Ast, ODataError> {
    let tokens = lexer::tokenize(text)?;
    parser::parse(text, &tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Value, customer};
    use axum::http::StatusCode;

    fn row(no: &str, name: &str, version: i64) -> Vec<Value> {
        let mut r = vec![Value::str(""); customer::SCHEMA.fields.len()];
        r[0] = Value::Guid(uuid::Uuid::nil());
        r[1] = Value::str(no);
        r[2] = Value::str(name);
        r[13] =
            Value::DateTime(chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()); // 2026-01-01
        r[14] = Value::Int(version);
        r
    }

    fn eval(filter: &str, r: &[Value]) -> bool {
        compile(filter, &customer::SCHEMA)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .eval(r)
    }

    fn err(filter: &str) -> ODataError {
        compile(filter, &customer::SCHEMA).expect_err(filter)
    }

    #[test]
    fn precedence_and_before_or_and_parentheses() {
        let ast = parse("A eq 1 or B eq 2 and C eq 3").unwrap();
        assert!(
            matches!(ast, Ast::Or(_, ref r) if matches!(**r, Ast::And(_, _))),
            "{ast:?}"
        );
        let ast = parse("(A eq 1 or B eq 2) and C eq 3").unwrap();
        assert!(
            matches!(ast, Ast::And(ref l, _) if matches!(**l, Ast::Or(_, _))),
            "{ast:?}"
        );
        let ast = parse("not A eq 1").unwrap();
        assert!(
            matches!(ast, Ast::Not(ref i) if matches!(**i, Ast::Cmp(CmpOp::Eq, _, _))),
            "{ast:?}"
        );
    }

    #[test]
    fn literals() {
        let lit = |s: &str| match parse(&format!("X eq {s}")).unwrap() {
            Ast::Cmp(_, _, r) => match *r {
                Ast::Lit(l) => l,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(lit("'it''s'"), Lit::Str("it's".into()));
        assert_eq!(lit("''"), Lit::Str(String::new()));
        assert_eq!(lit("-42"), Lit::Int(-42));
        assert_eq!(lit("12L"), Lit::Int(12));
        assert_eq!(lit("1.5"), Lit::Decimal(1.5));
        assert_eq!(lit("true"), Lit::Bool(true));
        assert_eq!(lit("null"), Lit::Null);
        let g = "0f3d8a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6";
        assert_eq!(lit(g), Lit::Guid(g.parse().unwrap()));
        assert!(matches!(lit("2026-01-01T00:00:00Z"), Lit::DateTime(_)));
        assert!(
            matches!(lit("2026-01-01T10:00:00.123+01:00"), Lit::DateTime(t) if t.to_rfc3339().starts_with("2026-01-01T09:00:00.123"))
        );
        assert!(matches!(lit("2026-03-04"), Lit::Date(_)));
    }

    #[test]
    fn comparisons_are_typed() {
        let r = row("C000010", "Adatum Corp.", 500);
        assert!(eval("RowVersionNumber gt 499", &r));
        assert!(!eval("RowVersionNumber gt 500", &r));
        assert!(eval(
            "RowVersionNumber ge 500 and RowVersionNumber le 500",
            &r
        ));
        assert!(
            eval("RowVersionNumber lt 1000", &r),
            "numeric, not lexicographic"
        );
        assert!(eval("RowVersionNumber ne 1", &r));
        assert!(eval("500 eq RowVersionNumber", &r));
        assert!(eval("No gt 'C000009'", &r));
        assert!(!eval("Name eq 'adatum corp.'", &r), "case-sensitive");
        assert!(
            eval("Name lt 'a'", &r),
            "ordinal: uppercase sorts before lowercase"
        );
        assert!(eval(
            "SystemModifiedAt ge 2026-01-01T00:00:00Z and SystemModifiedAt lt 2026-01-02",
            &r
        ));
        assert!(eval("id eq 00000000-0000-0000-0000-000000000000", &r));
        assert!(eval("Email eq ''", &r));
        assert!(!eval("Email eq null", &r));
        assert!(eval("Email ne null", &r));
    }

    #[test]
    fn logic_and_functions() {
        let r = row("C000010", "O'Brien Motors LLC", 7);
        assert!(eval("Name eq 'O''Brien Motors LLC'", &r));
        assert!(eval("contains(Name,'Motors')", &r));
        assert!(eval(
            "startswith(Name, 'O''B') and endswith(Name,'LLC')",
            &r
        ));
        assert!(eval("not contains(Name,'x')", &r));
        assert!(eval("not (RowVersionNumber eq 1 or No eq 'C1')", &r));
        assert!(eval(
            "(No eq 'C1' or No eq 'C000010') and RowVersionNumber eq 7",
            &r
        ));
        assert!(!eval("false or (true and No eq 'x')", &r));
    }

    #[test]
    fn unknown_property_is_reported_by_name() {
        let e = err("Nope eq 1");
        assert_eq!(e.code, "BadRequest_PropertyNotFound");
        assert_eq!(
            e.message,
            "Could not find a property named 'Nope' on type 'Microsoft.NAV.RescoCustomer'."
        );
        assert_eq!(
            err("contains(Bogus,'x')").code,
            "BadRequest_PropertyNotFound"
        );
    }

    #[test]
    fn malformed_expressions_name_the_position() {
        for (f, needle) in [
            ("Name eq", "position 7"),
            ("Name eq 'abc", "unterminated"),
            ("Name eq 'a' and", "end"),
            ("(Name eq 'a'", "')'"),
            ("Name eq 'a' 'b'", "position 12"),
            ("Name eq 12x", "12x"),
            ("Name eq #", "'#'"),
            ("Name", "Edm.Boolean"),
            ("eq 1", "keyword 'eq'"),
            ("RowVersionNumber gt 'a'", "incompatible"),
            ("Name eq 5", "incompatible"),
            ("frobnicate(Name)", "Unknown function"),
            ("contains(Name)", "2 arguments"),
            ("Name eq 2026-13-45", "invalid literal"),
        ] {
            let e = err(f);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{f}");
            assert!(e.message.contains(needle), "{f}: {}", e.message);
        }
    }

    #[test]
    fn lower_bound_from_conjunctions() {
        let p = compile(
            "RowVersionNumber gt 10 and (Name eq 'x' or true)",
            &customer::SCHEMA,
        )
        .unwrap();
        assert_eq!(p.lower_bound(14), Some(11));
        let p = compile(
            "Name eq 'x' and 20 le RowVersionNumber and RowVersionNumber ge 15",
            &customer::SCHEMA,
        )
        .unwrap();
        assert_eq!(p.lower_bound(14), Some(20));
        let p = compile("RowVersionNumber gt 10 or Name eq 'x'", &customer::SCHEMA).unwrap();
        assert_eq!(p.lower_bound(14), None);
    }
}
