//! Timestamps: RFC 3339 UTC with fixed microsecond precision, so that their string
//! order is their time order (they are used in sort keys).

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FIXED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Now, truncated to the microsecond so that a stored and re-read value compares equal.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_microsecond(now.microsecond()).unwrap_or(now)
}

/// Formats as `2026-01-15T10:30:00.000000Z`.
pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(FIXED).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Parses any RFC 3339 timestamp (any offset).
pub fn parse(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
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
}
