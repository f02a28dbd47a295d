//! The colour rules: versioned data (`rules/colour-rules.toml`) and the pure engine that applies
//! them to a subject's stored facts. `docs/colour-rules.md` explains the terms used here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use thiserror::Error;
use time::{Date, Duration, OffsetDateTime};

use super::day;
use super::declaration::{Declaration, MAX_TEMPERATURE, MIN_TEMPERATURE, Symptom};
use super::divisions;
use super::status::{Color, DayRecord, Facts, RiskAreas, RiskLevel, RiskStatus, Status, Trigger};

const EMBEDDED: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/colour-rules.toml"));

// The file is part of the build and parsed by a test, so failing here is a programming error.
static EMBEDDED_RULES: LazyLock<RuleSet> =
    LazyLock::new(|| RuleSet::from_toml(EMBEDDED).expect("embedded colour rules are valid"));

#[derive(Debug, Error, PartialEq)]
pub enum RulesError {
    #[error("colour rules do not parse: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("`{0}` must not be empty")]
    Empty(&'static str),
    #[error("fever_threshold must be a temperature a declaration can carry")]
    FeverThreshold,
    #[error("rule id `{0}` is used twice")]
    DuplicateId(String),
    #[error("rule `{rule}` has unknown kind `{kind}`")]
    UnknownKind { rule: String, kind: String },
    #[error("rule `{0}` is green; rules can only make a code yellow or red")]
    Green(String),
    #[error("rule `{0}` needs a hint")]
    MissingHint(String),
    #[error("rule `{0}` needs a source")]
    MissingSource(String),
    #[error("rule `{rule}` needs a non-empty `{parameter}`")]
    MissingParameter { rule: String, parameter: &'static str },
    #[error("rule `{rule}` does not take `{parameter}`")]
    UnexpectedParameter { rule: String, parameter: &'static str },
    #[error("rule `{rule}`: `{parameter}` must be at least 1")]
    ZeroDays { rule: String, parameter: &'static str },
    #[error("history_days must be at least {needed} for rule `{rule}`")]
    HistoryTooShort { rule: String, needed: u16 },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    version: String,
    fever_threshold: f64,
    fever_symptoms: Vec<Symptom>,
    respiratory_symptoms: Vec<Symptom>,
    history_days: u16,
    override_hint: String,
    #[serde(rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    kind: String,
    color: Color,
    // Optional here so that a missing one is reported with the rule's id.
    hint: Option<String>,
    source: Option<String>,
    statuses: Option<Vec<RiskStatus>>,
    levels: Option<Vec<RiskLevel>>,
    normal_days: Option<u16>,
    within_days: Option<u16>,
}

impl RawRule {
    fn list<T>(
        &mut self,
        slot: fn(&mut Self) -> &mut Option<Vec<T>>,
        parameter: &'static str,
    ) -> Result<Vec<T>, RulesError> {
        match slot(self).take() {
            Some(list) if !list.is_empty() => Ok(list),
            _ => Err(RulesError::MissingParameter {
                rule: self.id.clone(),
                parameter,
            }),
        }
    }

    fn days(&mut self, slot: fn(&mut Self) -> &mut Option<u16>, parameter: &'static str) -> Result<u16, RulesError> {
        match slot(self).take() {
            Some(0) => Err(RulesError::ZeroDays {
                rule: self.id.clone(),
                parameter,
            }),
            Some(days) => Ok(days),
            None => Err(RulesError::MissingParameter {
                rule: self.id.clone(),
                parameter,
            }),
        }
    }

    fn declared(&mut self, finding: Finding) -> Result<Kind, RulesError> {
        Ok(Kind::Declared {
            finding,
            normal_days: self.days(|r| &mut r.normal_days, "normal_days")?,
        })
    }

    fn kind(&mut self) -> Result<Kind, RulesError> {
        let kind = match self.kind.as_str() {
            "risk-status" => Kind::RiskStatus(self.list(|r| &mut r.statuses, "statuses")?),
            "risk-cleared" => Kind::RiskCleared {
                normal_days: self.days(|r| &mut r.normal_days, "normal_days")?,
            },
            "declared-close-contact" => self.declared(Finding::CloseContact)?,
            "fever-with-respiratory" => self.declared(Finding::FeverWithRespiratory)?,
            "fever" => self.declared(Finding::Fever)?,
            "respiratory" => self.declared(Finding::Respiratory)?,
            "risk-area" => Kind::RiskArea {
                levels: self.list(|r| &mut r.levels, "levels")?,
                within_days: self.days(|r| &mut r.within_days, "within_days")?,
            },
            "from-abroad" => Kind::FromAbroad {
                within_days: self.days(|r| &mut r.within_days, "within_days")?,
            },
            other => {
                return Err(RulesError::UnknownKind {
                    rule: self.id.clone(),
                    kind: other.to_owned(),
                });
            }
        };
        // What the kind took is gone; anything left is a parameter the kind does not use.
        let left = [
            ("statuses", self.statuses.is_some()),
            ("levels", self.levels.is_some()),
            ("normal_days", self.normal_days.is_some()),
            ("within_days", self.within_days.is_some()),
        ];
        match left.into_iter().find(|&(_, present)| present) {
            Some((parameter, _)) => Err(RulesError::UnexpectedParameter {
                rule: self.id.clone(),
                parameter,
            }),
            None => Ok(kind),
        }
    }
}

/// What a declared day can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finding {
    CloseContact,
    FeverWithRespiratory,
    Fever,
    Respiratory,
}

#[derive(Debug)]
enum Kind {
    /// Live while the risk record has one of these statuses.
    RiskStatus(Vec<RiskStatus>),
    /// A `cleared` record is a trigger on its `since` day.
    RiskCleared { normal_days: u16 },
    /// A trigger on each day whose record shows the finding.
    Declared { finding: Finding, normal_days: u16 },
    /// Live while a record of the window names a region in an area of one of these levels.
    RiskArea { levels: Vec<RiskLevel>, within_days: u16 },
    /// Live while a record of the window says the person came from abroad.
    FromAbroad { within_days: u16 },
}

#[derive(Debug)]
struct Rule {
    id: String,
    kind: Kind,
    color: Color,
    hint: String,
}

/// A validated set of colour rules.
#[derive(Debug)]
pub struct RuleSet {
    version: String,
    fever_threshold: f64,
    fever_symptoms: Vec<Symptom>,
    respiratory_symptoms: Vec<Symptom>,
    history_days: u16,
    override_hint: String,
    rules: Vec<Rule>,
    /// With a fever-with-respiratory rule, `fever` and `respiratory` stand aside on the days it
    /// fires, so that such a day shows one finding, not three.
    combined: bool,
}

/// The signs of one declaration, as the rule set reads them.
#[derive(Clone, Copy)]
struct Signs {
    fever: bool,
    respiratory: bool,
    close_contact: bool,
}

/// A day record list with each day's normality worked out once.
struct History<'a> {
    days: &'a [DayRecord],
    normal: Vec<bool>,
}

impl History<'_> {
    /// Whether, strictly after `after` and no later than `until`, there are `needed`
    /// consecutive calendar days each with a normal record. A day without a record breaks a run.
    fn resolved(&self, after: Date, needed: u16, until: Date) -> bool {
        let mut run = 0u16;
        let mut previous: Option<Date> = None;
        for (record, &normal) in self.days.iter().zip(&self.normal) {
            if record.day <= after {
                continue;
            }
            if record.day > until {
                break;
            }
            let follows = previous.and_then(Date::next_day) == Some(record.day);
            run = match (normal, follows) {
                (false, _) => 0,
                (true, true) => run + 1,
                (true, false) => 1,
            };
            if run >= needed {
                return true;
            }
            previous = Some(record.day);
        }
        false
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

fn days_before(d: Date, days: u16) -> Date {
    d.saturating_sub(Duration::days(i64::from(days)))
}

impl RuleSet {
    /// The rules built into this binary.
    pub fn embedded() -> &'static RuleSet {
        &EMBEDDED_RULES
    }

    /// Parses and validates a rules file.
    pub fn from_toml(text: &str) -> Result<RuleSet, RulesError> {
        let raw: RawRuleSet = toml::from_str(text)?;
        if raw.version.trim().is_empty() {
            return Err(RulesError::Empty("version"));
        }
        if raw.override_hint.trim().is_empty() {
            return Err(RulesError::Empty("override_hint"));
        }
        if !(MIN_TEMPERATURE..=MAX_TEMPERATURE).contains(&raw.fever_threshold) {
            return Err(RulesError::FeverThreshold);
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        for mut r in raw.rules {
            if rules.iter().any(|known| known.id == r.id) {
                return Err(RulesError::DuplicateId(r.id));
            }
            if r.color == Color::Green {
                return Err(RulesError::Green(r.id));
            }
            let Some(hint) = non_empty(r.hint.take()) else {
                return Err(RulesError::MissingHint(r.id));
            };
            if non_empty(r.source.take()).is_none() {
                return Err(RulesError::MissingSource(r.id));
            }
            let kind = r.kind()?;
            // Day rules need the trigger day and their whole resolving run in the history, so
            // that a trigger resolved on time is never carried; window rules need their window.
            let needed = match kind {
                Kind::RiskCleared { normal_days } | Kind::Declared { normal_days, .. } => normal_days.saturating_add(1),
                Kind::RiskArea { within_days, .. } | Kind::FromAbroad { within_days } => within_days,
                Kind::RiskStatus(_) => 0,
            };
            if raw.history_days < needed {
                return Err(RulesError::HistoryTooShort { rule: r.id, needed });
            }
            rules.push(Rule {
                id: r.id,
                kind,
                color: r.color,
                hint,
            });
        }
        let combined = rules.iter().any(|r| {
            matches!(
                r.kind,
                Kind::Declared {
                    finding: Finding::FeverWithRespiratory,
                    ..
                }
            )
        });
        Ok(RuleSet {
            version: raw.version,
            fever_threshold: raw.fever_threshold,
            fever_symptoms: raw.fever_symptoms,
            respiratory_symptoms: raw.respiratory_symptoms,
            history_days: raw.history_days,
            override_hint: raw.override_hint,
            rules,
            combined,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether a declaration fires a day rule (fever, respiratory symptoms, close contact), that
    /// is, whether its day would not count as normal.
    pub fn is_abnormal(&self, decl: &Declaration) -> bool {
        self.abnormal(self.signs(decl.temperature(), decl.symptoms(), decl.close_contact()))
    }

    /// Computes the subject's status at `now`.
    pub fn evaluate(&self, facts: &Facts, areas: &RiskAreas, now: OffsetDateTime) -> Status {
        let today = day::shanghai_day(now);
        let history = self.history(&facts.days);
        let fired: Vec<(&Rule, OffsetDateTime)> = self
            .rules
            .iter()
            .filter_map(|rule| Some((rule, self.fires(rule, facts, areas, &history, today)?)))
            .collect();
        let rules = fired.iter().map(|(rule, _)| rule.id.clone()).collect();
        let version = self.version.clone();

        // A check (核验) stands until it expires or a fact it could not have seen makes a rule fire.
        let standing = facts
            .override_
            .as_ref()
            .filter(|o| now < o.valid_until && fired.iter().all(|&(_, newest)| newest <= o.set_at));
        if let Some(o) = standing {
            let hints = if o.color == Color::Green {
                Vec::new()
            } else {
                vec![self.override_hint.clone()]
            };
            return Status {
                color: o.color,
                hints,
                rules,
                rules_version: version,
                overridden: true,
            };
        }

        let color = fired.iter().map(|(rule, _)| rule.color).max().unwrap_or(Color::Green);
        let mut hints: Vec<String> = Vec::new();
        for (rule, _) in &fired {
            if !hints.contains(&rule.hint) {
                hints.push(rule.hint.clone());
            }
        }
        Status {
            color,
            hints,
            rules,
            rules_version: version,
            overridden: false,
        }
    }

    /// Stores a validated declaration made at `at` as the record of its Shanghai day, replacing
    /// an earlier one of that day, then trims the history to `history_days`. Unresolved triggers
    /// of the days it drops are carried; carried triggers that are resolved are dropped.
    ///
    /// Only runs that ended before today resolve anything here, because today's record may still
    /// be corrected into an abnormal one. That loses nothing: a run of N normal days ending on
    /// day E completed with the write on E, when the history kept the `history_days` days up to
    /// E, and `from_toml` checks N < `history_days`; so the run is still whole at the next write
    /// on a later day, which is when it is used. Until then `evaluate` sees it in `days`.
    pub fn record(&self, facts: &mut Facts, decl: &Declaration, at: OffsetDateTime) {
        let record = DayRecord {
            day: day::shanghai_day(at),
            // To the second: the declaration item keeps the exact time, and whole seconds keep
            // the stored history small (history.rs).
            at: at.replace_nanosecond(0).expect("zero nanoseconds are valid"),
            temperature: decl.temperature(),
            symptoms: decl.symptoms().to_vec(),
            close_contact: decl.close_contact(),
            from_abroad: decl.from_abroad(),
            region: decl.region().to_owned(),
            visited: decl.visited_regions().to_vec(),
        };
        match facts.days.binary_search_by_key(&record.day, |r| r.day) {
            Ok(i) => facts.days[i] = record,
            Err(i) => facts.days.insert(i, record),
        }

        // The latest stored day: a write that arrives late for an earlier day does not move
        // the window back.
        let Some(today) = facts.days.last().map(|r| r.day) else {
            return;
        };
        let settled = days_before(today, 1);
        let history = self.history(&facts.days);

        if let Some(risk) = facts.risk.as_mut()
            && risk.status == RiskStatus::Cleared
            && !risk.recovered
            && self
                .cleared_days()
                .is_some_and(|n| history.resolved(risk.since, n, settled))
        {
            risk.recovered = true;
        }

        facts.carried.retain(|t| {
            self.day_rule_days(&t.rule)
                .is_some_and(|normal_days| !history.resolved(t.day, normal_days, settled))
        });

        let first_kept = days_before(today, self.history_days.saturating_sub(1));
        let leaving = facts.days.partition_point(|r| r.day < first_kept);
        for record in &facts.days[..leaving] {
            let signs = self.record_signs(record);
            for rule in &self.rules {
                if let Kind::Declared { finding, normal_days } = rule.kind
                    && self.shows(finding, signs)
                    && !history.resolved(record.day, normal_days, settled)
                {
                    let trigger = Trigger {
                        rule: rule.id.clone(),
                        color: rule.color,
                        day: record.day,
                        at: record.at,
                    };
                    carry(&mut facts.carried, trigger);
                }
            }
        }
        facts.days.drain(..leaving);
    }

    fn signs(&self, temperature: f64, symptoms: &[Symptom], close_contact: bool) -> Signs {
        Signs {
            fever: temperature >= self.fever_threshold || symptoms.iter().any(|s| self.fever_symptoms.contains(s)),
            respiratory: symptoms.iter().any(|s| self.respiratory_symptoms.contains(s)),
            close_contact,
        }
    }

    fn record_signs(&self, record: &DayRecord) -> Signs {
        self.signs(record.temperature, &record.symptoms, record.close_contact)
    }

    fn shows(&self, finding: Finding, s: Signs) -> bool {
        match finding {
            Finding::CloseContact => s.close_contact,
            Finding::FeverWithRespiratory => s.fever && s.respiratory,
            Finding::Fever => s.fever && !(self.combined && s.respiratory),
            Finding::Respiratory => s.respiratory && !(self.combined && s.fever),
        }
    }

    fn abnormal(&self, signs: Signs) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.kind, Kind::Declared { finding, .. } if self.shows(finding, signs)))
    }

    fn history<'a>(&self, days: &'a [DayRecord]) -> History<'a> {
        let normal = days.iter().map(|r| !self.abnormal(self.record_signs(r))).collect();
        History { days, normal }
    }

    /// The ending of the day rule `id`; `None` when the rule set no longer has such a rule.
    fn day_rule_days(&self, id: &str) -> Option<u16> {
        self.rules.iter().find(|r| r.id == id).and_then(|r| match r.kind {
            Kind::Declared { normal_days, .. } => Some(normal_days),
            _ => None,
        })
    }

    /// The longest `risk-cleared` ending; resolving it resolves every shorter one.
    fn cleared_days(&self) -> Option<u16> {
        self.rules
            .iter()
            .filter_map(|r| match r.kind {
                Kind::RiskCleared { normal_days } => Some(normal_days),
                _ => None,
            })
            .max()
    }

    /// If `rule` fires, the time of the newest fact that makes it fire (what voids an override).
    fn fires(
        &self,
        rule: &Rule,
        facts: &Facts,
        areas: &RiskAreas,
        history: &History,
        today: Date,
    ) -> Option<OffsetDateTime> {
        match &rule.kind {
            Kind::RiskStatus(statuses) => facts
                .risk
                .as_ref()
                .filter(|r| statuses.contains(&r.status))
                .map(|r| r.updated_at),
            Kind::RiskCleared { normal_days } => facts
                .risk
                .as_ref()
                .filter(|r| r.status == RiskStatus::Cleared && !r.recovered)
                .filter(|r| !history.resolved(r.since, *normal_days, Date::MAX))
                .map(|r| r.updated_at.max(day::start_of_day_utc(r.since))),
            Kind::Declared { finding, normal_days } => {
                let from_days = facts
                    .days
                    .iter()
                    .filter(|r| self.shows(*finding, self.record_signs(r)))
                    .map(|r| (r.day, r.at));
                let from_carried = facts
                    .carried
                    .iter()
                    .filter(|t| t.rule == rule.id)
                    .map(|t| (t.day, t.at));
                from_days
                    .chain(from_carried)
                    .filter(|&(day, _)| !history.resolved(day, *normal_days, Date::MAX))
                    .map(|(_, at)| at)
                    .max()
            }
            Kind::RiskArea { levels, within_days } => {
                // Looking up each region's ancestors in the list costs the same however long
                // the list grows during an outbreak.
                let risky = |region: &str| {
                    divisions::ancestors(region)
                        .any(|d| areas.areas.get(d.code).is_some_and(|level| levels.contains(level)))
                };
                // A region counts from the first record of the window that names it: naming it
                // again in later declarations is not news.
                let mut first_named: BTreeMap<&str, OffsetDateTime> = BTreeMap::new();
                for record in window(&facts.days, today, *within_days) {
                    for region in std::iter::once(&record.region).chain(&record.visited) {
                        if !first_named.contains_key(region.as_str()) && risky(region) {
                            first_named.insert(region, record.at);
                        }
                    }
                }
                first_named.into_values().max().map(|named| named.max(areas.updated_at))
            }
            Kind::FromAbroad { within_days } => window(&facts.days, today, *within_days)
                .find(|r| r.from_abroad)
                .map(|r| r.at),
        }
    }
}

/// The records of the last `within_days` Shanghai days, today being day 0. Later days are kept
/// too, so that a clock slightly behind the writer's does not hide a fresh record.
fn window(days: &[DayRecord], today: Date, within_days: u16) -> impl Iterator<Item = &DayRecord> {
    let first = days_before(today, within_days.saturating_sub(1));
    days.iter().filter(move |r| r.day >= first)
}

/// Keeps at most one carried trigger per rule, the latest: whatever resolves it resolves the
/// earlier ones too.
fn carry(carried: &mut Vec<Trigger>, trigger: Trigger) {
    match carried.iter_mut().find(|c| c.rule == trigger.rule) {
        Some(c) if (c.day, c.at) < (trigger.day, trigger.at) => *c = trigger,
        Some(_) => {}
        None => carried.push(trigger),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::declaration::{DeclarationRequest, validate};
    use crate::domain::status::{Override, RiskRecord};
    use time::macros::{date, datetime};

    const REGION: &str = "130102";
    const D0: Date = date!(2026 - 11 - 01);

    fn rules() -> &'static RuleSet {
        RuleSet::embedded()
    }

    fn request(temperature: f64, symptoms: &[Symptom], close_contact: bool) -> DeclarationRequest {
        DeclarationRequest {
            subject_id: None,
            region: REGION.to_owned(),
            temperature,
            symptoms: symptoms.to_vec(),
            close_contact,
            visited_regions: Vec::new(),
            from_abroad: false,
        }
    }

    fn normal() -> Declaration {
        validate(request(36.5, &[], false)).unwrap()
    }

    fn fever() -> Declaration {
        validate(request(38.0, &[], false)).unwrap()
    }

    fn contact() -> Declaration {
        validate(request(36.5, &[], true)).unwrap()
    }

    /// Noon in Shanghai, `n` days after D0.
    fn noon(n: i64) -> OffsetDateTime {
        (D0 + Duration::days(n))
            .with_hms(12, 0, 0)
            .unwrap()
            .assume_offset(day::SHANGHAI)
    }

    fn no_areas() -> RiskAreas {
        RiskAreas {
            areas: BTreeMap::new(),
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn color(facts: &Facts, now: OffsetDateTime) -> Color {
        rules().evaluate(facts, &no_areas(), now).color
    }

    /// Declares `decl` at noon on each day in `days`.
    fn declare(facts: &mut Facts, days: impl IntoIterator<Item = i64>, decl: &Declaration) {
        for n in days {
            rules().record(facts, decl, noon(n));
        }
    }

    const BASE: &str = r#"
        version = "t-1"
        fever_threshold = 37.3
        fever_symptoms = ["fever"]
        respiratory_symptoms = ["cough"]
        history_days = 15
        override_hint = "checked"
    "#;

    fn with_rule(rule: &str) -> Result<RuleSet, RulesError> {
        RuleSet::from_toml(&format!("{BASE}\n[[rule]]\n{rule}"))
    }

    const FEVER_RULE: &str = r#"id = "fever"
        kind = "fever"
        normal_days = 7
        color = "yellow"
        hint = "h"
        source = "s""#;

    #[test]
    fn the_embedded_rules_parse() {
        let set = rules();
        assert_eq!(set.version(), "hb-2026.11-1");
        assert_eq!(set.rules.len(), 8);
        assert_eq!(set.history_days, 15);
        assert!(set.combined);
    }

    #[test]
    fn a_minimal_rule_file_parses() {
        assert_eq!(with_rule(FEVER_RULE).unwrap().version(), "t-1");
    }

    #[test]
    fn rule_files_are_validated() {
        let cases: [(&str, RulesError); 9] = [
            (
                "kind = \"fever\"",
                RulesError::UnknownKind {
                    rule: "fever".into(),
                    kind: "moon-phase".into(),
                },
            ),
            ("color = \"yellow\"", RulesError::Green("fever".into())),
            ("hint = \"h\"", RulesError::MissingHint("fever".into())),
            ("source = \"s\"", RulesError::MissingSource("fever".into())),
            (
                "normal_days = 7",
                RulesError::MissingParameter {
                    rule: "fever".into(),
                    parameter: "normal_days",
                },
            ),
            (
                "normal_days = 7",
                RulesError::ZeroDays {
                    rule: "fever".into(),
                    parameter: "normal_days",
                },
            ),
            (
                "normal_days = 7",
                RulesError::HistoryTooShort {
                    rule: "fever".into(),
                    needed: 16,
                },
            ),
            ("color = \"yellow\"", RulesError::Green("fever".into())),
            ("hint = \"h\"", RulesError::MissingHint("fever".into())),
        ];
        let replacements = [
            "kind = \"moon-phase\"",
            "color = \"green\"",
            "",
            "",
            "",
            "normal_days = 0",
            "normal_days = 15",
            "color = \"green\"",
            "hint = \"  \"",
        ];
        for ((line, expected), replacement) in cases.into_iter().zip(replacements) {
            let rule = FEVER_RULE.replacen(line, replacement, 1);
            assert_eq!(with_rule(&rule).unwrap_err(), expected, "{replacement:?}");
        }
    }

    #[test]
    fn parameters_must_fit_the_kind() {
        let extra = format!("{FEVER_RULE}\nwithin_days = 3");
        assert_eq!(
            with_rule(&extra).unwrap_err(),
            RulesError::UnexpectedParameter {
                rule: "fever".into(),
                parameter: "within_days"
            }
        );
        let no_levels = r#"id = "area"
            kind = "risk-area"
            levels = []
            within_days = 14
            color = "yellow"
            hint = "h"
            source = "s""#;
        assert_eq!(
            with_rule(no_levels).unwrap_err(),
            RulesError::MissingParameter {
                rule: "area".into(),
                parameter: "levels"
            }
        );
        let wide_window = no_levels
            .replace("levels = []", "levels = [\"high\"]")
            .replace("14", "16");
        assert_eq!(
            with_rule(&wide_window).unwrap_err(),
            RulesError::HistoryTooShort {
                rule: "area".into(),
                needed: 16
            }
        );
    }

    #[test]
    fn duplicate_ids_unknown_fields_and_bad_values_are_refused() {
        let twice = format!("{BASE}\n[[rule]]\n{FEVER_RULE}\n[[rule]]\n{FEVER_RULE}");
        assert_eq!(
            RuleSet::from_toml(&twice).unwrap_err(),
            RulesError::DuplicateId("fever".into())
        );
        for broken in [
            format!("{FEVER_RULE}\nweight = 2"),
            FEVER_RULE.replace("yellow", "purple"),
            FEVER_RULE.replace("normal_days = 7", "normal_days = -7"),
        ] {
            assert!(matches!(with_rule(&broken), Err(RulesError::Toml(_))), "{broken}");
        }
        let with_base =
            |from: &str, to: &str| RuleSet::from_toml(&format!("{}\n[[rule]]\n{FEVER_RULE}", BASE.replace(from, to)));
        assert!(matches!(
            with_base("[\"cough\"]", "[\"hiccups\"]"),
            Err(RulesError::Toml(_))
        ));
        assert_eq!(with_base("37.3", "50.0").unwrap_err(), RulesError::FeverThreshold);
        assert_eq!(with_base("t-1", " ").unwrap_err(), RulesError::Empty("version"));
        assert_eq!(
            with_base("\"checked\"", "\"\"").unwrap_err(),
            RulesError::Empty("override_hint")
        );
        assert!(
            matches!(RuleSet::from_toml(BASE), Err(RulesError::Toml(_))),
            "a file without rules"
        );
    }

    #[test]
    fn only_fever_and_respiratory_symptoms_and_close_contact_are_abnormal() {
        let set = rules();
        assert!(!set.is_abnormal(&normal()));
        assert!(!set.is_abnormal(&validate(request(37.2, &[Symptom::Diarrhea, Symptom::Fatigue], false)).unwrap()));
        assert!(set.is_abnormal(&validate(request(37.3, &[], false)).unwrap()));
        assert!(set.is_abnormal(&validate(request(36.5, &[Symptom::Fever], false)).unwrap()));
        assert!(set.is_abnormal(&validate(request(36.5, &[Symptom::LossOfTasteOrSmell], false)).unwrap()));
        assert!(set.is_abnormal(&contact()));
    }

    #[test]
    fn without_a_combined_rule_fever_and_respiratory_both_fire() {
        let respiratory = FEVER_RULE
            .replace("\"fever\"", "\"respiratory\"")
            .replace("\"h\"", "\"r\"");
        let set = RuleSet::from_toml(&format!("{BASE}\n[[rule]]\n{FEVER_RULE}\n[[rule]]\n{respiratory}")).unwrap();
        let mut facts = Facts::default();
        set.record(
            &mut facts,
            &validate(request(38.0, &[Symptom::Cough], false)).unwrap(),
            noon(0),
        );
        let status = set.evaluate(&facts, &no_areas(), noon(0));
        assert_eq!(
            (status.color, status.hints),
            (Color::Yellow, vec!["h".to_owned(), "r".to_owned()])
        );
    }

    #[test]
    fn a_later_declaration_the_same_day_replaces_the_earlier() {
        let mut facts = Facts::default();
        declare(&mut facts, [2], &normal());
        declare(&mut facts, [0], &normal());
        rules().record(&mut facts, &contact(), noon(1));
        rules().record(&mut facts, &normal(), noon(1) + Duration::hours(3));
        let days: Vec<Date> = facts.days.iter().map(|r| r.day).collect();
        assert_eq!(days, [D0, date!(2026 - 11 - 02), date!(2026 - 11 - 03)]);
        assert!(!facts.days[1].close_contact);
        assert_eq!(facts.days[1].at, noon(1) + Duration::hours(3));
        assert_eq!(color(&facts, noon(2)), Color::Green);
    }

    #[test]
    fn the_history_keeps_fifteen_days() {
        let mut facts = Facts::default();
        declare(&mut facts, 0..30, &normal());
        assert_eq!(facts.days.len(), 15);
        assert_eq!(facts.days[0].day, D0 + Duration::days(15));
        assert!(facts.carried.is_empty());
    }

    #[test]
    fn a_trigger_resolved_on_time_is_never_carried() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &contact());
        declare(&mut facts, 1..=30, &normal());
        assert!(facts.carried.is_empty());
        assert_eq!(color(&facts, noon(30)), Color::Green);
    }

    #[test]
    fn an_unresolved_trigger_is_carried_out_of_the_window() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &contact());
        declare(&mut facts, [20], &normal());
        assert_eq!(facts.days.len(), 1);
        let carried = &facts.carried;
        assert_eq!(carried.len(), 1);
        assert_eq!(
            (carried[0].rule.as_str(), carried[0].color, carried[0].day),
            ("close-contact", Color::Red, D0)
        );
        assert_eq!(color(&facts, noon(20)), Color::Red);
    }

    #[test]
    fn a_carried_trigger_is_resolved_later_and_then_dropped() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &contact());
        declare(&mut facts, 10..=22, &normal());
        assert_eq!(facts.carried.len(), 1, "day 0 left at the write of day 15");
        assert_eq!(color(&facts, noon(22)), Color::Red, "13 normal days");
        declare(&mut facts, [23], &normal());
        assert_eq!(color(&facts, noon(23)), Color::Green, "14 normal days");
        assert_eq!(facts.carried.len(), 1, "today's record could still be corrected");
        declare(&mut facts, [24], &normal());
        assert!(facts.carried.is_empty());
        assert_eq!(color(&facts, noon(24)), Color::Green);
    }

    #[test]
    fn a_correction_can_break_the_run_that_would_resolve_a_carried_trigger() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &contact());
        declare(&mut facts, 10..=23, &normal());
        assert_eq!(color(&facts, noon(23)), Color::Green);
        rules().record(&mut facts, &fever(), noon(23) + Duration::hours(2));
        let status = rules().evaluate(&facts, &no_areas(), noon(23) + Duration::hours(2));
        assert_eq!(status.color, Color::Red);
        assert_eq!(status.rules, ["close-contact", "fever"]);
    }

    #[test]
    fn only_the_latest_carried_trigger_of_a_rule_is_kept() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &fever());
        declare(&mut facts, [2], &fever());
        declare(&mut facts, [3], &contact());
        declare(&mut facts, [40], &normal());
        let mut carried: Vec<(&str, Date)> = facts.carried.iter().map(|t| (t.rule.as_str(), t.day)).collect();
        carried.sort_unstable();
        assert_eq!(
            carried,
            [
                ("close-contact", D0 + Duration::days(3)),
                ("fever", D0 + Duration::days(2))
            ]
        );
    }

    #[test]
    fn carried_triggers_of_rules_no_longer_in_the_set_are_ignored_and_dropped() {
        let mut facts = Facts::default();
        facts.carried.push(Trigger {
            rule: "retired".into(),
            color: Color::Red,
            day: D0,
            at: noon(0),
        });
        assert_eq!(color(&facts, noon(1)), Color::Green);
        declare(&mut facts, [1], &normal());
        assert!(facts.carried.is_empty());
    }

    fn cleared(since: Date) -> RiskRecord {
        RiskRecord {
            status: RiskStatus::Cleared,
            since,
            updated_at: noon(0),
            recovered: false,
        }
    }

    #[test]
    fn a_cleared_record_is_marked_recovered_once_its_run_is_settled() {
        let mut facts = Facts {
            risk: Some(cleared(D0)),
            ..Facts::default()
        };
        declare(&mut facts, 1..=14, &normal());
        assert_eq!(color(&facts, noon(14)), Color::Green);
        assert!(
            !facts.risk.as_ref().unwrap().recovered,
            "today's record could still be corrected"
        );
        declare(&mut facts, [15], &normal());
        assert!(facts.risk.as_ref().unwrap().recovered);
        declare(&mut facts, [16], &contact());
        assert_eq!(rules().evaluate(&facts, &no_areas(), noon(16)).rules, ["close-contact"]);
    }

    #[test]
    fn hints_are_deduplicated_in_rule_order() {
        let rule = |id: &str, kind: &str, color: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\nkind = \"{kind}\"\nnormal_days = 7\ncolor = \"{color}\"\nhint = \"same\"\nsource = \"s\"\n"
            )
        };
        let text = format!(
            "{BASE}\n{}{}",
            rule("a", "respiratory", "yellow"),
            rule("b", "declared-close-contact", "red")
        );
        let set = RuleSet::from_toml(&text).unwrap();
        let mut facts = Facts::default();
        set.record(
            &mut facts,
            &validate(request(36.5, &[Symptom::Cough], true)).unwrap(),
            noon(0),
        );
        let status = set.evaluate(&facts, &no_areas(), noon(0));
        assert_eq!(
            (status.color, status.hints, status.rules),
            (
                Color::Red,
                vec!["same".to_owned()],
                vec!["a".to_owned(), "b".to_owned()]
            )
        );
        assert_eq!(status.rules_version, "t-1");
    }

    #[test]
    fn status_text_follows_the_hints() {
        let mut status = rules().evaluate(&Facts::default(), &no_areas(), noon(0));
        assert_eq!((status.color, status.status_text()), (Color::Green, "未见异常"));
        status.hints.push("申报发热".into());
        assert_eq!(status.status_text(), "请进行健康状态核验");
    }

    #[test]
    fn override_debug_leaves_the_reason_out() {
        let o = Override {
            color: Color::Green,
            reason: "张三 130602199001011234".into(),
            valid_until: noon(3),
            set_at: noon(0),
            officer: "u-1".into(),
            rules_version: "hb-2026.11-1".into(),
        };
        let text = format!(
            "{:?}",
            Facts {
                override_: Some(o),
                ..Facts::default()
            }
        );
        assert!(!text.contains("张三") && !text.contains("1301"), "{text}");
    }

    #[test]
    fn facts_are_stored_compactly() {
        let mut facts = Facts::default();
        declare(&mut facts, [0], &normal());
        let json = serde_json::to_string(&facts).unwrap();
        // The day history in the binary form of history.rs (serde_json writes bytes as numbers).
        let days = &facts.days;
        assert_eq!(
            json,
            format!(
                "{{\"days\":{}}}",
                serde_json::to_string(&super::super::history::encode(days)).unwrap()
            )
        );
        assert!(super::super::history::encode(days).len() <= 24, "{json}");
        assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), facts);
        assert_eq!(serde_json::to_string(&Facts::default()).unwrap(), "{}");
    }

    #[test]
    fn the_day_turns_at_midnight_shanghai() {
        let mut facts = Facts::default();
        rules().record(&mut facts, &contact(), datetime!(2026-11-01 15:59:59 UTC));
        rules().record(&mut facts, &normal(), datetime!(2026-11-01 16:00:00 UTC));
        assert_eq!(facts.days.len(), 2);
        assert_eq!(color(&facts, datetime!(2026-11-01 16:00:00 UTC)), Color::Red);
    }

    /// A small deterministic generator, so that the property below is reproducible.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Trimming the history and carrying triggers must never change a status: evaluating the
    /// trimmed facts gives what evaluating every declaration ever made would give.
    #[test]
    fn trimming_the_history_never_changes_a_status() {
        let set = rules();
        let mut carried_then_green = 0;
        for seed in 0..40 {
            let mut rng = Lcg(seed);
            let risk = (seed % 2 == 0).then(|| cleared(D0 + Duration::days(5)));
            let mut trimmed = Facts {
                risk: risk.clone(),
                ..Facts::default()
            };
            let mut everything = Facts {
                risk,
                ..Facts::default()
            };
            for n in 0..120 {
                if rng.below(8) == 0 {
                    continue;
                }
                for correction in 0..=rng.below(2) {
                    let (temperature, symptoms, close_contact) = match rng.below(40 + 40 * (seed % 3)) {
                        0..=2 => (38.0, vec![], false),
                        3..=5 => (36.5, vec![Symptom::Cough], false),
                        6 => (36.5, vec![], true),
                        7 => (38.5, vec![Symptom::SoreThroat], false),
                        _ => (36.5, vec![], false),
                    };
                    let decl = validate(DeclarationRequest {
                        symptoms,
                        close_contact,
                        ..request(temperature, &[], false)
                    })
                    .unwrap();
                    let at = noon(n) + Duration::hours(correction as i64);
                    set.record(&mut trimmed, &decl, at);
                    let record = trimmed.days.last().unwrap().clone();
                    match everything.days.binary_search_by_key(&record.day, |r| r.day) {
                        Ok(i) => everything.days[i] = record,
                        Err(i) => everything.days.insert(i, record),
                    }
                    for later in [0, 1, 9] {
                        let now = at + Duration::days(later);
                        let (a, b) = (
                            set.evaluate(&trimmed, &no_areas(), now),
                            set.evaluate(&everything, &no_areas(), now),
                        );
                        assert_eq!(a, b, "seed {seed}, day {n}, +{later} days");
                        if a.color == Color::Green && !trimmed.carried.is_empty() {
                            carried_then_green += 1;
                        }
                    }
                }
            }
        }
        assert!(carried_then_green > 0, "the scenarios resolve carried triggers");
    }
}
