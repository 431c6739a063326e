//! `$filter` recursive-descent parser: tokens → untyped AST. Typing happens in `bind`.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`eq ne gt ge lt le`), primaries.
//! `not` binds looser than comparisons so `not Name eq 'x'` means `not (Name eq 'x')`, which is what
//! people mean when they write it.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::lexer::{Tok, Token, syntax_error};
use crate::odata::error::ODataError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    /// The name OData libraries use in type-mismatch messages.
    pub fn kind_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "Equal",
            CmpOp::Ne => "NotEqual",
            CmpOp::Gt => "GreaterThan",
            CmpOp::Ge => "GreaterThanOrEqual",
            CmpOp::Lt => "LessThan",
            CmpOp::Le => "LessThanOrEqual",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Str(String),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Lit(Lit),
    Prop {
        name: String,
        pos: usize,
    },
    Call {
        name: String,
        args: Vec<Ast>,
        pos: usize,
    },
    Not(Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    Cmp(CmpOp, Box<Ast>, Box<Ast>),
}

pub fn parse(input: &str, tokens: &[Token]) -> Result<Ast, ODataError> {
    let mut p = Parser {
        input,
        tokens,
        at: 0,
    };
    if tokens.is_empty() {
        return Err(ODataError::bad_request("The $filter expression is empty."));
    }
    let ast = p.or()?;
    if let Some(t) = p.peek() {
        return Err(syntax_error(
            input,
            t.pos,
            &format!("unexpected {}", describe(&t.tok)),
        ));
    }
    Ok(ast)
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Int(i) => format!("'{i}'"),
        Tok::Decimal(d) => format!("'{d}'"),
        Tok::Guid(g) => format!("'{g}'"),
        Tok::DateTime(t) => format!("'{}'", t.to_rfc3339()),
        Tok::Date(d) => format!("'{d}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
    }
}

struct Parser<'a> {
    input: &'a str,
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(s), .. }) if s == kw)
    }

    fn end_pos(&self) -> usize {
        self.input.len()
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ODataError> {
        match self.peek() {
            Some(t) if t.tok == want => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err(syntax_error(
                self.input,
                t.pos,
                &format!("expected {what}, found {}", describe(&t.tok)),
            )),
            None => Err(syntax_error(
                self.input,
                self.end_pos(),
                &format!("expected {what} at end of expression"),
            )),
        }
    }

    fn or(&mut self) -> Result<Ast, ODataError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.at += 1;
            left = Ast::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, ODataError> {
        let mut left = self.not()?;
        while self.peek_keyword("and") {
            self.at += 1;
            left = Ast::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, ODataError> {
        if self.peek_keyword("not") {
            self.at += 1;
            return Ok(Ast::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Ast, ODataError> {
        let left = self.primary()?;
        let op = match self.peek() {
            Some(Token {
                tok: Tok::Ident(s), ..
            }) => CmpOp::from_keyword(s),
            _ => None,
        };
        match op {
            Some(op) => {
                self.at += 1;
                let right = self.primary()?;
                Ok(Ast::Cmp(op, Box::new(left), Box::new(right)))
            }
            None => Ok(left),
        }
    }

    fn primary(&mut self) -> Result<Ast, ODataError> {
        let Some(token) = self.peek().cloned() else {
            return Err(syntax_error(
                self.input,
                self.end_pos(),
                "expression expected at end of input",
            ));
        };
        self.at += 1;
        let pos = token.pos;
        Ok(match token.tok {
            Tok::LParen => {
                let inner = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                inner
            }
            Tok::Str(s) => Ast::Lit(Lit::Str(s)),
            Tok::Int(i) => Ast::Lit(Lit::Int(i)),
            Tok::Decimal(d) => Ast::Lit(Lit::Decimal(d)),
            Tok::Guid(g) => Ast::Lit(Lit::Guid(g)),
            Tok::DateTime(t) => Ast::Lit(Lit::DateTime(t)),
            Tok::Date(d) => Ast::Lit(Lit::Date(d)),
            Tok::Ident(name) => match name.as_str() {
                "true" => Ast::Lit(Lit::Bool(true)),
                "false" => Ast::Lit(Lit::Bool(false)),
                "null" => Ast::Lit(Lit::Null),
                "and" | "or" | "not" | "eq" | "ne" | "gt" | "ge" | "lt" | "le" => {
                    return Err(syntax_error(
                        self.input,
                        pos,
                        &format!("expression expected, found keyword '{name}'"),
                    ));
                }
                _ if matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::LParen,
                        ..
                    })
                ) =>
                {
                    self.at += 1;
                    let mut args = Vec::new();
                    if !matches!(
                        self.peek(),
                        Some(Token {
                            tok: Tok::RParen,
                            ..
                        })
                    ) {
                        loop {
                            args.push(self.or()?);
                            if matches!(
                                self.peek(),
                                Some(Token {
                                    tok: Tok::Comma,
                                    ..
                                })
                            ) {
                                self.at += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(Tok::RParen, "')'")?;
                    Ast::Call { name, args, pos }
                }
                _ => Ast::Prop { name, pos },
            },
            Tok::RParen | Tok::Comma => {
                return Err(syntax_error(
                    self.input,
                    pos,
                    &format!("expression expected, found {}", describe(&token.tok)),
                ));
            }
        })
    }
}
