//! Types the AST against an entity schema and evaluates it per row.

use chrono::{NaiveTime, TimeZone, Utc};

use super::parser::{Ast, CmpOp, Lit};
use crate::model::{EdmType, EntitySchema, Value};
use crate::odata::error::ODataError;

/// A typed boolean expression, ready to evaluate against rows of one entity.
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    Const(bool),
    /// A Boolean property used as a condition.
    Field(usize),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Cmp(CmpOp, Term, Term),
    Text(TextFn, Term, Term),
    /// A string comparison that ignores case (Dataverse's collation: "Query data using the Web
    /// API" — string comparisons are case-insensitive).
    CmpFolded(CmpOp, Term, Term),
    TextFolded(TextFn, Term, Term),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Field(usize),
    Const(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFn {
    Contains,
    StartsWith,
    EndsWith,
}

/// The type of an operand; `None` for the `null` literal, which matches any type.
type OperandType = Option<EdmType>;

fn lit_type(lit: &Lit) -> OperandType {
    Some(match lit {
        Lit::Null => return None,
        Lit::Bool(_) => EdmType::Boolean,
        Lit::Int(i) if i32::try_from(*i).is_ok() => EdmType::Int32,
        Lit::Int(_) => EdmType::Int64,
        Lit::Decimal(_) => EdmType::Decimal,
        Lit::Str(_) => EdmType::String,
        Lit::Guid(_) => EdmType::Guid,
        Lit::DateTime(_) => EdmType::DateTimeOffset,
        Lit::Date(_) => EdmType::Date,
    })
}

fn lit_value(lit: &Lit) -> Value {
    match lit {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int(i) => Value::Int(*i),
        Lit::Decimal(d) => Value::Decimal(*d),
        Lit::Str(s) => Value::str(s.as_str()),
        Lit::Guid(g) => Value::Guid(*g),
        Lit::DateTime(t) => Value::DateTime(*t),
        Lit::Date(d) => Value::Date(*d),
    }
}

/// Whether values of these types can be compared; a date literal is promoted to midnight UTC when
/// compared with a DateTimeOffset property.
fn compatible(a: EdmType, b: EdmType) -> bool {
    a == b
        || (a.is_numeric() && b.is_numeric())
        || matches!(
            (a, b),
            (EdmType::Date, EdmType::DateTimeOffset) | (EdmType::DateTimeOffset, EdmType::Date)
        )
}

/// Converts a literal to the representation of the property it is compared with.
fn coerce(value: Value, to: EdmType) -> Value {
    match (value, to) {
        (Value::Date(d), EdmType::DateTimeOffset) => {
            Value::DateTime(Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
        }
        (v, _) => v,
    }
}

#[derive(Debug)]
pub struct Binder<'a> {
    pub schema: &'a EntitySchema,
    /// Compare strings ignoring case (Dataverse), not ordinally (BC).
    pub fold_case: bool,
}

impl Binder<'_> {
    fn field(&self, name: &str) -> Result<(usize, EdmType), ODataError> {
        let i = self
            .schema
            .index_of(name)
            .ok_or_else(|| ODataError::property_not_found(name, &self.schema.type_name()))?;
        Ok((i, self.schema.fields[i].edm))
    }

    fn term(&self, ast: &Ast) -> Result<(Term, OperandType), ODataError> {
        match ast {
            Ast::Prop { name, .. } => {
                let (i, t) = self.field(name)?;
                Ok((Term::Field(i), Some(t)))
            }
            Ast::Lit(l) => Ok((Term::Const(lit_value(l)), lit_type(l))),
            Ast::Call { name, .. } => Err(ODataError::bad_request(format!(
                "The function '{name}' returns Edm.Boolean and cannot be used as an operand of a comparison."
            ))),
            _ => Err(ODataError::bad_request(
                "A comparison operand must be a property or a literal, not a boolean expression.",
            )),
        }
    }

    pub fn pred(&self, ast: &Ast) -> Result<Pred, ODataError> {
        Ok(match ast {
            Ast::Lit(Lit::Bool(b)) => Pred::Const(*b),
            Ast::Not(a) => Pred::Not(Box::new(self.pred(a)?)),
            Ast::And(a, b) => Pred::And(Box::new(self.pred(a)?), Box::new(self.pred(b)?)),
            Ast::Or(a, b) => Pred::Or(Box::new(self.pred(a)?), Box::new(self.pred(b)?)),
            Ast::Cmp(op, l, r) => self.comparison(*op, l, r)?,
            Ast::Call { name, args, pos } => self.call(name, args, *pos)?,
            Ast::Prop { name, .. } => match self.field(name)? {
                (i, EdmType::Boolean) => Pred::Field(i),
                (_, t) => {
                    return Err(ODataError::bad_request(format!(
                        "The $filter expression must evaluate to Edm.Boolean, but property '{name}' is {}.",
                        t.name()
                    )));
                }
            },
            Ast::Lit(_) => {
                return Err(ODataError::bad_request(
                    "The $filter expression must evaluate to Edm.Boolean.",
                ));
            }
        })
    }

    fn comparison(&self, op: CmpOp, l: &Ast, r: &Ast) -> Result<Pred, ODataError> {
        let (lt, ltype) = self.term(l)?;
        let (rt, rtype) = self.term(r)?;
        if let (Some(a), Some(b)) = (ltype, rtype)
            && !compatible(a, b)
        {
            return Err(ODataError::bad_request(format!(
                "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}'.",
                a.name(),
                b.name(),
                op.kind_name()
            )));
        }
        let fix = |t: Term, other: OperandType| match (t, other) {
            (Term::Const(v), Some(to)) => Term::Const(coerce(v, to)),
            (t, _) => t,
        };
        let strings = [ltype, rtype].contains(&Some(EdmType::String));
        if self.fold_case && strings {
            return Ok(Pred::CmpFolded(op, fix(lt, rtype), fix(rt, ltype)));
        }
        Ok(Pred::Cmp(op, fix(lt, rtype), fix(rt, ltype)))
    }

    fn call(&self, name: &str, args: &[Ast], pos: usize) -> Result<Pred, ODataError> {
        let f = match name {
            "contains" => TextFn::Contains,
            "startswith" => TextFn::StartsWith,
            "endswith" => TextFn::EndsWith,
            _ => {
                return Err(ODataError::bad_request(format!(
                    "Unknown function '{name}' at position {pos}."
                )));
            }
        };
        let [a, b] = args else {
            return Err(ODataError::bad_request(format!(
                "The function '{name}' at position {pos} takes 2 arguments, {} given.",
                args.len()
            )));
        };
        let (a, at) = self.term(a)?;
        let (b, bt) = self.term(b)?;
        for t in [at, bt].into_iter().flatten() {
            if t != EdmType::String {
                return Err(ODataError::bad_request(format!(
                    "The function '{name}' at position {pos} expects Edm.String arguments, found '{}'.",
                    t.name()
                )));
            }
        }
        if self.fold_case {
            return Ok(Pred::TextFolded(f, a, b));
        }
        Ok(Pred::Text(f, a, b))
    }
}

impl Term {
    fn get<'r>(&'r self, row: &'r [Value]) -> &'r Value {
        match self {
            Term::Field(i) => &row[*i],
            Term::Const(v) => v,
        }
    }
}

impl Pred {
    pub fn eval(&self, row: &[Value]) -> bool {
        match self {
            Pred::Const(b) => *b,
            Pred::Field(i) => matches!(row[*i], Value::Bool(true)),
            Pred::Not(p) => !p.eval(row),
            Pred::And(a, b) => a.eval(row) && b.eval(row),
            Pred::Or(a, b) => a.eval(row) || b.eval(row),
            Pred::Cmp(op, l, r) => compare(*op, l.get(row), r.get(row)),
            Pred::CmpFolded(op, l, r) => compare(*op, &folded(l.get(row)), &folded(r.get(row))),
            Pred::Text(f, a, b) => match (a.get(row).as_str(), b.get(row).as_str()) {
                (Some(a), Some(b)) => f.test(a, b),
                _ => false,
            },
            Pred::TextFolded(f, a, b) => match (a.get(row).as_str(), b.get(row).as_str()) {
                (Some(a), Some(b)) => f.test(&a.to_lowercase(), &b.to_lowercase()),
                _ => false,
            },
        }
    }

    /// The tightest lower bound this predicate implies on Int64 field `field` (e.g. from
    /// `RowVersionNumber gt 5 and …`), as the first value that can match. Lets the version index
    /// skip rows instead of scanning them.
    pub fn lower_bound(&self, field: usize) -> Option<i64> {
        match self {
            Pred::And(a, b) => match (a.lower_bound(field), b.lower_bound(field)) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
            Pred::Cmp(op, Term::Field(f), Term::Const(v)) if *f == field => bound(*op, v),
            Pred::Cmp(op, Term::Const(v), Term::Field(f)) if *f == field => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    other => *other,
                };
                bound(flipped, v)
            }
            _ => None,
        }
    }
}

fn compare(op: CmpOp, l: &Value, r: &Value) -> bool {
    let ord = l.total_cmp(r);
    let null = matches!(l, Value::Null) || matches!(r, Value::Null);
    match op {
        CmpOp::Eq => ord.is_eq(),
        CmpOp::Ne => !ord.is_eq(),
        _ if null => false,
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Ge => ord.is_ge(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Le => ord.is_le(),
    }
}

/// A string in lower case (other values as they are).
fn folded(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::text(s.to_lowercase()),
        other => other.clone(),
    }
}

impl TextFn {
    fn test(self, a: &str, b: &str) -> bool {
        match self {
            TextFn::Contains => a.contains(b),
            TextFn::StartsWith => a.starts_with(b),
            TextFn::EndsWith => a.ends_with(b),
        }
    }
}

fn bound(op: CmpOp, v: &Value) -> Option<i64> {
    let n = v.as_i64()?;
    match op {
        CmpOp::Gt => n.checked_add(1),
        CmpOp::Ge | CmpOp::Eq => Some(n),
        _ => None,
    }
}
