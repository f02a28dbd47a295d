//! Data-driven test vectors for the colour rules, one case per file in `tests/vectors/`, in the
//! manner of the EU DCC test data: each file carries its validation clock, its inputs and the
//! expected outcome. Every vector is run and every failure is reported by file name.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use shared::domain::declaration::{DeclarationRequest, validate};
use shared::domain::rules::RuleSet;
use shared::domain::status::{Color, ExposureFact, Facts, Override, RiskAreas, RiskRecord, Status};
use time::OffsetDateTime;

/// Fewer than this and the suite has lost files.
const MIN_VECTORS: usize = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    description: String,
    /// The validation clock.
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
    /// Applied in order with `RuleSet::record`, each at its own `at`.
    declarations: Vec<TimedDeclaration>,
    risk_areas: Option<RiskAreas>,
    risk: Option<RiskRecord>,
    #[serde(rename = "override")]
    override_: Option<Override>,
    /// Contacts recorded by exposures, as the exposure worker stores them.
    exposures: Option<Vec<ExposureFact>>,
    expected: Expected,
}

#[derive(Deserialize)]
struct TimedDeclaration {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(flatten)]
    body: DeclarationRequest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    color: Color,
    hints: Vec<String>,
    rules: Option<Vec<String>>,
    overridden: Option<bool>,
    /// Rule ids of the triggers carried out of the history after the last declaration.
    carried: Option<Vec<String>>,
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Runs one vector; `Err` says what went wrong.
fn run(path: &Path) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("unreadable: {e}"))?;
    let vector: Vector = serde_json::from_str(&text).map_err(|e| format!("malformed: {e}"))?;
    if vector.description.trim().is_empty() {
        return Err("has no description".into());
    }
    let rules = RuleSet::embedded();
    let areas = vector.risk_areas.unwrap_or(RiskAreas {
        areas: BTreeMap::new(),
        updated_at: OffsetDateTime::UNIX_EPOCH,
    });

    // Risk and override first, so that writes see them as they would in production.
    let mut facts = Facts {
        risk: vector.risk,
        override_: vector.override_,
        exposures: vector.exposures.unwrap_or_default(),
        ..Facts::default()
    };
    for (i, timed) in vector.declarations.into_iter().enumerate() {
        let decl = validate(timed.body).map_err(|e| format!("declaration {i} is invalid: {e}"))?;
        rules.record(&mut facts, &decl, timed.at);
    }

    let status = rules.evaluate(&facts, &areas, vector.now);
    let json = serde_json::to_string(&facts).map_err(|e| format!("facts do not serialise: {e}"))?;
    let stored: Facts = serde_json::from_str(&json).map_err(|e| format!("facts do not deserialise: {e}"))?;
    if stored != facts {
        return Err(format!("facts change in a JSON round trip: {json}"));
    }
    let restored = rules.evaluate(&stored, &areas, vector.now);
    if restored != status {
        return Err(format!(
            "status changes after a JSON round trip: {status:?} then {restored:?}"
        ));
    }

    let mut problems = Vec::new();
    let expected = vector.expected;
    check(&mut problems, "color", &expected.color, &status.color);
    check(&mut problems, "hints", &expected.hints, &status.hints);
    check(
        &mut problems,
        "status_text",
        &if expected.hints.is_empty() {
            "未见异常"
        } else {
            "请进行健康状态核验"
        },
        &status.status_text(),
    );
    check(
        &mut problems,
        "rules_version",
        &rules.version(),
        &status.rules_version.as_str(),
    );
    if let Some(ids) = &expected.rules {
        check(&mut problems, "rules", ids, &status.rules);
    }
    if let Some(overridden) = &expected.overridden {
        check(&mut problems, "overridden", overridden, &status.overridden);
    }
    if let Some(ids) = &expected.carried {
        let carried: Vec<String> = facts.carried.iter().map(|t| t.rule.clone()).collect();
        check(&mut problems, "carried", ids, &carried);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n    got {}", problems.join("\n    "), summary(&status)))
    }
}

fn check<T: PartialEq + std::fmt::Debug + ?Sized>(problems: &mut Vec<String>, what: &str, expected: &T, got: &T) {
    if expected != got {
        problems.push(format!("{what}: expected {expected:?}, got {got:?}"));
    }
}

fn summary(status: &Status) -> String {
    format!(
        "{:?} {:?} rules {:?} overridden {}",
        status.color, status.hints, status.rules, status.overridden
    )
}

#[test]
fn every_rule_vector_holds() {
    let files = vector_files();
    assert!(files.len() >= MIN_VECTORS, "only {} vectors found", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            run(path).err().map(|why| format!("{name}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
