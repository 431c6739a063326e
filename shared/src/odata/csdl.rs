//! A reader for OData v4 CSDL (`$metadata`, on `quick-xml`): entity sets, entity types (keys, typed
//! properties, navigation properties, base types) and enum types. Enough for Ferry to discover what a
//! source offers, check a mapping against it and create target tables from it. Annotations are skipped.
//!
//! The reader streams: a document is read a buffer at a time (`Metadata::read`, or chunk by chunk as
//! an HTTP body arrives: `feed.rs`), so memory follows what the document declares, not its size.

mod compact;
mod feed;
mod utf8;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

pub use feed::Feed;
use utf8::Utf8;

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
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// The bytes could not be read: not UTF-8, or the file or body they came from failed.
    #[error("$metadata could not be read at byte {position}: {message}")]
    Unreadable { position: u64, message: String },
    #[error("$metadata declares no entity types")]
    Empty,
    /// Entity types that are each other's base type: no type can inherit from itself.
    #[error(
        "$metadata is inconsistent: entity type {entity_type} is its own base type (through its BaseType chain)"
    )]
    BaseTypeCycle { entity_type: String },
    #[error(
        "$metadata is inconsistent: entity type {entity_type} inherits through more than {MAX_INHERITANCE} base types"
    )]
    TooDeep { entity_type: String },
}

/// The longest `BaseType` chain read; real services use a handful.
const MAX_INHERITANCE: usize = 64;

/// Elements whose whole subtree is skipped unread: annotations, most of a Dataverse document's bytes.
const ANNOTATIONS: &[&str] = &["Annotation", "Annotations"];

/// Bytes read from the source at a time.
const READ_BUFFER: usize = 64 * 1024;

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

    /// [`Metadata::parse`] off the async threads: a document of tens of MB takes a while, and a
    /// worker's other runs must not wait for it.
    pub async fn parse_off_thread(xml: String) -> Result<Metadata, CsdlError> {
        joined(tokio::task::spawn_blocking(move || Metadata::parse(&xml)).await)
    }

    /// [`Metadata::read`] off the async threads (a file, for `ferry discover --metadata`).
    pub async fn read_off_thread(
        source: impl Read + Send + 'static,
    ) -> Result<Metadata, CsdlError> {
        joined(tokio::task::spawn_blocking(move || Metadata::read(source)).await)
    }

    /// A document already in memory (a test's, a stored one).
    pub fn parse(xml: &str) -> Result<Metadata, CsdlError> {
        // A `&str` is UTF-8 already: no need to check it again.
        Metadata::from_events(Reader::from_reader(xml.as_bytes()))
    }

    /// Reads a document as it streams in, in memory bounded by what it declares (the entity types,
    /// properties and sets kept), not by its size: a real Dataverse `$metadata` is tens of MB, most of
    /// it annotations, which are skipped as they pass. Bytes that are not UTF-8 are an error, as they
    /// were when the document was read into a `String` first.
    pub fn read(source: impl Read) -> Result<Metadata, CsdlError> {
        let buffered = BufReader::with_capacity(READ_BUFFER, Utf8::new(source));
        Metadata::from_events(Reader::from_reader(buffered))
    }

    /// The walk over the document's events. One event's bytes are held at a time (the buffer is
    /// reused), and an annotation's whole subtree is skipped with them.
    fn from_events(mut reader: Reader<impl BufRead>) -> Result<Metadata, CsdlError> {
        reader.config_mut().trim_text(true);
        let mut metadata = Metadata::default();
        let mut cursor = Cursor::default();
        let mut event_bytes = Vec::new();
        let mut skipped_bytes = Vec::new();
        loop {
            event_bytes.clear();
            let event = reader
                .read_event_into(&mut event_bytes)
                .map_err(|e| failed(&reader, e))?;
            match event {
                Event::Start(tag) if ANNOTATIONS.contains(&tag.local_name().as_ref()) => {
                    reader
                        .read_to_end_into(tag.name(), &mut skipped_bytes)
                        .map_err(|e| failed(&reader, e))?;
                    skipped_bytes.clear();
                }
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
        metadata.resolve(&cursor.aliases)?;
        Ok(metadata)
    }

    /// Rewrites alias-qualified references to namespaces and merges base types into derived ones.
    fn resolve(&mut self, aliases: &HashMap<String, String>) -> Result<(), CsdlError> {
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
        self.merge_base_types()
    }

    /// Gives each derived type its ancestors' key (when it has none) and properties (its own win), in
    /// time linear in what it produces: each type is merged once, after its base, so no chain is walked
    /// twice. A chain that comes back to a type is an error, as is one past [`MAX_INHERITANCE`].
    fn merge_base_types(&mut self) -> Result<(), CsdlError> {
        let base_of = |types: &HashMap<String, EntityType>, name: &str| {
            types
                .get(name)
                .and_then(|t| t.base_type.clone())
                .filter(|b| types.contains_key(b))
        };
        let mut merged: HashSet<String> = HashSet::new();
        let names: Vec<String> = self.entity_types.keys().cloned().collect();
        for name in names {
            // The chain up to the first type already merged (or a root), nearest first.
            let mut chain = Vec::new();
            let mut seen = HashSet::new();
            let mut at = Some(name.clone());
            while let Some(current) = at.filter(|c| !merged.contains(c)) {
                if !seen.insert(current.clone()) {
                    return Err(CsdlError::BaseTypeCycle {
                        entity_type: current,
                    });
                }
                if chain.len() > MAX_INHERITANCE {
                    return Err(CsdlError::TooDeep { entity_type: name });
                }
                at = base_of(&self.entity_types, &current);
                chain.push(current);
            }
            for current in chain.into_iter().rev() {
                if let Some(base) = base_of(&self.entity_types, &current) {
                    let (key, properties) = {
                        let base = &self.entity_types[&base];
                        (base.key.clone(), base.properties.clone())
                    };
                    let t = self
                        .entity_types
                        .get_mut(&current)
                        .expect("the chain holds known types");
                    if t.key.is_empty() {
                        t.key = key;
                    }
                    let own = std::mem::take(&mut t.properties);
                    let overridden: HashSet<&str> = own.iter().map(|p| p.name.as_str()).collect();
                    let mut all: Vec<Property> = properties
                        .into_iter()
                        .filter(|p| !overridden.contains(p.name.as_str()))
                        .collect();
                    all.extend(own);
                    t.properties = all;
                }
                merged.insert(current);
            }
        }
        Ok(())
    }
}

/// A reading error, where it happened: the source's own (not UTF-8, a failed read) or the XML's.
fn failed<R>(reader: &Reader<R>, error: quick_xml::Error) -> CsdlError {
    let position = reader.buffer_position();
    match error {
        quick_xml::Error::Io(e) => CsdlError::Unreadable {
            position,
            message: e.to_string(),
        },
        e => CsdlError::Xml {
            position,
            message: e.to_string(),
        },
    }
}

/// A parse's result from its blocking thread (which stops early only when the runtime shuts down).
fn joined(
    result: Result<Result<Metadata, CsdlError>, tokio::task::JoinError>,
) -> Result<Metadata, CsdlError> {
    result.unwrap_or_else(|e| {
        Err(CsdlError::Unreadable {
            position: 0,
            message: format!("reading $metadata stopped: {e}"),
        })
    })
}

/// The attributes Ferry reads, from one walk over a tag's attributes (the first of a repeated name
/// wins). Looking each name up with its own walk, with quick-xml's duplicate check, cost time
/// quadratic in a tag's attributes (RUSTSEC-2026-0194): an 870 KB tag took a minute.
struct Attrs {
    values: Vec<(&'static str, String)>,
}

/// Every attribute name any tag is read for.
const READ: &[&str] = &[
    "Name",
    "Type",
    "Nullable",
    "MaxLength",
    "Precision",
    "Scale",
    "Namespace",
    "Alias",
    "BaseType",
    "ContainsTarget",
    "IsFlags",
    "Value",
    "EntityType",
];

impl Attrs {
    fn of(tag: &BytesStart<'_>) -> Attrs {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        for attribute in tag.attributes().with_checks(false).flatten() {
            let key = attribute.key.local_name();
            let Some(name) = READ.iter().find(|n| **n == key.as_ref()) else {
                continue;
            };
            if values.iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Ok(value) = attribute.normalized_value(XmlVersion::Implicit1_0) {
                values.push((name, value.into_owned()));
            }
        }
        Attrs { values }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        self.get(name).map_or(default, |v| v == "true")
    }
}

fn open(tag: &BytesStart<'_>, empty: bool, metadata: &mut Metadata, c: &mut Cursor) {
    let local = tag.local_name();
    let element = local.as_ref();
    if !matches!(
        element,
        "Schema"
            | "EntityType"
            | "PropertyRef"
            | "Property"
            | "NavigationProperty"
            | "EnumType"
            | "Member"
            | "EntitySet"
    ) {
        if element == "Key" && !empty {
            c.in_key = true;
        }
        return;
    }
    let a = Attrs::of(tag);
    match element {
        "Schema" => {
            c.namespace = a.get("Namespace").unwrap_or_default();
            if let Some(alias) = a.get("Alias") {
                c.aliases.insert(alias, c.namespace.clone());
            }
        }
        "EntityType" => {
            let entity = EntityType {
                name: a.get("Name").unwrap_or_default(),
                namespace: c.namespace.clone(),
                base_type: a.get("BaseType"),
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
        "PropertyRef" if c.in_key => {
            if let (Some(entity), Some(name)) = (c.entity.as_mut(), a.get("Name")) {
                entity.key.push(name);
            }
        }
        "Property" => {
            if let Some(entity) = c.entity.as_mut() {
                entity.properties.push(Property {
                    name: a.get("Name").unwrap_or_default(),
                    edm_type: a.get("Type").unwrap_or_default(),
                    nullable: a.flag("Nullable", true),
                    max_length: a.number("MaxLength"),
                    precision: a.number("Precision"),
                    scale: a.number("Scale"),
                });
            }
        }
        "NavigationProperty" => {
            if let Some(entity) = c.entity.as_mut() {
                let declared = a.get("Type").unwrap_or_default();
                let (target, collection) = match declared
                    .strip_prefix("Collection(")
                    .and_then(|t| t.strip_suffix(')'))
                {
                    Some(inner) => (inner.to_string(), true),
                    None => (declared, false),
                };
                entity.navigation.push(NavigationProperty {
                    name: a.get("Name").unwrap_or_default(),
                    target,
                    collection,
                    nullable: a.flag("Nullable", true),
                    contains_target: a.flag("ContainsTarget", false),
                });
            }
        }
        "EnumType" => {
            let enumeration = EnumType {
                name: a.get("Name").unwrap_or_default(),
                namespace: c.namespace.clone(),
                is_flags: a.flag("IsFlags", false),
                members: Vec::new(),
            };
            if empty {
                push_enum(metadata, enumeration);
            } else {
                c.enumeration = Some(enumeration);
            }
        }
        "Member" => {
            if let (Some(enumeration), Some(name)) = (c.enumeration.as_mut(), a.get("Name")) {
                enumeration.members.push((name, a.number("Value")));
            }
        }
        "EntitySet" => {
            if let (Some(name), Some(entity_type)) = (a.get("Name"), a.get("EntityType")) {
                metadata
                    .entity_sets
                    .insert(name.clone(), entity_type.clone());
                metadata.sets.push(EntitySet { name, entity_type });
            }
        }
        _ => {}
    }
}

fn close(name: &str, metadata: &mut Metadata, c: &mut Cursor) {
    match name {
        "EntityType" => {
            if let Some(t) = c.entity.take() {
                metadata.entity_types.insert(t.qualified_name(), t);
            }
        }
        "EnumType" => {
            if let Some(e) = c.enumeration.take() {
                push_enum(metadata, e);
            }
        }
        "Key" => c.in_key = false,
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
mod tests;
