//! A reader for OData v4 CSDL (`$metadata`): entity sets, entity types, keys and typed properties.
//! Enough for Ferry to check a mapping against the source and to create target tables from it.

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

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityType {
    pub name: String,
    pub namespace: String,
    pub key: Vec<String>,
    pub properties: Vec<Property>,
}

impl EntityType {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// A parsed `$metadata` document.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Entity types by qualified name (`Namespace.Name`) and by alias-free short name.
    pub entity_types: HashMap<String, EntityType>,
    /// Entity set name → qualified entity type name.
    pub entity_sets: HashMap<String, String>,
    /// Qualified enum type names, whose values travel as strings.
    pub enum_types: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CsdlError {
    #[error("$metadata is not well-formed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("$metadata declares no entity types")]
    Empty,
}

impl Metadata {
    /// The entity type behind an entity set (or, failing that, an entity type of that name).
    pub fn entity(&self, set_or_type: &str) -> Option<&EntityType> {
        self.entity_sets
            .get(set_or_type)
            .and_then(|qualified| self.entity_types.get(qualified))
            .or_else(|| self.entity_types.values().find(|t| t.name == set_or_type))
    }

    pub fn parse(xml: &str) -> Result<Metadata, CsdlError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().trim_text(true);
        let mut metadata = Metadata::default();
        let mut namespace = String::new();
        let mut current: Option<EntityType> = None;
        let mut in_key = false;
        loop {
            let event = reader.read_event().map_err(|e| CsdlError::Xml {
                position: reader.buffer_position(),
                message: e.to_string(),
            })?;
            match event {
                Event::Start(tag) => open(
                    &tag,
                    false,
                    &mut metadata,
                    &mut namespace,
                    &mut current,
                    &mut in_key,
                ),
                Event::Empty(tag) => open(
                    &tag,
                    true,
                    &mut metadata,
                    &mut namespace,
                    &mut current,
                    &mut in_key,
                ),
                Event::End(tag) => match tag.local_name().as_ref() {
                    b"EntityType" => {
                        if let Some(t) = current.take() {
                            metadata
                                .entity_types
                                .insert(format!("{}.{}", t.namespace, t.name), t);
                        }
                    }
                    b"Key" => in_key = false,
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        if metadata.entity_types.is_empty() {
            return Err(CsdlError::Empty);
        }
        Ok(metadata)
    }
}

fn attr(tag: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn open(
    tag: &BytesStart<'_>,
    empty: bool,
    metadata: &mut Metadata,
    namespace: &mut String,
    current: &mut Option<EntityType>,
    in_key: &mut bool,
) {
    match tag.local_name().as_ref() {
        b"Schema" => *namespace = attr(tag, b"Namespace").unwrap_or_default(),
        b"EntityType" => {
            let entity = EntityType {
                name: attr(tag, b"Name").unwrap_or_default(),
                namespace: namespace.clone(),
                ..Default::default()
            };
            if empty {
                metadata
                    .entity_types
                    .insert(format!("{}.{}", entity.namespace, entity.name), entity);
            } else {
                *current = Some(entity);
            }
        }
        b"Key" if !empty => *in_key = true,
        b"PropertyRef" if *in_key => {
            if let (Some(entity), Some(name)) = (current.as_mut(), attr(tag, b"Name")) {
                entity.key.push(name);
            }
        }
        b"Property" => {
            if let Some(entity) = current.as_mut() {
                entity.properties.push(Property {
                    name: attr(tag, b"Name").unwrap_or_default(),
                    edm_type: attr(tag, b"Type").unwrap_or_default(),
                    nullable: attr(tag, b"Nullable").is_none_or(|v| v != "false"),
                    max_length: attr(tag, b"MaxLength").and_then(|v| v.parse().ok()),
                    precision: attr(tag, b"Precision").and_then(|v| v.parse().ok()),
                    scale: attr(tag, b"Scale").and_then(|v| v.parse().ok()),
                });
            }
        }
        b"EnumType" => {
            if let Some(name) = attr(tag, b"Name") {
                metadata.enum_types.push(format!("{namespace}.{name}"));
            }
        }
        b"EntitySet" => {
            if let (Some(name), Some(entity_type)) = (attr(tag, b"Name"), attr(tag, b"EntityType"))
            {
                metadata.entity_sets.insert(name, entity_type);
            }
        }
        _ => {}
    }
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
        assert!(!metadata.entity_sets.is_empty());
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
    }

    #[test]
    fn rejects_broken_xml_with_position() {
        let err = Metadata::parse("<edmx:Edmx><Schema></edmx:Edmx>").unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
    }
}
