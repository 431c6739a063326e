//! What a Dataverse column is beyond its Edm type: a choice, money, or a lookup (single-valued
//! navigation property), which decides its annotations and how it is written.

use super::super::schema::{EdmType, FieldDef};
use super::choices;

/// A lookup column: read as `_{name}_value`, written through its navigation property
/// (`parentcustomerid_account@odata.bind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The attribute's logical name (`parentcustomerid`).
    pub attribute: &'static str,
    /// The single-valued navigation property (`parentcustomerid_account`).
    pub navigation: &'static str,
    /// The referenced table's logical name (`account`), also the `lookuplogicalname` annotation.
    pub target: &'static str,
}

/// Every lookup the sandbox serves.
pub const LOOKUPS: &[(&str, Lookup)] = &[(
    "_parentcustomerid_value",
    Lookup {
        attribute: "parentcustomerid",
        navigation: "parentcustomerid_account",
        target: "account",
    },
)];

/// Money columns (`Edm.Decimal` with four decimals and a currency).
pub const MONEY: &[&str] = &["revenue"];

/// The read-only column Dataverse returns beside money.
pub const CURRENCY: &str = "_transactioncurrencyid_value";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Choice,
    Money,
    Lookup(Lookup),
    DateTime,
}

/// The kind of a column, by its (current) name.
pub fn kind(field: &FieldDef) -> Kind {
    if let Some((_, l)) = LOOKUPS.iter().find(|(n, _)| *n == field.name) {
        return Kind::Lookup(*l);
    }
    if MONEY.contains(&field.name) {
        return Kind::Money;
    }
    if choices::options(field.name).is_some() {
        return Kind::Choice;
    }
    if field.edm == EdmType::DateTimeOffset {
        return Kind::DateTime;
    }
    Kind::Plain
}

/// The lookup whose navigation property is `navigation`.
pub fn lookup_by_navigation(navigation: &str) -> Option<(&'static str, Lookup)> {
    LOOKUPS
        .iter()
        .find(|(_, l)| l.navigation == navigation)
        .copied()
}
