//! What a source offers, as `ferry discover` and the future web editor show it: entity sets with their
//! entity type, key and typed properties. A stable, serializable view of a parsed `$metadata`.

use serde::Serialize;

use super::csdl::{EntityType, Metadata};

/// `{"entity_sets":[…]}`, sorted by name.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub entity_sets: Vec<CatalogSet>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogSet {
    pub name: String,
    /// Qualified entity type name.
    pub entity_type: String,
    pub key: Vec<String>,
    pub properties: Vec<CatalogProperty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub navigation: Vec<CatalogNavigation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogProperty {
    pub name: String,
    #[serde(rename = "type")]
    pub edm_type: String,
    pub nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Members of an enum type, whose values travel as their names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enum_members: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogNavigation {
    pub name: String,
    pub target: String,
    pub collection: bool,
}

impl Catalog {
    /// Every entity set, or only `entity` (matched case-insensitively) when given.
    pub fn new(metadata: &Metadata, entity: Option<&str>) -> Catalog {
        let mut entity_sets: Vec<CatalogSet> = metadata
            .sets
            .iter()
            .filter(|s| entity.is_none_or(|e| s.name.eq_ignore_ascii_case(e)))
            .filter_map(|s| {
                let t = metadata.entity_types.get(&s.entity_type)?;
                Some(set(metadata, &s.name, &s.entity_type, t))
            })
            .collect();
        entity_sets.sort_by(|a, b| a.name.cmp(&b.name));
        Catalog { entity_sets }
    }
}

fn set(metadata: &Metadata, name: &str, qualified: &str, t: &EntityType) -> CatalogSet {
    CatalogSet {
        name: name.to_string(),
        entity_type: qualified.to_string(),
        key: t.key.clone(),
        properties: t
            .properties
            .iter()
            .map(|p| CatalogProperty {
                name: p.name.clone(),
                edm_type: p.edm_type.clone(),
                nullable: p.nullable,
                max_length: p.max_length,
                precision: p.precision,
                scale: p.scale,
                enum_members: metadata
                    .enums
                    .iter()
                    .find(|e| format!("{}.{}", e.namespace, e.name) == p.edm_type)
                    .map(|e| e.members.iter().map(|(m, _)| m.clone()).collect()),
            })
            .collect(),
        navigation: t
            .navigation
            .iter()
            .map(|n| CatalogNavigation {
                name: n.name.clone(),
                target: n.target.clone(),
                collection: n.collection,
            })
            .collect(),
    }
}
