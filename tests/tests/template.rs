//! `template.yaml` agrees with the one definition of the tables
//! (shared/src/store/tables.rs) and with our rules for functions: no
//! development settings in production defaults, every function built by
//! cargo-lambda for arm64, each with only the settings its code reads; and
//! with what operating it needs: logs that expire, alarms, a dead-letter
//! queue for the stream batches, throttles, and samconfig.toml.

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
        p["DeletionProtectionEnabled"],
        Value::Bool(true),
        "{id} deletion protection"
    );
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
fn functions_are_cargo_lambda_builds_of_workspace_crates_for_arm64_by_default() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    // One architecture for all, a parameter whose default is arm64 (what the cost figures assume).
    let architectures = globals["Architectures"].as_sequence().expect("a list");
    assert_eq!(architectures.len(), 1);
    assert_eq!(reference(&architectures[0]).as_deref(), Some("Architecture"));
    let parameter = &template["Parameters"]["Architecture"];
    assert_eq!(text(&parameter["Default"]), "arm64");
    let allowed: Vec<String> = parameter["AllowedValues"]
        .as_sequence()
        .expect("allowed values")
        .iter()
        .map(text)
        .collect();
    assert_eq!(allowed, ["arm64", "x86_64"]);
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

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The name in `!Ref Name`.
fn reference(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => Some(text(&tagged.value)),
        _ => None,
    }
}

/// The resource in `!GetAtt Resource.Attribute`, if the attribute is `attribute`.
fn get_att(value: &Value, attribute: &str) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => text(&tagged.value)
            .strip_suffix(&format!(".{attribute}"))
            .map(str::to_owned),
        _ => None,
    }
}

/// A number, written out or as `!Ref` to a parameter's default.
fn number(template: &Value, value: &Value) -> f64 {
    if let Some(parameter) = reference(value) {
        let default = &template["Parameters"][parameter.as_str()]["Default"];
        return number(template, default);
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number or a parameter with a default, found {value:?}"))
}

fn functions(template: &Value) -> Vec<(String, &Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| text(&r["Type"]) == "AWS::Serverless::Function")
        .map(|(name, r)| (text(name), r))
        .collect()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| text(&r["Type"]) == kind)
        .map(|(name, r)| (text(name), r))
        .collect()
}

#[test]
fn every_function_logs_to_a_group_of_its_own_that_expires() {
    let template = template();
    let retention = &template["Parameters"]["LogRetentionDays"];
    assert_eq!(retention["Default"].as_u64(), Some(30));
    let mut groups = BTreeSet::new();
    for (name, function) in functions(&template) {
        let group = reference(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup is a !Ref to a log group"));
        let resource = &resources(&template)[group.as_str()];
        assert_eq!(text(&resource["Type"]), "AWS::Logs::LogGroup", "{name}");
        assert_eq!(
            reference(&resource["Properties"]["RetentionInDays"]).as_deref(),
            Some("LogRetentionDays"),
            "{name}: its log group expires"
        );
        assert!(groups.insert(group), "{name} shares its log group");
    }
}

#[test]
fn failed_stream_batches_go_to_an_alarmed_queue_in_time_to_be_replayed() {
    let template = template();
    let mut mappings = 0;
    for (name, function) in functions(&template) {
        let Some(events) = function["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (event, spec) in events.iter().filter(|(_, e)| text(&e["Type"]) == "DynamoDB") {
            mappings += 1;
            let p = &spec["Properties"];
            let at = format!("{name}.{}", text(event));
            // Halving a batch renames it and recounts what a failed try had
            // applied (shared/src/store/stats.rs): kept off, on purpose.
            assert_eq!(p["BisectBatchOnFunctionError"], Value::Bool(false), "{at}");
            let retries = number(&template, &p["MaximumRetryAttempts"]);
            assert!((1.0..=10.0).contains(&retries), "{at}: retries");
            let age = number(&template, &p["MaximumRecordAgeInSeconds"]);
            assert!(
                (60.0..=6.0 * 3600.0).contains(&age),
                "{at}: a batch is given up well within the streams' 24 hours"
            );
            assert_eq!(text(&p["DestinationConfig"]["OnFailure"]["Type"]), "SQS", "{at}");
            let queue = get_att(&p["DestinationConfig"]["OnFailure"]["Destination"], "Arn")
                .unwrap_or_else(|| panic!("{at}: the destination is a queue of the stack"));
            assert_eq!(text(&resources(&template)[queue.as_str()]["Type"]), "AWS::SQS::Queue");
            let alarmed = of_type(&template, "AWS::CloudWatch::Alarm").into_iter().any(|(_, a)| {
                let a = &a["Properties"];
                a["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
                    && a["Dimensions"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .any(|d| get_att(&d["Value"], "QueueName").as_deref() == Some(queue.as_str()))
            });
            assert!(alarmed, "{at}: the dead-letter queue's depth is alarmed");
        }
    }
    assert_eq!(
        mappings, 4,
        "the log and subjects streams, and the exposures and appeals streams"
    );
}

/// The alarms on a metric, by the resource their one dimension names.
fn alarmed(template: &Value, namespace: &str, metric: &str) -> BTreeSet<String> {
    of_type(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            // An alarm on metric math has no Namespace of its own.
            a["Properties"]["Namespace"].as_str() == Some(namespace)
                && a["Properties"]["MetricName"].as_str() == Some(metric)
        })
        .flat_map(|(_, a)| {
            a["Properties"]["Dimensions"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|d| reference(&d["Value"]))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn alarms_cover_every_function_the_aggregator_the_api_and_notify_the_topic() {
    let template = template();
    let names: BTreeSet<String> = functions(&template).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        alarmed(&template, "AWS/Lambda", "Errors"),
        names,
        "errors of every function"
    );
    assert_eq!(
        alarmed(&template, "AWS/Lambda", "Throttles"),
        names,
        "throttles of every function"
    );
    assert_eq!(
        alarmed(&template, "AWS/Lambda", "IteratorAge"),
        BTreeSet::from(["AggregatorFunction".to_owned()])
    );
    assert_eq!(
        alarmed(&template, "AWS/ApiGateway", "5xx"),
        BTreeSet::from(["HttpApi".to_owned()])
    );

    assert_eq!(
        template["Parameters"]["AlarmTopicArn"]["Default"],
        Value::String(String::new())
    );
    let condition = format!("{:?}", template["Conditions"]["HasAlarmTopic"]);
    assert!(condition.contains("AlarmTopicArn"), "HasAlarmTopic tests the parameter");
    for (name, alarm) in of_type(&template, "AWS::CloudWatch::Alarm") {
        for actions in ["AlarmActions", "OKActions"] {
            let Value::Tagged(tagged) = &alarm["Properties"][actions] else {
                panic!("{name}.{actions}: !If [HasAlarmTopic, ...]")
            };
            assert!(tagged.tag == "If", "{name}.{actions}");
            let branches = tagged.value.as_sequence().unwrap();
            assert_eq!(text(&branches[0]), "HasAlarmTopic", "{name}.{actions}");
            assert_eq!(
                reference(&branches[1][0]).as_deref(),
                Some("AlarmTopicArn"),
                "{name}.{actions} notifies the topic"
            );
            assert_eq!(
                reference(&branches[2]).as_deref(),
                Some("AWS::NoValue"),
                "{name}.{actions}"
            );
        }
    }
}

#[test]
fn the_api_throttles_below_the_account_limit_and_the_paid_routes_lower() {
    let template = template();
    let api = &resources(&template)["HttpApi"]["Properties"];
    // The account's regional default, shared by all its APIs.
    let (account_rate, account_burst) = (10_000.0, 5_000.0);
    let default = &api["DefaultRouteSettings"];
    let rate = number(&template, &default["ThrottlingRateLimit"]);
    let burst = number(&template, &default["ThrottlingBurstLimit"]);
    assert!(rate > 0.0 && rate < account_rate, "default rate {rate}");
    assert!(burst > 0.0 && burst < account_burst, "default burst {burst}");

    let events: BTreeSet<String> = functions(&template)
        .into_iter()
        .flat_map(|(_, f)| {
            f["Properties"]["Events"]
                .as_mapping()
                .into_iter()
                .flatten()
                .filter(|(_, e)| text(&e["Type"]) == "HttpApi")
                .map(|(_, e)| {
                    format!(
                        "{} {}",
                        text(&e["Properties"]["Method"]),
                        text(&e["Properties"]["Path"])
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for route in ["POST /v1/login", "POST /v1/identity"] {
        assert!(events.contains(route), "{route} is a route");
        let settings = &api["RouteSettings"][route];
        let route_rate = number(&template, &settings["ThrottlingRateLimit"]);
        let route_burst = number(&template, &settings["ThrottlingBurstLimit"]);
        assert!(route_rate > 0.0 && route_rate < rate, "{route} rate {route_rate}");
        assert!(route_burst > 0.0 && route_burst < burst, "{route} burst {route_burst}");
    }
}

#[test]
fn the_api_access_log_expires_and_holds_no_personal_data() {
    let template = template();
    let settings = &resources(&template)["HttpApi"]["Properties"]["AccessLogSettings"];
    let group = get_att(&settings["DestinationArn"], "Arn").expect("a log group of the stack");
    let group = &resources(&template)[group.as_str()];
    assert_eq!(text(&group["Type"]), "AWS::Logs::LogGroup");
    assert_eq!(
        reference(&group["Properties"]["RetentionInDays"]).as_deref(),
        Some("LogRetentionDays")
    );

    let format = text(&settings["Format"]);
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format).expect("the format is a JSON object");
    // Nothing that carries who called or what they sent: no path (it holds
    // ids), query string, source IP, user agent or authorizer claims.
    let allowed = [
        "$context.requestId",
        "$context.requestTimeEpoch",
        "$context.routeKey",
        "$context.status",
        "$context.responseLength",
        "$context.responseLatency",
        "$context.integrationStatus",
        "$context.integrationLatency",
        "$context.integrationErrorMessage",
        "$context.error.message",
    ];
    for (field, value) in &fields {
        let value = value.as_str().expect("a string");
        assert!(
            allowed.contains(&value),
            "access log field {field}: {value} is not on the list"
        );
    }
    let used: BTreeSet<&str> = fields.values().filter_map(|v| v.as_str()).collect();
    for needed in [
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
    ] {
        assert!(used.contains(needed), "the access log carries {needed}");
    }
    assert_eq!(format.matches('$').count(), fields.len(), "one variable per field");
}

/// What each configuration reader of the functions' code reads from the
/// environment (shared/src and functions/*/src): `Base::from_env` (every HTTP
/// function) the store's and the sessions' settings, `shared::function`'s
/// readers the domain's keys.
const READERS: &[(&str, &[&str])] = &[
    ("Store::from_env", &["HC_TABLE_PREFIX"]),
    ("Base::from_env", &["HC_TABLE_PREFIX", "HC_SESSION_SECRET"]),
    ("PiiKeys::from_env", &["HC_PII_HASH_KEY", "HC_PII_ENC_KEY"]),
    ("IdHasher::from_env", &["HC_PII_HASH_KEY"]),
    ("function::code_keys", &["HC_CODE_SIGNING_KEY", "HC_CODE_ISSUER"]),
    ("function::venue_keys", &["HC_VENUE_KEY", "HC_VENUE_URL_BASE"]),
    ("provider::from_env", &["HC_WECHAT_APPID", "HC_WECHAT_SECRET"]),
    ("verifier::from_env", &["HC_VERIFIER_URL", "HC_VERIFIER_API_KEY"]),
    ("\"HC_VENUE_LOG_SHARDS\"", &["HC_VENUE_LOG_SHARDS"]),
    (
        "notifier::from_env",
        &["HC_WECHAT_NOTICE_TEMPLATE", "HC_WECHAT_APPID", "HC_WECHAT_SECRET"],
    ),
];

fn sources(dir: &str) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|_| panic!("{dir}")) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all += &sources(path.to_str().unwrap());
        } else if path.extension().is_some_and(|e| e == "rs") {
            all += &std::fs::read_to_string(&path).unwrap();
        }
    }
    all
}

fn variables(value: &Value) -> BTreeSet<String> {
    value["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, _)| text(k))
        .collect()
}

#[test]
fn each_function_gets_only_the_settings_its_code_reads() {
    let template = template();
    let everything = sources(&format!("{ROOT}/shared/src")) + &sources(&format!("{ROOT}/functions"));
    for (_, vars) in READERS {
        for var in *vars {
            assert!(everything.contains(&format!("\"{var}\"")), "{var} is read somewhere");
        }
    }
    let global = variables(&template["Globals"]["Function"]);
    assert_eq!(
        global,
        BTreeSet::from(["HC_TABLE_PREFIX".to_owned()]),
        "only the prefix is global"
    );
    for (name, function) in functions(&template) {
        let code = sources(&format!("{ROOT}/{}/src", text(&function["Properties"]["CodeUri"])));
        let needed: BTreeSet<String> = READERS
            .iter()
            .filter(|(reader, _)| code.contains(reader))
            .flat_map(|(_, vars)| vars.iter().map(|v| v.to_string()))
            .collect();
        let given: BTreeSet<String> = global.union(&variables(&function["Properties"])).cloned().collect();
        assert_eq!(given, needed, "{name}: the settings it gets are those its code reads");
    }
    let aggregator = variables(&resources(&template)["AggregatorFunction"]["Properties"]);
    assert!(!aggregator.contains("HC_SESSION_SECRET") && !global.contains("HC_SESSION_SECRET"));
}

#[test]
fn partners_verify_through_the_code_function_which_counts_their_calls() {
    let template = template();
    let code = &resources(&template)["CodeFunction"]["Properties"];
    let verify = code["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|e| text(&e["Properties"]["Path"]) == "/v1/verify")
        .expect("POST /v1/verify is routed to the code function");
    assert_eq!(text(&verify["Properties"]["Method"]), "POST");
    let statements = code["Policies"][0]["Statement"].as_sequence().unwrap();
    let may = |action: &str, table: &str| {
        statements.iter().any(|s| {
            s["Action"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|a| text(a) == format!("dynamodb:{action}"))
                && [&s["Resource"]]
                    .into_iter()
                    .chain(s["Resource"].as_sequence().into_iter().flatten())
                    .any(|r| get_att(r, "Arn").as_deref() == Some(table))
        })
    };
    assert!(
        may("UpdateItem", "LimitsTable"),
        "the partner limiter writes its counters"
    );
    assert!(
        may("GetItem", "SettingsTable"),
        "the partner list is read from the settings"
    );
    let scan = &resources(&template)["ScanFunction"]["Properties"];
    let scan_reads = scan["Policies"][0]["Statement"][0]["Resource"].as_sequence().unwrap();
    assert!(
        scan_reads
            .iter()
            .any(|r| get_att(r, "Arn").as_deref() == Some("SettingsTable")),
        "the scan function reads the trust list from the settings"
    );
}

#[test]
fn paper_codes_are_issued_and_printed_by_the_code_function_which_may_update_profiles() {
    let template = template();
    let code = &resources(&template)["CodeFunction"]["Properties"];
    let routes: BTreeSet<String> = code["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|e| {
            format!(
                "{} {}",
                text(&e["Properties"]["Method"]),
                text(&e["Properties"]["Path"])
            )
        })
        .collect();
    for route in ["POST /v1/code/paper", "GET /v1/code/paper"] {
        assert!(routes.contains(route), "{route}");
    }
    let statements = code["Policies"][0]["Statement"].as_sequence().unwrap();
    let updates_subjects = statements.iter().any(|s| {
        s["Action"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|a| text(a) == "dynamodb:UpdateItem")
            && get_att(&s["Resource"], "Arn").as_deref() == Some("SubjectsTable")
    });
    assert!(updates_subjects, "issuing raises the version on the subject's profile");
}

#[test]
fn samconfig_deploys_without_questions() {
    let raw = std::fs::read_to_string(format!("{ROOT}/samconfig.toml")).expect("samconfig.toml");
    let config: toml::Table = toml::from_str(&raw).expect("valid TOML");
    let deploy = &config["default"]["deploy"]["parameters"];
    assert!(deploy["stack_name"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(deploy["capabilities"].as_str(), Some("CAPABILITY_IAM"));
    assert_eq!(deploy["resolve_s3"].as_bool(), Some(true));
    assert_eq!(deploy["confirm_changeset"].as_bool(), Some(true));
    assert!(
        deploy.get("region").is_none(),
        "the region comes from AWS_REGION or the profile, not a placeholder"
    );
    // The parameters without a default are named in samconfig.toml, where
    // they are to be set.
    let template = template();
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        if parameter.get("Default").is_none() {
            assert!(
                raw.contains(&format!("{}=", text(name))),
                "samconfig.toml names {}",
                text(name)
            );
        }
    }
}

/// The warm throughput a table or index declares under `PrewarmForReopening=true`:
/// `(reads, writes)` a second, or none when it declares none.
fn prewarmed(template: &Value, warm: &Value) -> Option<(f64, f64)> {
    if warm.is_null() {
        return None;
    }
    let Value::Tagged(tagged) = warm else {
        panic!("WarmThroughput is !If [Prewarm, ..., !Ref AWS::NoValue], found {warm:?}")
    };
    assert_eq!(tagged.tag, "If");
    let branches = tagged.value.as_sequence().expect("!If [condition, then, else]");
    assert_eq!(text(&branches[0]), "Prewarm");
    assert_eq!(
        reference(&branches[2]).as_deref(),
        Some("AWS::NoValue"),
        "nothing without the parameter"
    );
    let units = |key: &str| {
        let value = &branches[1][key];
        if value.is_null() { 0.0 } else { number(template, value) }
    };
    Some((units("ReadUnitsPerSecond"), units("WriteUnitsPerSecond")))
}

/// docs/capacity.md: the reopening morning at 60,000 scans and check-ins a second
/// (plus as many code fetches as scans) needs these units a second at the peak.
/// Each table and the index is warmed to at least 1.5 times its peak, the index to
/// twice (so that a station's shards find half-empty partitions), all within the
/// per-table quota the document asks to raise (100,000), and only when the
/// parameter says so: the default deployment stays within a new account's quotas.
#[test]
fn the_tables_are_prewarmed_for_the_reopening_morning_on_request() {
    let template = template();
    let parameter = &template["Parameters"]["PrewarmForReopening"];
    assert_eq!(text(&parameter["Default"]), "false");
    let Value::Tagged(condition) = &template["Conditions"]["Prewarm"] else {
        panic!("the Prewarm condition")
    };
    assert_eq!(condition.tag, "Equals");
    let compared = condition.value.as_sequence().expect("!Equals [a, b]");
    assert_eq!(reference(&compared[0]).as_deref(), Some("PrewarmForReopening"));
    assert_eq!(text(&compared[1]), "true");
    let peak_ops = 60_000.0;
    let (checkins, scans) = (peak_ops / 2.0, peak_ops / 2.0);
    let codes = scans;
    let quota = 100_000.0;
    // (logical id, reads a second at the peak, writes a second at the peak)
    let peaks = [
        ("SubjectsTable", 0.5 * (checkins + scans + codes), 0.0),
        ("AccountsTable", 0.5 * (checkins + scans + codes), 0.0),
        ("VenuesTable", 0.5 * checkins, 0.0),
        ("LogTable", 0.0, checkins + scans),
        // Aggregator batches of up to 6 MB (about 6,000 entries) touching 161 counters
        // each, 2 WRU a transactional update: 60,000 / 6,000 × 2 × (161 + 2).
        ("StatsTable", 0.0, 3_260.0),
    ];
    let all = resources(&template);
    for (id, reads, writes) in peaks {
        let p = &all[id]["Properties"];
        let (warm_reads, warm_writes) =
            prewarmed(&template, &p["WarmThroughput"]).unwrap_or_else(|| panic!("{id} is pre-warmed"));
        assert!(
            warm_reads >= 1.5 * reads && warm_reads <= quota,
            "{id}: {warm_reads} reads for a peak of {reads}"
        );
        assert!(
            warm_writes >= 1.5 * writes && warm_writes <= quota,
            "{id}: {warm_writes} writes for a peak of {writes}"
        );
    }
    let index = &all["LogTable"]["Properties"]["GlobalSecondaryIndexes"][0];
    assert_eq!(text(&index["IndexName"]), "by-venue");
    let (_, index_writes) = prewarmed(&template, &index["WarmThroughput"]).expect("the by-venue index is pre-warmed");
    assert!(
        index_writes >= 2.0 * checkins && index_writes <= quota,
        "by-venue: {index_writes}"
    );
    // Tables the morning does not touch are not warmed (nothing to pay for).
    for id in ["LimitsTable", "AuditTable", "SettingsTable"] {
        assert!(all[id]["Properties"]["WarmThroughput"].is_null(), "{id}");
    }
}

/// docs/capacity.md: a station of 3,000 check-ins a second, over shards of at most
/// half a partition's 1,000 write units each; and the aggregator's log batches as
/// large as Lambda takes, so that a peak means fewer, fuller batches.
#[test]
fn a_busy_station_has_index_shards_to_spare_and_the_aggregator_full_batches() {
    let template = template();
    let all = resources(&template);
    let venue = variables(&all["VenueFunction"]["Properties"]);
    assert!(venue.contains("HC_VENUE_LOG_SHARDS"));
    let shards: f64 = text(&all["VenueFunction"]["Properties"]["Environment"]["Variables"]["HC_VENUE_LOG_SHARDS"])
        .parse()
        .expect("a number");
    assert!((1.0..=64.0).contains(&shards), "the function accepts 1 to 64");
    assert!(3_000.0 / shards <= 500.0, "{shards} shards");
    let log = &all["AggregatorFunction"]["Properties"]["Events"]["LogStream"]["Properties"];
    assert_eq!(
        number(&template, &log["BatchSize"]),
        10_000.0,
        "Lambda's largest batch of a DynamoDB stream"
    );
}

/// The actions a function's policy allows on `resource` (as written: `Table`
/// for `!GetAtt Table.Arn`, `${Table.Arn}/index/name` for an index).
fn allowed(function: &Value, resource: &str) -> BTreeSet<String> {
    let names = |r: &Value| match get_att(r, "Arn") {
        Some(table) => table,
        None => text(r),
    };
    let mut actions = BTreeSet::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let resources: Vec<String> = match &statement["Resource"] {
                Value::Sequence(list) => list.iter().map(names).collect(),
                one => vec![names(one)],
            };
            if resources.iter().any(|r| r == resource) {
                actions.extend(statement["Action"].as_sequence().unwrap().iter().map(text));
            }
        }
    }
    actions
}

#[test]
fn the_admin_function_finds_and_revokes_venues_through_its_routes_and_no_more() {
    let template = template();
    let admin = &template["Resources"]["AdminFunction"];
    let routes: BTreeSet<String> = admin["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|e| {
            format!(
                "{} {}",
                text(&e["Properties"]["Method"]),
                text(&e["Properties"]["Path"])
            )
        })
        .collect();
    for route in [
        "GET /v1/admin/subjects",
        "GET /v1/admin/venues",
        "DELETE /v1/admin/venues/{venue_id}",
    ] {
        assert!(routes.contains(route), "{route}");
    }
    assert_eq!(
        allowed(admin, "${VenuesTable.Arn}/index/by-region"),
        BTreeSet::from(["dynamodb:Query".to_owned()])
    );
    assert_eq!(
        allowed(admin, "VenuesTable"),
        [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
        "reads, and the revocation's transaction; never a put or a scan"
    );
}

/// The functions' own metric of DynamoDB outages (shared/src/metrics.rs) is alarmed for every
/// function that serves the API, under the namespace and dimension the functions write.
#[test]
fn store_outages_counted_by_the_functions_are_alarmed() {
    let template = template();
    let http: BTreeSet<String> = functions(&template)
        .into_iter()
        .filter(|(_, f)| {
            f["Properties"]["Events"]
                .as_mapping()
                .is_some_and(|events| events.values().any(|e| text(&e["Type"]) == "HttpApi"))
        })
        .map(|(n, _)| n)
        .collect();
    assert!(http.len() >= 6, "{http:?}");
    let mut covered = BTreeSet::new();
    for (_, alarm) in of_type(&template, "AWS::CloudWatch::Alarm") {
        let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() else {
            continue;
        };
        let ids: Vec<String> = metrics
            .iter()
            .filter_map(|m| {
                let metric = &m["MetricStat"]["Metric"];
                (metric["Namespace"].as_str() == Some(shared::metrics::NAMESPACE)
                    && metric["MetricName"].as_str() == Some("StoreUnavailable"))
                .then(|| {
                    covered.extend(metric["Dimensions"].as_sequence().unwrap().iter().filter_map(|d| {
                        (text(&d["Name"]) == "FunctionName")
                            .then(|| reference(&d["Value"]))
                            .flatten()
                    }));
                    text(&m["Id"])
                })
            })
            .collect();
        if ids.is_empty() {
            continue;
        }
        let expression = metrics
            .iter()
            .find(|m| m["ReturnData"] == Value::Bool(true))
            .map(|m| text(&m["Expression"]))
            .expect("an expression returns the data");
        for id in &ids {
            assert!(expression.contains(id.as_str()), "{expression} sums {id}");
        }
    }
    assert_eq!(covered, http);
}
