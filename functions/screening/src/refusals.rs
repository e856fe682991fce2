//! Why a screening request is refused, and the one place each refusal becomes an HTTP answer.

use shared::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    ScreeningMissing,
    PropertyMissing,
    UnitMissing,
    /// A link-mode order SmartMove has not reported an application for yet.
    NotPlaced,
    Cancelled,
    /// `convert` before the report is `Ready`.
    NotReady,
    AlreadyConverted,
    /// SmartMove's precondition failed (an applicant change); carries its reason.
    Precondition(String),
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::ScreeningMissing => ApiError::NotFound("Screening"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::UnitMissing => ApiError::NotFound("Unit"),
            Refused::NotPlaced => ApiError::Conflict(
                "The order has not been placed at SmartMove yet (finish it at order_link first)".into(),
            ),
            Refused::Cancelled => ApiError::Conflict("The screening was cancelled".into()),
            Refused::NotReady => ApiError::Conflict("The screening's report is not Ready yet".into()),
            Refused::AlreadyConverted => ApiError::Conflict("The screening's applicants are already tenants".into()),
            Refused::Precondition(reason) => ApiError::Conflict(format!("SmartMove refused: {reason}")),
        }
    }
}
