//! The filter syntax tree, and its rendering back to OData text. Rendering is the only way a filter
//! reaches a URL: texts are re-quoted by `string_literal`, numbers and dates were validated by the lexer,
//! field names are plain words — so nothing the operator typed is pasted into a query unchecked.

use crate::odata::query::string_literal;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        field: String,
        op: Comparison,
        value: Literal,
    },
    Call {
        function: Function,
        field: String,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    pub fn parse(word: &str) -> Option<Comparison> {
        Some(match word {
            "eq" => Comparison::Eq,
            "ne" => Comparison::Ne,
            "gt" => Comparison::Gt,
            "ge" => Comparison::Ge,
            "lt" => Comparison::Lt,
            "le" => Comparison::Le,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Comparison::Eq => "eq",
            Comparison::Ne => "ne",
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
            Comparison::Lt => "lt",
            Comparison::Le => "le",
        }
    }
}

/// The text functions BC's OData accepts in `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Contains,
    StartsWith,
    EndsWith,
}

impl Function {
    pub fn parse(word: &str) -> Option<Function> {
        Some(match word {
            "contains" => Function::Contains,
            "startswith" => Function::StartsWith,
            "endswith" => Function::EndsWith,
            _ => return None,
        })
    }

    /// The function as written in OData.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startswith",
            Function::EndsWith => "endswith",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    /// Kept as written (validated by the lexer) so decimals keep their precision.
    Number(String),
    Bool(bool),
    Null,
    Date(String),
    /// A GUID compared with an `Edm.Guid` field, written bare as OData v4's `guidValue` is
    /// (`accountid eq 6e8d…`; quoted, Dataverse refuses the comparison). Made only by
    /// [`Literal::guid`], from text that is one.
    Guid(String),
}

impl Literal {
    /// `text` as a GUID literal when it is one (8-4-4-4-12 hex digits), else as text.
    pub fn guid(text: &str) -> Literal {
        let groups: Vec<&str> = text.split('-').collect();
        let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if shaped {
            Literal::Guid(text.to_string())
        } else {
            Literal::String(text.to_string())
        }
    }

    fn render(&self) -> String {
        match self {
            Literal::String(s) => string_literal(s),
            Literal::Number(n) | Literal::Date(n) | Literal::Guid(n) => n.clone(),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".into(),
        }
    }
}

impl Expr {
    /// OData text; every `and`/`or` is parenthesised so precedence never depends on the server.
    pub fn render(&self) -> String {
        match self {
            Expr::And(a, b) => format!("({} and {})", a.render(), b.render()),
            Expr::Or(a, b) => format!("({} or {})", a.render(), b.render()),
            Expr::Not(inner) => format!("not ({})", inner.render()),
            Expr::Compare { field, op, value } => {
                format!("{field} {} {}", op.as_str(), value.render())
            }
            Expr::Call {
                function,
                field,
                value,
            } => format!("{}({field},{})", function.as_str(), string_literal(value)),
        }
    }

    /// The filter with each text compared with a field `is_guid` names written as a GUID, when it
    /// is one (the parser cannot tell a GUID from text; the source's `$metadata` can).
    pub fn with_guids(self, is_guid: &impl Fn(&str) -> bool) -> Expr {
        match self {
            Expr::And(a, b) => Expr::And(
                Box::new(a.with_guids(is_guid)),
                Box::new(b.with_guids(is_guid)),
            ),
            Expr::Or(a, b) => Expr::Or(
                Box::new(a.with_guids(is_guid)),
                Box::new(b.with_guids(is_guid)),
            ),
            Expr::Not(inner) => Expr::Not(Box::new(inner.with_guids(is_guid))),
            Expr::Compare {
                field,
                op,
                value: Literal::String(text),
            } if is_guid(&field) => Expr::Compare {
                value: Literal::guid(&text),
                field,
                op,
            },
            other => other,
        }
    }

    /// Every field the filter names, first appearance first, each once.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Expr::Not(inner) => inner.collect_fields(out),
            Expr::Compare { field, .. } | Expr::Call { field, .. } => {
                if !out.contains(&field.as_str()) {
                    out.push(field);
                }
            }
        }
    }
}
