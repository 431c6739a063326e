//! `$metadata`: CSDL (EDMX 4.0) generated from the same schemas the endpoints serve, in the style
//! BC emits (namespace `Microsoft.NAV`, no XML declaration).

use std::fmt::Write;

use crate::model::{EntitySchema, FieldDef};

fn property(out: &mut String, f: &FieldDef) {
    let _ = write!(
        out,
        r#"<Property Name="{}" Type="{}""#,
        f.name,
        f.edm.name()
    );
    if !f.nullable {
        out.push_str(r#" Nullable="false""#);
    }
    if let Some(n) = f.max_length {
        let _ = write!(out, r#" MaxLength="{n}""#);
    }
    out.push_str("/>");
}

fn entity_type(out: &mut String, schema: &EntitySchema, navigation: &[&EntitySchema]) {
    let _ = write!(out, r#"<EntityType Name="{}"><Key>"#, schema.name);
    for k in schema.key {
        let _ = write!(out, r#"<PropertyRef Name="{k}"/>"#);
    }
    out.push_str("</Key>");
    for f in schema.fields.iter().filter(|f| !f.hidden) {
        property(out, f);
    }
    for n in navigation {
        let _ = write!(
            out,
            r#"<NavigationProperty Name="{0}" Type="Collection(Microsoft.NAV.{0})" ContainsTarget="true"/>"#,
            n.name
        );
    }
    out.push_str("</EntityType>");
}

/// The whole document: the company type (containing every entity, as BC's API routes do), one
/// EntityType per entity, and the `NAV` container.
pub fn document(company: &EntitySchema, entities: &[&EntitySchema]) -> String {
    let mut out = String::from(
        r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
    );
    entity_type(&mut out, company, entities);
    for e in entities {
        entity_type(&mut out, e, &[]);
    }
    out.push_str(r#"<EntityContainer Name="NAV">"#);
    let _ = write!(
        out,
        r#"<EntitySet Name="companies" EntityType="Microsoft.NAV.{}"/>"#,
        company.name
    );
    for e in entities {
        let _ = write!(
            out,
            r#"<EntitySet Name="{0}" EntityType="Microsoft.NAV.{0}"/>"#,
            e.name
        );
    }
    out.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    out
}
