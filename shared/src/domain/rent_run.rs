//! Rent runs: the daily job that issues each current lease's rent invoice on its due day
//! and applies late fees, and the record of what one run did for one organization.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::iso_date;
use crate::domain::lease::{Lease, LeaseStatus};
use crate::time_format;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RentRunTrigger {
    /// The daily EventBridge schedule, over every organization.
    Scheduled,
    /// `POST /api/v1/financial/rent-runs`, for the caller's organization.
    Requested,
}

/// What a run did for one organization. Counters are added page by page, so a run
/// still going shows its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RentRun {
    pub id: String,
    pub org_id: String,
    /// The day the run charged rent for.
    #[serde(with = "iso_date")]
    pub date: Date,
    pub trigger: RentRunTrigger,
    /// Rent invoices this run issued.
    #[serde(default)]
    pub issued: u64,
    /// Leases whose invoice for the period was already issued (by an earlier run).
    #[serde(default)]
    pub already_issued: u64,
    /// Late fees this run charged.
    #[serde(default)]
    pub late_fees: u64,
    /// Invoices whose late fee was already charged.
    #[serde(default)]
    pub late_fees_already: u64,
    /// Leases or invoices the run could not charge (logged with their ids).
    #[serde(default)]
    pub errors: u64,
    #[serde(with = "time_format::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(default, with = "crate::domain::calendar::rfc3339_option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What one part of a run counted, to add to its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub issued: u64,
    pub already_issued: u64,
    pub late_fees: u64,
    pub late_fees_already: u64,
    pub errors: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: RunCounts) {
        self.issued += other.issued;
        self.already_issued += other.already_issued;
        self.late_fees += other.late_fees;
        self.late_fees_already += other.late_fees_already;
        self.errors += other.errors;
    }

    pub fn is_empty(&self) -> bool {
        *self == RunCounts::default()
    }
}

/// The rent period a day falls in: `YYYY-MM`. A lease is charged once per period.
pub fn period_of(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// Whether `lease` is charged rent on `day`: it is current then and `day` is its due day.
pub fn rent_due_on(lease: &Lease, day: Date) -> bool {
    day.day() == lease.due_day && lease.status_on(day) == LeaseStatus::Current
}

/// The id of the scheduled run of `day`: the same in every organization and for every
/// delivery of the schedule, ordered by day among the requested runs' ids.
pub fn scheduled_run_id(day: Date) -> String {
    let millis = u64::try_from(day.midnight().assume_utc().unix_timestamp() * 1000).unwrap_or(0);
    format!("{}_{}", crate::domain::ids::RentRunId::PREFIX, ulid::Ulid::from_parts(millis, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_are_months_and_scheduled_ids_are_per_day() {
        assert_eq!(period_of(date!(2025 - 03 - 01)), "2025-03");
        assert_eq!(scheduled_run_id(date!(2025 - 03 - 01)), scheduled_run_id(date!(2025 - 03 - 01)));
        assert!(scheduled_run_id(date!(2025 - 03 - 01)) < scheduled_run_id(date!(2025 - 03 - 02)));
        assert!(crate::domain::ids::RentRunId::parse(&scheduled_run_id(date!(2025 - 03 - 01))).is_some());
    }
}
