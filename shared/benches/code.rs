//! Issuing and verifying personal codes: the work of every `GET /v1/code`
//! and every checkpoint scan, without the store.
//!
//! `cargo bench -p shared --bench code`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::domain::qr;
use shared::domain::rules::RuleSet;
use shared::domain::status::{Color, Facts, RiskAreas, RiskLevel};
use shared::domain::token::CodeKeys;
use time::Duration;
use time::macros::datetime;

fn code(c: &mut Criterion) {
    let now = datetime!(2026-11-26 10:00 +8);
    let keys = CodeKeys::new(&[7; 32], None, "https://hc.hebei.example", Duration::minutes(5));
    let rules = RuleSet::embedded();
    let facts: Facts = serde_json::from_value(serde_json::json!({
        "days": (0..14).map(|d| serde_json::json!({
            "day": format!("2026-11-{:02}", 13 + d),
            "at": format!("2026-11-{:02}T08:00:00+08:00", 13 + d),
            "temp": 36.5,
            "region": "130102",
            "visited": ["130104", "110105"]
        })).collect::<Vec<_>>()
    }))
    .expect("facts");
    let areas = RiskAreas {
        areas: (0..200)
            .map(|i| (format!("{}", 410100 + i * 100), RiskLevel::Medium))
            .collect(),
        updated_at: now,
    };

    c.bench_function("status: evaluate 14 days of facts against 200 risk areas", |b| {
        b.iter(|| rules.evaluate(black_box(&facts), black_box(&areas), now))
    });
    c.bench_function("issue: status → signed token → QR SVG", |b| {
        b.iter(|| {
            let status = rules.evaluate(&facts, &areas, now);
            let code = keys.issue(black_box("s_3lq4ajd7xq2kd5x7j3ywq4fb2m"), status.color, now);
            qr::svg(&code.content).expect("fits")
        })
    });
    let content = keys.issue("s_3lq4ajd7xq2kd5x7j3ywq4fb2m", Color::Green, now).content;
    c.bench_function("sign: token only", |b| {
        b.iter(|| keys.issue(black_box("s_3lq4ajd7xq2kd5x7j3ywq4fb2m"), Color::Green, now))
    });
    c.bench_function("render: QR SVG only", |b| {
        b.iter(|| qr::svg(black_box(&content)).expect("fits"))
    });
    c.bench_function("verify: token", |b| {
        b.iter(|| keys.verify(black_box(&content), now).expect("valid"))
    });
}

criterion_group!(benches, code);
criterion_main!(benches);
