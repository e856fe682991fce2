//! What the store can refuse a tenant write for, and the one place each refusal
//! becomes an HTTP answer.

use shared::ApiError;

/// A store outcome that answers the request with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The tenant is not in the caller's reach (or is gone).
    TenantMissing,
    /// The property the tenant would belong to is gone.
    PropertyMissing,
    /// A lease names the tenant.
    OnLease,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::TenantMissing => ApiError::NotFound("Tenant"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::OnLease => ApiError::Conflict("A lease names this tenant; it cannot be deleted".into()),
        }
    }
}
