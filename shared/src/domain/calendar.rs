//! Calendar dates (`YYYY-MM-DD`) for leases and possession periods, and the two
//! timestamp shapes of the partner feed.

use serde::{Deserialize, Deserializer, Serializer};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

const DATE: &[time::format_description::BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
const SECONDS: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Parses `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(raw.trim(), &DATE).ok()
}

/// Formats as `YYYY-MM-DD`, which sorts as time.
pub fn format_date(date: Date) -> String {
    date.format(&DATE).unwrap_or_default()
}

/// Today in UTC: leases and possession periods are read in UTC.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// The partner feed's timestamp of the first second of a day: `2024-01-01T00:00:00Z`.
pub fn start_of_day(date: Date) -> String {
    format!("{}T00:00:00Z", format_date(date))
}

/// The partner feed's timestamp of the last second of a day: `2024-12-31T23:59:59Z`.
pub fn end_of_day(date: Date) -> String {
    format!("{}T23:59:59Z", format_date(date))
}

/// A timestamp in the partner feed's shape, to the second in UTC: `2024-01-01T10:00:00Z`.
pub fn seconds_utc(at: OffsetDateTime) -> String {
    crate::time_format::in_utc_range(at).and_then(|utc| utc.format(&SECONDS).ok()).unwrap_or_default()
}

/// Serde adapter: a `Date` as `YYYY-MM-DD`.
pub mod iso_date {
    use super::*;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(d)?;
        parse_date(&raw).ok_or_else(|| serde::de::Error::custom("expected a YYYY-MM-DD date"))
    }
}

/// Serde adapter: an optional `Date` as `YYYY-MM-DD` or null.
pub mod iso_date_option {
    use super::*;

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => s.serialize_str(&format_date(*date)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        raw.map(|raw| parse_date(&raw).ok_or_else(|| serde::de::Error::custom("expected a YYYY-MM-DD date")))
            .transpose()
    }
}

/// Serde adapter: an optional fixed-width RFC 3339 timestamp.
pub mod rfc3339_option {
    use super::*;
    use crate::time_format;

    pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&time_format::format(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        raw.map(|raw| {
            time_format::parse(&raw).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_shapes() {
        let date = parse_date("2024-01-01").unwrap();
        assert_eq!(start_of_day(date), "2024-01-01T00:00:00Z");
        assert_eq!(end_of_day(date), "2024-01-01T23:59:59Z");
        let at = crate::time_format::parse("2024-01-01T05:00:00.123-05:00").unwrap();
        assert_eq!(seconds_utc(at), "2024-01-01T10:00:00Z");
        assert!(parse_date("2024-02-30").is_none());
        assert!(parse_date("01/02/2024").is_none());
    }
}
