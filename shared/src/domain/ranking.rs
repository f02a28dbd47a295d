//! Counting codes claimed and used per locality and day, and ranking the
//! localities (领码用码排序). Counts come from the log and the subjects'
//! first declarations, tallied off the hot path by the aggregator.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::divisions::{self, Level};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Subjects whose first declaration fell that day.
    pub claimed: u64,
    pub scans: u64,
    pub checkins: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.claimed += other.claimed;
        self.scans += other.scans;
        self.checkins += other.checkins;
    }

    /// What the ranking orders by: codes claimed and used that day.
    pub fn activity(&self) -> u64 {
        self.claimed + self.scans + self.checkins
    }
}

/// Counts keyed by (level, day, region), ready to be added to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<(Level, String, String), Counts>);

impl Tally {
    /// Adds `counts` on `day` to the region and, for a county, to its city.
    /// Regions outside Hebei or unknown are not ranked and are skipped.
    pub fn add(&mut self, day: &str, region: &str, counts: Counts) {
        let Some(division) = divisions::lookup(region).filter(|d| divisions::is_hebei(d.code)) else {
            return;
        };
        let mut places = Vec::new();
        match division.level {
            Level::County => {
                places.push((Level::County, division.code));
                if let Some(city) = divisions::city_of(division.code) {
                    places.push((Level::City, city.code));
                }
            }
            Level::City => places.push((Level::City, division.code)),
            Level::Province => {}
        }
        for (level, code) in places {
            self.0
                .entry((level, day.to_owned(), code.to_owned()))
                .or_default()
                .add(counts);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One locality in a day's ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub region: String,
    pub name: String,
    pub claimed: u64,
    /// Codes claimed up to and including that day.
    pub claimed_total: u64,
    pub scans: u64,
    pub checkins: u64,
    /// 1 for the most active; equal activity shares a rank (1, 2, 2, 4).
    pub rank: u32,
}

/// What a ranking ranks: the counted levels, or the notice's fourteen units, which are made of
/// the counted cities and counties ([`by_unit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranked {
    City,
    County,
    Unit,
}

impl Ranked {
    pub fn parse(s: &str) -> Option<Ranked> {
        match s {
            "city" => Some(Ranked::City),
            "county" => Some(Ranked::County),
            "unit" => Some(Ranked::Unit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ranked::City => "city",
            Ranked::County => "county",
            Ranked::Unit => "unit",
        }
    }

    /// Every place of the ranking, those without activity included: (code, name).
    pub fn places(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Ranked::City => divisions::hebei(Level::City).map(|d| (d.code, d.name)).collect(),
            Ranked::County => divisions::hebei(Level::County).map(|d| (d.code, d.name)).collect(),
            Ranked::Unit => divisions::units(),
        }
    }
}

/// Per-unit amounts from per-city and per-county ones: each county's amount goes to its unit
/// (`divisions::unit_of_county`), and what a city counted beyond its counties (activity whose
/// region was the city itself) stays with the city's unit.
pub fn by_unit<T: Copy + Default + PartialEq>(
    cities: &HashMap<String, T>,
    counties: &HashMap<String, T>,
    add: impl Fn(&mut T, T),
    less: impl Fn(T, T) -> T,
) -> HashMap<String, T> {
    let mut units: HashMap<String, T> = HashMap::new();
    let mut in_counties: HashMap<String, T> = HashMap::new();
    for (county, &amount) in counties {
        let (Some(unit), Some(city)) = (divisions::unit_of_county(county), divisions::city_of(county)) else {
            continue;
        };
        add(units.entry(unit.to_owned()).or_default(), amount);
        add(in_counties.entry(city.code.to_owned()).or_default(), amount);
    }
    for (city, &amount) in cities {
        let rest = less(amount, in_counties.get(city).copied().unwrap_or_default());
        if rest != T::default() {
            add(units.entry(city.clone()).or_default(), rest);
        }
    }
    units
}

/// `by_unit` of a day's counts.
pub fn counts_by_unit(cities: &HashMap<String, Counts>, counties: &HashMap<String, Counts>) -> HashMap<String, Counts> {
    by_unit(
        cities,
        counties,
        |a, b| a.add(b),
        |a, b| Counts {
            claimed: a.claimed.saturating_sub(b.claimed),
            scans: a.scans.saturating_sub(b.scans),
            checkins: a.checkins.saturating_sub(b.checkins),
        },
    )
}

/// `by_unit` of codes claimed to date.
pub fn totals_by_unit(cities: &HashMap<String, u64>, counties: &HashMap<String, u64>) -> HashMap<String, u64> {
    by_unit(cities, counties, |a, b| *a += b, u64::saturating_sub)
}

/// Ranks every place of `ranked`, those without activity included.
pub fn rank(ranked: Ranked, counts: &HashMap<String, Counts>, totals: &HashMap<String, u64>) -> Vec<Row> {
    let mut rows: Vec<Row> = ranked
        .places()
        .into_iter()
        .map(|(code, name)| {
            let c = counts.get(code).copied().unwrap_or_default();
            Row {
                region: code.to_owned(),
                name: name.to_owned(),
                claimed: c.claimed,
                claimed_total: totals.get(code).copied().unwrap_or_default(),
                scans: c.scans,
                checkins: c.checkins,
                rank: 0,
            }
        })
        .collect();
    let activity = |r: &Row| r.claimed + r.scans + r.checkins;
    rows.sort_by(|a, b| activity(b).cmp(&activity(a)).then_with(|| a.region.cmp(&b.region)));
    let mut previous = None;
    let mut rank = 0;
    for (i, row) in rows.iter_mut().enumerate() {
        if previous != Some(activity(row)) {
            rank = i as u32 + 1;
            previous = Some(activity(row));
        }
        row.rank = rank;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: &str) -> Counts {
        match kind {
            "claim" => Counts {
                claimed: 1,
                ..Counts::default()
            },
            "scan" => Counts {
                scans: 1,
                ..Counts::default()
            },
            _ => Counts {
                checkins: 1,
                ..Counts::default()
            },
        }
    }

    #[test]
    fn a_county_counts_for_itself_and_its_city() {
        let mut tally = Tally::default();
        tally.add("2026-11-26", "130102", one("checkin"));
        tally.add("2026-11-26", "130104", one("scan"));
        tally.add("2026-11-26", "130100", one("claim"));
        tally.add("2026-11-26", "110105", one("scan"));
        let city = tally.0[&(Level::City, "2026-11-26".to_owned(), "130100".to_owned())];
        assert_eq!(
            city,
            Counts {
                claimed: 1,
                scans: 1,
                checkins: 1
            }
        );
        assert_eq!(
            tally.0[&(Level::County, "2026-11-26".to_owned(), "130102".to_owned())].checkins,
            1
        );
        assert_eq!(tally.0.len(), 3, "Beijing is not ranked and a city has no county");
    }

    #[test]
    fn units_take_dingzhou_xinji_and_xiongan_out_of_their_cities() {
        let mut tally = Tally::default();
        for (region, kind) in [
            ("130682", "checkin"), // 定州市
            ("130682", "scan"),
            ("130181", "claim"),   // 辛集市
            ("130638", "checkin"), // 雄县
            ("130629", "checkin"), // 容城县
            ("130602", "scan"),    // a district of 保定
            ("130600", "claim"),   // 保定市 itself, no county
            ("130102", "checkin"), // a district of 石家庄
        ] {
            tally.add("d", region, one(kind));
        }
        let level = |l: Level| -> HashMap<String, Counts> {
            tally
                .0
                .iter()
                .filter(|((lv, _, _), _)| *lv == l)
                .map(|((_, _, r), c)| (r.clone(), *c))
                .collect()
        };
        let units = counts_by_unit(&level(Level::City), &level(Level::County));
        let c = |claimed, scans, checkins| Counts {
            claimed,
            scans,
            checkins,
        };
        assert_eq!(units["130682"], c(0, 1, 1));
        assert_eq!(units["130181"], c(1, 0, 0));
        assert_eq!(units["133100"], c(0, 0, 2));
        assert_eq!(
            units["130600"],
            c(1, 1, 0),
            "保定 keeps its districts and its own city-level count"
        );
        assert_eq!(units["130100"], c(0, 0, 1), "石家庄 without 辛集");
        assert_eq!(units.len(), 5);
        let total: u64 = units.values().map(Counts::activity).sum();
        assert_eq!(total, 8, "every count in exactly one unit");

        let totals = totals_by_unit(
            &HashMap::from([("130600".to_owned(), 10)]),
            &HashMap::from([
                ("130682".to_owned(), 4),
                ("130632".to_owned(), 3),
                ("130602".to_owned(), 1),
            ]),
        );
        assert_eq!(
            totals,
            HashMap::from([("130682".into(), 4), ("133100".into(), 3), ("130600".into(), 3)])
        );

        let rows = rank(Ranked::Unit, &units, &totals);
        assert_eq!(rows.len(), 14);
        assert_eq!(rows.iter().find(|r| r.region == "133100").unwrap().name, "雄安新区");
    }

    #[test]
    fn ranks_share_places_on_ties_and_list_every_city() {
        let counts = HashMap::from([
            (
                "130100".to_owned(),
                Counts {
                    claimed: 5,
                    scans: 0,
                    checkins: 0,
                },
            ),
            (
                "130200".to_owned(),
                Counts {
                    claimed: 2,
                    scans: 3,
                    checkins: 0,
                },
            ),
            (
                "130300".to_owned(),
                Counts {
                    claimed: 0,
                    scans: 0,
                    checkins: 1,
                },
            ),
        ]);
        let rows = rank(Ranked::City, &counts, &HashMap::from([("130100".to_owned(), 9)]));
        assert_eq!(rows.len(), 11);
        let top: Vec<(&str, u32)> = rows.iter().take(4).map(|r| (r.region.as_str(), r.rank)).collect();
        assert_eq!(top, [("130100", 1), ("130200", 1), ("130300", 3), ("130400", 4)]);
        assert_eq!(rows[0].claimed_total, 9);
        assert!(rows[3..].iter().all(|r| r.rank == 4));
    }
}
