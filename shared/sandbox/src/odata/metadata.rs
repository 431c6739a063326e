//! `$metadata`: CSDL (EDMX 4.0) generated from the same schemas the endpoints serve, in the style
//! BC emits (namespace `Microsoft.NAV`, no XML declaration, `Scale="Variable"` decimals, enum types).

use std::fmt::Write;

use crate::model::{Api, EdmType, EntitySchema, EnumDef, FieldDef, Store, company};

fn property(out: &mut String, f: &FieldDef) {
    let type_name = match f.enumeration {
        Some(e) => format!("Microsoft.NAV.{}", e.name),
        None => f.edm.name().to_owned(),
    };
    let _ = write!(out, r#"<Property Name="{}" Type="{type_name}""#, f.name);
    if !f.nullable {
        out.push_str(r#" Nullable="false""#);
    }
    if let Some(n) = f.max_length {
        let _ = write!(out, r#" MaxLength="{n}""#);
    }
    if f.edm == EdmType::Decimal {
        out.push_str(r#" Scale="Variable""#);
    }
    out.push_str("/>");
}

fn entity_type(out: &mut String, schema: &EntitySchema, navigation: &[&EntitySchema]) {
    let _ = write!(out, r#"<EntityType Name="{}"><Key>"#, schema.type_name);
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
            r#"<NavigationProperty Name="{}" Type="Collection(Microsoft.NAV.{})" ContainsTarget="true"/>"#,
            n.name, n.type_name
        );
    }
    out.push_str("</EntityType>");
}

/// Each enum used by a visible field, once, in first-use order.
fn enum_types(out: &mut String, entities: &[&EntitySchema]) {
    let mut seen: Vec<&'static EnumDef> = Vec::new();
    for f in entities.iter().flat_map(|e| e.fields.iter()) {
        if let Some(e) = f.enumeration
            && !f.hidden
            && !seen.iter().any(|s| s.name == e.name)
        {
            seen.push(e);
        }
    }
    for e in seen {
        let _ = write!(out, r#"<EnumType Name="{}">"#, e.name);
        for (i, m) in e.members.iter().enumerate() {
            let _ = write!(
                out,
                r#"<Member Name="{}" Value="{i}"/>"#,
                m.replace(' ', "_x0020_")
            );
        }
        out.push_str("</EnumType>");
    }
}

/// The whole document: the company type (containing every entity, as BC's API routes do), one
/// EntityType per entity, the enums they use, and the `NAV` container.
pub fn document(company: &EntitySchema, entities: &[&EntitySchema]) -> String {
    let mut out = String::from(
        r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
    );
    entity_type(&mut out, company, entities);
    for e in entities {
        entity_type(&mut out, e, &[]);
    }
    enum_types(&mut out, entities);
    out.push_str(r#"<EntityContainer Name="NAV">"#);
    let _ = write!(
        out,
        r#"<EntitySet Name="companies" EntityType="Microsoft.NAV.{}"/>"#,
        company.type_name
    );
    for e in entities {
        let _ = write!(
            out,
            r#"<EntitySet Name="{}" EntityType="Microsoft.NAV.{}"/>"#,
            e.name, e.type_name
        );
    }
    out.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    out
}

/// The document of one API route, as the schemas in `store` stand now (they change with
/// `POST /_sandbox/schema`).
pub fn for_api(store: &Store, api: Api) -> String {
    let schemas: Vec<&EntitySchema> = store
        .tables
        .iter()
        .map(|t| t.schema)
        .filter(|s| s.api == api)
        .collect();
    document(&company::SCHEMA, &schemas)
}
