//! The checks on a small `$metadata`: each kind of problem found, named with where it is used, and
//! nothing reported for a definition that fits.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::definitions::IntegrationDef;
use crate::mapping::Mapping;
use crate::odata::csdl::Metadata;
use crate::storage::Dialect;

const METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Customer">
        <Key><PropertyRef Name="No"/></Key>
        <Property Name="No" Type="Edm.String" Nullable="false" MaxLength="20"/>
        <Property Name="Name" Type="Edm.String" MaxLength="100"/>
        <Property Name="Type" Type="Edm.String" MaxLength="10"/>
        <Property Name="Balance" Type="Edm.Decimal"/>
        <Property Name="Count" Type="Edm.Int32"/>
        <Property Name="RowVersionNumber" Type="Edm.Int64"/>
      </EntityType>
      <EntityContainer Name="C"><EntitySet Name="Customers" EntityType="NAV.Customer"/></EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

fn def(extra_source: &str, fields: &str, lookups: &str) -> IntegrationDef {
    toml::from_str(&format!(
        r#"
name = "customers"
connection = "bc"
source = {{ entity = "Customers", key = ["No"], version = "RowVersionNumber"{extra_source} }}
target = {{ table = "customer", key = ["no"], create = true }}
fields = [{{ from = "No", to = "no" }}, {fields}]
{lookups}
"#
    ))
    .unwrap()
}

fn metadata() -> Metadata {
    Metadata::parse(METADATA).unwrap()
}

fn kinds(problems: &[Problem]) -> Vec<(ProblemKind, String)> {
    problems.iter().map(|p| (p.kind, p.field.clone())).collect()
}

#[test]
fn a_definition_that_fits_has_no_problem() {
    let def = def(
        r#", filter = "Balance gt 0 and startswith(Name, 'A')""#,
        r#"{ from = "Name", to = "name" }, { to = "label", transform = { format = "{No}: {Name}" } }"#,
        "",
    );
    assert_eq!(check_source(&def, &metadata(), &ReadBefore::default()), []);
}

#[test]
fn format_placeholders_and_filter_values_are_checked_before_any_run() {
    let def = def(
        r#", filter = "Balance eq 'lots' and Type eq 'A'""#,
        r#"{ to = "label", transform = { format = "{No}: {Nmae}" } }"#,
        "",
    );
    let problems = check_source(&def, &metadata(), &ReadBefore::default());
    assert_eq!(
        kinds(&problems),
        [
            (ProblemKind::MissingField, "Nmae".to_string()),
            (ProblemKind::FilterTypeMismatch, "Balance".to_string()),
        ]
    );
    assert_eq!(problems[0].used_by, ["fields[1].transform (→ label)"]);
    assert!(
        problems[0].message.contains("does not exist"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[1].message.contains("Edm.Decimal"),
        "{}",
        problems[1].message
    );
}

#[test]
fn a_field_a_run_read_before_no_longer_exists_one_never_read_does_not() {
    let def = def("", r#"{ from = "City", to = "city" }"#, "");
    let mut read = ReadBefore::default();
    let never = check_source(&def, &metadata(), &read);
    assert!(
        never[0]
            .message
            .contains("(it does not exist at the source)"),
        "{}",
        never[0].message
    );
    read.fields = HashSet::from([("Customers".to_string(), "City".to_string())]);
    let drifted = check_source(&def, &metadata(), &read);
    assert!(
        drifted[0]
            .message
            .contains("(it no longer exists at the source)"),
        "{}",
        drifted[0].message
    );
}

#[test]
fn a_key_other_than_the_entitys_is_a_warning() {
    let mut def = def("", r#"{ from = "Type", to = "type" }"#, "");
    def.source.key = vec!["Type".into()];
    let problems = check_source(&def, &metadata(), &ReadBefore::default());
    assert_eq!(
        kinds(&problems),
        [(ProblemKind::KeyNotEntityKey, "Type".to_string())]
    );
    assert_eq!(problems[0].severity, Severity::Warning);
    assert!(
        problems[0].message.contains(r#"["No"]"#),
        "{}",
        problems[0].message
    );
}

fn table(columns: &[(&str, &str)], unique_keys: &[&[&str]]) -> TargetTable {
    TargetTable {
        columns: columns
            .iter()
            .map(|(name, ty)| {
                (
                    name.to_string(),
                    TargetColumn {
                        data_type: ty.to_string(),
                    },
                )
            })
            .collect(),
        unique_keys: unique_keys
            .iter()
            .map(|k| k.iter().map(|c| c.to_string()).collect())
            .collect(),
    }
}

#[test]
fn a_narrow_column_and_a_key_without_a_unique_index_are_found_on_postgres() {
    let def = def(
        "",
        r#"{ from = "Name", to = "name" }, { from = "Count", to = "count" }"#,
        "",
    );
    let mapping = Mapping::compile(&def, &metadata()).unwrap();
    let narrow = table(
        &[
            ("no", "character varying(20)"),
            ("name", "character varying(30)"),
            ("count", "numeric(6,2)"),
        ],
        &[],
    );
    let problems = check_target(&def, &mapping, Some(&narrow), Dialect::Postgres);
    assert_eq!(
        kinds(&problems),
        [
            (ProblemKind::ColumnTooNarrow, "name".to_string()),
            (ProblemKind::ColumnTooNarrow, "count".to_string()),
            (ProblemKind::KeyWithoutUniqueIndex, "no".to_string()),
        ]
    );
    assert!(
        problems[0].message.contains("MaxLength 100"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[2]
            .message
            .contains(r#"CREATE UNIQUE INDEX ON "customer" ("no")"#),
        "{}",
        problems[2].message
    );
    // SQLite stores any length; a primary key backs the upsert.
    let keyed = table(
        &narrow
            .columns
            .iter()
            .map(|(n, c)| (n.as_str(), c.data_type.as_str()))
            .collect::<Vec<_>>(),
        &[&["no"]],
    );
    assert_eq!(
        check_target(&def, &mapping, Some(&keyed), Dialect::Sqlite),
        []
    );
}

#[test]
fn a_lookup_into_a_table_nobody_has_or_writes_is_found() {
    let def = def(
        "",
        r#"{ from = "Name", to = "name" }"#,
        r#"
[[lookups]]
to = "owner_id"
from = ["Type"]
table = "owners"
match = ["code"]
select = "id"

[[lookups]]
to = "group_id"
from = ["Type"]
table = "groups"
match = ["code"]
select = "id"
"#,
    );
    let tables = HashMap::from([
        ("owners".to_string(), None),
        ("groups".to_string(), Some(table(&[("code", "text")], &[]))),
    ]);
    let problems = check_lookups(&def, &tables, &[]);
    assert_eq!(
        kinds(&problems),
        [
            (ProblemKind::MissingLookupTable, "owners".to_string()),
            (ProblemKind::MissingLookupColumn, "id".to_string()),
        ]
    );
    let written = check_lookups(&def, &tables, &["owners".to_string()]);
    assert_eq!(
        kinds(&written),
        [(ProblemKind::MissingLookupColumn, "id".to_string())]
    );
}
