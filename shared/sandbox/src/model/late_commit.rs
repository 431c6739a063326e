//! Late commits (ARCHITECTURE.md, "Late commits"): BC takes a row's version when the row is written, not when its
//! transaction commits, so a slow transaction can become visible *after* rows with higher versions
//! were already read. A held mutation reproduces that: its rows take versions now and appear only
//! on release, below versions that became visible meanwhile. A reader without an overlap window
//! misses them; that is the bug Ferry's overlap exists to prevent.

use serde::Serialize;

use super::mutate::{MutateError, MutateRequest, MutateResponse};
use super::store::Store;

/// A mutation whose inserts and updates are not visible yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldMutation {
    /// Pass to release (`POST /_sandbox/release {"hold_id"}`).
    pub hold_id: u64,
    #[serde(flatten)]
    pub response: MutateResponse,
    /// The row versions the held rows took (ascending).
    pub versions: Vec<i64>,
}

impl Store {
    /// Like `mutate`, but inserted and updated rows stay invisible until `release`.
    pub fn mutate_held(&mut self, req: &MutateRequest) -> Result<HeldMutation, MutateError> {
        let (response, rows) = self.mutate_inner(req, true)?;
        let t = self
            .table_index(&req.entity)
            .ok_or_else(|| MutateError::UnknownEntity(req.entity.clone()))?;
        let table = &self.tables[t];
        let mut versions: Vec<i64> = rows.iter().filter_map(|r| table.version_of(r)).collect();
        versions.sort_unstable();
        let name = table.schema.name;
        let hold_id = self.next_hold;
        self.next_hold += 1;
        self.held
            .insert(hold_id, rows.into_iter().map(|r| (name, r)).collect());
        Ok(HeldMutation {
            hold_id,
            response,
            versions,
        })
    }

    /// Commits held mutations (`None`: all of them); returns the ids released. Unknown ids are
    /// ignored, so releasing twice is harmless.
    pub fn release(&mut self, hold_id: Option<u64>) -> Vec<u64> {
        let ids: Vec<u64> = match hold_id {
            Some(id) => self
                .held
                .contains_key(&id)
                .then_some(id)
                .into_iter()
                .collect(),
            None => self.held.keys().copied().collect(),
        };
        for id in &ids {
            for (entity, row) in self.held.remove(id).unwrap_or_default() {
                if let Some(t) = self.table_index(entity) {
                    self.tables[t].publish(row);
                }
            }
        }
        ids
    }
}
