//! The Asia/Shanghai calendar, on which declarations are counted and colour rules are evaluated.

use time::macros::offset;
use time::{Date, OffsetDateTime, UtcOffset};

/// Asia/Shanghai as a fixed offset: China has observed no daylight saving time since 1991,
/// so UTC+08:00 is exact for every date the system can meet and no tz database is needed.
pub const SHANGHAI: UtcOffset = offset!(+8);

/// The Shanghai calendar day of an instant. A day starts at 16:00 UTC of the previous UTC day.
pub fn shanghai_day(t: OffsetDateTime) -> Date {
    t.to_offset(SHANGHAI).date()
}

/// The instant a Shanghai day starts (00:00 +08:00), expressed in UTC.
pub fn start_of_day_utc(d: Date) -> OffsetDateTime {
    d.midnight().assume_offset(SHANGHAI).to_offset(UtcOffset::UTC)
}

/// The same instant shown in +08:00, as clients expect timestamps.
pub fn to_shanghai(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(SHANGHAI)
}

/// An instant as the API writes it: RFC 3339 in +08:00, whole seconds.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = to_shanghai(t)
        .replace_nanosecond(0)
        .expect("zero nanoseconds are valid");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("instants format")
}

/// Serde for a [`Date`] as `"YYYY-MM-DD"`, the API's day format. (`time`'s own `Date` serde
/// is a tuple unless its human-readable feature is on, which the API cannot rely on.)
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};
    use time::Date;
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;

    const FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

    /// `YYYY-MM-DD`.
    pub fn format(date: Date) -> String {
        date.format(FORMAT).expect("dates format")
    }

    /// A `YYYY-MM-DD` day, or `None`.
    pub fn parse(text: &str) -> Option<Date> {
        Date::parse(text, FORMAT).ok()
    }

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        let text = date.format(FORMAT).map_err(S::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(&text, FORMAT).map_err(|_| D::Error::custom("expected a date as YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use time::macros::{date, datetime};

    #[test]
    fn the_shanghai_day_turns_at_16_00_utc() {
        assert_eq!(shanghai_day(datetime!(2026-11-25 15:59:59 UTC)), date!(2026 - 11 - 25));
        assert_eq!(shanghai_day(datetime!(2026-11-25 16:00:00 UTC)), date!(2026 - 11 - 26));
    }

    #[test]
    fn a_day_starts_at_midnight_shanghai() {
        assert_eq!(
            start_of_day_utc(date!(2026 - 11 - 26)),
            datetime!(2026-11-25 16:00:00 UTC)
        );
    }

    #[test]
    fn the_api_writes_whole_seconds_in_plus_eight() {
        assert_eq!(
            rfc3339(datetime!(2026-11-26 00:00:00.75 UTC)),
            "2026-11-26T08:00:00+08:00"
        );
    }

    #[test]
    fn timestamps_are_shown_in_plus_eight() {
        let shown = to_shanghai(datetime!(2026-11-26 00:00:00 UTC));
        assert_eq!(shown.offset(), SHANGHAI);
        assert_eq!(shown, datetime!(2026-11-26 08:00:00 +8));
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Dated {
        #[serde(with = "iso_date")]
        day: Date,
    }

    #[test]
    fn dates_round_trip_as_iso_text() {
        let dated = Dated {
            day: date!(2026 - 03 - 05),
        };
        let json = serde_json::to_string(&dated).unwrap();
        assert_eq!(json, r#"{"day":"2026-03-05"}"#);
        assert_eq!(serde_json::from_str::<Dated>(&json).unwrap(), dated);
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            r#"{"day":"2026-3-5"}"#,
            r#"{"day":"2026-02-30"}"#,
            r#"{"day":"20260305"}"#,
        ] {
            assert!(serde_json::from_str::<Dated>(bad).is_err(), "{bad}");
        }
    }
}
