//! Work orders: the job that fixes a maintenance request (or stands alone), who does it,
//! when, for how much. Completing the last open work order of a request completes the
//! request.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::calendar::rfc3339_option;
use crate::domain::ids::WorkOrderId;
use crate::time_format;

/// Where a work order stands: `scheduled` → `in_progress` → `completed`; `scheduled` or
/// `in_progress` → `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderStatus {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
}

impl WorkOrderStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Scheduled or in progress: work still to do.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Scheduled | Self::InProgress)
    }
}

/// The client-writable fields of a work order, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrderFields {
    pub title: String,
    pub description: String,
    /// The user (`user_...`) doing the work.
    pub assignee_id: Option<String>,
    /// The vendor (`ven_...`) doing the work.
    #[serde(default)]
    pub vendor_id: Option<String>,
    #[serde(default, with = "rfc3339_option")]
    pub scheduled_start: Option<OffsetDateTime>,
    #[serde(default, with = "rfc3339_option")]
    pub scheduled_end: Option<OffsetDateTime>,
    /// The estimate in minor units (cents) of `currency`.
    pub estimate: Option<i64>,
    /// ISO 4217.
    pub currency: String,
}

/// A stored work order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: String,
    pub org_id: String,
    pub maintenance_request_id: Option<String>,
    pub property_id: String,
    pub unit_id: Option<String>,
    #[serde(flatten)]
    pub fields: WorkOrderFields,
    pub status: WorkOrderStatus,
    /// What it cost, in minor units, once completed.
    pub cost: Option<i64>,
    /// Notes left on completion.
    pub notes: Option<String>,
    /// When the current assignee or vendor was set.
    #[serde(default, with = "rfc3339_option")]
    pub assigned_at: Option<OffsetDateTime>,
    #[serde(default, with = "rfc3339_option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "rfc3339_option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl WorkOrder {
    pub fn new(
        org_id: &str,
        maintenance_request_id: Option<String>,
        property_id: String,
        unit_id: Option<String>,
        fields: WorkOrderFields,
        now: OffsetDateTime,
    ) -> Self {
        let assigned = fields.assignee_id.is_some() || fields.vendor_id.is_some();
        Self {
            assigned_at: assigned.then_some(now),
            id: WorkOrderId::generate().into(),
            org_id: org_id.to_owned(),
            maintenance_request_id,
            property_id,
            unit_id,
            fields,
            status: WorkOrderStatus::Scheduled,
            cost: None,
            notes: None,
            started_at: None,
            completed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next version, changed by `change`; `assigned_at` follows the assignee and vendor.
    pub fn revised(&self, now: OffsetDateTime, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = Self { updated_at: now, version: self.version + 1, ..self.clone() };
        change(&mut next);
        if next.fields.assignee_id != self.fields.assignee_id || next.fields.vendor_id != self.fields.vendor_id {
            next.assigned_at = Some(now);
        }
        next
    }
}
