//! Money: integer minor units inside the system, a two-place decimal on the wire.

use serde::{Deserialize, Serialize, Serializer};

/// An amount in minor units (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Money(pub i64);

/// The largest amount accepted: one trillion in major units.
const MAX_MINOR: i64 = 100_000_000_000_000;

impl Money {
    /// Parses a JSON number with at most two decimal places, 0 ≤ amount ≤ 10^12.
    pub fn parse_non_negative(number: &serde_json::Number) -> Result<Money, &'static str> {
        let minor = if let Some(whole) = number.as_i64() {
            whole.checked_mul(100)
        } else {
            let value = number.as_f64().ok_or("must be a number")?;
            let scaled = value * 100.0;
            let rounded = scaled.round();
            if (scaled - rounded).abs() > 1e-6 * scaled.abs().max(1.0) {
                return Err("must have at most two decimal places");
            }
            (rounded.abs() < 9.0e15).then_some(rounded as i64)
        };
        match minor {
            Some(m) if m < 0 => Err("must not be negative"),
            Some(m) if m <= MAX_MINOR => Ok(Money(m)),
            _ => Err("is too large"),
        }
    }

    /// `1234.50` as text.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// The integration API's number format: a whole number when there are no cents (`1200000`).
    pub fn to_seed_number(self) -> serde_json::Number {
        if self.0 % 100 == 0 {
            serde_json::Number::from(self.0 / 100)
        } else {
            serde_json::Number::from_f64(self.0 as f64 / 100.0).unwrap_or_else(|| serde_json::Number::from(0))
        }
    }
}

/// Serializes money as a JSON number with exactly two decimals (`1200000.00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal2(pub Money);

impl Serialize for Decimal2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw =
            serde_json::value::RawValue::from_string(self.0.to_decimal_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, &'static str> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code))
        } else {
            Err("must be a three-letter ISO 4217 code such as USD")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(raw: &str) -> serde_json::Number {
        serde_json::from_str(raw).unwrap()
    }

    #[test]
    fn parses_two_place_amounts() {
        assert_eq!(Money::parse_non_negative(&num("1200000")), Ok(Money(120_000_000)));
        assert_eq!(Money::parse_non_negative(&num("1234.5")), Ok(Money(123_450)));
        assert_eq!(Money::parse_non_negative(&num("0.07")), Ok(Money(7)));
        assert!(Money::parse_non_negative(&num("1.005")).is_err());
        assert!(Money::parse_non_negative(&num("-1")).is_err());
        assert!(Money::parse_non_negative(&num("1e20")).is_err());
    }

    #[test]
    fn formats_for_each_audience() {
        assert_eq!(serde_json::to_string(&Decimal2(Money(120_000_000))).unwrap(), "1200000.00");
        assert_eq!(serde_json::to_string(&Decimal2(Money(7))).unwrap(), "0.07");
        assert_eq!(Money(120_000_000).to_seed_number().to_string(), "1200000");
        assert_eq!(Money(123_450).to_seed_number().to_string(), "1234.5");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse("cad").unwrap().as_str(), "CAD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }
}
