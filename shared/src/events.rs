//! Domain events: one `PutEvents` entry per event on the bus named by `EVENT_BUS_NAME`.
//!
//! A failed publish is an error the caller must handle (answer 503 or record it); it is
//! never dropped silently. Event details may carry one-time tokens for mail senders, so
//! they are never logged here.

use std::sync::Arc;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;

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
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(self.bus.as_ref())
            .source(source)
            .detail_type(detail_type)
            .detail(serde_json::to_string(detail)?)
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
