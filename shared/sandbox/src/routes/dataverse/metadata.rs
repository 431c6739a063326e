//! `$metadata` in Dataverse's shape: namespace `Microsoft.Dynamics.CRM` (alias `mscrm`), entity
//! types keyed by their GUID id, lookups as `_x_value` properties with a single-valued navigation
//! property (`parentcustomerid_account`) and its collection partner on the target, choices as
//! `Edm.Int32`, Money as `Edm.Decimal`, `versionnumber` as `Edm.Int64`, and an EntityContainer
//! `System` of entity sets. Built from the live schemas, so schema drift shows here too.

use std::fmt::Write;

use crate::model::dataverse::columns::{self, Kind, Lookup};
use crate::model::dataverse::{self, ENTITY_SETS};
use crate::model::{EdmType, EntitySchema, Store};

const NS: &str = "Microsoft.Dynamics.CRM";

/// The collection-valued partner of a lookup, on its target (`contact_customer_accounts`).
fn partner(source: &EntitySchema, lookup: &Lookup) -> String {
    format!("{}_customer_{}s", source.name, lookup.target)
}

fn entity_type(out: &mut String, schema: &EntitySchema, all: &[&EntitySchema]) {
    let _ = write!(
        out,
        r#"<EntityType Name="{}" BaseType="mscrm.crmbaseentity"><Key>"#,
        schema.type_name
    );
    for k in schema.key {
        let _ = write!(out, r#"<PropertyRef Name="{k}"/>"#);
    }
    out.push_str("</Key>");
    let visible = || schema.fields.iter().filter(|f| !f.hidden);
    for f in visible() {
        let _ = write!(
            out,
            r#"<Property Name="{}" Type="{}""#,
            f.name,
            f.edm.name()
        );
        if f.edm == EdmType::Decimal {
            out.push_str(r#" Scale="Variable""#);
        }
        if f.edm == EdmType::String {
            out.push_str(r#" Unicode="false""#);
        }
        out.push_str("/>");
    }
    for f in visible() {
        if let Kind::Lookup(l) = columns::kind(f) {
            let _ = write!(
                out,
                r#"<NavigationProperty Name="{}" Type="mscrm.{}" Partner="{}"><ReferentialConstraint Property="{}" ReferencedProperty="{}id"/></NavigationProperty>"#,
                l.navigation,
                l.target,
                partner(schema, &l),
                f.name,
                l.target
            );
        }
    }
    // Collection partners of other tables' lookups that point here.
    for source in all {
        for f in source.fields.iter().filter(|f| !f.hidden) {
            if let Kind::Lookup(l) = columns::kind(f)
                && l.target == schema.name
            {
                let _ = write!(
                    out,
                    r#"<NavigationProperty Name="{}" Type="Collection(mscrm.{})" Partner="{}"/>"#,
                    partner(source, &l),
                    source.type_name,
                    l.navigation
                );
            }
        }
    }
    out.push_str("</EntityType>");
}

/// The whole document for the Dataverse tables in `store`.
pub fn document(store: &Store) -> String {
    let schemas: Vec<&EntitySchema> = ENTITY_SETS
        .iter()
        .filter_map(|(_, s)| store.table(s.name).map(|t| t.schema))
        .collect();
    let mut out = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="{NS}" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="crmbaseentity" Abstract="true"/>"#
    );
    for s in &schemas {
        entity_type(&mut out, s, &schemas);
    }
    out.push_str(r#"<EntityContainer Name="System">"#);
    for s in &schemas {
        let set = dataverse::entity_set_of(s.name).unwrap_or(s.name);
        let _ = write!(
            out,
            r#"<EntitySet Name="{set}" EntityType="{NS}.{}">"#,
            s.type_name
        );
        for f in s.fields.iter().filter(|f| !f.hidden) {
            if let Kind::Lookup(l) = columns::kind(f)
                && let Some(target) = dataverse::entity_set_of(l.target)
            {
                let _ = write!(
                    out,
                    r#"<NavigationPropertyBinding Path="{}" Target="{target}"/>"#,
                    l.navigation
                );
            }
        }
        out.push_str("</EntitySet>");
    }
    out.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    out
}
