//! `$metadata`: CSDL (EDMX 4.0) generated from the same schemas the endpoints serve, in the style
//! BC emits (no XML declaration, `Scale="Variable"` decimals, enum types). The API routes use
//! namespace `Microsoft.NAV` with a company type containing the entities; the ODataV4 route uses
//! namespace `NAV` with flat entity sets.

use std::fmt::Write;

use crate::model::{Api, EdmType, EntitySchema, EnumDef, FieldDef, Store, company};

/// Where the document differs between routes.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub namespace: &'a str,
    /// The companies entity set's name (`companies` on the APIs, `Company` on ODataV4).
    pub companies_set: &'a str,
    /// API routes nest every entity under the company type (navigation properties).
    pub contained: bool,
}

pub const API: Shape<'static> = Shape {
    namespace: "Microsoft.NAV",
    companies_set: "companies",
    contained: true,
};

pub const ODATA_V4: Shape<'static> = Shape {
    namespace: "NAV",
    companies_set: "Company",
    contained: false,
};

fn property(out: &mut String, ns: &str, f: &FieldDef) {
    let type_name = match f.enumeration {
        Some(e) => format!("{ns}.{}", e.name),
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

fn entity_type(out: &mut String, ns: &str, schema: &EntitySchema, navigation: &[&EntitySchema]) {
    let _ = write!(out, r#"<EntityType Name="{}"><Key>"#, schema.type_name);
    for k in schema.key {
        let _ = write!(out, r#"<PropertyRef Name="{k}"/>"#);
    }
    out.push_str("</Key>");
    for f in schema.fields.iter().filter(|f| !f.hidden) {
        property(out, ns, f);
    }
    for n in navigation {
        let _ = write!(
            out,
            r#"<NavigationProperty Name="{}" Type="Collection({ns}.{})" ContainsTarget="true"/>"#,
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

/// The whole document: the company type, one EntityType per entity, the enums they use, and the
/// `NAV` container.
pub fn document(shape: Shape<'_>, company: &EntitySchema, entities: &[&EntitySchema]) -> String {
    let ns = shape.namespace;
    let mut out = format!(
        r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="{ns}" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
    );
    let navigation: &[&EntitySchema] = if shape.contained { entities } else { &[] };
    entity_type(&mut out, ns, company, navigation);
    for e in entities {
        entity_type(&mut out, ns, e, &[]);
    }
    enum_types(&mut out, entities);
    out.push_str(r#"<EntityContainer Name="NAV">"#);
    let _ = write!(
        out,
        r#"<EntitySet Name="{}" EntityType="{ns}.{}"/>"#,
        shape.companies_set, company.type_name
    );
    for e in entities {
        let _ = write!(
            out,
            r#"<EntitySet Name="{}" EntityType="{ns}.{}"/>"#,
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
    document(API, &company::SCHEMA, &schemas)
}
