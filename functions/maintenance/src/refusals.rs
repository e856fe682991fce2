//! What the domain and the store can refuse a maintenance write for, and the one place
//! each refusal becomes an HTTP answer.

use shared::ApiError;
use shared::domain::maintenance::Status;

/// An outcome that answers the request with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The request is not in the caller's reach (or is gone).
    RequestMissing,
    /// The property is not in the organization (or is gone).
    PropertyMissing,
    /// The unit is not in the property, or (for a Tenant) not theirs.
    UnitMissing,
    /// The status cannot move from the first to the second.
    Transition(Status, Status),
    /// A final request cannot be assigned.
    Closed(Status),
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::RequestMissing => ApiError::NotFound("Maintenance request"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::UnitMissing => ApiError::NotFound("Unit"),
            Refused::Transition(from, to) => {
                ApiError::Conflict(format!("A maintenance request cannot move from {} to {}", from.name(), to.name()))
            }
            Refused::Closed(status) => {
                ApiError::Conflict(format!("The maintenance request is {}; it cannot be assigned", status.name()))
            }
        }
    }
}
