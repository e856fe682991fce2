//! Timestamps: RFC 3339 UTC with fixed microsecond precision, so that their string
//! order is their time order (they are used in sort keys).

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FIXED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Now, truncated to the microsecond so that a stored and re-read value compares equal.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_microsecond(now.microsecond()).unwrap_or(now)
}

/// Formats as `2026-01-15T10:30:00.000000Z`. Never panics: an instant outside years
/// 0000 to 9999 in UTC (which [`parse`] refuses) is written as the nearest end of that range.
pub fn format(at: OffsetDateTime) -> String {
    in_utc_range(at).unwrap_or_else(|| clamp(at)).format(FIXED).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Parses any RFC 3339 timestamp (any offset), as UTC. `None` when it is not RFC 3339 or
/// falls outside years 0000 to 9999 in UTC (`9999-12-31T23:59:59-23:59` is year 10000).
pub fn parse(value: &str) -> Option<OffsetDateTime> {
    in_utc_range(OffsetDateTime::parse(value, &Rfc3339).ok()?)
}

/// The instant in UTC, if it falls in years 0000 to 9999 there: the range that the fixed
/// format writes and that sorts as time.
pub fn in_utc_range(at: OffsetDateTime) -> Option<OffsetDateTime> {
    at.checked_to_offset(UtcOffset::UTC).filter(|utc| (0..=9999).contains(&utc.year()))
}

fn clamp(at: OffsetDateTime) -> OffsetDateTime {
    if at.unix_timestamp() < 0 { datetime!(0000-01-01 0:00 UTC) } else { datetime!(9999-12-31 23:59:59.999_999 UTC) }
}

/// Serde adapter: fixed-width RFC 3339 UTC.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let raw = String::deserialize(d)?;
        parse(&raw).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

/// Serde adapter for `Option<OffsetDateTime>`: fixed-width RFC 3339 UTC, so stored values
/// compare as strings in condition expressions.
pub mod rfc3339_option {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_some(&format(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(raw) => {
                parse(&raw).map(Some).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_format_sorts_as_time() {
        let early = parse("2026-01-01T00:00:00Z").unwrap();
        let late = parse("2026-01-01T00:00:00.5+00:00").unwrap();
        assert_eq!(format(early), "2026-01-01T00:00:00.000000Z");
        assert!(format(early) < format(late));
        assert_eq!(parse(&format(late)), Some(late));
    }

    #[test]
    fn timestamps_past_year_9999_in_utc_are_refused_and_never_panic() {
        assert_eq!(parse("9999-12-31T23:59:59-23:59"), None);
        assert_eq!(parse("0000-01-01T00:00:00+00:01"), None);
        assert!(parse("9999-12-31T23:59:59+00:00").is_some());
        let beyond = OffsetDateTime::parse("9999-12-31T23:59:59-23:59", &Rfc3339).unwrap();
        assert_eq!(format(beyond), "9999-12-31T23:59:59.999999Z");
        let before = OffsetDateTime::parse("0000-01-01T00:00:00+00:01", &Rfc3339).unwrap();
        assert_eq!(format(before), "0000-01-01T00:00:00.000000Z");
        assert_eq!(parse("2024-01-01T05:00:00-05:00").map(|at| at.offset()), Some(UtcOffset::UTC));
    }
}
