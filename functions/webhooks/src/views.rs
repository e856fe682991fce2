//! The bodies the subscriptions API answers with. Secrets appear only in the answers of
//! `POST /api/v1/webhooks` and `POST .../rotate-secret`.

use serde::Serialize;
use shared::store::webhooks::{Attempt, Delivery, DeliveryStatus, Subscription, SubscriptionStatus};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = "whk_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub webhook_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub property_ids: Vec<String>,
    pub changed_fields: Vec<String>,
    pub description: Option<String>,
    pub status: SubscriptionStatus,
    /// Why the subscription was disabled.
    pub disabled_reason: Option<String>,
    /// During a rotation: when the previous secret stops signing.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Subscription> for WebhookView {
    fn from(s: &Subscription) -> Self {
        let previous = s.secrets.iter().filter_map(|secret| secret.retires_at).max();
        Self {
            webhook_id: s.webhook_id.clone(),
            url: s.url.clone(),
            events: s.events.clone(),
            property_ids: s.property_ids.clone(),
            changed_fields: s.changed_fields.clone(),
            description: s.description.clone(),
            status: s.status,
            disabled_reason: s.disabled_reason.clone(),
            previous_secret_expires_at: previous
                .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
                .map(shared::time_format::format),
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
        }
    }
}

/// A subscription with its signing secret: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecretView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_<base64>`: verify deliveries with it. It is never shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A delivery of one event to one subscription, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(example = "dlv_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub delivery_id: String,
    pub webhook_id: String,
    /// The `webhook-id` header.
    pub event_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    /// How many POSTs were made.
    pub attempt_count: usize,
    /// The last attempt's answer.
    pub response_status: Option<u16>,
    pub latency_ms: Option<u64>,
    /// The first bytes of the last answer.
    pub response_body: Option<String>,
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<Attempt>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        let last = d.attempts.last();
        Self {
            delivery_id: d.delivery_id.clone(),
            webhook_id: d.webhook_id.clone(),
            event_id: d.event_id.clone(),
            event: d.event.clone(),
            status: d.status,
            attempt_count: d.attempts.len(),
            response_status: last.and_then(|a| a.response_status),
            latency_ms: last.map(|a| a.latency_ms),
            response_body: last.and_then(|a| a.response_body.clone()),
            next_attempt_at: d.next_attempt_at.clone(),
            attempts: d.attempts.clone(),
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
        }
    }
}

/// Deliveries scheduled by a test, a redelivery or a replay; the retry schedule sends them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledView {
    pub delivery_ids: Vec<String>,
    /// The events scanned (replay only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_scanned: Option<usize>,
}
