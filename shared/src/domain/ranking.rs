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

/// Ranks every Hebei locality of `level`, those without activity included.
pub fn rank(level: Level, counts: &HashMap<String, Counts>, totals: &HashMap<String, u64>) -> Vec<Row> {
    let mut rows: Vec<Row> = divisions::hebei(level)
        .map(|d| {
            let c = counts.get(d.code).copied().unwrap_or_default();
            Row {
                region: d.code.to_owned(),
                name: d.name.to_owned(),
                claimed: c.claimed,
                claimed_total: totals.get(d.code).copied().unwrap_or_default(),
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
        let rows = rank(Level::City, &counts, &HashMap::from([("130100".to_owned(), 9)]));
        assert_eq!(rows.len(), 11);
        let top: Vec<(&str, u32)> = rows.iter().take(4).map(|r| (r.region.as_str(), r.rank)).collect();
        assert_eq!(top, [("130100", 1), ("130200", 1), ("130300", 3), ("130400", 4)]);
        assert_eq!(rows[0].claimed_total, 9);
        assert!(rows[3..].iter().all(|r| r.rank == 4));
    }
}
