//! What clients see of a lease.

use serde::Serialize;
use shared::domain::calendar;
use shared::domain::lease::{Lease, LeaseStatus};
use shared::domain::money::Decimal2;
use shared::domain::tenant::Tenant;
use shared::time_format;
use utoipa::ToSchema;

/// A lease on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseView {
    #[schema(example = "lease_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    pub unit_id: String,
    pub primary_tenant_id: String,
    /// Every tenant on the lease, the primary first.
    pub tenant_ids: Vec<String>,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`, the contracted last day.
    pub end_date: String,
    /// RFC 3339.
    pub move_in: Option<String>,
    /// RFC 3339; set when the lease ended early.
    pub move_out: Option<String>,
    /// Derived from the dates, today (UTC).
    pub status: LeaseStatus,
    /// ISO 4217.
    pub currency: String,
    /// Monthly rent, two decimals.
    #[schema(value_type = f64, example = 2400.00)]
    pub rent_amount: Decimal2,
    /// Day of the month rent is due.
    pub due_day: u8,
    #[schema(value_type = f64, example = 2400.00)]
    pub deposit: Decimal2,
    /// The lease this one renews.
    pub renewal_of: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&Lease> for LeaseView {
    fn from(l: &Lease) -> Self {
        Self {
            id: l.id.clone(),
            property_id: l.property_id.clone(),
            unit_id: l.unit_id.clone(),
            primary_tenant_id: l.primary_tenant_id.clone(),
            tenant_ids: l.tenant_ids.clone(),
            start_date: calendar::format_date(l.start_date),
            end_date: calendar::format_date(l.end_date),
            move_in: l.move_in.map(time_format::format),
            move_out: l.move_out.map(time_format::format),
            status: l.status_on(calendar::today()),
            currency: l.currency.as_str().to_owned(),
            rent_amount: Decimal2(l.rent_amount),
            due_day: l.due_day,
            deposit: Decimal2(l.deposit),
            renewal_of: l.renewal_of.clone(),
            created_at: time_format::format(l.created_at),
            updated_at: time_format::format(l.updated_at),
            version: l.version,
        }
    }
}

/// A tenant inside a partner-feed lease.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedTenant {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub email: String,
    /// E.164 as stored.
    #[serde(rename = "phoneNumber")]
    pub phone_number: Option<String>,
}

impl From<&Tenant> for FeedTenant {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.clone(),
            name: t.fields.name.clone(),
            email: t.fields.email.clone(),
            phone_number: t.fields.phone.clone(),
        }
    }
}

/// A lease in the partner feed's shape, keys in the partner's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedLease {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "unitID")]
    pub unit_id: String,
    /// `2024-01-01T00:00:00Z`.
    #[serde(rename = "leaseStart")]
    pub lease_start: String,
    /// `2024-12-31T23:59:59Z`: the last second of the contracted end day.
    #[serde(rename = "leaseEnd")]
    pub lease_end: String,
    /// `2024-01-01T10:00:00Z`, or null.
    #[serde(rename = "moveIn")]
    pub move_in: Option<String>,
    #[serde(rename = "moveOut")]
    pub move_out: Option<String>,
    #[serde(rename = "primaryTenantID")]
    pub primary_tenant_id: String,
    pub tenants: Vec<FeedTenant>,
}

impl FeedLease {
    /// The lease with its tenants (those still on record), in the lease's order.
    pub fn new(l: &Lease, tenant: impl Fn(&str) -> Option<FeedTenant>) -> Self {
        Self {
            id: l.id.clone(),
            unit_id: l.unit_id.clone(),
            lease_start: calendar::start_of_day(l.start_date),
            lease_end: calendar::end_of_day(l.end_date),
            move_in: l.move_in.map(calendar::seconds_utc),
            move_out: l.move_out.map(calendar::seconds_utc),
            primary_tenant_id: l.primary_tenant_id.clone(),
            tenants: l.tenant_ids.iter().filter_map(|id| tenant(id)).collect(),
        }
    }
}
