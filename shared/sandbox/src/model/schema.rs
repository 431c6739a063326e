//! Entity schemas: the single description of an entity that storage, `$metadata`, `$filter` binding,
//! `$select` and serialization all read, so they cannot disagree.

/// The Edm types the sandbox emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdmType {
    String,
    Guid,
    Int32,
    Int64,
    Decimal,
    Boolean,
    DateTimeOffset,
    Date,
}

impl EdmType {
    pub fn name(self) -> &'static str {
        match self {
            EdmType::String => "Edm.String",
            EdmType::Guid => "Edm.Guid",
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::Decimal => "Edm.Decimal",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
            EdmType::Date => "Edm.Date",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, EdmType::Int32 | EdmType::Int64 | EdmType::Decimal)
    }
}

/// Which BC API publishes an entity: each has its own service root and `$metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The Resco extension: `/api/Resco/RescoIntegrations/v2.0`.
    Resco,
    /// BC's standard API: `/api/v2.0`.
    Standard,
    /// Dataverse's Web API: `/api/data/v9.2` (namespace `Microsoft.Dynamics.CRM`).
    Dataverse,
}

/// An AL enum as `$metadata` declares it (`<EnumType>`). Values travel as member names, and
/// `$filter` compares them as strings, as BC accepts.
#[derive(Debug)]
pub struct EnumDef {
    pub name: &'static str,
    pub members: &'static [&'static str],
}

/// What the store does with a field beyond holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ordinary business data, produced by the entity's generator.
    Data,
    /// BC's SystemId (`id`): a GUID assigned on insert.
    SystemId,
    /// Set to the write time on every insert/update.
    ModifiedAt,
    /// Takes the next value of the global row-version counter on every insert/update.
    RowVersion,
    /// Set to the write time when the row is created (Dataverse's `createdon`), then kept.
    CreatedAt,
}

#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub edm: EdmType,
    pub max_length: Option<u32>,
    pub nullable: bool,
    pub role: Role,
    /// The entity whose key this field holds (a lookup); cleared when the referenced row is deleted.
    pub references: Option<&'static str>,
    /// Dropped by a schema change (`POST /_sandbox/schema`): still stored, so generators keep
    /// their column positions, but invisible to `$metadata`, responses and query options.
    pub hidden: bool,
    /// Set for enum fields (stored and filtered as `Edm.String`).
    pub enumeration: Option<&'static EnumDef>,
}

impl FieldDef {
    /// A BC Text/Code field: never null (BC returns "" for empty text).
    pub const fn text(name: &'static str, max_length: u32) -> Self {
        Self {
            name,
            edm: EdmType::String,
            max_length: Some(max_length),
            nullable: false,
            role: Role::Data,
            references: None,
            hidden: false,
            enumeration: None,
        }
    }

    pub const fn lookup(name: &'static str, max_length: u32, entity: &'static str) -> Self {
        Self {
            references: Some(entity),
            ..Self::text(name, max_length)
        }
    }

    /// A nullable-free scalar of type `edm` (BC never returns null for Decimal, Integer, Boolean or
    /// Date fields: it returns 0, false or 0001-01-01).
    pub const fn scalar(name: &'static str, edm: EdmType) -> Self {
        Self {
            edm,
            max_length: None,
            ..Self::text(name, 0)
        }
    }

    pub const fn decimal(name: &'static str) -> Self {
        Self::scalar(name, EdmType::Decimal)
    }

    pub const fn enumeration(name: &'static str, def: &'static EnumDef) -> Self {
        Self {
            max_length: None,
            enumeration: Some(def),
            ..Self::text(name, 0)
        }
    }

    /// A GUID data field that is not BC's SystemId (keys and references on the standard API).
    pub const fn guid(name: &'static str) -> Self {
        Self::scalar(name, EdmType::Guid)
    }

    /// A row version the API does not expose (the standard API): it still drives ETags and
    /// `Sandbox` bookkeeping, but `$metadata`, responses and queries never see it.
    pub const fn hidden_row_version() -> Self {
        Self {
            hidden: true,
            ..Self::row_version("$rowVersion")
        }
    }

    /// The same field under another name (ODataV4 pages name a table's fields their own way).
    pub const fn renamed(self, name: &'static str) -> Self {
        Self { name, ..self }
    }

    /// The same field, not shown (a page that does not carry it).
    pub const fn hide(self) -> Self {
        Self {
            hidden: true,
            ..self
        }
    }

    /// The same field without its enum type (ODataV4 pages type enums as `Edm.String`).
    pub const fn plain(self) -> Self {
        Self {
            enumeration: None,
            ..self
        }
    }

    /// The same field, nullable (Dataverse columns are null until set, unlike BC's).
    pub const fn nullable(self) -> Self {
        Self {
            nullable: true,
            ..self
        }
    }

    /// A column the store stamps with the creation time.
    pub const fn created_at(name: &'static str) -> Self {
        Self {
            role: Role::CreatedAt,
            ..Self::modified_at(name)
        }
    }

    pub const fn system_id(name: &'static str) -> Self {
        Self {
            name,
            edm: EdmType::Guid,
            max_length: None,
            nullable: false,
            role: Role::SystemId,
            references: None,
            hidden: false,
            enumeration: None,
        }
    }

    pub const fn modified_at(name: &'static str) -> Self {
        Self {
            name,
            edm: EdmType::DateTimeOffset,
            max_length: None,
            nullable: true,
            role: Role::ModifiedAt,
            references: None,
            hidden: false,
            enumeration: None,
        }
    }

    pub const fn row_version(name: &'static str) -> Self {
        Self {
            name,
            edm: EdmType::Int64,
            max_length: None,
            nullable: true,
            role: Role::RowVersion,
            references: None,
            hidden: false,
            enumeration: None,
        }
    }
}

#[derive(Debug)]
pub struct EntitySchema {
    /// Entity set name (the Resco pages use it for the entity type too).
    pub name: &'static str,
    /// Entity type name in `$metadata` (the standard API names types in the singular).
    pub type_name: &'static str,
    pub api: Api,
    /// Key fields, in key order.
    pub key: &'static [&'static str],
    /// Fields in the order BC serializes them.
    pub fields: &'static [FieldDef],
}

impl EntitySchema {
    /// The position of a visible field.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name && !f.hidden)
    }

    pub fn key_indices(&self) -> Vec<usize> {
        self.key.iter().filter_map(|k| self.index_of(k)).collect()
    }

    pub fn role_index(&self, role: Role) -> Option<usize> {
        self.fields.iter().position(|f| f.role == role)
    }

    /// The qualified type name used in `$metadata` and in error messages.
    pub fn type_name(&self) -> String {
        match self.api {
            Api::Dataverse => format!("Microsoft.Dynamics.CRM.{}", self.type_name),
            Api::Resco | Api::Standard => format!("Microsoft.NAV.{}", self.type_name),
        }
    }
}
