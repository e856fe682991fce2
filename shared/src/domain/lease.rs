//! Leases: who rents which unit, from when to when, on what terms.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::iso_date;
use crate::domain::calendar::rfc3339_option;
use crate::domain::money::{Currency, Money};
use crate::time_format;

/// A lease names at most this many tenants (primary included).
pub const MAX_TENANTS: usize = 10;

/// Where a lease stands on a day, derived from its dates: `Future` before its start,
/// `Past` after its effective end (the move-out date when it ended early), `Current` between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum LeaseStatus {
    Past,
    Current,
    Future,
}

impl LeaseStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Past => "Past",
            Self::Current => "Current",
            Self::Future => "Future",
        }
    }
}

/// A stored lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub org_id: String,
    pub property_id: String,
    pub unit_id: String,
    pub primary_tenant_id: String,
    /// Every tenant on the lease, the primary first.
    pub tenant_ids: Vec<String>,
    #[serde(with = "iso_date")]
    pub start_date: Date,
    /// The contracted last day.
    #[serde(with = "iso_date")]
    pub end_date: Date,
    /// The last day the lease holds the unit: `end_date`, or the move-out day.
    #[serde(with = "iso_date")]
    pub effective_end: Date,
    #[serde(default, with = "rfc3339_option")]
    pub move_in: Option<OffsetDateTime>,
    #[serde(default, with = "rfc3339_option")]
    pub move_out: Option<OffsetDateTime>,
    pub currency: Currency,
    /// Monthly rent.
    pub rent_amount: Money,
    /// Day of the month rent is due (1 to 28).
    pub due_day: u8,
    pub deposit: Money,
    /// The lease this one renews.
    #[serde(default)]
    pub renewal_of: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Lease {
    pub fn status_on(&self, day: Date) -> LeaseStatus {
        if day < self.start_date {
            LeaseStatus::Future
        } else if day > self.effective_end {
            LeaseStatus::Past
        } else {
            LeaseStatus::Current
        }
    }

    pub fn names(&self, tenant_id: &str) -> bool {
        self.tenant_ids.iter().any(|t| t == tenant_id)
    }

    /// What the lease is charged each period: the rent job's rent invoice, and the
    /// integration API's `rent_amount`.
    pub fn rent_charge(&self) -> Money {
        self.rent_amount
    }
}

/// The validated terms of a new lease.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseTerms {
    pub unit_id: String,
    pub start_date: Date,
    pub end_date: Date,
    pub move_in: Option<OffsetDateTime>,
    pub currency: Currency,
    pub rent_amount: Money,
    pub due_day: u8,
    pub deposit: Money,
    pub co_tenant_ids: Vec<String>,
}

impl LeaseTerms {
    /// The lease these terms make, with `primary_tenant_id` first among its tenants.
    pub fn into_lease(self, org_id: &str, property_id: &str, primary_tenant_id: &str, now: OffsetDateTime) -> Lease {
        let mut tenant_ids = vec![primary_tenant_id.to_owned()];
        tenant_ids.extend(self.co_tenant_ids);
        Lease {
            id: crate::domain::ids::LeaseId::generate().into(),
            org_id: org_id.to_owned(),
            property_id: property_id.to_owned(),
            unit_id: self.unit_id,
            primary_tenant_id: primary_tenant_id.to_owned(),
            tenant_ids,
            start_date: self.start_date,
            end_date: self.end_date,
            effective_end: self.end_date,
            move_in: self.move_in,
            move_out: None,
            currency: self.currency,
            rent_amount: self.rent_amount,
            due_day: self.due_day,
            deposit: self.deposit,
            renewal_of: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar;

    fn lease(start: &str, end: &str) -> Lease {
        let day = |d: &str| calendar::parse_date(d).unwrap();
        let terms = LeaseTerms {
            unit_id: "unit_x".into(),
            start_date: day(start),
            end_date: day(end),
            move_in: None,
            currency: Currency::parse("USD").unwrap(),
            rent_amount: Money(240_000),
            due_day: 1,
            deposit: Money::default(),
            co_tenant_ids: vec![],
        };
        terms.into_lease("org_x", "prop_x", "ten_x", time_format::now())
    }

    #[test]
    fn status_follows_the_dates() {
        let l = lease("2024-01-01", "2024-12-31");
        let day = |d: &str| calendar::parse_date(d).unwrap();
        assert_eq!(l.status_on(day("2023-12-31")), LeaseStatus::Future);
        assert_eq!(l.status_on(day("2024-01-01")), LeaseStatus::Current);
        assert_eq!(l.status_on(day("2024-12-31")), LeaseStatus::Current);
        assert_eq!(l.status_on(day("2025-01-01")), LeaseStatus::Past);
    }
}
