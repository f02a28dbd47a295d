//! Administrative divisions (GB/T 2260 codes) at province, city and county level, from the
//! embedded `data/cn-divisions.csv` (see `data/README.md` for its source).

use std::collections::HashMap;
use std::sync::LazyLock;

const CSV: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/cn-divisions.csv"));

/// The province code of Hebei.
pub const HEBEI: &str = "130000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Province,
    City,
    County,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Division {
    pub code: &'static str,
    pub name: &'static str,
    pub level: Level,
    pub parent: Option<&'static str>,
}

struct Table {
    /// In file order, so that listings are stable.
    rows: Vec<Division>,
    by_code: HashMap<&'static str, usize>,
}

// The file is part of the build and checked by this module's tests, so a malformed row is a
// programming error, not a run-time condition.
static TABLE: LazyLock<Table> = LazyLock::new(|| {
    // The source lists the three prefecture-level cities that have no counties (Dongguan
    // 441900, Zhongshan 442000, Danzhou 460400) a second time as a county under themselves;
    // keeping those rows would make each its own parent, so only the city rows are kept.
    let rows: Vec<Division> = CSV
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(parse_row)
        .filter(|d| d.parent != Some(d.code))
        .collect();
    let by_code = rows.iter().enumerate().map(|(i, d)| (d.code, i)).collect();
    Table { rows, by_code }
});

fn parse_row(line: &'static str) -> Division {
    let mut cols = line.split(',');
    let mut next = || cols.next().unwrap_or_else(|| panic!("short division row: {line}"));
    let (code, name, level, parent) = (next(), next(), next(), next());
    let level = match level {
        "province" => Level::Province,
        "city" => Level::City,
        "county" => Level::County,
        other => panic!("unknown division level {other:?}"),
    };
    Division {
        code,
        name,
        level,
        parent: (!parent.is_empty()).then_some(parent),
    }
}

pub fn lookup(code: &str) -> Option<&'static Division> {
    let table = &*TABLE;
    table.by_code.get(code).map(|&i| &table.rows[i])
}

/// The division itself, then its parent, then its grandparent. Empty for an unknown code.
pub fn ancestors(code: &str) -> impl Iterator<Item = &'static Division> {
    std::iter::successors(lookup(code), |d| d.parent.and_then(lookup))
}

/// Whether `code` is `area` or lies under it. An unknown code lies under nothing.
pub fn within(code: &str, area: &str) -> bool {
    ancestors(code).any(|d| d.code == area)
}

/// Whether `code` is a known division of Hebei, the province included.
pub fn is_hebei(code: &str) -> bool {
    within(code, HEBEI)
}

/// The prefecture-level city of a county, or the city itself; `None` for a province or an
/// unknown code.
pub fn city_of(code: &str) -> Option<&'static Division> {
    ancestors(code).find(|d| d.level == Level::City)
}

/// All Hebei divisions of one level, in code order (the rankings' rows).
pub fn hebei(level: Level) -> impl Iterator<Item = &'static Division> {
    TABLE.rows.iter().filter(move |d| d.level == level && is_hebei(d.code))
}

/// 雄安新区: not a division of the national table, the notice's own ranking unit (row code
/// `133100`) over three counties of 保定市.
pub const XIONGAN: (&str, &str) = ("133100", "雄安新区");
const XIONGAN_COUNTIES: [&str; 3] = ["130638", "130629", "130632"];
/// The county-level cities the notice ranks on their own (各市（含定州、辛集市）): 定州市, until
/// then inside 保定市, and 辛集市, inside 石家庄市.
const CITIES_OF_THEIR_OWN: [&str; 2] = ["130682", "130181"];

/// The fourteen units the notice ranks (各市（含定州、辛集市）、雄安新区): Hebei's eleven cities,
/// 定州市, 辛集市 and 雄安新区, as (code, name) in code order.
pub fn units() -> Vec<(&'static str, &'static str)> {
    let mut units: Vec<(&str, &str)> = hebei(Level::City)
        .chain(CITIES_OF_THEIR_OWN.iter().filter_map(|c| lookup(c)))
        .map(|d| (d.code, d.name))
        .chain([XIONGAN])
        .collect();
    units.sort();
    units
}

/// The unit of a county of Hebei: 定州市 and 辛集市 themselves, 雄安新区 for its three counties,
/// else the county's city. `None` for a code that is not a Hebei county.
pub fn unit_of_county(code: &str) -> Option<&'static str> {
    let county = lookup(code).filter(|d| d.level == Level::County && is_hebei(d.code))?;
    if CITIES_OF_THEIR_OWN.contains(&county.code) {
        Some(county.code)
    } else if XIONGAN_COUNTIES.contains(&county.code) {
        Some(XIONGAN.0)
    } else {
        county.parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_ranks_fourteen_units() {
        let units = units();
        assert_eq!(units.len(), 14);
        for (code, name) in [
            ("130682", "定州市"),
            ("130181", "辛集市"),
            ("133100", "雄安新区"),
            ("130600", "保定市"),
        ] {
            assert!(units.contains(&(code, name)), "{code} {name}");
        }
        assert_eq!(unit_of_county("130682"), Some("130682"));
        assert_eq!(unit_of_county("130181"), Some("130181"));
        for c in ["130638", "130629", "130632"] {
            assert_eq!(unit_of_county(c), Some("133100"), "{c}");
        }
        assert_eq!(
            unit_of_county("130602"),
            Some("130600"),
            "a 保定 district stays in 保定"
        );
        assert_eq!(unit_of_county("130102"), Some("130100"));
        assert_eq!(unit_of_county("130600"), None, "a city is not a county");
        assert_eq!(unit_of_county("110105"), None, "Beijing is not ranked");
    }

    #[test]
    fn every_row_parses_and_every_parent_is_one_level_up() {
        assert_eq!(TABLE.rows.len(), TABLE.by_code.len(), "codes are unique");
        for d in &TABLE.rows {
            assert_eq!(d.code.len(), 6, "{}", d.code);
            let parent_level = d.parent.map(|p| lookup(p).expect("parent is known").level);
            let expected = match d.level {
                Level::Province => None,
                Level::City => Some(Level::Province),
                Level::County => Some(Level::City),
            };
            assert_eq!(parent_level, expected, "{}", d.code);
        }
    }

    #[test]
    fn hebei_has_11_cities_and_190_counties() {
        assert_eq!(hebei(Level::City).count(), 11);
        assert_eq!(hebei(Level::County).count(), 190);
        assert_eq!(hebei(Level::Province).map(|d| d.code).collect::<Vec<_>>(), [HEBEI]);
        let counties: Vec<&str> = hebei(Level::County).map(|d| d.code).collect();
        assert!(counties.is_sorted(), "rankings list in code order");
    }

    #[test]
    fn dingzhou_is_a_county_under_baoding() {
        let dingzhou = lookup("130682").unwrap();
        assert_eq!((dingzhou.name, dingzhou.level), ("定州市", Level::County));
        assert_eq!(city_of("130682").map(|d| d.code), Some("130600"));
        assert_eq!(
            ancestors("130682").map(|d| d.code).collect::<Vec<_>>(),
            ["130682", "130600", HEBEI]
        );
        assert!(within("130682", "130600"));
        assert!(within("130682", "130682"));
        assert!(!within("130682", "130100"));
    }

    #[test]
    fn cities_without_counties_are_cities_only() {
        for code in ["441900", "442000", "460400"] {
            assert_eq!(lookup(code).map(|d| d.level), Some(Level::City), "{code}");
            assert_eq!(ancestors(code).count(), 2, "{code}");
        }
    }

    #[test]
    fn a_city_is_its_own_city_and_a_province_has_none() {
        assert_eq!(city_of("130600").map(|d| d.code), Some("130600"));
        assert_eq!(city_of(HEBEI), None);
    }

    #[test]
    fn unknown_codes_are_nothing() {
        assert_eq!(lookup("139999"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(ancestors("139999").count(), 0);
        assert!(!within("139999", "139999"));
        assert!(!is_hebei("139999"));
    }

    #[test]
    fn beijing_chaoyang_is_not_hebei() {
        assert!(lookup("110105").is_some());
        assert!(!is_hebei("110105"));
        assert!(is_hebei("130682"));
        assert!(is_hebei(HEBEI));
    }
}
