//! A filter's comparisons against the entity's property types: `Balance eq 'lots'` or
//! `contains(Balance, '1')` is accepted by the filter grammar at `apply`, and refused by the server on
//! every run. `$metadata` says so before any run.

use crate::filter::{Expr, Literal};
use crate::odata::csdl::{EntityType, Metadata};

const NUMBERS: &[&str] = &[
    "Edm.Byte",
    "Edm.SByte",
    "Edm.Int16",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Single",
];
const DATES: &[&str] = &["Edm.Date", "Edm.DateTimeOffset"];

/// One comparison whose value cannot be of its field's type: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub field: String,
    pub message: String,
}

/// Every comparison of `filter` whose value the field's declared type cannot take, in order. Fields
/// the entity lacks are left to the missing-field check.
pub fn mismatches(filter: &Expr, entity: &EntityType, metadata: &Metadata) -> Vec<Mismatch> {
    let mut out = Vec::new();
    walk(filter, entity, metadata, &mut out);
    out
}

fn walk(expr: &Expr, entity: &EntityType, metadata: &Metadata, out: &mut Vec<Mismatch>) {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            walk(a, entity, metadata, out);
            walk(b, entity, metadata, out);
        }
        Expr::Not(inner) => walk(inner, entity, metadata, out),
        Expr::Compare { field, value, .. } => {
            let Some(property) = entity.property(field) else {
                return;
            };
            let ty = property.edm_type.as_str();
            let fits = match value {
                Literal::Null => true,
                Literal::String(_) => {
                    ty == "Edm.String" || ty == "Edm.Guid" || metadata.is_enum(ty)
                }
                Literal::Number(_) => NUMBERS.contains(&ty),
                Literal::Bool(_) => ty == "Edm.Boolean",
                Literal::Date(_) => DATES.contains(&ty),
                Literal::Guid(_) => ty == "Edm.Guid",
            };
            if !fits {
                out.push(Mismatch {
                    field: field.clone(),
                    message: format!(
                        "source.filter compares {field:?} ({ty}) with {}, which a {ty} field cannot be",
                        describe(value)
                    ),
                });
            }
        }
        Expr::Call {
            function, field, ..
        } => {
            let Some(property) = entity.property(field) else {
                return;
            };
            if property.edm_type != "Edm.String" {
                out.push(Mismatch {
                    field: field.clone(),
                    message: format!(
                        "source.filter applies {} to {field:?}, which is {} (text functions take Edm.String fields)",
                        function.as_str(),
                        property.edm_type
                    ),
                });
            }
        }
    }
}

fn describe(value: &Literal) -> String {
    match value {
        Literal::String(s) => format!("the text {s:?}"),
        Literal::Number(n) => format!("the number {n}"),
        Literal::Bool(b) => format!("the boolean {b}"),
        Literal::Date(d) => format!("the date {d}"),
        Literal::Guid(g) => format!("the GUID {g}"),
        Literal::Null => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="kind"><Member Name="Person" Value="0"/></EnumType>
      <EntityType Name="Customer">
        <Key><PropertyRef Name="No"/></Key>
        <Property Name="No" Type="Edm.String" Nullable="false"/>
        <Property Name="Balance" Type="Edm.Decimal"/>
        <Property Name="Blocked" Type="Edm.Boolean"/>
        <Property Name="Changed" Type="Edm.DateTimeOffset"/>
        <Property Name="Kind" Type="NAV.kind"/>
      </EntityType>
      <EntityContainer Name="C"><EntitySet Name="Customers" EntityType="NAV.Customer"/></EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

    fn fields_of(filter: &str) -> Vec<String> {
        let metadata = Metadata::parse(METADATA).unwrap();
        let entity = metadata.entity("Customers").unwrap();
        mismatches(&crate::filter::parse(filter).unwrap(), entity, &metadata)
            .into_iter()
            .map(|m| m.field)
            .collect()
    }

    #[test]
    fn values_that_fit_their_field_pass() {
        assert!(
            fields_of(
                "No eq 'C1' and Balance gt 10.5 and Blocked eq false and Changed ge 2026-01-01T00:00:00Z \
                 and Kind eq 'Person' and startswith(No, 'C') and Balance ne null and Missing eq 1"
            )
            .is_empty()
        );
    }

    #[test]
    fn values_of_another_type_are_named_with_their_field() {
        assert_eq!(
            fields_of(
                "Balance eq 'lots' or No gt 5 or not (Blocked eq 'yes') or contains(Balance, '1') \
                 or Changed lt 12"
            ),
            ["Balance", "No", "Blocked", "Balance", "Changed"]
        );
    }
}
