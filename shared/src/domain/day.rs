//! The Asia/Shanghai calendar. China has kept UTC+08:00 without daylight
//! saving since 1991, so a fixed offset is exact for every date we handle.

use time::{Date, OffsetDateTime, Time, UtcOffset};

pub const SHANGHAI: UtcOffset = time::macros::offset!(+8);

/// The Shanghai calendar day of an instant: 16:00 UTC starts the next day.
pub fn shanghai_day(t: OffsetDateTime) -> Date {
    t.to_offset(SHANGHAI).date()
}

/// The instant a Shanghai day starts (00:00 +08:00).
pub fn start_of_day_utc(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_offset(SHANGHAI).to_offset(UtcOffset::UTC)
}

/// An instant in the +08:00 offset, as the API writes times.
pub fn to_shanghai(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(SHANGHAI)
}

/// An instant as the API writes it: RFC 3339 in +08:00, whole seconds.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = to_shanghai(t).replace_nanosecond(0).expect("zero nanoseconds are valid");
    t.format(&time::format_description::well_known::Rfc3339).expect("instants format")
}

/// (De)serialises a `Date` as `YYYY-MM-DD`.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::format_description::well_known::Iso8601;

    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

    pub fn format(d: Date) -> String {
        d.format(FORMAT).expect("dates format")
    }

    pub fn parse(s: &str) -> Option<Date> {
        Date::parse(s, FORMAT).ok().or_else(|| Date::parse(s, &Iso8601::DATE).ok())
    }

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("expected a date YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_shanghai_day_turns_at_16_utc() {
        assert_eq!(shanghai_day(datetime!(2026-11-25 15:59:59 UTC)), date!(2026 - 11 - 25));
        assert_eq!(shanghai_day(datetime!(2026-11-25 16:00:00 UTC)), date!(2026 - 11 - 26));
        assert_eq!(start_of_day_utc(date!(2026 - 11 - 26)), datetime!(2026-11-25 16:00 UTC));
        assert_eq!(rfc3339(datetime!(2026-11-26 00:00:00.75 UTC)), "2026-11-26T08:00:00+08:00");
    }
}
