//! The operational metrics a deployed instance writes (shared/src/metrics.rs): driven through
//! the handlers, read back as the embedded-metric-format documents CloudWatch would receive.
//! One test in a binary of its own, because the counts are the process's.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use integration_tests::*;
use serde_json::{Value, json};
use shared::store::{Store, Tables};

/// The counts of the documents, by metric and dimension values (FunctionName left out).
fn counts(lines: &[String]) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in lines {
        let doc: Value = serde_json::from_str(line).expect("a JSON document a line");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "HealthCode");
        let name = directive["Metrics"][0]["Name"].as_str().unwrap();
        let dims: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .filter(|d| *d != "FunctionName")
            .map(|d| format!("{d}={}", doc[d].as_str().unwrap()))
            .collect();
        assert!(doc["FunctionName"].is_string());
        *out.entry(format!("{name}[{}]", dims.join(","))).or_default() += doc[name].as_f64().unwrap();
    }
    out
}

#[tokio::test]
async fn scans_check_ins_declarations_and_store_outages_are_counted_by_colour_and_result() {
    let w = world().await;
    let _ = shared::metrics::take_documents();
    let visitor = declared(&w, "visitor", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let owner = verified(&w.login, "owner", 3).await;
    let (_, venue) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&owner)),
        )
        .await,
    );
    let venue_code = venue["qr"].as_str().unwrap().to_owned();
    let (_, code) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&visitor))).await);
    let code = code["qr"].as_str().unwrap().to_owned();

    let (status, _) = parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(status, 200);
    for expected in [201, 201] {
        let mut req = request(
            "POST",
            "/v1/checkins",
            Some(json!({"venue_code": venue_code})),
            Some(&visitor),
        );
        req.headers_mut().insert("idempotency-key", "k-1".parse().unwrap());
        assert_eq!(parts(scan::handle(&w.scan, req).await).0, expected);
    }
    // A forged code is refused before any read and counted as no scan.
    let (status, _) = parts(
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": "HBHC:1:x.y.z"})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(status, 422);

    // The same function on a store that does not answer: 503, counted.
    let dead = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .connect_timeout(StdDuration::from_millis(200))
                .operation_timeout(StdDuration::from_secs(2))
                .build(),
        )
        .retry_config(shared::store::retries().with_initial_backoff(StdDuration::from_millis(5)))
        .build();
    let dead = Store::new(aws_sdk_dynamodb::Client::from_conf(dead), Tables::with_prefix("dead-"));
    let outage = scan_app(&dead, &w.clock);
    let (status, _) = parts(
        scan::handle(
            &outage,
            request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard)),
        )
        .await,
    );
    assert_eq!(status, 503);

    let counted = counts(&shared::metrics::take_documents());
    assert_eq!(counted.get("Declarations[Color=green]"), Some(&1.0), "{counted:?}");
    assert_eq!(counted.get("Scans[Color=green,Result=pass]"), Some(&1.0), "{counted:?}");
    assert_eq!(
        counted.get("CheckIns[Color=green,Result=recorded]"),
        Some(&1.0),
        "{counted:?}"
    );
    assert_eq!(
        counted.get("CheckIns[Color=green,Result=repeat]"),
        Some(&1.0),
        "{counted:?}"
    );
    assert_eq!(counted.get("StoreUnavailable[]"), Some(&1.0), "{counted:?}");
    assert_eq!(counted.len(), 5, "nothing else: {counted:?}");
    assert!(shared::metrics::take_documents().is_empty(), "written once");
}
