//! Operational metrics as CloudWatch embedded metric format (EMF): JSON documents written to
//! standard output, one per line, from which CloudWatch Logs extracts the metrics. No client, no
//! permission beyond the logs the function writes anyway, no call on the request path.
//!
//! An instance counts in memory and writes what it counted at the end of an invocation, at
//! most every [`FLUSH_EVERY`] (and at the end of its first invocation, so a cold start shows at
//! once): a document a request would be about 250 bytes of log ingestion a request, US$0.125 per
//! million at US$0.50 per GB, which the check-in's budget cannot carry; a document per instance
//! and 10 seconds is nothing next to it. The price: what an instance counted since its last
//! write is lost when Lambda reclaims it without another invocation, at most 10 seconds of one
//! idle instance's counts.
//!
//! The metrics (namespace `HealthCode`, every one also by `FunctionName`):
//!
//! | name | unit | dimensions | counted |
//! |---|---|---|---|
//! | `ColdStart` | Count | `FunctionName` | once per instance, after its configuration is read |
//! | `Scans` | Count | `FunctionName`, `Color`, `Result` (`pass`, `verify`) | each checkpoint scan answered |
//! | `CheckIns` | Count | `FunctionName`, `Color`, `Result` (`recorded`, `repeat`) | each check-in answered |
//! | `Declarations` | Count | `FunctionName`, `Color` | each declaration recorded |
//! | `StoreUnavailable` | Count | `FunctionName` | each request answered 503 because DynamoDB was unavailable |
//! | `ExposureContacts` | Count | `FunctionName` | each contact an exposure recorded |

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::domain::status::Color;

pub const NAMESPACE: &str = "HealthCode";
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// One metric and the values of its dimensions other than `FunctionName`.
type Key = (&'static str, Vec<(&'static str, &'static str)>);

/// Counts since the last write.
#[derive(Default)]
pub struct Registry {
    counts: BTreeMap<Key, f64>,
    last_flush: Option<Instant>,
}

impl Registry {
    pub fn add(&mut self, name: &'static str, dimensions: &[(&'static str, &'static str)], value: f64) {
        *self.counts.entry((name, dimensions.to_vec())).or_default() += value;
    }

    /// The EMF documents of what was counted, if a write is due (the first time, or
    /// [`FLUSH_EVERY`] after the last), and forgets the counts.
    pub fn flush_if_due(&mut self, now: Instant, function: &str, timestamp_ms: i64) -> Vec<String> {
        if self.last_flush.is_some_and(|at| now.duration_since(at) < FLUSH_EVERY) {
            return Vec::new();
        }
        self.last_flush = Some(now);
        self.drain(function, timestamp_ms)
    }

    /// The EMF documents of what was counted, now, and forgets the counts.
    pub fn drain(&mut self, function: &str, timestamp_ms: i64) -> Vec<String> {
        std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((name, dimensions), value)| document(function, timestamp_ms, name, &dimensions, value))
            .collect()
    }
}

/// One EMF document: one metric, its value and its dimensions' values at the root.
pub fn document(
    function: &str,
    timestamp_ms: i64,
    name: &str,
    dimensions: &[(&'static str, &'static str)],
    value: f64,
) -> String {
    let mut names = vec!["FunctionName"];
    names.extend(dimensions.iter().map(|(k, _)| *k));
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        }),
    );
    root.insert("FunctionName".into(), Value::from(function));
    for (k, v) in dimensions {
        root.insert((*k).into(), Value::from(*v));
    }
    root.insert(name.into(), Value::from(value));
    Value::Object(root).to_string()
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn add(name: &'static str, dimensions: &[(&'static str, &'static str)], value: f64) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry
        .get_or_insert_with(Registry::default)
        .add(name, dimensions, value);
}

/// Writes what this instance counted, if due, to standard output: called at the end of every
/// invocation.
pub fn flush() {
    let lines = with_registry(|r, function, ts| r.flush_if_due(Instant::now(), function, ts));
    for line in lines {
        println!("{line}");
    }
}

/// Everything counted so far as EMF documents, due or not, and forgets it: for tests that drive
/// the handlers in-process and check what a deployed instance would write.
pub fn take_documents() -> Vec<String> {
    with_registry(|r, function, ts| r.drain(function, ts))
}

fn with_registry(f: impl FnOnce(&mut Registry, &str, i64) -> Vec<String>) -> Vec<String> {
    let timestamp_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(
        registry.get_or_insert_with(Registry::default),
        function_name(),
        timestamp_ms,
    )
}

/// The function's name as Lambda gives it (`AWS_LAMBDA_FUNCTION_NAME`), the dimension Lambda's
/// own metrics use; else the binary's.
/// Read once: `flush` runs after every invocation.
fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(read_function_name)
}

fn read_function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "unknown".into())
        })
}

fn color(c: Color) -> &'static str {
    match c {
        Color::Green => "green",
        Color::Yellow => "yellow",
        Color::Red => "red",
    }
}

pub fn cold_start() {
    add("ColdStart", &[], 1.0);
}

pub fn scan(c: Color, pass: bool) {
    add(
        "Scans",
        &[("Color", color(c)), ("Result", if pass { "pass" } else { "verify" })],
        1.0,
    );
}

pub fn check_in(c: Color, repeat: bool) {
    add(
        "CheckIns",
        &[
            ("Color", color(c)),
            ("Result", if repeat { "repeat" } else { "recorded" }),
        ],
        1.0,
    );
}

pub fn declaration(c: Color) {
    add("Declarations", &[("Color", color(c))], 1.0);
}

pub fn store_unavailable() {
    add("StoreUnavailable", &[], 1.0);
}

pub fn exposure_contacts(n: u64) {
    add("ExposureContacts", &[], n as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a document against the EMF specification's rules
    /// (CloudWatch_Embedded_Metric_Format_Specification): `_aws` with an integer `Timestamp` and
    /// `CloudWatchMetrics`; each directive a `Namespace`, `Dimensions` (arrays of at most 30
    /// names, each a string member at the root) and `Metrics` (at most 100, each a number member
    /// at the root, with a valid unit).
    fn valid_emf(line: &str) -> Value {
        let doc: Value = serde_json::from_str(line).expect("one JSON object");
        assert!(!line.contains('\n'));
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_i64(), "{line}");
        for directive in aws["CloudWatchMetrics"].as_array().expect("directives") {
            assert!(
                directive["Namespace"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty() && n.len() <= 1024)
            );
            for set in directive["Dimensions"].as_array().expect("dimension sets") {
                let set = set.as_array().expect("a set");
                assert!(set.len() <= 30);
                for name in set {
                    assert!(doc[name.as_str().unwrap()].is_string(), "{name} at the root of {line}");
                }
            }
            let metrics = directive["Metrics"].as_array().expect("metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                assert!(doc[m["Name"].as_str().unwrap()].is_number(), "{line}");
                assert!(["Count", "Milliseconds", "None"].contains(&m["Unit"].as_str().unwrap()));
            }
        }
        doc
    }

    #[test]
    fn writes_one_valid_document_per_metric_and_dimension_values() {
        let mut r = Registry::default();
        let t0 = Instant::now();
        r.add("ColdStart", &[], 1.0);
        r.add("Scans", &[("Color", "green"), ("Result", "pass")], 1.0);
        r.add("Scans", &[("Color", "green"), ("Result", "pass")], 1.0);
        r.add("Scans", &[("Color", "red"), ("Result", "verify")], 1.0);
        let lines = r.flush_if_due(t0, "hc-scan", 1_764_000_000_000);
        assert_eq!(lines.len(), 3);
        let docs: Vec<Value> = lines.iter().map(|l| valid_emf(l)).collect();
        let green = docs.iter().find(|d| d["Color"] == "green").unwrap();
        assert_eq!(green["Scans"], 2.0);
        assert_eq!(green["Result"], "pass");
        assert_eq!(green["FunctionName"], "hc-scan");
        assert_eq!(green["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            green["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "Color", "Result"]])
        );
        assert_eq!(
            docs.iter().find(|d| d.get("ColdStart").is_some()).unwrap()["ColdStart"],
            1.0
        );
    }

    #[test]
    fn writes_at_most_every_ten_seconds_and_never_twice_the_same_count() {
        let mut r = Registry::default();
        let t0 = Instant::now();
        r.add("Declarations", &[("Color", "green")], 1.0);
        assert_eq!(r.flush_if_due(t0, "f", 0).len(), 1, "the first invocation writes");
        r.add("Declarations", &[("Color", "green")], 1.0);
        assert!(r.flush_if_due(t0 + Duration::from_secs(9), "f", 0).is_empty());
        r.add("Declarations", &[("Color", "green")], 1.0);
        let lines = r.flush_if_due(t0 + Duration::from_secs(10), "f", 0);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            valid_emf(&lines[0])["Declarations"],
            2.0,
            "both counts since the last write"
        );
        assert!(
            r.flush_if_due(t0 + Duration::from_secs(30), "f", 0).is_empty(),
            "nothing new, nothing written"
        );
    }
}
