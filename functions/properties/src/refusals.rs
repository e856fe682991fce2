//! What the store can refuse a property write for, and the one place each refusal
//! becomes an HTTP answer.

use shared::ApiError;

/// A store outcome that answers the request with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The property is not in the caller's organization (or is gone).
    PropertyMissing,
    /// A delete found units still on the property.
    HasUnits,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::HasUnits => ApiError::Conflict(
                "The property still has units; delete them first (a unit with a current or future lease cannot be deleted)"
                    .into(),
            ),
        }
    }
}
