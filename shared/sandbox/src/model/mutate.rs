//! `POST /_sandbox/mutate`: random inserts, updates and deletes, so tests can exercise deltas.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::generate::RefPicker;
use super::rng::Rng;
use super::store::{Row, Store, Table};
use super::value::Value;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MutateRequest {
    pub entity: String,
    #[serde(default)]
    pub insert: usize,
    #[serde(default)]
    pub update: usize,
    #[serde(default)]
    pub delete: usize,
}

/// The keys (`No`) touched, per kind. Updated and deleted rows are disjoint and pre-existing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MutateResponse {
    pub inserted: Vec<String>,
    pub updated: Vec<String>,
    pub deleted: Vec<String>,
}

#[derive(Debug)]
pub enum MutateError {
    UnknownEntity(String),
}

impl std::fmt::Display for MutateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MutateError::UnknownEntity(e) => write!(f, "unknown entity '{e}'"),
        }
    }
}

impl std::error::Error for MutateError {}

/// Picks random existing rows of other tables (for lookups of inserted/updated rows).
struct LiveRefs<'a> {
    tables: &'a [Table],
}

impl RefPicker for LiveRefs<'_> {
    /// Probes the key sequence for a row that still exists.
    fn pick_seq(&mut self, entity: &str, rng: &mut Rng) -> Option<u64> {
        let table = self.tables.iter().find(|t| t.schema.name == entity)?;
        let max_seq = table.next_seq.checked_sub(1).filter(|m| *m > 0)?;
        (0..20)
            .map(|_| rng.range(1, max_seq))
            .find(|seq| table.rows.contains_key(&table.generator.key(*seq)))
    }

    fn pick(&mut self, entity: &str, rng: &mut Rng) -> Option<Arc<str>> {
        let table = self.tables.iter().find(|t| t.schema.name == entity)?;
        let key = random_keys(table, rng, 1, &BTreeSet::new()).pop()?;
        key.first().and_then(|v| v.as_str()).map(Arc::from)
    }
}

/// Up to `n` distinct random existing keys not in `exclude`. Probes the key sequence (cheap at a
/// million rows) and falls back to listing the keys when the table is sparse or nearly exhausted.
fn random_keys(
    table: &Table,
    rng: &mut Rng,
    n: usize,
    exclude: &BTreeSet<Vec<Value>>,
) -> Vec<Vec<Value>> {
    let available = table.rows.len().saturating_sub(exclude.len());
    let n = n.min(available);
    let mut chosen: BTreeSet<Vec<Value>> = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    let max_seq = table.next_seq.saturating_sub(1);
    if max_seq > 0 && n * 2 <= available {
        for _ in 0..n * 20 {
            if out.len() == n {
                return out;
            }
            let key = table.generator.key(rng.range(1, max_seq));
            if table.rows.contains_key(&key)
                && !exclude.contains(&key)
                && chosen.insert(key.clone())
            {
                out.push(key);
            }
        }
    }
    let mut rest: Vec<&Vec<Value>> = table
        .rows
        .keys()
        .filter(|k| !exclude.contains(*k) && !chosen.contains(*k))
        .collect();
    while out.len() < n && !rest.is_empty() {
        let i = rng.below(rest.len() as u64) as usize;
        out.push(rest.swap_remove(i).clone());
    }
    out
}

fn key_text(key: &[Value]) -> String {
    key.iter()
        .map(|v| match v {
            Value::Str(s) => s.to_string(),
            other => serde_json::Value::from(other)
                .to_string()
                .trim_matches('"')
                .to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    pub fn mutate(&mut self, req: &MutateRequest) -> Result<MutateResponse, MutateError> {
        self.mutate_inner(req, false).map(|(response, _)| response)
    }

    /// Runs a mutation. With `hold`, inserted and updated rows take their versions now but are
    /// returned instead of published (deletes always apply at once: they carry no version).
    pub(super) fn mutate_inner(
        &mut self,
        req: &MutateRequest,
        hold: bool,
    ) -> Result<(MutateResponse, Vec<Row>), MutateError> {
        let mut held = Vec::new();
        let t = self
            .table_index(&req.entity)
            .ok_or_else(|| MutateError::UnknownEntity(req.entity.clone()))?;
        let mut rng = self.rng.clone();
        let mut id_rng = self.id_rng.clone();

        // Choose the victims first, from rows that existed before this call, disjointly.
        let picked = random_keys(
            &self.tables[t],
            &mut rng,
            req.update + req.delete,
            &BTreeSet::new(),
        );
        let split = req.update.min(picked.len());
        let (to_update, to_delete) = picked.split_at(split);

        // Compute new contents against a consistent snapshot, then apply.
        let mut updates = Vec::with_capacity(to_update.len());
        let mut inserts = Vec::with_capacity(req.insert);
        {
            let table = &self.tables[t];
            let mut refs = LiveRefs {
                tables: &self.tables,
            };
            for key in to_update {
                if let Some(row) = table.rows.get(key) {
                    let mut row = row.to_vec();
                    table.generator.update(&mut row, &mut rng, &mut refs);
                    updates.push(row);
                }
            }
            for i in 0..req.insert as u64 {
                let mut row = table
                    .generator
                    .new_row(table.next_seq + i, &mut rng, &mut refs);
                if let Some(idx) = self.id_index(t) {
                    row[idx] = Value::Guid(id_rng.uuid());
                }
                inserts.push(row);
            }
        }
        self.rng = rng;
        self.id_rng = id_rng;

        let mut response = MutateResponse::default();
        for row in updates {
            response
                .updated
                .push(key_text(&self.tables[t].key_of(&row)));
            let at = self.now();
            let row = self.stamp(t, row, at);
            if hold {
                held.push(row);
            } else {
                self.tables[t].publish(row);
            }
        }
        let mut deleted = BTreeSet::new();
        for key in to_delete {
            if self.tables[t].remove(key).is_some() {
                self.tombstone(t, key.clone());
                response.deleted.push(key_text(key));
                deleted.insert(key.clone());
            }
        }
        self.clear_references(t, &deleted);
        self.tables[t].next_seq += inserts.len() as u64;
        for row in inserts {
            response
                .inserted
                .push(key_text(&self.tables[t].key_of(&row)));
            let at = self.now();
            let row = self.stamp(t, row, at);
            if hold {
                held.push(row);
            } else {
                self.tables[t].publish(row);
            }
        }
        Ok((response, held))
    }

    /// BC removes business relations / primary-contact links when their target is deleted; lookups
    /// pointing at deleted rows are blanked (a modification, so they get a new row version).
    fn clear_references(&mut self, target: usize, deleted: &BTreeSet<Vec<Value>>) {
        if deleted.is_empty() {
            return;
        }
        let target_name = self.tables[target].schema.name;
        let deleted_single: BTreeSet<&Value> = deleted.iter().filter_map(|k| k.first()).collect();
        for t in 0..self.tables.len() {
            let table = &self.tables[t];
            let fields: Vec<usize> = (0..table.schema.fields.len())
                .filter(|&i| table.schema.fields[i].references == Some(target_name))
                .collect();
            if fields.is_empty() {
                continue;
            }
            let mut changed = Vec::new();
            for row in table.rows.values() {
                if fields.iter().any(|&f| deleted_single.contains(&row[f])) {
                    let mut new_row = row.to_vec();
                    for &f in &fields {
                        if deleted_single.contains(&new_row[f]) {
                            // A Dataverse lookup becomes null; a BC code field becomes "".
                            new_row[f] = if table.schema.fields[f].nullable {
                                Value::Null
                            } else {
                                Value::interned("")
                            };
                            table.generator.reference_cleared(&mut new_row, f);
                        }
                    }
                    changed.push(new_row);
                }
            }
            for row in changed {
                let at = self.now();
                self.write(t, row, at);
            }
        }
    }
}
