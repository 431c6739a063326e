//! What runs of an integration have read from its source: the evidence that lets a check say a field
//! "no longer exists" (it was read, and is gone: drift) rather than "does not exist" (a mistake in
//! the definition that no run ever got past).

use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::source::usages;
use crate::definitions::IntegrationDef;
use crate::runs::RunState;
use crate::storage::entities::{integration, run};

/// The entities and source fields a finished run of the integration read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadBefore {
    pub entities: HashSet<String>,
    pub fields: HashSet<(String, String)>,
}

impl ReadBefore {
    pub fn entity(&self, entity: &str) -> bool {
        self.entities.contains(entity)
    }

    pub fn field(&self, entity: &str, field: &str) -> bool {
        self.fields
            .contains(&(entity.to_string(), field.to_string()))
    }
}

/// What the versions of `integration` that a run finished (`succeeded` or `partial`) read: a run
/// selects every field its definition uses, so each of them existed then.
pub async fn read_before(
    db: &impl ConnectionTrait,
    integration: &str,
) -> Result<ReadBefore, DbErr> {
    let versions: Vec<i32> = run::Entity::find()
        .select_only()
        .column(run::Column::DefinitionVersion)
        .distinct()
        .filter(run::Column::Integration.eq(integration))
        .filter(
            run::Column::State.is_in([RunState::Succeeded.as_str(), RunState::Partial.as_str()]),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut read = ReadBefore::default();
    if versions.is_empty() {
        return Ok(read);
    }
    let definitions: Vec<String> = integration::Entity::find()
        .select_only()
        .column(integration::Column::Definition)
        .filter(integration::Column::Name.eq(integration))
        .filter(integration::Column::Version.is_in(versions))
        .into_tuple()
        .all(db)
        .await?;
    for text in definitions {
        let Ok(def) = serde_json::from_str::<IntegrationDef>(&text) else {
            continue;
        };
        for (field, _) in usages(&def) {
            read.fields.insert((def.source.entity.clone(), field));
        }
        read.entities.insert(def.source.entity);
    }
    Ok(read)
}
