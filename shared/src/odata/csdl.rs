//! A reader for OData v4 CSDL (`$metadata`, on `quick-xml`): entity sets, entity types (keys, typed
//! properties, navigation properties, base types) and enum types. Enough for Ferry to discover what a
//! source offers, check a mapping against it and create target tables from it. Annotations are skipped.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// One property of an entity type, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    /// The declared type, e.g. `Edm.String` or `Microsoft.NAV.contactType`.
    pub edm_type: String,
    pub nullable: bool,
    pub max_length: Option<u32>,
    pub precision: Option<u32>,
    /// `None` when absent or `Variable`.
    pub scale: Option<u32>,
}

/// A link to another entity type (`Collection(…)` when to-many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavigationProperty {
    pub name: String,
    /// The qualified target entity type, without `Collection(…)`.
    pub target: String,
    pub collection: bool,
    pub nullable: bool,
    pub contains_target: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityType {
    pub name: String,
    pub namespace: String,
    pub key: Vec<String>,
    pub properties: Vec<Property>,
    pub navigation: Vec<NavigationProperty>,
    /// The qualified base type, whose key and properties this type inherits (already merged in).
    pub base_type: Option<String>,
}

impl EntityType {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// An enumeration; its values travel as strings (member names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumType {
    pub name: String,
    pub namespace: String,
    /// Member names and their values, in declaration order.
    pub members: Vec<(String, Option<i64>)>,
    pub is_flags: bool,
}

/// An entity set of the container, and the qualified entity type of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySet {
    pub name: String,
    pub entity_type: String,
}

/// A parsed `$metadata` document.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Entity types by qualified name (`Namespace.Name`).
    pub entity_types: HashMap<String, EntityType>,
    /// Entity set name → qualified entity type name.
    pub entity_sets: HashMap<String, String>,
    /// The entity sets in document order.
    pub sets: Vec<EntitySet>,
    /// Qualified enum type names, whose values travel as strings.
    pub enum_types: Vec<String>,
    pub enums: Vec<EnumType>,
}

#[derive(Debug, thiserror::Error)]
pub enum CsdlError {
    #[error("$metadata is not well-formed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("$metadata declares no entity types")]
    Empty,
}

/// Where the reader is inside the document.
#[derive(Default)]
struct Cursor {
    namespace: String,
    /// Schema alias → namespace, so `Alias.Type` references resolve.
    aliases: HashMap<String, String>,
    entity: Option<EntityType>,
    enumeration: Option<EnumType>,
    in_key: bool,
}

impl Metadata {
    /// The entity type behind an entity set (or, failing that, an entity type of that name).
    pub fn entity(&self, set_or_type: &str) -> Option<&EntityType> {
        self.entity_sets
            .get(set_or_type)
            .and_then(|qualified| self.entity_types.get(qualified))
            .or_else(|| self.entity_types.values().find(|t| t.name == set_or_type))
    }

    /// Whether `edm_type` names one of the document's enum types.
    pub fn is_enum(&self, edm_type: &str) -> bool {
        self.enum_types.iter().any(|e| e == edm_type)
    }

    pub fn parse(xml: &str) -> Result<Metadata, CsdlError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().trim_text(true);
        let mut metadata = Metadata::default();
        let mut cursor = Cursor::default();
        loop {
            let event = reader.read_event().map_err(|e| CsdlError::Xml {
                position: reader.buffer_position(),
                message: e.to_string(),
            })?;
            match event {
                Event::Start(tag) => open(&tag, false, &mut metadata, &mut cursor),
                Event::Empty(tag) => open(&tag, true, &mut metadata, &mut cursor),
                Event::End(tag) => close(tag.local_name().as_ref(), &mut metadata, &mut cursor),
                Event::Eof => break,
                _ => {}
            }
        }
        if metadata.entity_types.is_empty() {
            return Err(CsdlError::Empty);
        }
        metadata.resolve(&cursor.aliases);
        Ok(metadata)
    }

    /// Rewrites alias-qualified references to namespaces and merges base types into derived ones.
    fn resolve(&mut self, aliases: &HashMap<String, String>) {
        let unalias = |name: &mut String| {
            if let Some((prefix, rest)) = name.rsplit_once('.')
                && let Some(namespace) = aliases.get(prefix)
            {
                *name = format!("{namespace}.{rest}");
            }
        };
        for set in &mut self.sets {
            unalias(&mut set.entity_type);
        }
        for target in self.entity_sets.values_mut() {
            unalias(target);
        }
        for t in self.entity_types.values_mut() {
            if let Some(base) = &mut t.base_type {
                unalias(base);
            }
            for nav in &mut t.navigation {
                unalias(&mut nav.target);
            }
            for p in &mut t.properties {
                unalias(&mut p.edm_type);
            }
        }
        let derived: Vec<String> = self
            .entity_types
            .iter()
            .filter(|(_, t)| t.base_type.is_some())
            .map(|(name, _)| name.clone())
            .collect();
        for name in derived {
            let (key, properties) = self.inherited(&name, 0);
            if let Some(t) = self.entity_types.get_mut(&name) {
                if t.key.is_empty() {
                    t.key = key;
                }
                let own = std::mem::take(&mut t.properties);
                let mut merged: Vec<Property> = properties
                    .into_iter()
                    .filter(|p| !own.iter().any(|o| o.name == p.name))
                    .collect();
                merged.extend(own);
                t.properties = merged;
            }
        }
    }

    /// Key and properties of `name`'s ancestors (bounded, so a cycle cannot loop forever).
    fn inherited(&self, name: &str, depth: usize) -> (Vec<String>, Vec<Property>) {
        let Some(base) = self
            .entity_types
            .get(name)
            .and_then(|t| t.base_type.as_ref())
            .and_then(|b| self.entity_types.get(b))
        else {
            return (Vec::new(), Vec::new());
        };
        if depth > 16 {
            return (base.key.clone(), base.properties.clone());
        }
        let (mut key, mut properties) = self.inherited(&base.qualified_name(), depth + 1);
        if key.is_empty() {
            key = base.key.clone();
        }
        properties.extend(base.properties.iter().cloned());
        (key, properties)
    }
}

fn attr(tag: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn number<T: std::str::FromStr>(tag: &BytesStart<'_>, name: &[u8]) -> Option<T> {
    attr(tag, name).and_then(|v| v.parse().ok())
}

fn flag(tag: &BytesStart<'_>, name: &[u8], default: bool) -> bool {
    attr(tag, name).map_or(default, |v| v == "true")
}

fn open(tag: &BytesStart<'_>, empty: bool, metadata: &mut Metadata, c: &mut Cursor) {
    match tag.local_name().as_ref() {
        b"Schema" => {
            c.namespace = attr(tag, b"Namespace").unwrap_or_default();
            if let Some(alias) = attr(tag, b"Alias") {
                c.aliases.insert(alias, c.namespace.clone());
            }
        }
        b"EntityType" => {
            let entity = EntityType {
                name: attr(tag, b"Name").unwrap_or_default(),
                namespace: c.namespace.clone(),
                base_type: attr(tag, b"BaseType"),
                ..Default::default()
            };
            if empty {
                metadata
                    .entity_types
                    .insert(entity.qualified_name(), entity);
            } else {
                c.entity = Some(entity);
            }
        }
        b"Key" if !empty => c.in_key = true,
        b"PropertyRef" if c.in_key => {
            if let (Some(entity), Some(name)) = (c.entity.as_mut(), attr(tag, b"Name")) {
                entity.key.push(name);
            }
        }
        b"Property" => {
            if let Some(entity) = c.entity.as_mut() {
                entity.properties.push(Property {
                    name: attr(tag, b"Name").unwrap_or_default(),
                    edm_type: attr(tag, b"Type").unwrap_or_default(),
                    nullable: flag(tag, b"Nullable", true),
                    max_length: number(tag, b"MaxLength"),
                    precision: number(tag, b"Precision"),
                    scale: number(tag, b"Scale"),
                });
            }
        }
        b"NavigationProperty" => {
            if let Some(entity) = c.entity.as_mut() {
                let declared = attr(tag, b"Type").unwrap_or_default();
                let (target, collection) = match declared
                    .strip_prefix("Collection(")
                    .and_then(|t| t.strip_suffix(')'))
                {
                    Some(inner) => (inner.to_string(), true),
                    None => (declared, false),
                };
                entity.navigation.push(NavigationProperty {
                    name: attr(tag, b"Name").unwrap_or_default(),
                    target,
                    collection,
                    nullable: flag(tag, b"Nullable", true),
                    contains_target: flag(tag, b"ContainsTarget", false),
                });
            }
        }
        b"EnumType" => {
            let enumeration = EnumType {
                name: attr(tag, b"Name").unwrap_or_default(),
                namespace: c.namespace.clone(),
                is_flags: flag(tag, b"IsFlags", false),
                members: Vec::new(),
            };
            if empty {
                push_enum(metadata, enumeration);
            } else {
                c.enumeration = Some(enumeration);
            }
        }
        b"Member" => {
            if let (Some(enumeration), Some(name)) = (c.enumeration.as_mut(), attr(tag, b"Name")) {
                enumeration.members.push((name, number(tag, b"Value")));
            }
        }
        b"EntitySet" => {
            if let (Some(name), Some(entity_type)) = (attr(tag, b"Name"), attr(tag, b"EntityType"))
            {
                metadata
                    .entity_sets
                    .insert(name.clone(), entity_type.clone());
                metadata.sets.push(EntitySet { name, entity_type });
            }
        }
        _ => {}
    }
}

fn close(name: &[u8], metadata: &mut Metadata, c: &mut Cursor) {
    match name {
        b"EntityType" => {
            if let Some(t) = c.entity.take() {
                metadata.entity_types.insert(t.qualified_name(), t);
            }
        }
        b"EnumType" => {
            if let Some(e) = c.enumeration.take() {
                push_enum(metadata, e);
            }
        }
        b"Key" => c.in_key = false,
        _ => {}
    }
}

fn push_enum(metadata: &mut Metadata, e: EnumType) {
    metadata
        .enum_types
        .push(format!("{}.{}", e.namespace, e.name));
    metadata.enums.push(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real BC ODataV4 `$metadata` (82 entity types, annotations, no XML declaration).
    const BC: &str = include_str!("../../tests/fixtures/bc-odatav4-metadata.xml");

    #[test]
    fn reads_real_business_central_metadata_whole() {
        let metadata = Metadata::parse(BC).unwrap();
        assert_eq!(metadata.entity_types.len(), 82);
        assert_eq!(metadata.sets.len(), 81);
        assert_eq!(metadata.entity_sets.len(), 81);
        for set in &metadata.sets {
            assert!(
                metadata.entity_types.contains_key(&set.entity_type),
                "{} → {}",
                set.name,
                set.entity_type
            );
        }
        let with_timestamp = metadata
            .entity_types
            .values()
            .filter(|t| {
                t.property("timestamp")
                    .is_some_and(|p| p.edm_type == "Edm.Int64")
            })
            .count();
        assert!(with_timestamp > 0, "BC pages expose timestamp as Edm.Int64");
        for t in metadata.entity_types.values() {
            assert!(!t.key.is_empty(), "{} has a key", t.name);
            for key in &t.key {
                assert!(
                    t.property(key).is_some(),
                    "{}: key {key} is a property",
                    t.name
                );
            }
        }
        let decimal_variable = metadata
            .entity_types
            .values()
            .flat_map(|t| &t.properties)
            .any(|p| p.edm_type == "Edm.Decimal" && p.scale.is_none());
        assert!(
            decimal_variable,
            "Scale=\"Variable\" reads as no fixed scale"
        );
        let navigation: usize = metadata
            .entity_types
            .values()
            .map(|t| t.navigation.len())
            .sum();
        assert_eq!(navigation, 108);
        assert!(
            metadata
                .entity_types
                .values()
                .flat_map(|t| &t.navigation)
                .any(|n| n.collection && n.contains_target)
        );
        assert_eq!(metadata.enums.len(), 1);
        assert_eq!(metadata.enums[0].members.len(), 12);
        assert!(metadata.is_enum("NAV.NavType"));
        let media = metadata.entity_types.get("NAV.Media").unwrap();
        let id = media.property("ID").unwrap();
        assert_eq!((id.edm_type.as_str(), id.nullable), ("Edm.Guid", false));
        assert_eq!(media.property("Description").unwrap().max_length, Some(250));
    }

    #[test]
    fn resolves_aliases_inheritance_and_precision() {
        let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
          <edmx:DataServices><Schema Namespace="Contoso.Sales" Alias="S" xmlns="http://docs.oasis-open.org/odata/ns/edm">
            <EnumType Name="Status" IsFlags="false"><Member Name="Open" Value="0"/><Member Name="Closed" Value="1"/></EnumType>
            <EntityType Name="Base"><Key><PropertyRef Name="Id"/></Key><Property Name="Id" Type="Edm.Int64" Nullable="false"/></EntityType>
            <EntityType Name="Order" BaseType="S.Base">
              <Property Name="Amount" Type="Edm.Decimal" Precision="18" Scale="2"/>
              <Property Name="Status" Type="S.Status"/>
              <NavigationProperty Name="Customer" Type="S.Base" Nullable="false"/>
            </EntityType>
            <EntityContainer Name="C"><EntitySet Name="Orders" EntityType="S.Order"/></EntityContainer>
          </Schema></edmx:DataServices></edmx:Edmx>"#;
        let metadata = Metadata::parse(xml).unwrap();
        let order = metadata.entity("Orders").unwrap();
        assert_eq!(order.key, vec!["Id"]);
        assert_eq!(order.properties[0].name, "Id", "inherited first");
        let amount = order.property("Amount").unwrap();
        assert_eq!((amount.precision, amount.scale), (Some(18), Some(2)));
        assert_eq!(
            order.property("Status").unwrap().edm_type,
            "Contoso.Sales.Status"
        );
        assert!(metadata.is_enum("Contoso.Sales.Status"));
        assert_eq!(
            metadata.enums[0].members,
            vec![("Open".into(), Some(0)), ("Closed".into(), Some(1))]
        );
        let nav = &order.navigation[0];
        assert_eq!(
            (nav.target.as_str(), nav.collection, nav.nullable),
            ("Contoso.Sales.Base", false, false)
        );
        assert_eq!(metadata.sets[0].entity_type, "Contoso.Sales.Order");
    }

    #[test]
    fn rejects_broken_xml_with_position() {
        let err = Metadata::parse("<edmx:Edmx><Schema></edmx:Edmx>").unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
    }
}
