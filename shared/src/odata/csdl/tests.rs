//! The reader against a real Business Central document and hand-made corner cases.

use super::*;

/// The real BC ODataV4 `$metadata` (82 entity types, annotations, no XML declaration).
const BC: &str = include_str!("../../../tests/fixtures/bc-odatav4-metadata.xml");

#[test]
fn reads_real_business_central_metadata_whole() {
    let metadata = Metadata::parse(BC).unwrap();
    assert_eq!(metadata.entity_types.len(), 82);
    assert_eq!(metadata.sets.len(), 81);
    assert_eq!(metadata.entity_sets.len(), 81);
    for set in &metadata.sets {
        assert!(
            metadata.entity_types.contains_key(&set.entity_type),
            "{} → {}",
            set.name,
            set.entity_type
        );
    }
    let with_timestamp = metadata
        .entity_types
        .values()
        .filter(|t| {
            t.property("timestamp")
                .is_some_and(|p| p.edm_type == "Edm.Int64")
        })
        .count();
    assert!(with_timestamp > 0, "BC pages expose timestamp as Edm.Int64");
    for t in metadata.entity_types.values() {
        assert!(!t.key.is_empty(), "{} has a key", t.name);
        for key in &t.key {
            assert!(
                t.property(key).is_some(),
                "{}: key {key} is a property",
                t.name
            );
        }
    }
    let decimal_variable = metadata
        .entity_types
        .values()
        .flat_map(|t| &t.properties)
        .any(|p| p.edm_type == "Edm.Decimal" && p.scale.is_none());
    assert!(
        decimal_variable,
        "Scale=\"Variable\" reads as no fixed scale"
    );
    let navigation: usize = metadata
        .entity_types
        .values()
        .map(|t| t.navigation.len())
        .sum();
    assert_eq!(navigation, 108);
    assert!(
        metadata
            .entity_types
            .values()
            .flat_map(|t| &t.navigation)
            .any(|n| n.collection && n.contains_target)
    );
    assert_eq!(metadata.enums.len(), 1);
    assert_eq!(metadata.enums[0].members.len(), 12);
    assert!(metadata.is_enum("NAV.NavType"));
    let media = metadata.entity_types.get("NAV.Media").unwrap();
    let id = media.property("ID").unwrap();
    assert_eq!((id.edm_type.as_str(), id.nullable), ("Edm.Guid", false));
    assert_eq!(media.property("Description").unwrap().max_length, Some(250));
}

#[test]
fn resolves_aliases_inheritance_and_precision() {
    let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
      <edmx:DataServices><Schema Namespace="Contoso.Sales" Alias="S" xmlns="http://docs.oasis-open.org/odata/ns/edm">
        <EnumType Name="Status" IsFlags="false"><Member Name="Open" Value="0"/><Member Name="Closed" Value="1"/></EnumType>
        <EntityType Name="Base"><Key><PropertyRef Name="Id"/></Key><Property Name="Id" Type="Edm.Int64" Nullable="false"/></EntityType>
        <EntityType Name="Order" BaseType="S.Base">
          <Property Name="Amount" Type="Edm.Decimal" Precision="18" Scale="2"/>
          <Property Name="Status" Type="S.Status"/>
          <NavigationProperty Name="Customer" Type="S.Base" Nullable="false"/>
        </EntityType>
        <EntityContainer Name="C"><EntitySet Name="Orders" EntityType="S.Order"/></EntityContainer>
      </Schema></edmx:DataServices></edmx:Edmx>"#;
    let metadata = Metadata::parse(xml).unwrap();
    let order = metadata.entity("Orders").unwrap();
    assert_eq!(order.key, vec!["Id"]);
    assert_eq!(order.properties[0].name, "Id", "inherited first");
    let amount = order.property("Amount").unwrap();
    assert_eq!((amount.precision, amount.scale), (Some(18), Some(2)));
    assert_eq!(
        order.property("Status").unwrap().edm_type,
        "Contoso.Sales.Status"
    );
    assert!(metadata.is_enum("Contoso.Sales.Status"));
    assert_eq!(
        metadata.enums[0].members,
        vec![("Open".into(), Some(0)), ("Closed".into(), Some(1))]
    );
    let nav = &order.navigation[0];
    assert_eq!(
        (nav.target.as_str(), nav.collection, nav.nullable),
        ("Contoso.Sales.Base", false, false)
    );
    assert_eq!(metadata.sets[0].entity_type, "Contoso.Sales.Order");
}

fn schema(types: &str) -> String {
    format!(
        r#"<edmx:Edmx><edmx:DataServices><Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm">{types}</Schema></edmx:DataServices></edmx:Edmx>"#
    )
}

#[test]
fn a_base_type_cycle_is_an_error() {
    let xml = schema(
        r#"<EntityType Name="A" BaseType="N.B"><Property Name="a" Type="Edm.String"/></EntityType>
           <EntityType Name="B" BaseType="N.C"/>
           <EntityType Name="C" BaseType="N.A"/>"#,
    );
    let error = Metadata::parse(&xml).unwrap_err();
    assert!(matches!(error, CsdlError::BaseTypeCycle { .. }), "{error}");
    let itself = schema(r#"<EntityType Name="A" BaseType="N.A"/>"#);
    assert!(Metadata::parse(&itself).is_err());
}

/// A chain of derived types: each gets every ancestor's properties once, root first.
#[test]
fn a_long_inheritance_chain_merges_once_per_type() {
    let types: String = (0..40)
        .map(|n| {
            let base = if n == 0 { String::new() } else { format!(r#" BaseType="N.T{}""#, n - 1) };
            format!(r#"<EntityType Name="T{n}"{base}><Property Name="p{n}" Type="Edm.Int32"/></EntityType>"#)
        })
        .collect();
    let metadata = Metadata::parse(&schema(&types)).unwrap();
    let last = metadata.entity("T39").unwrap();
    let names: Vec<&str> = last.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 40);
    assert_eq!((names[0], names[39]), ("p0", "p39"));
}

/// 100,000 attributes on one tag (about 1.5 MB): each tag's attributes are walked once, so this
/// takes milliseconds; the quadratic walk took minutes. The bound is a hundred times the need.
#[test]
fn a_tag_with_a_hundred_thousand_attributes_parses_in_linear_time() {
    let attributes: String = (0..100_000).map(|n| format!(r#" x{n}="{n}""#)).collect();
    let xml = schema(&format!(
        r#"<EntityType Name="T"{attributes}><Property Name="p"{attributes} Type="Edm.Int32"/></EntityType>"#
    ));
    let started = std::time::Instant::now();
    let metadata = Metadata::parse(&xml).unwrap();
    assert_eq!(
        metadata.entity("T").unwrap().properties[0].edm_type,
        "Edm.Int32"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn rejects_broken_xml_with_position() {
    let err = Metadata::parse("<edmx:Edmx><Schema></edmx:Edmx>").unwrap_err();
    assert!(err.to_string().contains("not well-formed"), "{err}");
}

/// Annotations are skipped whole, nested ones and their records included, wherever they stand; what
/// follows them is read as usual.
#[test]
fn annotations_are_skipped_with_everything_inside_them() {
    let xml = schema(
        r#"<EntityType Name="account" BaseType="N.crmbaseentity">
             <Key><PropertyRef Name="accountid"/></Key>
             <Property Name="accountid" Type="Edm.Guid" Nullable="false">
               <Annotation Term="Org.OData.Core.V1.Permissions">
                 <Collection><EnumMember>Org.OData.Core.V1.Permission/Read</EnumMember></Collection>
               </Annotation>
             </Property>
             <Annotation Term="Outer"><Annotation Term="Inner"><Record><PropertyValue Property="EntityType" String="x"/></Record></Annotation></Annotation>
             <Property Name="revenue" Type="Edm.Decimal" Scale="Variable"/>
           </EntityType>
           <EntityType Name="crmbaseentity" Abstract="true"/>
           <Annotations Target="N.account/revenue">
             <Annotation Term="Org.OData.Core.V1.Description" String="What the account earns"/>
             <Annotation Term="Org.OData.Core.V1.Description"><String>text &amp; more</String></Annotation>
           </Annotations>"#,
    );
    let metadata = Metadata::read(xml.as_bytes()).unwrap();
    assert_eq!(metadata.entity_types.len(), 2);
    let account = metadata.entity("account").unwrap();
    assert_eq!(account.key, vec!["accountid"]);
    let names: Vec<&str> = account.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["accountid", "revenue"]);
    assert!(!account.property("accountid").unwrap().nullable);
}
