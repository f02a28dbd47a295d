//! `template.yaml` agrees with the one definition of the tables
//! (shared/src/store/tables.rs) and with our rules for functions: no
//! development settings in production defaults, every function built by
//! cargo-lambda for arm64.

use std::collections::BTreeSet;

use serde_norway::Value;
use shared::store::tables::{self, Projection, TableDef};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml")).expect("valid YAML")
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"].as_mapping().expect("Resources")
}

/// The string inside a plain or tagged (`!Sub`) scalar.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) => text(&tagged.value),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a string, found {other:?}"),
    }
}

fn key_schema(schema: &Value) -> (String, Option<String>) {
    let mut hash = None;
    let mut range = None;
    for element in schema.as_sequence().expect("KeySchema") {
        match text(&element["KeyType"]).as_str() {
            "HASH" => hash = Some(text(&element["AttributeName"])),
            "RANGE" => range = Some(text(&element["AttributeName"])),
            other => panic!("unknown key type {other}"),
        }
    }
    (hash.expect("a HASH key"), range)
}

fn check_table(def: &TableDef, resource: &Value) {
    let id = def.logical_id;
    assert_eq!(text(&resource["Type"]), "AWS::DynamoDB::Table", "{id}");
    assert_eq!(text(&resource["DeletionPolicy"]), "Retain", "{id}");
    assert_eq!(text(&resource["UpdateReplacePolicy"]), "Retain", "{id}");
    let p = &resource["Properties"];
    assert_eq!(
        text(&p["TableName"]),
        format!("${{AWS::StackName}}-{}", def.suffix),
        "{id}"
    );
    assert_eq!(text(&p["BillingMode"]), "PAY_PER_REQUEST", "{id}");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Value::Bool(true),
        "{id}"
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], Value::Bool(true), "{id}");
    assert_eq!(
        key_schema(&p["KeySchema"]),
        (def.pk.to_owned(), def.sk.map(str::to_owned)),
        "{id} keys"
    );

    let mut expected_attributes: BTreeSet<String> = [def.pk].into_iter().chain(def.sk).map(str::to_owned).collect();
    for index in def.indexes {
        expected_attributes.extend([index.pk.to_owned(), index.sk.to_owned()]);
    }
    let attributes: BTreeSet<String> = p["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            assert_eq!(text(&a["AttributeType"]), "S", "{id}: key attributes are strings");
            text(&a["AttributeName"])
        })
        .collect();
    assert_eq!(attributes, expected_attributes, "{id} attribute definitions");

    let indexes = p
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    assert_eq!(indexes.len(), def.indexes.len(), "{id} index count");
    for index in def.indexes {
        let found = indexes
            .iter()
            .find(|i| text(&i["IndexName"]) == index.name)
            .unwrap_or_else(|| panic!("{id}: index {}", index.name));
        assert_eq!(
            key_schema(&found["KeySchema"]),
            (index.pk.to_owned(), Some(index.sk.to_owned())),
            "{id}.{}",
            index.name
        );
        match index.projection {
            Projection::KeysOnly => assert_eq!(text(&found["Projection"]["ProjectionType"]), "KEYS_ONLY"),
            Projection::Include(attrs) => {
                assert_eq!(text(&found["Projection"]["ProjectionType"]), "INCLUDE");
                let listed: BTreeSet<String> = found["Projection"]["NonKeyAttributes"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(text)
                    .collect();
                assert_eq!(
                    listed,
                    attrs.iter().map(|a| a.to_string()).collect(),
                    "{id}.{} projection",
                    index.name
                );
            }
        }
    }

    match def.ttl {
        Some(attribute) => {
            assert_eq!(
                text(&p["TimeToLiveSpecification"]["AttributeName"]),
                attribute,
                "{id} TTL"
            );
            assert_eq!(p["TimeToLiveSpecification"]["Enabled"], Value::Bool(true), "{id} TTL");
        }
        None => assert!(p.get("TimeToLiveSpecification").is_none(), "{id} has no TTL"),
    }
    match def.stream {
        Some(view) => assert_eq!(
            text(&p["StreamSpecification"]["StreamViewType"]),
            view.as_str(),
            "{id} stream"
        ),
        None => assert!(p.get("StreamSpecification").is_none(), "{id} has no stream"),
    }
}

#[test]
fn the_template_declares_exactly_the_defined_tables() {
    let template = template();
    let resources = resources(&template);
    let declared: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| text(&r["Type"]) == "AWS::DynamoDB::Table")
        .map(|(name, _)| text(name))
        .collect();
    let defined: BTreeSet<String> = tables::ALL.iter().map(|t| t.logical_id.to_owned()).collect();
    assert_eq!(declared, defined);
    for def in tables::ALL {
        check_table(def, &resources[def.logical_id]);
    }
}

#[test]
fn functions_are_arm64_cargo_lambda_builds_of_workspace_crates() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    assert_eq!(
        globals["Architectures"],
        Value::Sequence(vec![Value::String("arm64".into())])
    );
    assert_eq!(text(&globals["LoggingConfig"]["LogFormat"]), "JSON");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let functions: Vec<_> = resources(&template)
        .iter()
        .filter(|(_, r)| text(&r["Type"]) == "AWS::Serverless::Function")
        .collect();
    assert!(!functions.is_empty());
    for (name, function) in functions {
        assert_eq!(
            text(&function["Metadata"]["BuildMethod"]),
            "rust-cargolambda",
            "{name:?}"
        );
        let code = text(&function["Properties"]["CodeUri"]);
        let manifest = std::fs::read_to_string(format!("{root}/{code}/Cargo.toml"))
            .unwrap_or_else(|_| panic!("{code}/Cargo.toml"));
        assert!(manifest.contains("[package]"), "{code} is a crate");
        assert!(
            function["Properties"].get("Policies").is_some(),
            "{name:?} has its own least-privilege policy"
        );
    }
}

#[test]
fn secrets_are_referenced_by_name_and_development_settings_are_off() {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    for setting in ["HC_LOGIN_PROVIDER", "HC_IDENTITY_VERIFIER", "AWS_ENDPOINT_URL"] {
        assert!(
            !raw.contains(setting),
            "{setting} must keep its production default in the template"
        );
    }
    for line in raw.lines().filter(|l| l.contains("_SECRET:") || l.contains("_KEY:")) {
        assert!(
            line.contains("{{resolve:secretsmanager:"),
            "secret written into the template: {}",
            line.trim().split(':').next().unwrap()
        );
    }
}
