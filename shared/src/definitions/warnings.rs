//! What `apply` stores but points out: a definition that works, and yet surprises whoever queries its
//! table or follows its lookups.

use std::collections::BTreeMap;

use super::model::{Direction, IntegrationDef};
use crate::storage::Dialect;

/// Warnings per integration name for the integrations as stored after an apply (`all`), on an engine
/// of `dialect`.
pub fn warnings(all: &[IntegrationDef], dialect: Dialect) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for def in all {
        let table = &def.target.table;
        if dialect == Dialect::Postgres && table.chars().any(|c| c.is_ascii_uppercase()) {
            out.entry(def.name.clone()).or_default().push(format!(
                "target table {table:?} has capitals: Ferry creates and writes it quoted, so \
                 PostgreSQL keeps them; query it as \"{table}\" (with the double quotes), since \
                 unquoted it means {:?}",
                table.to_lowercase()
            ));
        }
    }
    for def in all.iter().filter(|d| d.direction != Direction::Import) {
        let import_only: Vec<&str> = def
            .fields
            .iter()
            .filter(|f| !f.exports())
            .map(|f| f.to.as_str())
            .chain(def.lookups.iter().map(|l| l.to.as_str()))
            .collect();
        if !import_only.is_empty() {
            out.entry(def.name.clone()).or_default().push(format!(
                "export leaves out {}: constants, transforms, labels, lookups and fields with \
                 export = false are import-only",
                import_only.join(", ")
            ));
        }
    }
    for cycle in lookup_cycles(all) {
        let path = cycle.join(" → ");
        for name in &cycle[..cycle.len() - 1] {
            out.entry(name.clone()).or_default().push(format!(
                "lookups form a cycle ({path}): a run woken by one is not woken back by the \
                 other, so records that wait on each other stay deferred until lookups.max_defer"
            ));
        }
    }
    out
}

/// Each cycle of "looks up a table another integration writes", as names from its smallest name back
/// to itself, once. An integration that looks up its own table (a parent in the same entity) is no
/// cycle: its records resolve within its own runs.
fn lookup_cycles(all: &[IntegrationDef]) -> Vec<Vec<String>> {
    let reads = |def: &IntegrationDef| -> Vec<String> {
        let mut upstream: Vec<String> = all
            .iter()
            .filter(|other| def.lookups.iter().any(|l| l.table == other.target.table))
            .map(|other| other.name.clone())
            .collect();
        upstream.sort();
        upstream.dedup();
        upstream
    };
    let edges: BTreeMap<String, Vec<String>> =
        all.iter().map(|d| (d.name.clone(), reads(d))).collect();
    let mut cycles = Vec::new();
    for start in edges.keys() {
        // Paths from `start` through names greater than it, so each cycle is found from its least name.
        let mut stack = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in edges.get(last).into_iter().flatten() {
                if next == start && path.len() > 1 {
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    cycles.push(cycle);
                } else if next > start && !path.contains(next) && path.len() < edges.len() {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, table: &str, looks_up: &[&str]) -> IntegrationDef {
        let lookups: String = looks_up
            .iter()
            .map(|t| {
                format!(
                    "\n[[lookups]]\nto = \"{t}_id\"\nfrom = [\"No\"]\ntable = \"{t}\"\nmatch = [\"no\"]\nselect = \"id\"\n"
                )
            })
            .collect();
        toml::from_str(&format!(
            r#"
name = "{name}"
connection = "bc"
source = {{ entity = "E", key = ["No"], version = "V" }}
target = {{ table = "{table}", key = ["no"] }}
fields = [{{ from = "No", to = "no" }}]
{lookups}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_cycle_of_lookups_is_named_on_each_of_its_integrations() {
        let all = [
            def("contacts", "contact", &["customer"]),
            def("customers", "customer", &["contact"]),
            def("items", "item", &["customer"]),
            def("self", "node", &["node"]),
        ];
        assert_eq!(
            lookup_cycles(&all),
            [vec!["contacts", "customers", "contacts"]]
        );
        let found = warnings(&all, Dialect::Sqlite);
        assert!(found["contacts"][0].contains("contacts → customers → contacts"));
        assert!(found["customers"][0].contains("contacts → customers → contacts"));
        assert!(!found.contains_key("items"), "{found:?}");
        assert!(!found.contains_key("self"), "{found:?}");
    }

    #[test]
    fn capitals_in_a_table_name_are_pointed_out_on_postgres_only() {
        let all = [def("customers", "Customer", &[])];
        let found = warnings(&all, Dialect::Postgres);
        assert!(
            found["customers"][0].contains(r#"query it as "Customer""#),
            "{found:?}"
        );
        assert!(warnings(&all, Dialect::Sqlite).is_empty());
    }
}
