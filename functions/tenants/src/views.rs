//! What clients see of a tenant.

use serde::Serialize;
use shared::domain::tenant::Tenant;
use shared::time_format;
use utoipa::ToSchema;

/// A tenant on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    #[schema(example = "ten_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    pub name: String,
    pub email: String,
    /// E.164.
    pub phone: Option<String>,
    /// The linked user account (role `Tenant`), whose token carries this id as `tenant_profile_id`.
    pub user_id: Option<String>,
    /// Every lease naming this tenant, oldest first.
    pub lease_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Increases with every change (including new leases); the `ETag` carries it.
    pub version: u64,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.clone(),
            property_id: t.property_id.clone(),
            name: t.fields.name.clone(),
            email: t.fields.email.clone(),
            phone: t.fields.phone.clone(),
            user_id: t.fields.user_id.clone(),
            lease_ids: t.lease_ids.clone(),
            created_at: time_format::format(t.created_at),
            updated_at: time_format::format(t.updated_at),
            version: t.version,
        }
    }
}

/// A renter in the integration API's exact shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renter {
    pub id: String,
    pub name: String,
    pub property_id: String,
    /// `YYYY-MM-DD` of the tenant's current lease (else the next, else the last); null without a lease.
    pub lease_start: Option<String>,
    pub lease_end: Option<String>,
    /// Monthly rent in the integration API's number format (`2400`).
    #[schema(value_type = Option<f64>, example = 2400)]
    pub rent_amount: Option<serde_json::Number>,
    /// `current`, `partial`, `overdue` or `credit`, from the lease's ledger (today, UTC);
    /// left out when the caller lacks `payment:read` (an app, the `read:payments` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
}

/// `GET /api/ai/renters`: `{"renters": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenterList {
    pub renters: Vec<Renter>,
}
