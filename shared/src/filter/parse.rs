//! A recursive-descent parser for the OData `$filter` subset Ferry accepts. Anything outside the subset
//! is an error that names the offending token and its position, so `ferry apply` can point at it.

use std::fmt;

use super::ast::{Comparison, Expr, Function, Literal};
use super::lex::{Token, TokenKind, tokenize};

/// Why a filter was rejected: where (character offset, 0-based), at which token, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub position: usize,
    /// The offending token as written, or empty at the end of the filter.
    pub token: String,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(
                f,
                "at position {} (end of filter): {}",
                self.position, self.message
            )
        } else {
            write!(
                f,
                "at position {} (`{}`): {}",
                self.position, self.token, self.message
            )
        }
    }
}

impl std::error::Error for FilterError {}

/// Parses a whole filter expression.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.chars().count(),
    };
    if parser.peek().is_none() {
        return Err(parser.error_here("the filter is empty"));
    }
    let expr = parser.or()?;
    if parser.peek().is_some() {
        return Err(parser.error_here("expected `and`, `or` or the end of the filter"));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// The filter's length, the position reported for "ended too early".
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn error_here(&self, message: impl Into<String>) -> FilterError {
        match self.peek() {
            Some(t) => FilterError {
                position: t.position,
                token: t.text.clone(),
                message: message.into(),
            },
            None => FilterError {
                position: self.end,
                token: String::new(),
                message: message.into(),
            },
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(t) if t.kind == TokenKind::Word && t.text == word)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.next();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.next();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") {
            self.next();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error_here("expected a condition"));
        };
        match token.kind {
            TokenKind::Open => {
                self.next();
                let inner = self.or()?;
                self.expect_close()?;
                Ok(inner)
            }
            TokenKind::Word => {
                if let Some(function) = Function::parse(&token.text)
                    && matches!(self.tokens.get(self.at + 1), Some(t) if t.kind == TokenKind::Open)
                {
                    self.next();
                    self.next();
                    return self.call(function);
                }
                if matches!(self.tokens.get(self.at + 1), Some(t) if t.kind == TokenKind::Open) {
                    return Err(
                        self.error_here("unknown function (known: contains, startswith, endswith)")
                    );
                }
                if is_reserved(&token.text) {
                    return Err(self.error_here("expected a field name"));
                }
                self.next();
                self.comparison(token)
            }
            _ => Err(self.error_here("expected a field name, `not` or `(`")),
        }
    }

    /// `field op literal`, after the field.
    fn comparison(&mut self, field: Token) -> Result<Expr, FilterError> {
        let op = match self.peek() {
            Some(t) if t.kind == TokenKind::Word => Comparison::parse(&t.text),
            _ => None,
        };
        let Some(op) = op else {
            return Err(self.error_here(format!(
                "expected an operator (eq, ne, gt, ge, lt, le) after `{}`",
                field.text
            )));
        };
        let op_text = self.next().map(|t| t.text).unwrap_or_default();
        let value = self.literal(&format!("expected a value after `{op_text}`"))?;
        Ok(Expr::Compare {
            field: field.text,
            op,
            value,
        })
    }

    /// `contains(field, 'text')` and friends, after the opening parenthesis.
    fn call(&mut self, function: Function) -> Result<Expr, FilterError> {
        let field = match self.peek() {
            Some(t) if t.kind == TokenKind::Word && !is_reserved(&t.text) => {
                self.next().map(|t| t.text).unwrap_or_default()
            }
            _ => return Err(self.error_here("expected a field name as the first argument")),
        };
        match self.peek() {
            Some(t) if t.kind == TokenKind::Comma => {
                self.next();
            }
            _ => return Err(self.error_here("expected `,` and a text value")),
        }
        let value = match self.literal("expected a text value as the second argument")? {
            Literal::String(s) => s,
            _ => {
                self.at -= 1;
                return Err(self.error_here("the second argument must be a quoted text"));
            }
        };
        self.expect_close()?;
        Ok(Expr::Call {
            function,
            field,
            value,
        })
    }

    fn literal(&mut self, missing: &str) -> Result<Literal, FilterError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error_here(missing));
        };
        let literal = match token.kind {
            TokenKind::String => Literal::String(token.value.clone().unwrap_or_default()),
            TokenKind::Number => Literal::Number(token.text.clone()),
            TokenKind::Word => match token.text.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => {
                    return Err(self.error_here(format!(
                        "{missing} (a quoted text, number, true, false or null)"
                    )));
                }
            },
            TokenKind::Date => Literal::Date(token.text.clone()),
            _ => return Err(self.error_here(missing)),
        };
        self.next();
        Ok(literal)
    }

    fn expect_close(&mut self) -> Result<(), FilterError> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Close => {
                self.next();
                Ok(())
            }
            _ => Err(self.error_here("expected `)`")),
        }
    }
}

/// Words that cannot be field names in this subset.
fn is_reserved(word: &str) -> bool {
    matches!(word, "and" | "or" | "not" | "true" | "false" | "null")
        || Comparison::parse(word).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> FilterError {
        parse(text).expect_err(text)
    }

    #[test]
    fn parses_the_subset_with_precedence() {
        let expr = parse("City ne '' and (Balance gt 10.5 or not Blocked eq true)").unwrap();
        assert_eq!(
            expr.render(),
            "(City ne '' and (Balance gt 10.5 or not (Blocked eq true)))"
        );
        let expr = parse("startswith(Name,'O''Brien') or A eq null").unwrap();
        assert_eq!(expr.render(), "(startswith(Name,'O''Brien') or A eq null)");
        assert_eq!(
            parse("Posted ge 2024-01-31 and Modified lt 2024-01-31T10:00:00Z")
                .unwrap()
                .render(),
            "(Posted ge 2024-01-31 and Modified lt 2024-01-31T10:00:00Z)"
        );
        assert_eq!(parse("n eq -3").unwrap().render(), "n eq -3");
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let expr = parse("A eq 1 or B eq 2 and C eq 3").unwrap();
        assert_eq!(expr.render(), "(A eq 1 or (B eq 2 and C eq 3))");
    }

    #[test]
    fn a_missing_value_points_at_the_end() {
        let e = error("City eq");
        assert_eq!((e.position, e.token.as_str()), (7, ""));
        assert!(e.message.contains("expected a value after `eq`"), "{e}");
        assert!(e.to_string().contains("position 7"), "{e}");
    }

    #[test]
    fn errors_name_the_offending_token() {
        let e = error("City like 'x'");
        assert_eq!((e.position, e.token.as_str()), (5, "like"));
        let e = error("City eq 'x' nand B eq 1");
        assert_eq!(e.token, "nand");
        let e = error("(City eq 'x'");
        assert!(e.message.contains("expected `)`"), "{e}");
        let e = error("City eq 'unterminated");
        assert_eq!(e.position, 8);
        assert!(e.message.contains("unterminated"), "{e}");
        let e = error("City eq 'x'; DROP");
        assert_eq!(e.token, ";");
        let e = error("contains(City, 5)");
        assert_eq!(e.token, "5");
        let e = error("substringof('x', City)");
        assert_eq!(e.token, "substringof");
        assert_eq!(error("").message, "the filter is empty");
        assert_eq!(error("and eq 1").token, "and");
        assert_eq!(error("City eq Name").token, "Name");
    }

    #[test]
    fn fields_lists_every_field_once() {
        let expr = parse("A eq 1 and (B eq 2 or contains(A,'x'))").unwrap();
        assert_eq!(expr.fields(), vec!["A", "B"]);
    }
}
