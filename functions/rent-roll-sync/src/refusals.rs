//! What RentSync settings requests can be refused for, and the one place each becomes an
//! HTTP answer.

use shared::ApiError;
use shared::http::optimistic::Contention;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The organization has not configured RentSync.
    SettingsMissing,
    /// The property is not in the caller's organization, or has no override.
    OverrideMissing,
    /// The property is not in the caller's organization.
    PropertyMissing,
    /// The credential could not be stored.
    SecretUnwritable,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::SettingsMissing => ApiError::NotFound("RentSync settings"),
            Refused::OverrideMissing => ApiError::NotFound("RentSync property override"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::SecretUnwritable => ApiError::internal("the RentSync credential could not be stored"),
        }
    }
}

pub const SETTINGS_CONTENTION: Contention = Contention {
    resource: "RentSync settings",
    exhausted: "The RentSync settings are being changed concurrently; retry",
};

pub const OVERRIDE_CONTENTION: Contention = Contention {
    resource: "RentSync property override",
    exhausted: "The property's RentSync override is being changed concurrently; retry",
};
