//! What the domain and the store can refuse a lease write for, and the one place each
//! refusal becomes an HTTP answer.

use shared::ApiError;
use shared::domain::calendar;
use shared::domain::unit::BookingError;

/// An outcome that answers the request with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The lease is not in the caller's reach (or is gone).
    LeaseMissing,
    /// The lease's unit is not in the property (or is gone).
    UnitMissing,
    /// A tenant the lease names, by position (0 is the primary tenant), is gone or
    /// belongs to another property.
    TenantMissing(usize),
    /// The unit cannot be booked for the lease's period.
    Booking(BookingError),
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::LeaseMissing => ApiError::NotFound("Lease"),
            Refused::UnitMissing => ApiError::NotFound("Unit"),
            Refused::TenantMissing(0) => ApiError::NotFound("Tenant"),
            Refused::TenantMissing(_) => {
                ApiError::invalid_field("co_tenant_ids", "must name tenants of the same property")
            }
            Refused::Booking(BookingError::BeforePossession(possession)) => ApiError::invalid_field(
                "start_date",
                format!("must not be before the unit's possession start {}", calendar::format_date(possession)),
            ),
            Refused::Booking(BookingError::Overlaps(clash)) => ApiError::Conflict(format!(
                "The unit is already leased from {} to {} (lease {})",
                calendar::format_date(clash.start),
                calendar::format_date(clash.end),
                clash.lease_id
            )),
        }
    }
}
