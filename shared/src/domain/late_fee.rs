//! Late fees: a property's policy (grace days, a flat amount or a percentage of the
//! overdue rent, an optional cap) and the fee it makes of an overdue rent invoice.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::money::Money;
use crate::time_format;

/// At most this many grace days.
pub const MAX_GRACE_DAYS: u16 = 60;

/// At most 100 % (10,000 basis points) of the overdue rent.
pub const MAX_BASIS_POINTS: u32 = 10_000;

/// How the fee is reckoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LateFee {
    /// The same amount whatever is overdue.
    Flat { amount: Money },
    /// A share of the overdue rent, in basis points (500 = 5 %).
    Percent { basis_points: u32 },
}

/// What kind of fee a policy charges, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LateFeeType {
    Flat,
    Percent,
}

/// A property's late-fee policy: one fee per rent invoice still unpaid after its grace days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateFeePolicy {
    pub org_id: String,
    pub property_id: String,
    /// Days after the due date before the fee applies (0: the first day overdue).
    pub grace_days: u16,
    pub fee: LateFee,
    /// The most one fee can be, in the lease's currency.
    #[serde(default)]
    pub max_amount: Option<Money>,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl LateFeePolicy {
    /// Whether an invoice due on `due_date` and unpaid on `day` is past its grace days:
    /// from the day after `due_date + grace_days`.
    pub fn applies_on(&self, due_date: Date, day: Date) -> bool {
        due_date.checked_add(Duration::days(i64::from(self.grace_days))).is_some_and(|last_grace| day > last_grace)
    }

    /// The fee for `overdue_rent` outstanding: the flat amount or the percentage (rounded
    /// half up to the cent), no more than the cap; 0 when nothing is overdue.
    pub fn fee_for(&self, overdue_rent: Money) -> Money {
        if overdue_rent.0 <= 0 {
            return Money(0);
        }
        let fee = match self.fee {
            LateFee::Flat { amount } => amount.0,
            LateFee::Percent { basis_points } => (overdue_rent.0 * i64::from(basis_points) + 5_000) / 10_000,
        };
        Money(self.max_amount.map_or(fee, |cap| fee.min(cap.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn policy(fee: LateFee, max_amount: Option<Money>) -> LateFeePolicy {
        LateFeePolicy {
            org_id: "org_1".into(),
            property_id: "prop_1".into(),
            grace_days: 5,
            fee,
            max_amount,
            updated_at: datetime!(2025-01-01 0:00 UTC),
            version: 1,
        }
    }

    #[test]
    fn the_fee_applies_from_the_day_after_the_grace_days() {
        let p = policy(LateFee::Flat { amount: Money(5_000) }, None);
        assert!(!p.applies_on(date!(2025 - 01 - 01), date!(2025 - 01 - 06)));
        assert!(p.applies_on(date!(2025 - 01 - 01), date!(2025 - 01 - 07)));
        let none = LateFeePolicy { grace_days: 0, ..p };
        assert!(!none.applies_on(date!(2025 - 01 - 01), date!(2025 - 01 - 01)));
        assert!(none.applies_on(date!(2025 - 01 - 01), date!(2025 - 01 - 02)));
    }

    #[test]
    fn percent_rounds_half_up_and_the_cap_holds() {
        let p = policy(LateFee::Percent { basis_points: 500 }, Some(Money(10_000)));
        assert_eq!(p.fee_for(Money(165_010)), Money(8_251));
        assert_eq!(p.fee_for(Money(400_000)), Money(10_000));
        assert_eq!(p.fee_for(Money(0)), Money(0));
        let flat = policy(LateFee::Flat { amount: Money(7_500) }, Some(Money(5_000)));
        assert_eq!(flat.fee_for(Money(1)), Money(5_000));
    }
}
