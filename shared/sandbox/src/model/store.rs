//! In-memory tables with a key index and a row-version index, and the global row-version counter.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::catalog;
use super::generate::{Generator, InitialRefs};
use super::rng::Rng;
use super::schema::{EntitySchema, Role};
use super::value::Value;
use crate::config::SandboxConfig;

/// A row's cells in schema order. Shared (`Arc`) between both indexes and with in-flight responses,
/// so a page can be cloned out of the lock cheaply and serialized after releasing it.
pub type Row = Arc<[Value]>;

/// One entity's rows.
#[derive(Debug)]
pub struct Table {
    pub generator: Arc<dyn Generator>,
    pub schema: &'static EntitySchema,
    pub key_idx: Vec<usize>,
    pub version_idx: Option<usize>,
    id_idx: Option<usize>,
    modified_idx: Option<usize>,
    created_idx: Option<usize>,
    /// Deleted keys with the row version their deletion took, oldest first: what Dataverse's
    /// change tracking reports as `$deletedEntity` ("Use change tracking to synchronize data with
    /// external systems"). Only tables with `Api::Dataverse` keep them.
    pub tombstones: Vec<(i64, Vec<Value>)>,
    /// Rows by key: the default order and the `$orderby=<key>` keyset walk.
    pub rows: BTreeMap<Vec<Value>, Row>,
    /// Rows by row version: the common delta query (`RowVersionNumber gt X`, ordered by version)
    /// walks this instead of scanning and sorting.
    pub by_version: BTreeMap<i64, Row>,
    /// The sequence number the next insert gets (keys continue the generated sequence).
    pub next_seq: u64,
}

impl Table {
    /// A table of fixed rows outside the store (the companies), with no row versions.
    pub fn fixed(generator: Arc<dyn Generator>, count: u64) -> Self {
        let mut table = Self::new(generator);
        let mut rng = Rng::new(0);
        let mut refs = InitialRefs {
            counts: &[],
            generators: &[],
        };
        for seq in 1..=count {
            let row: Row = table.generator.new_row(seq, &mut rng, &mut refs).into();
            table.rows.insert(table.key_of(&row), row);
        }
        table.next_seq = count + 1;
        table
    }

    fn new(generator: Arc<dyn Generator>) -> Self {
        let schema = generator.schema();
        Self {
            generator,
            schema,
            key_idx: schema.key_indices(),
            version_idx: schema.role_index(Role::RowVersion),
            id_idx: schema.role_index(Role::SystemId),
            modified_idx: schema.role_index(Role::ModifiedAt),
            created_idx: schema.role_index(Role::CreatedAt),
            tombstones: Vec::new(),
            rows: BTreeMap::new(),
            by_version: BTreeMap::new(),
            next_seq: 1,
        }
    }

    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key_idx.iter().map(|&i| row[i].clone()).collect()
    }

    pub fn version_of(&self, row: &[Value]) -> Option<i64> {
        self.version_idx.and_then(|i| row[i].as_i64())
    }

    /// Makes a stamped row visible, replacing the current row with its key, unless that one carries
    /// a later version (a late commit whose row was rewritten meanwhile: the later write wins).
    pub fn publish(&mut self, row: Row) {
        let key = self.key_of(&row);
        let newer_exists = self
            .rows
            .get(&key)
            .and_then(|current| self.version_of(current))
            .zip(self.version_of(&row))
            .is_some_and(|(current, new)| current > new);
        if newer_exists {
            return;
        }
        self.remove(&key);
        if let Some(v) = self.version_of(&row) {
            self.by_version.insert(v, row.clone());
        }
        self.rows.insert(key, row);
    }

    pub fn remove(&mut self, key: &[Value]) -> Option<Row> {
        let row = self.rows.remove(key)?;
        if let Some(v) = self.version_of(&row) {
            self.by_version.remove(&v);
        }
        Some(row)
    }
}

/// All tables plus the counters shared across them.
#[derive(Debug)]
pub struct Store {
    pub tables: Vec<Table>,
    /// Like SQL rowversion: one counter for every table; each write takes the next value.
    next_version: i64,
    /// The last SystemModifiedAt handed out, so modification times never go backwards.
    clock: DateTime<Utc>,
    /// The stream mutations draw from; it advances across calls, so successive mutations differ.
    pub(super) rng: Rng,
    /// GUID seed stream for inserted rows' SystemIds.
    pub(super) id_rng: Rng,
    /// Late commits: rows that already took their row version but are not visible yet, by hold id
    /// (ARCHITECTURE.md, "Late commits"). Entity names, not table positions, since entities can be dropped meanwhile.
    pub(super) held: BTreeMap<u64, Vec<(&'static str, Row)>>,
    pub(super) next_hold: u64,
    /// Dataverse delta tokens naming a version at or below this are expired (`POST
    /// /_sandbox/dataverse/expire_tokens`).
    delta_expired_through: i64,
}

/// Where generated row versions start: an arbitrary, realistic-looking SQL timestamp value.
const FIRST_VERSION: i64 = 100_001;

impl Store {
    /// Generates every entity deterministically from `config.seed`.
    pub fn generate(config: &SandboxConfig) -> Self {
        let entities = catalog::entities(config);
        let generators: Vec<Arc<dyn Generator>> = entities.iter().map(|(g, _)| g.clone()).collect();
        let counts: Vec<(&'static str, u64)> = entities
            .iter()
            .map(|(g, n)| (g.schema().name, *n))
            .collect();
        let base = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut store = Store {
            tables: generators.iter().cloned().map(Table::new).collect(),
            next_version: FIRST_VERSION,
            clock: base,
            rng: Rng::derive(config.seed, "mutate"),
            id_rng: Rng::derive(config.seed, "mutate-ids"),
            held: BTreeMap::new(),
            next_hold: 1,
            delta_expired_through: 0,
        };
        let mut refs = InitialRefs {
            counts: &counts,
            generators: &generators,
        };
        for (t, (_, count)) in counts.iter().enumerate() {
            let mut rng = Rng::derive(config.seed, store.tables[t].schema.name);
            for seq in 1..=*count {
                let mut row = store.tables[t].generator.new_row(seq, &mut rng, &mut refs);
                if let Some(i) = store.tables[t].id_idx {
                    row[i] = Value::Guid(rng.uuid());
                }
                store.clock += Duration::milliseconds(rng.range(1, 20_000) as i64);
                let at = store.clock;
                store.write(t, row, at);
            }
            store.tables[t].next_seq = count + 1;
        }
        store
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.schema.name == name)
    }

    pub fn table_index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.schema.name == name)
    }

    /// A modification time for a write happening now: wall clock, but strictly after the previous
    /// one (millisecond precision, as BC stores it).
    pub(super) fn now(&mut self) -> DateTime<Utc> {
        let wall = Utc::now();
        let wall = DateTime::from_timestamp_millis(wall.timestamp_millis()).unwrap_or(wall);
        self.clock = wall.max(self.clock + Duration::milliseconds(1));
        self.clock
    }

    /// Inserts or replaces a row, stamping its row version and modification time.
    pub(super) fn write(&mut self, t: usize, row: Vec<Value>, at: DateTime<Utc>) {
        let row = self.stamp(t, row, at);
        self.tables[t].publish(row);
    }

    /// Takes the next row version for `row` (and its modification time) without making it visible:
    /// the moment a SQL rowversion is assigned, before the transaction commits.
    pub(super) fn stamp(&mut self, t: usize, mut row: Vec<Value>, at: DateTime<Utc>) -> Row {
        let version = self.next_version;
        self.next_version += 1;
        let table = &self.tables[t];
        if let Some(i) = table.version_idx {
            row[i] = Value::Int(version);
        }
        if let Some(i) = table.modified_idx {
            row[i] = Value::DateTime(at);
        }
        if let Some(i) = table.created_idx
            && row[i] == Value::Null
        {
            row[i] = Value::DateTime(at);
        }
        row.into()
    }

    /// The version the next write takes; a Dataverse change-tracking token names this point.
    pub fn next_version(&self) -> i64 {
        self.next_version
    }

    /// Makes every Dataverse delta token issued so far expired (as if its retention period had
    /// passed). Consumes one version so tokens issued afterwards name a later one.
    pub fn expire_delta_tokens(&mut self) {
        self.delta_expired_through = self.next_version;
        self.next_version += 1;
    }

    /// Whether a delta token naming `version` was expired by [`Store::expire_delta_tokens`].
    pub fn delta_token_expired(&self, version: i64) -> bool {
        version <= self.delta_expired_through
    }

    /// Records a deletion from table `t` for change tracking (Dataverse tables only): a delete
    /// takes a row version like any write, as SQL change tracking versions deletes.
    pub(super) fn tombstone(&mut self, t: usize, key: Vec<Value>) {
        if self.tables[t].schema.api != super::schema::Api::Dataverse {
            return;
        }
        let version = self.next_version;
        self.next_version += 1;
        self.tables[t].tombstones.push((version, key));
    }

    pub(super) fn id_index(&self, t: usize) -> Option<usize> {
        self.tables[t].id_idx
    }
}
