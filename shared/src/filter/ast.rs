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
}

impl Literal {
    fn render(&self) -> String {
        match self {
            Literal::String(s) => string_literal(s),
            Literal::Number(n) | Literal::Date(n) => n.clone(),
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
