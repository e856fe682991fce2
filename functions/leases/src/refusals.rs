//! What the domain and the store can refuse a lease write for, and the one place each
//! refusal becomes an HTTP answer.

use shared::ApiError;
use shared::domain::calendar;
use shared::domain::property::MAX_OCCUPANCY_DAYS;
use shared::domain::unit::{BookingError, MAX_BOOKINGS};

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
    /// The property's occupancy map holds the most days it can.
    OccupancyFull,
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
            Refused::Booking(BookingError::WithinSettled(settled)) => ApiError::invalid_field(
                "start_date",
                format!(
                    "must be after {}: the unit's earlier leases have ended and are settled",
                    calendar::format_date(settled)
                ),
            ),
            Refused::Booking(BookingError::Full) => ApiError::Conflict(format!(
                "The unit already holds {MAX_BOOKINGS} current and future leases, the most it can"
            )),
            Refused::OccupancyFull => ApiError::Conflict(format!(
                "The property's occupancy already changes on {MAX_OCCUPANCY_DAYS} days from today on, the most it can"
            )),
            Refused::Booking(BookingError::Overlaps(clash)) => ApiError::Conflict(format!(
                "The unit is already leased from {} to {} (lease {})",
                calendar::format_date(clash.start),
                calendar::format_date(clash.end),
                clash.lease_id
            )),
        }
    }
}
