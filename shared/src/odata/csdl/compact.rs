//! What Ferry read from a `$metadata`, written back as CSDL: the form a connection's last document is
//! kept in (`source::discovered`). Reading it gives the same `Metadata` again, and it holds only what
//! the reader keeps (no annotations, actions or functions), so a Dataverse document of tens of MB is
//! kept in a fraction of that and never needs to be in memory whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{EntityType, EnumType, Metadata};

impl Metadata {
    /// The CSDL document of this metadata. Deterministic (entity types sorted by name), so an unchanged
    /// source gives the same text, and its digest says whether anything changed. References are
    /// already namespace-qualified and base types merged; the result reads back equal (enum types keep
    /// their order within a namespace).
    pub fn to_csdl(&self) -> String {
        let mut schemas: BTreeMap<&str, (Vec<&EnumType>, Vec<&EntityType>)> = BTreeMap::new();
        for e in &self.enums {
            schemas.entry(&e.namespace).or_default().0.push(e);
        }
        for t in self.entity_types.values() {
            schemas.entry(&t.namespace).or_default().1.push(t);
        }
        let mut out = String::from(
            r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>"#,
        );
        for (at, (namespace, (enums, mut types))) in schemas.into_iter().enumerate() {
            let _ = write!(
                out,
                r#"<Schema Namespace="{}" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
                escape(namespace)
            );
            for e in enums {
                write_enum(&mut out, e);
            }
            types.sort_by(|a, b| a.name.cmp(&b.name));
            for t in types {
                write_entity_type(&mut out, t);
            }
            // The container goes in the first schema; the sets name their types in full.
            if at == 0 {
                out.push_str(r#"<EntityContainer Name="Container">"#);
                for set in &self.sets {
                    let _ = write!(
                        out,
                        r#"<EntitySet Name="{}" EntityType="{}"/>"#,
                        escape(&set.name),
                        escape(&set.entity_type)
                    );
                }
                out.push_str("</EntityContainer>");
            }
            out.push_str("</Schema>");
        }
        out.push_str("</edmx:DataServices></edmx:Edmx>");
        out
    }
}

fn write_enum(out: &mut String, e: &EnumType) {
    let flags = if e.is_flags { r#" IsFlags="true""# } else { "" };
    let _ = write!(out, r#"<EnumType Name="{}"{flags}>"#, escape(&e.name));
    for (name, value) in &e.members {
        let _ = write!(out, r#"<Member Name="{}""#, escape(name));
        if let Some(value) = value {
            let _ = write!(out, r#" Value="{value}""#);
        }
        out.push_str("/>");
    }
    out.push_str("</EnumType>");
}

fn write_entity_type(out: &mut String, t: &EntityType) {
    let _ = write!(out, r#"<EntityType Name="{}""#, escape(&t.name));
    if let Some(base) = &t.base_type {
        let _ = write!(out, r#" BaseType="{}""#, escape(base));
    }
    out.push('>');
    if !t.key.is_empty() {
        out.push_str("<Key>");
        for name in &t.key {
            let _ = write!(out, r#"<PropertyRef Name="{}"/>"#, escape(name));
        }
        out.push_str("</Key>");
    }
    for p in &t.properties {
        let _ = write!(
            out,
            r#"<Property Name="{}" Type="{}""#,
            escape(&p.name),
            escape(&p.edm_type)
        );
        if !p.nullable {
            out.push_str(r#" Nullable="false""#);
        }
        for (facet, value) in [
            ("MaxLength", p.max_length),
            ("Precision", p.precision),
            ("Scale", p.scale),
        ] {
            if let Some(value) = value {
                let _ = write!(out, r#" {facet}="{value}""#);
            }
        }
        out.push_str("/>");
    }
    for n in &t.navigation {
        let target = escape(&n.target);
        let _ = if n.collection {
            write!(
                out,
                r#"<NavigationProperty Name="{}" Type="Collection({target})""#,
                escape(&n.name)
            )
        } else {
            write!(
                out,
                r#"<NavigationProperty Name="{}" Type="{target}""#,
                escape(&n.name)
            )
        };
        if !n.nullable {
            out.push_str(r#" Nullable="false""#);
        }
        if n.contains_target {
            out.push_str(r#" ContainsTarget="true""#);
        }
        out.push_str("/>");
    }
    out.push_str("</EntityType>");
}

/// `text` as an attribute value: markup characters, and the whitespace that attribute-value
/// normalization would turn into spaces, as character references.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BC: &str = include_str!("../../../tests/fixtures/bc-odatav4-metadata.xml");

    #[test]
    fn the_kept_form_reads_back_equal_and_is_the_same_text_each_time() {
        let metadata = Metadata::parse(BC).unwrap();
        let kept = metadata.to_csdl();
        assert_eq!(Metadata::parse(&kept).unwrap(), metadata);
        assert_eq!(Metadata::parse(&kept).unwrap().to_csdl(), kept);
        assert!(!kept.contains("Annotation"));
        assert!(
            kept.len() < BC.len(),
            "{} of {} bytes",
            kept.len(),
            BC.len()
        );
    }

    /// Aliases resolved, base types merged, names that need escaping, facets and enum values.
    #[test]
    fn aliases_inheritance_and_awkward_names_survive_the_round_trip() {
        let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
          <edmx:DataServices><Schema Namespace="Contoso.Sales" Alias="S" xmlns="http://docs.oasis-open.org/odata/ns/edm">
            <EnumType Name="Status" IsFlags="true"><Member Name="Open" Value="0"/><Member Name="Odd &amp; &quot;quoted&quot;"/></EnumType>
            <EntityType Name="Base"><Key><PropertyRef Name="Id"/></Key><Property Name="Id" Type="Edm.Int64" Nullable="false"/></EntityType>
            <EntityType Name="Order" BaseType="S.Base">
              <Property Name="Amount" Type="Edm.Decimal" Precision="18" Scale="2"/>
              <Property Name="Note&#10;&lt;x&gt;" Type="Edm.String" MaxLength="80"/>
              <Property Name="Status" Type="S.Status"/>
              <NavigationProperty Name="Lines" Type="Collection(S.Base)" ContainsTarget="true"/>
              <NavigationProperty Name="Customer" Type="S.Base" Nullable="false"/>
            </EntityType>
          </Schema>
          <Schema Namespace="Other" xmlns="http://docs.oasis-open.org/odata/ns/edm">
            <EntityType Name="Thing"><Key><PropertyRef Name="No"/></Key><Property Name="No" Type="Edm.String"/></EntityType>
            <EntityContainer Name="C"><EntitySet Name="Orders" EntityType="S.Order"/><EntitySet Name="Things" EntityType="Other.Thing"/></EntityContainer>
          </Schema></edmx:DataServices></edmx:Edmx>"#;
        let metadata = Metadata::parse(xml).unwrap();
        let kept = metadata.to_csdl();
        assert_eq!(Metadata::parse(&kept).unwrap(), metadata, "{kept}");
    }
}
