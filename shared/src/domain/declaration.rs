//! The body of `POST /v1/declarations` and its validation.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::divisions::{self, Level};

pub const MIN_TEMPERATURE: f64 = 34.0;
pub const MAX_TEMPERATURE: f64 = 43.0;
/// Enough for a fortnight of travel; a bound so that one request cannot make us look up
/// thousands of codes.
pub const MAX_VISITED_REGIONS: usize = 100;

/// The symptoms a person can declare: those the national COVID-19 diagnosis and treatment plan
/// (新型冠状病毒肺炎诊疗方案, 8th edition) names as presentations — 发热, 干咳, 乏力, 咽痛,
/// 呼吸困难, 腹泻, 嗅觉味觉减退, 鼻塞, 流涕, 肌痛, 结膜炎 — and no more, so that the list stays
/// a quick tick-box form. Which of them count as respiratory is the colour rules' business
/// (`rules/colour-rules.toml`), not this list's.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Symptom {
    /// 发热
    Fever,
    /// 咳嗽
    Cough,
    /// 乏力
    Fatigue,
    /// 咽痛
    SoreThroat,
    /// 呼吸困难、气促
    ShortnessOfBreath,
    /// 腹泻
    Diarrhea,
    /// 嗅觉、味觉减退或丧失
    LossOfTasteOrSmell,
    /// 鼻塞
    NasalCongestion,
    /// 流涕
    RunnyNose,
    /// 肌痛
    MuscleAche,
    /// 结膜炎
    Conjunctivitis,
}

impl Symptom {
    pub const ALL: [Symptom; 11] = [
        Symptom::Fever,
        Symptom::Cough,
        Symptom::Fatigue,
        Symptom::SoreThroat,
        Symptom::ShortnessOfBreath,
        Symptom::Diarrhea,
        Symptom::LossOfTasteOrSmell,
        Symptom::NasalCongestion,
        Symptom::RunnyNose,
        Symptom::MuscleAche,
        Symptom::Conjunctivitis,
    ];
}

/// The request body as sent. All fields but `subject_id` are required; unknown fields are
/// ignored. It has no `Debug`, so that a health declaration cannot end up in a log by accident.
#[derive(Deserialize)]
pub struct DeclarationRequest {
    #[serde(default)]
    pub subject_id: Option<String>,
    pub region: String,
    pub temperature: f64,
    pub symptoms: Vec<Symptom>,
    pub close_contact: bool,
    pub visited_regions: Vec<String>,
    pub from_abroad: bool,
}

/// A declaration that passed [`validate`]; only `validate` makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    region: String,
    temperature: f64,
    symptoms: Vec<Symptom>,
    close_contact: bool,
    visited_regions: Vec<String>,
    from_abroad: bool,
}

impl Declaration {
    /// City- or county-level Hebei code of where the person is now.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Body temperature in °C, within 34.0..=43.0.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Sorted, without duplicates.
    pub fn symptoms(&self) -> &[Symptom] {
        &self.symptoms
    }

    pub fn close_contact(&self) -> bool {
        self.close_contact
    }

    /// Known division codes, without duplicates, in the order declared.
    pub fn visited_regions(&self) -> &[String] {
        &self.visited_regions
    }

    pub fn from_abroad(&self) -> bool {
        self.from_abroad
    }
}

/// Why a declaration was refused. Messages name the field and the rule, never the value sent.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum InvalidDeclaration {
    #[error("temperature must be a number of °C between {MIN_TEMPERATURE:.1} and {MAX_TEMPERATURE:.1}")]
    Temperature,
    #[error("region must be the code of a city or county in Hebei")]
    Region,
    #[error("visited_regions may hold at most {MAX_VISITED_REGIONS} codes")]
    TooManyVisitedRegions,
    #[error("visited_regions[{index}] is not a known division code")]
    VisitedRegion { index: usize },
    #[error("symptoms may hold at most {} entries", Symptom::ALL.len())]
    TooManySymptoms,
}

pub fn validate(req: DeclarationRequest) -> Result<Declaration, InvalidDeclaration> {
    // `contains` is false for NaN, so this also refuses non-finite values.
    if !(MIN_TEMPERATURE..=MAX_TEMPERATURE).contains(&req.temperature) {
        return Err(InvalidDeclaration::Temperature);
    }
    let in_hebei_below_province =
        divisions::lookup(&req.region).is_some_and(|d| d.level != Level::Province && divisions::is_hebei(d.code));
    if !in_hebei_below_province {
        return Err(InvalidDeclaration::Region);
    }
    if req.symptoms.len() > Symptom::ALL.len() {
        return Err(InvalidDeclaration::TooManySymptoms);
    }
    // Counted before any lookup, so that an oversized list costs nothing.
    if req.visited_regions.len() > MAX_VISITED_REGIONS {
        return Err(InvalidDeclaration::TooManyVisitedRegions);
    }
    if let Some(index) = req.visited_regions.iter().position(|r| divisions::lookup(r).is_none()) {
        return Err(InvalidDeclaration::VisitedRegion { index });
    }

    let mut symptoms = req.symptoms;
    symptoms.sort_unstable();
    symptoms.dedup();
    let mut visited_regions: Vec<String> = Vec::with_capacity(req.visited_regions.len());
    for region in req.visited_regions {
        if !visited_regions.contains(&region) {
            visited_regions.push(region);
        }
    }
    Ok(Declaration {
        region: req.region,
        temperature: req.temperature,
        symptoms,
        close_contact: req.close_contact,
        visited_regions,
        from_abroad: req.from_abroad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body() -> Value {
        json!({
            "region": "130102",
            "temperature": 36.5,
            "symptoms": [],
            "close_contact": false,
            "visited_regions": [],
            "from_abroad": false
        })
    }

    fn parse(v: Value) -> Result<DeclarationRequest, serde_json::Error> {
        serde_json::from_value(v)
    }

    fn check(v: Value) -> Result<Declaration, InvalidDeclaration> {
        validate(parse(v).expect("parses"))
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = body();
        v[field] = value;
        v
    }

    #[test]
    fn a_plain_declaration_is_valid() {
        let d = check(body()).unwrap();
        assert_eq!(d.region(), "130102");
        assert_eq!(d.temperature(), 36.5);
        assert!(d.symptoms().is_empty() && d.visited_regions().is_empty());
        assert!(!d.close_contact() && !d.from_abroad());
    }

    #[test]
    fn subject_id_is_optional_and_unknown_fields_are_ignored() {
        let mut v = body();
        v["subject_id"] = json!("s-1");
        v["mood"] = json!("fine");
        assert_eq!(parse(v).unwrap().subject_id.as_deref(), Some("s-1"));
        assert!(parse(body()).unwrap().subject_id.is_none());
    }

    #[test]
    fn every_other_field_is_required() {
        for field in [
            "region",
            "temperature",
            "symptoms",
            "close_contact",
            "visited_regions",
            "from_abroad",
        ] {
            let mut v = body();
            v.as_object_mut().unwrap().remove(field);
            assert!(parse(v).err().unwrap().is_data(), "{field}");
        }
    }

    #[test]
    fn an_unknown_symptom_is_a_data_error() {
        let err = parse(with("symptoms", json!(["cough", "hiccups"]))).err().unwrap();
        assert!(err.is_data());
    }

    #[test]
    fn symptoms_use_kebab_case_names() {
        let all = json!([
            "fever",
            "cough",
            "fatigue",
            "sore-throat",
            "shortness-of-breath",
            "diarrhea",
            "loss-of-taste-or-smell",
            "nasal-congestion",
            "runny-nose",
            "muscle-ache",
            "conjunctivitis"
        ]);
        assert_eq!(check(with("symptoms", all)).unwrap().symptoms(), Symptom::ALL);
    }

    #[test]
    fn temperature_is_bounded_inclusively() {
        for ok in [34.0, 36.6, 43.0] {
            assert!(check(with("temperature", json!(ok))).is_ok(), "{ok}");
        }
        for bad in [33.9, 43.1, -1.0, 1e300] {
            assert_eq!(
                check(with("temperature", json!(bad))).unwrap_err(),
                InvalidDeclaration::Temperature
            );
        }
    }

    #[test]
    fn temperature_must_be_finite() {
        for bad in [f64::NAN, f64::INFINITY] {
            let mut req = parse(body()).unwrap();
            req.temperature = bad;
            assert_eq!(validate(req).unwrap_err(), InvalidDeclaration::Temperature);
        }
    }

    #[test]
    fn region_is_a_hebei_city_or_county() {
        assert!(check(with("region", json!("130600"))).is_ok(), "a city");
        assert!(check(with("region", json!("130682"))).is_ok(), "a county");
        for bad in ["130000", "110105", "139999", "", "13010"] {
            assert_eq!(
                check(with("region", json!(bad))).unwrap_err(),
                InvalidDeclaration::Region,
                "{bad}"
            );
        }
    }

    #[test]
    fn visited_regions_are_known_codes_of_any_level_and_province() {
        let d = check(with("visited_regions", json!(["110000", "110105", "420100", "130682"]))).unwrap();
        assert_eq!(d.visited_regions().len(), 4);
        let err = check(with("visited_regions", json!(["110105", "999999"]))).unwrap_err();
        assert_eq!(err, InvalidDeclaration::VisitedRegion { index: 1 });
    }

    #[test]
    fn at_most_100_visited_regions() {
        let hundred: Vec<&str> = std::iter::repeat_n("110105", 100).collect();
        assert!(check(with("visited_regions", json!(hundred))).is_ok());
        let hundred_and_one: Vec<&str> = std::iter::repeat_n("110105", 101).collect();
        assert_eq!(
            check(with("visited_regions", json!(hundred_and_one))).unwrap_err(),
            InvalidDeclaration::TooManyVisitedRegions
        );
    }

    #[test]
    fn visited_regions_are_deduplicated_in_declared_order() {
        let d = check(with(
            "visited_regions",
            json!(["130682", "110105", "130682", "420100", "110105"]),
        ))
        .unwrap();
        assert_eq!(d.visited_regions(), ["130682", "110105", "420100"]);
    }

    #[test]
    fn symptoms_are_deduplicated_and_sorted() {
        let d = check(with("symptoms", json!(["diarrhea", "cough", "diarrhea", "fever"]))).unwrap();
        assert_eq!(d.symptoms(), [Symptom::Fever, Symptom::Cough, Symptom::Diarrhea]);
    }

    #[test]
    fn at_most_as_many_symptoms_as_the_list_has() {
        let eleven: Vec<&str> = std::iter::repeat_n("cough", 11).collect();
        assert!(check(with("symptoms", json!(eleven))).is_ok());
        let twelve: Vec<&str> = std::iter::repeat_n("cough", 12).collect();
        assert_eq!(
            check(with("symptoms", json!(twelve))).unwrap_err(),
            InvalidDeclaration::TooManySymptoms
        );
    }

    #[test]
    fn errors_name_the_field_but_not_the_value() {
        let err = check(with("visited_regions", json!(["110105", "987654"]))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("visited_regions") && !text.contains("987654"), "{text}");
        let text = check(with("temperature", json!(44.25))).unwrap_err().to_string();
        assert!(text.contains("temperature") && !text.contains("44.25"), "{text}");
        assert_eq!(
            InvalidDeclaration::TooManySymptoms.to_string(),
            "symptoms may hold at most 11 entries"
        );
    }
}
