//! Domain events: one `PutEvents` entry per event on the bus named by `EVENT_BUS_NAME`,
//! and the shape every domain event has on the bus, in the organization's event log and
//! on its Server-Sent Events stream.
//!
//! A failed publish is an error the caller must handle (retry or leave it pending); it is
//! never dropped silently. Event details may carry one-time tokens for mail senders, so
//! they are never logged here.

use std::sync::Arc;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("EventBridge PutEvents failed: {0}")]
    Send(String),
    #[error("EventBridge rejected the event: {0}")]
    Rejected(String),
    #[error("event detail does not serialize: {0}")]
    Detail(#[from] serde_json::Error),
}

/// Publishes events to one bus. Cheap to clone; the client is built once per cold start.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_eventbridge::Client,
    bus: Arc<str>,
}

impl EventPublisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: &str) -> Self {
        Self { client, bus: bus.into() }
    }

    /// The bus name.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Publishes one event (`source` such as `doorstep.identity`, `detail_type` such as
    /// `identity.password_reset_requested`).
    pub async fn publish<T: Serialize>(&self, source: &str, detail_type: &str, detail: &T) -> Result<(), PublishError> {
        self.publish_json(source, detail_type, serde_json::to_string(detail)?).await
    }

    /// Publishes one event whose detail is already JSON text.
    pub async fn publish_json(&self, source: &str, detail_type: &str, detail: String) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(self.bus.as_ref())
            .source(source)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| PublishError::Send(DisplayErrorContext(e).to_string()))?;
        if output.failed_entry_count() > 0 {
            let reason = output
                .entries()
                .iter()
                .find_map(|e| e.error_code().map(|code| format!("{code}: {}", e.error_message().unwrap_or_default())))
                .unwrap_or_else(|| "unknown error".to_owned());
            return Err(PublishError::Rejected(reason));
        }
        Ok(())
    }
}

/// The `source` of the entity events the relay derives from table changes.
pub const DOMAIN_SOURCE: &str = "doorstep.domain";

/// A domain event: the webhook payload shape of the Property Management SaaS API
/// (`event`, `timestamp`, `data`) plus `event_id` (unique, time-sortable; consumers
/// dedupe on it) and `organization_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainEvent {
    /// `evt_<ULID>`.
    #[schema(example = "evt_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub event_id: String,
    /// `<resource>.<action>`, such as `property.created`.
    #[schema(example = "property.created")]
    pub event: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    pub organization_id: String,
    /// The resource as the API shows it, with `<resource>_id` and `organization_id`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Updates only: the public fields that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
}

impl DomainEvent {
    /// The resource the event is about (`property` of `property.created`): the SSE
    /// `event:` name.
    pub fn resource(&self) -> &str {
        resource_of(&self.event)
    }
}

/// The resource part of an event type (`maintenance` of `maintenance.completed`).
pub fn resource_of(event_type: &str) -> &str {
    event_type.split_once('.').map_or(event_type, |(resource, _)| resource)
}
