//! The editor's draft: what its form holds, made from an entity set's suggestions, a stored
//! integration or what the browser posted, and turned into the definition `apply` stores.

use ferry_shared::definitions::IntegrationDef;
use ferry_shared::odata::catalog::CatalogSet;
use serde_json::{Value, json};

use super::super::apply_text::FieldError;
use super::super::automatch::{self, column_name};

/// Lookup rows a form carries at most (the stored ones and one to add).
pub(super) const MAX_LOOKUPS: usize = 500;

/// Transforms the editor offers; others (inline tables, chains) are kept when already defined.
pub(super) const TRANSFORMS: [&str; 4] = ["", "lower", "upper", "trim"];

/// One source field in the editor.
#[derive(Debug, Clone, Default)]
pub(super) struct Row {
    pub(super) from: String,
    pub(super) edm_type: String,
    pub(super) include: bool,
    pub(super) to: String,
    pub(super) transform: String,
    pub(super) export: bool,
    /// The existing column's type, when the table has it.
    pub(super) column_type: Option<String>,
    /// Mapped, but the source no longer has it (drift).
    pub(super) gone: bool,
    /// The existing column of its name cannot take its values, so it is not mapped by default.
    pub(super) type_differs: bool,
}

/// One lookup in the editor: `to` is filled from `table`'s `select` column, on the row whose `match`
/// columns equal the source fields `from`.
#[derive(Debug, Clone, Default)]
pub(super) struct LookupRow {
    pub(super) to: String,
    pub(super) from: String,
    pub(super) table: String,
    pub(super) match_columns: String,
    pub(super) select: String,
    pub(super) missing: String,
}

impl LookupRow {
    pub(super) fn is_blank(&self) -> bool {
        self.to.is_empty() && self.table.is_empty() && self.from.is_empty()
    }
}

/// Everything the editor's form holds.
#[derive(Debug, Clone, Default)]
pub(super) struct Draft {
    pub(super) editing: Option<String>,
    /// The version the editor opened, so a save over a newer one is refused rather than lost.
    pub(super) version: Option<i32>,
    pub(super) name: String,
    pub(super) connection: String,
    pub(super) entity: String,
    pub(super) direction: String,
    pub(super) schedule: String,
    pub(super) key: String,
    /// `track`, or the name of the version field.
    pub(super) changes: String,
    pub(super) filter: String,
    pub(super) overlap: String,
    pub(super) table: String,
    pub(super) target_key: String,
    pub(super) create: bool,
    pub(super) conflict: String,
    pub(super) reconcile: bool,
    pub(super) rows: Vec<Row>,
    pub(super) lookups: Vec<LookupRow>,
}

pub(super) fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The change field a new integration of `set` reads by: a row-version field when there is one,
/// else the service's change tracking.
pub(super) fn default_changes(set: &CatalogSet) -> String {
    set.properties
        .iter()
        .find(|p| p.name.to_ascii_lowercase().contains("rowversion"))
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "track".into())
}

impl Draft {
    /// A new integration of `set` into `table`, fields auto-matched.
    pub(super) fn suggested(
        connection: &str,
        set: &CatalogSet,
        table: &str,
        columns: Option<&[(String, String)]>,
    ) -> Draft {
        let rows = automatch::suggest(&set.properties, columns, fits)
            .into_iter()
            .map(|s| Row {
                from: s.from,
                edm_type: s.edm_type,
                include: s.include,
                to: s.to,
                transform: String::new(),
                export: true,
                column_type: s.column_type,
                gone: false,
                type_differs: s.type_differs,
            })
            .collect::<Vec<_>>();
        let target_key: Vec<String> = set
            .key
            .iter()
            .map(|k| {
                rows.iter()
                    .find(|r| &r.from == k)
                    .map(|r| r.to.clone())
                    .unwrap_or_else(|| column_name(k))
            })
            .collect();
        Draft {
            editing: None,
            version: None,
            name: column_name(&set.name),
            connection: connection.into(),
            entity: set.name.clone(),
            direction: "import".into(),
            schedule: String::new(),
            key: set.key.join(", "),
            changes: default_changes(set),
            filter: String::new(),
            overlap: String::new(),
            table: table.into(),
            target_key: target_key.join(", "),
            create: columns.is_none(),
            conflict: "manual".into(),
            reconcile: false,
            rows,
            lookups: Vec::new(),
        }
    }

    /// A stored integration, with every field of its entity set offered (those it maps ticked).
    pub(super) fn of(def: &IntegrationDef, version: i32, set: Option<&CatalogSet>) -> Draft {
        let mut rows: Vec<Row> = def
            .fields
            .iter()
            .filter_map(|f| {
                let from = f.from.clone()?;
                let property = set.and_then(|s| s.properties.iter().find(|p| p.name == from));
                Some(Row {
                    gone: set.is_some() && property.is_none(),
                    type_differs: false,
                    edm_type: property.map(|p| p.edm_type.clone()).unwrap_or_default(),
                    from,
                    include: true,
                    to: f.to.clone(),
                    transform: f
                        .transform
                        .as_ref()
                        .and_then(|t| t.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    export: f.export,
                    column_type: None,
                })
            })
            .collect();
        if let Some(set) = set {
            for p in &set.properties {
                if !rows.iter().any(|r| r.from == p.name) {
                    rows.push(Row {
                        from: p.name.clone(),
                        edm_type: p.edm_type.clone(),
                        include: false,
                        to: column_name(&p.name),
                        transform: String::new(),
                        export: true,
                        column_type: None,
                        gone: false,
                        type_differs: false,
                    });
                }
            }
        }
        Draft {
            editing: Some(def.name.clone()),
            version: Some(version),
            name: def.name.clone(),
            connection: def.connection.clone(),
            entity: def.source.entity.clone(),
            direction: def.direction.as_str().into(),
            schedule: def.schedule.clone().unwrap_or_default(),
            key: def.source.key.join(", "),
            changes: if def.source.tracked() {
                "track".into()
            } else {
                def.source.change_field().0.to_string()
            },
            filter: def.source.filter.clone().unwrap_or_default(),
            overlap: def
                .source
                .overlap
                .map(|o| o.to_string())
                .unwrap_or_default(),
            table: def.target.table.clone(),
            target_key: def.target.key.join(", "),
            create: def.target.create,
            conflict: def.conflict_policy().as_str().into(),
            reconcile: def.deletes.is_some(),
            rows,
            lookups: def
                .lookups
                .iter()
                .map(|l| LookupRow {
                    to: l.to.clone(),
                    from: l.from.join(", "),
                    table: l.table.clone(),
                    match_columns: l.match_columns.join(", "),
                    select: l.select.clone(),
                    missing: l.missing.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// What the browser posted.
    pub(super) fn posted(pairs: &[(String, String)]) -> Draft {
        // The first value of each name, as a form sends one per field.
        let mut fields: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for (key, value) in pairs {
            fields.entry(key.as_str()).or_insert(value.as_str());
        }
        let get = |key: &str| fields.get(key).map(|v| v.to_string()).unwrap_or_default();
        let has = |key: &str| fields.contains_key(key);
        let mut rows = Vec::new();
        for i in 0.. {
            let from = get(&format!("f{i}.from"));
            if from.is_empty() {
                break;
            }
            rows.push(Row {
                from,
                edm_type: get(&format!("f{i}.type")),
                include: has(&format!("f{i}.include")),
                to: get(&format!("f{i}.to")).trim().to_string(),
                transform: get(&format!("f{i}.transform")),
                export: has(&format!("f{i}.export")),
                column_type: None,
                gone: false,
                type_differs: false,
            });
        }
        let mut lookups = Vec::new();
        for i in 0..MAX_LOOKUPS {
            let row = LookupRow {
                to: get(&format!("l{i}.to")).trim().into(),
                from: get(&format!("l{i}.from")),
                table: get(&format!("l{i}.table")).trim().into(),
                match_columns: get(&format!("l{i}.match")),
                select: get(&format!("l{i}.select")).trim().into(),
                missing: get(&format!("l{i}.missing")),
            };
            if !row.is_blank() {
                lookups.push(row);
            }
        }
        let editing = get("editing");
        Draft {
            editing: (!editing.is_empty()).then_some(editing),
            version: get("version").parse().ok(),
            name: get("name").trim().into(),
            connection: get("connection"),
            entity: get("entity"),
            direction: get("direction"),
            schedule: get("schedule").trim().into(),
            key: get("key"),
            changes: get("changes"),
            filter: get("filter").trim().into(),
            overlap: get("overlap").trim().into(),
            table: get("table").trim().into(),
            target_key: get("target_key"),
            create: has("create"),
            conflict: get("conflict"),
            reconcile: has("reconcile"),
            rows,
            lookups,
        }
    }

    /// The definition this draft stands for, on top of `base` (an edited integration keeps its
    /// constants, lookups and settings the editor does not show). Unparsable input is left for
    /// `apply` to name.
    pub(super) fn to_def(
        &self,
        base: Option<&IntegrationDef>,
    ) -> Result<IntegrationDef, serde_json::Error> {
        let mut fields: Vec<Value> = Vec::new();
        for row in self.rows.iter().filter(|r| r.include) {
            let kept = base.and_then(|b| {
                b.fields
                    .iter()
                    .find(|f| f.from.as_deref() == Some(&row.from))
            });
            let mut field = match kept {
                Some(f) => serde_json::to_value(f)?,
                None => json!({}),
            };
            field["from"] = json!(row.from);
            field["to"] = json!(row.to);
            let kept_complex = kept
                .and_then(|f| f.transform.as_ref())
                .is_some_and(|t| !t.is_str());
            if !kept_complex {
                match row.transform.as_str() {
                    "" => drop(field.as_object_mut().map(|o| o.remove("transform"))),
                    t => field["transform"] = json!(t),
                }
            }
            if row.export {
                field.as_object_mut().map(|o| o.remove("export"));
            } else {
                field["export"] = json!(false);
            }
            fields.push(field);
        }
        // Constants (no source field) are kept as they were.
        if let Some(base) = base {
            for f in base.fields.iter().filter(|f| f.from.is_none()) {
                fields.push(serde_json::to_value(f)?);
            }
        }
        let mut source = match base {
            Some(b) => serde_json::to_value(&b.source)?,
            None => json!({}),
        };
        source["entity"] = json!(self.entity);
        source["key"] = json!(list(&self.key));
        let object = source.as_object_mut().expect("a table");
        for stale in ["changes", "version", "modified", "filter", "overlap"] {
            object.remove(stale);
        }
        if self.changes == "track" {
            source["changes"] = json!("track");
        } else if base.is_some_and(|b| b.source.modified.as_deref() == Some(self.changes.as_str()))
        {
            source["modified"] = json!(self.changes);
        } else {
            source["version"] = json!(self.changes);
        }
        if !self.filter.is_empty() {
            source["filter"] = json!(self.filter);
        }
        if let Ok(overlap) = self.overlap.parse::<i64>() {
            source["overlap"] = json!(overlap);
        }
        let mut target = match base {
            Some(b) => serde_json::to_value(&b.target)?,
            None => json!({}),
        };
        target["table"] = json!(self.table);
        target["key"] = json!(list(&self.target_key));
        target["create"] = json!(self.create);
        let mut def = match base {
            Some(b) => serde_json::to_value(b)?,
            None => json!({}),
        };
        def["name"] = json!(self.name);
        def["connection"] = json!(self.connection);
        def["direction"] = json!(self.direction);
        def["source"] = source;
        def["target"] = target;
        def["fields"] = Value::Array(fields);
        let lookups: Vec<Value> = self
            .lookups
            .iter()
            .map(|l| {
                let mut lookup = json!({
                    "to": l.to,
                    "from": list(&l.from),
                    "table": l.table,
                    "match": list(&l.match_columns),
                    "select": l.select,
                });
                if !l.missing.is_empty() {
                    lookup["missing"] = json!(l.missing);
                }
                lookup
            })
            .collect();
        def["lookups"] = Value::Array(lookups);
        let object = def.as_object_mut().expect("a table");
        match self.schedule.as_str() {
            "" => drop(object.remove("schedule")),
            s => drop(object.insert("schedule".into(), json!(s))),
        }
        if self.direction == "bidirectional" {
            object.insert("conflict".into(), json!(self.conflict));
        } else {
            object.remove("conflict");
        }
        match (self.reconcile, base.and_then(|b| b.deletes.as_ref())) {
            (false, _) => drop(object.remove("deletes")),
            (true, Some(_)) => {}
            (true, None) => drop(object.insert("deletes".into(), json!({ "detect": "reconcile" }))),
        }
        serde_json::from_value(def)
    }
}

/// Errors of `apply` by the editor's field ids: `source.filter`, `schedule`, a row's `f3`.
pub(super) fn place(
    errors: Vec<FieldError>,
    def: Option<&IntegrationDef>,
    draft: &Draft,
) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|(key, message)| {
            // `integration "name".fields[2].to` → the row of field 2's source field.
            let path = key
                .split_once("\".")
                .map(|(_, p)| p.to_string())
                .unwrap_or(key.clone());
            if let Some(rest) = path.strip_prefix("fields[")
                && let Some((index, _)) = rest.split_once(']')
                && let Ok(index) = index.parse::<usize>()
                && let Some(from) = def
                    .and_then(|d| d.fields.get(index))
                    .and_then(|f| f.from.as_ref())
                && let Some(row) = draft.rows.iter().position(|r| &r.from == from)
            {
                return (format!("f{row}"), message);
            }
            if let Some(rest) = path.strip_prefix("lookups[")
                && let Some((index, _)) = rest.split_once(']')
                && index.parse::<usize>().is_ok()
            {
                return (format!("l{index}"), message);
            }
            (path, message)
        })
        .collect()
}

/// Whether an existing column of `data_type` can take `property`'s values, by the rule `ferry check`
/// applies to a target table.
fn fits(property: &ferry_shared::odata::catalog::CatalogProperty, data_type: &str) -> bool {
    let edm = ferry_shared::odata::csdl::Property {
        name: property.name.clone(),
        edm_type: property.edm_type.clone(),
        nullable: property.nullable,
        max_length: property.max_length,
        precision: property.precision,
        scale: property.scale,
    };
    ferry_shared::drift::accepts(data_type, ferry_shared::mapping::ColumnType::from_edm(&edm))
}
