//! The CSDL reader streams (issue 15): a generated 100 MB `$metadata` in Dataverse's shape — thousands
//! of entity types, most of the bytes annotations — is served over HTTP from a file and read by the
//! OData client as its body arrives, and the process's peak heap (server included) stays a small
//! fraction of the document, near what the parsed model itself holds.
//!
//! A test binary of its own, so that its counting allocator sees this test alone. The workspace
//! forbids `unsafe`, which a `GlobalAlloc` needs: `cap` provides one that counts.

use std::alloc::System;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cap::Cap;
use ferry_shared::auth::TokenSource;
use ferry_shared::odata::client::{ODataClient, http_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

/// Entity types in the generated document (a real Dataverse environment has a few thousand).
const ENTITY_TYPES: usize = 2_500;
/// Properties of each entity type besides its key, its lookups and its row version.
const COLUMNS: usize = 24;
/// Entity types each one looks up (a `_…_value` GUID and a navigation property each).
const LOOKUPS: usize = 3;
/// Languages each property's labels are annotated in: the annotations carry most of the bytes.
const LANGUAGES: usize = 5;
/// What the server reads from the file and sends at a time (one HTTP chunk).
const CHUNK: usize = 256 * 1024;

const HEADER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml"><edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys"/><edmx:IncludeAnnotations TermNamespace="OData.Community.Keys.V1"/></edmx:Reference>
  <edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Display.V1.xml"><edmx:Include Namespace="OData.Community.Display.V1" Alias="Display"/><edmx:IncludeAnnotations TermNamespace="OData.Community.Display.V1"/></edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="crmbaseentity" Abstract="true"/>
      <ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/><Property Name="UserId" Type="Edm.Guid" Nullable="false"/></ComplexType>
      <EnumType Name="PrivilegeDepth"><Member Name="Basic" Value="0"/><Member Name="Local" Value="1"/><Member Name="Deep" Value="2"/><Member Name="Global" Value="3"/></EnumType>
"#;

/// The logical name of entity type `n`.
fn entity(n: usize) -> String {
    format!("new_entity{n:04}")
}

/// What column `c` of every entity type is: name, type and facets.
fn column(c: usize) -> (String, &'static str, &'static str) {
    match c % 6 {
        0 => (format!("new_name{c}"), "Edm.String", r#" MaxLength="100""#),
        1 => (
            format!("new_amount{c}"),
            "Edm.Decimal",
            r#" Precision="23" Scale="10""#,
        ),
        2 => (format!("new_count{c}"), "Edm.Int32", ""),
        3 => (format!("new_reference{c}"), "Edm.Guid", ""),
        4 => (
            format!("new_when{c}"),
            "Edm.DateTimeOffset",
            r#" Precision="0""#,
        ),
        _ => (format!("new_flag{c}"), "Edm.Boolean", ""),
    }
}

/// The entity types that entity type `n` looks up.
fn lookups(n: usize) -> impl Iterator<Item = usize> {
    (1..=LOOKUPS).map(move |l| (n + l * 97) % ENTITY_TYPES)
}

/// A property with the annotations Dataverse puts on its columns.
fn property(out: &mut impl Write, name: &str, edm_type: &str, facets: &str) -> std::io::Result<()> {
    writeln!(
        out,
        r#"        <Property Name="{name}" Type="{edm_type}"{facets}><Annotation Term="Org.OData.Core.V1.Description" String="The {name} column, as its table's designer described it for people reading the form."/><Annotation Term="Org.OData.Core.V1.Permissions"><Collection><EnumMember>Org.OData.Core.V1.Permission/Read</EnumMember><EnumMember>Org.OData.Core.V1.Permission/Write</EnumMember></Collection></Annotation><Annotation Term="Org.OData.Core.V1.Computed" Bool="false"/></Property>"#
    )
}

/// Writes the document to `path` a line at a time (it is never a `String`), and returns its size.
fn generate(path: &PathBuf) -> u64 {
    let mut out = BufWriter::with_capacity(64 * 1024, File::create(path).unwrap());
    out.write_all(HEADER.as_bytes()).unwrap();
    for n in 0..ENTITY_TYPES {
        let name = entity(n);
        writeln!(
            out,
            r#"      <EntityType Name="{name}" BaseType="mscrm.crmbaseentity">"#
        )
        .unwrap();
        writeln!(out, r#"        <Key><PropertyRef Name="{name}id"/></Key>"#).unwrap();
        property(
            &mut out,
            &format!("{name}id"),
            "Edm.Guid",
            r#" Nullable="false""#,
        )
        .unwrap();
        for c in 0..COLUMNS {
            let (column, edm_type, facets) = column(c);
            property(&mut out, &column, edm_type, facets).unwrap();
        }
        for target in lookups(n) {
            property(
                &mut out,
                &format!("_new_parent{target:04}_value"),
                "Edm.Guid",
                "",
            )
            .unwrap();
        }
        property(&mut out, "versionnumber", "Edm.Int64", "").unwrap();
        for target in lookups(n) {
            let target = entity(target);
            writeln!(
                out,
                r#"        <NavigationProperty Name="new_parent_{target}" Type="mscrm.{target}" Nullable="false" Partner="new_{name}_children"><ReferentialConstraint Property="_new_parent{}_value" ReferencedProperty="{target}id"/></NavigationProperty>"#,
                &target[10..]
            )
            .unwrap();
            writeln!(
                out,
                r#"        <NavigationProperty Name="new_{target}_children" Type="Collection(mscrm.{target})" Partner="new_parent_{name}"/>"#
            )
            .unwrap();
        }
        writeln!(out, "      </EntityType>").unwrap();
        writeln!(
            out,
            r#"      <Action Name="new_Recalculate{n:04}" IsBound="true"><Parameter Name="entity" Type="mscrm.{name}" Nullable="false"/><ReturnType Type="mscrm.{name}" Nullable="false"/></Action>"#
        )
        .unwrap();
    }
    writeln!(out, r#"      <EntityContainer Name="System">"#).unwrap();
    for n in 0..ENTITY_TYPES {
        let name = entity(n);
        write!(
            out,
            r#"        <EntitySet Name="{name}s" EntityType="Microsoft.Dynamics.CRM.{name}">"#
        )
        .unwrap();
        for target in lookups(n) {
            let target = entity(target);
            write!(
                out,
                r#"<NavigationPropertyBinding Path="new_parent_{target}" Target="{target}s"/>"#
            )
            .unwrap();
        }
        writeln!(out, "</EntitySet>").unwrap();
    }
    writeln!(out, "      </EntityContainer>").unwrap();
    // Labels and descriptions per table and column, in every language: the bulk of the document.
    for n in 0..ENTITY_TYPES {
        let name = entity(n);
        writeln!(out, r#"      <Annotations Target="mscrm.{name}">"#).unwrap();
        for language in 0..LANGUAGES {
            writeln!(out, r#"        <Annotation Term="OData.Community.Display.V1.DisplayName" Qualifier="lcid{language}" String="Entity {n} in language {language}"/>"#).unwrap();
        }
        writeln!(out, "      </Annotations>").unwrap();
        for c in 0..COLUMNS {
            let (column, _, _) = column(c);
            writeln!(out, r#"      <Annotations Target="mscrm.{name}/{column}">"#).unwrap();
            for language in 0..LANGUAGES {
                writeln!(out, r#"        <Annotation Term="Org.OData.Core.V1.Description" Qualifier="lcid{language}"><String>Column {column} of {name}, described in language {language} for whoever maps it</String></Annotation>"#).unwrap();
            }
            writeln!(out, "      </Annotations>").unwrap();
        }
    }
    writeln!(out, "    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>").unwrap();
    out.flush().unwrap();
    drop(out);
    std::fs::metadata(path).unwrap().len()
}

/// Serves `path` as `/api/data/v9.2/$metadata` to one request, streamed from the file in chunked
/// transfer encoding (no declared length, as Dataverse sends it).
async fn serve(path: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buffer[..n]);
        }
        assert!(request.starts_with(b"GET /api/data/v9.2/$metadata "));
        socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let mut file = File::open(path).unwrap();
        let mut chunk = vec![0; CHUNK];
        loop {
            let n = file.read(&mut chunk).unwrap();
            socket
                .write_all(format!("{n:x}\r\n").as_bytes())
                .await
                .unwrap();
            socket.write_all(&chunk[..n]).await.unwrap();
            socket.write_all(b"\r\n").await.unwrap();
            if n == 0 {
                break;
            }
        }
    });
    addr
}

/// Removes the generated document however the test ends.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Megabytes as the README counts them (10^6 bytes).
const MB: f64 = 1e6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_dataverse_metadata_is_read_over_http_in_a_fraction_of_its_size() {
    let path = std::env::temp_dir().join(format!("ferry-csdl-memory-{}.xml", std::process::id()));
    let _remove = Remove(path.clone());
    let size = generate(&path);
    assert!(size > 100_000_000, "the document is {size} bytes");

    let before = HEAP.allocated();
    let service = serve(path.clone()).await;
    let client = ODataClient::new(
        http_client(),
        &format!("http://{service}/api/data/v9.2/"),
        Arc::new(TokenSource::anonymous()),
        5000,
        Duration::from_secs(300),
        ferry_shared::budget::Budgets::in_process(Default::default()).gate(
            "metadata",
            ferry_shared::budget::Budget {
                concurrent: 1,
                window: None,
            },
            Duration::from_secs(300),
        ),
    )
    .unwrap();
    let metadata = client.metadata().await.unwrap();
    drop(client);
    let kept = HEAP.allocated().saturating_sub(before);
    let peak = HEAP.max_allocated();
    println!(
        "document {:.1} MB; peak heap {:.1} MB ({:.1} MB before the read); the parsed model holds {:.1} MB",
        size as f64 / MB,
        peak as f64 / MB,
        before as f64 / MB,
        kept as f64 / MB,
    );

    // What was read: every entity type and set, a spot-checked type whole.
    assert_eq!(
        metadata.entity_types.len(),
        ENTITY_TYPES + 1,
        "and crmbaseentity"
    );
    assert_eq!(metadata.sets.len(), ENTITY_TYPES);
    assert_eq!(metadata.entity_sets.len(), ENTITY_TYPES);
    let t = metadata.entity("new_entity1234s").unwrap();
    assert_eq!(t.qualified_name(), "Microsoft.Dynamics.CRM.new_entity1234");
    assert_eq!(
        t.base_type.as_deref(),
        Some("Microsoft.Dynamics.CRM.crmbaseentity")
    );
    assert_eq!(t.key, ["new_entity1234id"]);
    assert_eq!(t.properties.len(), 1 + COLUMNS + LOOKUPS + 1);
    let id = t.property("new_entity1234id").unwrap();
    assert_eq!((id.edm_type.as_str(), id.nullable), ("Edm.Guid", false));
    let amount = t.property("new_amount7").unwrap();
    assert_eq!(
        (amount.edm_type.as_str(), amount.precision, amount.scale),
        ("Edm.Decimal", Some(23), Some(10))
    );
    assert_eq!(t.property("new_count8").unwrap().edm_type, "Edm.Int32");
    assert_eq!(t.property("new_name6").unwrap().max_length, Some(100));
    assert_eq!(
        t.property("_new_parent1331_value").unwrap().edm_type,
        "Edm.Guid"
    );
    assert_eq!(t.navigation.len(), 2 * LOOKUPS);
    let parent = &t.navigation[0];
    assert_eq!(
        (
            parent.name.as_str(),
            parent.target.as_str(),
            parent.collection,
            parent.nullable
        ),
        (
            "new_parent_new_entity1331",
            "Microsoft.Dynamics.CRM.new_entity1331",
            false,
            false
        )
    );
    assert!(t.navigation[1].collection);
    assert!(metadata.is_enum("Microsoft.Dynamics.CRM.PrivilegeDepth"));
    assert!(
        metadata.entity("WhoAmIResponse").is_none(),
        "a complex type is no entity"
    );

    // Memory: a fraction of the document, and not much beyond what the model itself keeps.
    assert!(
        peak < size as usize / 4,
        "peak heap {peak} bytes for a {size}-byte document"
    );
    assert!(
        peak < before + kept + 16 * 1024 * 1024,
        "peak heap {peak} bytes: more than 16 MB beyond the {kept}-byte model"
    );
}
