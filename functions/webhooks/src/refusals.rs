//! What webhook requests can be refused for, and the one place each becomes an HTTP answer.

use shared::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The subscription is not in the caller's organization (or is gone).
    WebhookMissing,
    /// The delivery is not one of the subscription's.
    DeliveryMissing,
    /// The subscription is disabled: re-enable it first.
    Disabled,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::WebhookMissing => ApiError::NotFound("Webhook"),
            Refused::DeliveryMissing => ApiError::NotFound("Delivery"),
            Refused::Disabled => {
                ApiError::Conflict("The webhook is disabled; set its status to active before sending to it".into())
            }
        }
    }
}
