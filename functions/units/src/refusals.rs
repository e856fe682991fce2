//! What the store can refuse a unit write for, and the one place each refusal becomes
//! an HTTP answer.

use shared::ApiError;

/// A store outcome that answers the request with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The unit is not in the caller's organization (or is gone).
    UnitMissing,
    /// The property the unit would belong to is gone.
    PropertyMissing,
    /// Another unit of the property has this number (carried).
    DuplicateNumber(String),
    /// A current or future lease holds the unit.
    Leased,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::UnitMissing => ApiError::NotFound("Unit"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::DuplicateNumber(number) => {
                ApiError::Conflict(format!("Another unit of this property already has number {number:.20}"))
            }
            Refused::Leased => {
                ApiError::Conflict("A current or future lease holds this unit; it cannot be deleted".into())
            }
        }
    }
}
