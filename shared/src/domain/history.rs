//! The stored form of a subject's day history (`Facts::days`): one binary value instead of a list
//! of maps.
//!
//! The profile holds 15 days of history so that showing or scanning a code is one read; as a list
//! of maps, with every member's name repeated on every day, that history was 1,013 of the
//! profile's 1,737 bytes, and the profile's size is what a declaration pays for twice (DynamoDB
//! charges a transaction's update 2 WRU per started KB of the larger of the item before and
//! after). This form keeps the same records, losslessly, in about a fifth of the space.
//!
//! Layout (every integer an unsigned LEB128 varint, signed ones zigzag-encoded first):
//!
//! ```text
//! version (1)
//! base day (Julian day number, signed)
//! region table: count, then per region either (value << 1) for a canonical decimal number
//!               or (length << 1 | 1) followed by its UTF-8 bytes
//! day count, then per day:
//!   day - previous day (the first relative to the base)
//!   (seconds of `at` after the day's Shanghai midnight, signed) << 1 | has nanoseconds
//!   [nanoseconds]
//!   temperature: tenths << 1 when the value is a whole number of tenths, else 1 then the
//!                8 bytes of the f64, little-endian
//!   flags: close contact (bit 0), from abroad (bit 1)
//!   symptom count, then each symptom's index in `Symptom::ALL`
//!   region's index in the table
//!   visited count, then each visited region's index in the table
//! ```
//!
//! `Symptom::ALL`'s order is therefore part of the stored format: new symptoms go at its end.
//! Reading also accepts the older list of maps, so profiles written before this form still
//! load, and are rewritten in it at their next declaration.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Duration};

use super::day::start_of_day_utc;
use super::declaration::Symptom;
use super::status::DayRecord;

const VERSION: u64 = 1;

/// Serde adaptor for `Facts::days`.
pub fn serialize<S: Serializer>(days: &[DayRecord], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(&encode(days))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<DayRecord>, D::Error> {
    deserializer.deserialize_any(DaysVisitor)
}

/// The compact form of `days`.
pub fn encode(days: &[DayRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 14 * days.len());
    put(&mut out, VERSION);
    let base = days.first().map_or(0, |d| d.day.to_julian_day());
    put_signed(&mut out, i64::from(base));

    let mut regions: Vec<&str> = Vec::new();
    for d in days {
        for r in std::iter::once(&d.region).chain(&d.visited) {
            if !regions.contains(&r.as_str()) {
                regions.push(r);
            }
        }
    }
    put(&mut out, regions.len() as u64);
    for r in &regions {
        match canonical_number(r) {
            Some(v) => put(&mut out, v << 1),
            None => {
                put(&mut out, ((r.len() as u64) << 1) | 1);
                out.extend_from_slice(r.as_bytes());
            }
        }
    }
    let index = |r: &str| {
        regions
            .iter()
            .position(|x| *x == r)
            .expect("every region is in the table") as u64
    };

    put(&mut out, days.len() as u64);
    let mut previous = base;
    for d in days {
        let julian = d.day.to_julian_day();
        put(&mut out, u64::from(julian.abs_diff(previous)));
        previous = julian;
        let since = d.at - start_of_day_utc(d.day);
        let nanos = since.subsec_nanoseconds();
        put_signed(&mut out, (since.whole_seconds() << 1) | i64::from(nanos != 0));
        if nanos != 0 {
            put(&mut out, u64::from(nanos.unsigned_abs()));
        }
        match whole_tenths(d.temperature) {
            Some(tenths) => put(&mut out, tenths << 1),
            None => {
                put(&mut out, 1);
                out.extend_from_slice(&d.temperature.to_le_bytes());
            }
        }
        put(&mut out, u64::from(d.close_contact) | (u64::from(d.from_abroad) << 1));
        put(&mut out, d.symptoms.len() as u64);
        for s in &d.symptoms {
            put(
                &mut out,
                Symptom::ALL
                    .iter()
                    .position(|x| x == s)
                    .expect("every symptom is listed") as u64,
            );
        }
        put(&mut out, index(&d.region));
        put(&mut out, d.visited.len() as u64);
        for v in &d.visited {
            put(&mut out, index(v));
        }
    }
    out
}

/// Reads what `encode` wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<DayRecord>, &'static str> {
    let mut r = Reader { bytes, at: 0 };
    if r.varint()? != VERSION {
        return Err("unknown version");
    }
    let base = i32::try_from(r.signed()?).map_err(|_| "base day out of range")?;
    let region_count = r.count()?;
    let mut regions = Vec::with_capacity(region_count);
    for _ in 0..region_count {
        let v = r.varint()?;
        regions.push(if v & 1 == 0 {
            (v >> 1).to_string()
        } else {
            let len = usize::try_from(v >> 1).map_err(|_| "region too long")?;
            String::from_utf8(r.take(len)?.to_vec()).map_err(|_| "region not UTF-8")?
        });
    }
    let region = |i: u64| -> Result<String, &'static str> {
        usize::try_from(i)
            .ok()
            .and_then(|i| regions.get(i))
            .cloned()
            .ok_or("region index out of range")
    };

    let day_count = r.count()?;
    let mut days = Vec::with_capacity(day_count);
    let mut julian = i64::from(base);
    for _ in 0..day_count {
        julian += i64::try_from(r.varint()?).map_err(|_| "day out of range")?;
        let day = i32::try_from(julian)
            .ok()
            .and_then(|j| Date::from_julian_day(j).ok())
            .ok_or("day out of range")?;
        let seconds = r.signed()?;
        let nanos = if seconds & 1 == 1 {
            i32::try_from(r.varint()?).map_err(|_| "nanoseconds out of range")?
        } else {
            0
        };
        let since = Duration::new(seconds >> 1, if seconds < 0 { -nanos } else { nanos });
        let at = start_of_day_utc(day).checked_add(since).ok_or("time out of range")?;
        let t = r.varint()?;
        let temperature = if t & 1 == 0 {
            (t >> 1) as f64 / 10.0
        } else {
            f64::from_le_bytes(r.take(8)?.try_into().expect("eight bytes"))
        };
        let flags = r.varint()?;
        let symptom_count = r.count()?;
        let mut symptoms = Vec::with_capacity(symptom_count);
        for _ in 0..symptom_count {
            let i = usize::try_from(r.varint()?).map_err(|_| "symptom out of range")?;
            symptoms.push(*Symptom::ALL.get(i).ok_or("unknown symptom")?);
        }
        let own = region(r.varint()?)?;
        let visited_count = r.count()?;
        let mut visited = Vec::with_capacity(visited_count);
        for _ in 0..visited_count {
            visited.push(region(r.varint()?)?);
        }
        days.push(DayRecord {
            day,
            at,
            temperature,
            symptoms,
            close_contact: flags & 1 == 1,
            from_abroad: flags & 2 == 2,
            region: own,
            visited,
        });
    }
    if r.at != bytes.len() {
        return Err("trailing bytes");
    }
    Ok(days)
}

/// A region code that reads back the same from its number: digits, no leading zero, fits.
fn canonical_number(s: &str) -> Option<u64> {
    let v: u64 = s.parse().ok()?;
    (s.bytes().all(|b| b.is_ascii_digit()) && v.to_string() == s && v < 1 << 62).then_some(v)
}

fn whole_tenths(t: f64) -> Option<u64> {
    let tenths = (t * 10.0).round();
    ((0.0..1e12).contains(&tenths) && tenths / 10.0 == t).then_some(tenths as u64)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put(out, ((v << 1) ^ (v >> 63)) as u64);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at).ok_or("truncated")?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long")
    }

    fn signed(&mut self) -> Result<i64, &'static str> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A count of things that each take at least a byte, so a corrupt count cannot allocate more
    /// than the input.
    fn count(&mut self) -> Result<usize, &'static str> {
        let v = usize::try_from(self.varint()?).map_err(|_| "count out of range")?;
        if v > self.bytes.len() - self.at {
            return Err("count larger than the input");
        }
        Ok(v)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], &'static str> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("truncated")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
}

struct DaysVisitor;

/// One element of a list: a byte of the compact form as a JSON array carries it, or a day
/// record of the older stored form.
#[derive(Deserialize)]
#[serde(untagged)]
enum Element {
    Byte(u8),
    Day(DayRecord),
}

impl<'de> Visitor<'de> for DaysVisitor {
    type Value = Vec<DayRecord>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the compact day history or a list of day records")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        decode(v).map_err(E::custom)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        self.visit_bytes(&v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::new();
        let mut days = Vec::new();
        while let Some(e) = seq.next_element::<Element>()? {
            match e {
                Element::Byte(b) => bytes.push(b),
                Element::Day(d) => days.push(d),
            }
        }
        match (bytes.is_empty(), days.is_empty()) {
            (_, true) if !bytes.is_empty() => self.visit_byte_buf(bytes),
            (true, _) => Ok(days),
            _ => Err(de::Error::custom("a list mixing bytes and day records")),
        }
    }
}

/// Keeps `Serialize` of the legacy form reachable for tests that compare the two.
#[doc(hidden)]
pub struct Legacy<'a>(pub &'a [DayRecord]);

impl Serialize for Legacy<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::macros::{date, datetime};

    fn day(d: Date, at: OffsetDateTime, temperature: f64) -> DayRecord {
        DayRecord {
            day: d,
            at,
            temperature,
            symptoms: vec![],
            close_contact: false,
            from_abroad: false,
            region: "130102".into(),
            visited: vec!["130104".into(), "130105".into()],
        }
    }

    fn fortnight() -> Vec<DayRecord> {
        (0..15)
            .map(|i| {
                let d = date!(2026 - 11 - 10) + Duration::days(i);
                day(
                    d,
                    start_of_day_utc(d) + Duration::hours(10) + Duration::seconds(i),
                    36.5,
                )
            })
            .collect()
    }

    #[test]
    fn round_trips_a_fortnight_in_a_fifth_of_the_space() {
        let days = fortnight();
        let bytes = encode(&days);
        assert_eq!(decode(&bytes).unwrap(), days);
        let legacy = serde_json::to_vec(&Legacy(&days)).unwrap();
        assert!(
            bytes.len() * 4 < legacy.len(),
            "{} bytes against {}",
            bytes.len(),
            legacy.len()
        );
    }

    #[test]
    fn round_trips_what_the_short_form_does_not_cover() {
        let mut days = fortnight();
        days[0].temperature = 37.25;
        days[1].at = datetime!(2026-11-10 23:59:59.123456789 UTC); // a UTC time a day after its record's day
        days[2].symptoms = vec![Symptom::Conjunctivitis, Symptom::Fever, Symptom::Fever];
        days[3].close_contact = true;
        days[3].from_abroad = true;
        days[4].region = "0130102".into(); // not canonical as a number
        days[5].visited = vec!["境外".into(), "130104".into()];
        days[6].visited = vec![];
        days[7].at = datetime!(2026-11-16 23:00:00.5 +08:00) - Duration::days(2); // before the day's midnight
        let decoded = decode(&encode(&days)).unwrap();
        assert_eq!(decoded, days);
        assert_eq!(decoded[0].temperature.to_bits(), 37.25f64.to_bits());
    }

    /// The sizes docs/data-model.md gives for a fortnight of history.
    #[test]
    fn a_fortnight_takes_what_the_data_model_says() {
        let size = |visited: &dyn Fn(i64) -> Vec<String>, symptoms: usize| {
            let days: Vec<DayRecord> = (0..15)
                .map(|i| {
                    let d = date!(2026 - 11 - 10) + Duration::days(i);
                    DayRecord {
                        symptoms: Symptom::ALL[..symptoms].to_vec(),
                        visited: visited(i),
                        ..day(d, start_of_day_utc(d) + Duration::hours(10), 36.5)
                    }
                })
                .collect();
            encode(&days).len()
        };
        let distinct =
            |per_day: i64| move |i: i64| (0..per_day).map(|j| (110_101 + i * 1000 + j).to_string()).collect();
        assert_eq!(size(&|_| vec![], 0), 160);
        assert_eq!(size(&|_| vec!["130104".into()], 0), 178);
        assert_eq!(size(&|_| vec!["130104".into(), "130105".into()], 0), 196);
        assert_eq!(size(&distinct(20), 0), 1_534);
        assert_eq!(size(&distinct(100), 11), 7_699);
    }

    #[test]
    fn round_trips_no_days() {
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn refuses_corrupt_input_without_panicking() {
        let bytes = encode(&fortnight());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "a prefix of {cut} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err("trailing bytes"));
        assert_eq!(decode(&[2]), Err("unknown version"));
        assert!(decode(&[1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        // Every single-byte corruption either fails or decodes to something; none panics.
        for i in 0..bytes.len() {
            for b in [0x00, 0x7f, 0x80, 0xff] {
                let mut c = bytes.clone();
                c[i] = b;
                let _ = decode(&c);
            }
        }
    }

    #[test]
    fn reads_the_older_list_of_maps() {
        let days = fortnight();
        let legacy = serde_json::to_string(&Legacy(&days)).unwrap();
        let mut de = serde_json::Deserializer::from_str(&legacy);
        assert_eq!(deserialize(&mut de).unwrap(), days);
    }

    #[test]
    fn the_dynamodb_form_is_one_binary_value() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            #[serde(with = "super")]
            days: Vec<DayRecord>,
        }
        type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;
        let h = Holder { days: fortnight() };
        let item: Item = serde_dynamo::to_item(&h).unwrap();
        assert!(item["days"].is_b(), "{:?}", item["days"]);
        let back: Holder = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, h);
        // And a profile written before: the list of maps.
        let legacy = serde_json::json!({ "days": serde_json::to_value(Legacy(&h.days)).unwrap() });
        let legacy: Item = serde_dynamo::to_item(legacy).unwrap();
        assert!(legacy["days"].is_l());
        let back: Holder = serde_dynamo::from_item(legacy).unwrap();
        assert_eq!(back, h);
    }
}
