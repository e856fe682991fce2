//! The events relay: the table's change stream in, domain events out.
//!
//! For each stream record it derives the event ([`changes`]), records it in the
//! organization's event log with a conditional put, publishes it to the bus and marks it
//! published. A record delivered twice finds its event logged (same deterministic id) and
//! published, and does nothing. When the bus fails, the event stays pending on the
//! pending index and the scheduled redrive publishes it. Outbox messages (which may carry
//! one-time secrets) go to the bus only, never into the log, and are deleted once
//! published.

pub mod changes;

use aws_lambda_events::event::dynamodb::{Event as StreamBatch, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{Value, json};
use shared::events::{DOMAIN_SOURCE, EventPublisher};
use shared::store::events::{LoggedEvent, OutboxMessage, Pending, Recorded};
use shared::store::{Store, StoreError};
use shared::time_format;

use crate::changes::{DecodeError, Derived};

/// Pending events younger than this are left to the stream path, which is still working
/// on them.
pub const REDRIVE_AFTER: time::Duration = time::Duration::minutes(1);
/// Pending items one redrive takes from each index partition.
const REDRIVE_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the invocation is neither a DynamoDB stream batch nor a scheduled event")]
    UnknownInvocation,
    #[error("stream batch does not parse: {0}")]
    Batch(serde_json::Error),
}

/// What happened to one event or message on its way to the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Published,
    /// Published before; nothing was sent.
    AlreadyPublished,
    /// The bus refused or was unreachable; left pending for the redrive.
    Pending,
    /// The change announces nothing.
    Ignored,
}

/// The table and the bus. Built once per cold start.
#[derive(Debug, Clone)]
pub struct Relay {
    store: Store,
    bus: EventPublisher,
}

impl Relay {
    pub fn new(store: Store, bus: EventPublisher) -> Self {
        Self { store, bus }
    }

    /// Reads `TABLE_NAME` and `EVENT_BUS_NAME` and builds the clients.
    pub async fn from_env() -> Result<Self, shared::config::ConfigError> {
        let table = shared::config::required("TABLE_NAME")?;
        let bus = shared::config::required("EVENT_BUS_NAME")?;
        let aws = shared::aws::AwsClients::load().await;
        Ok(Self::new(Store::new(aws.dynamodb.clone(), &table), EventPublisher::new(aws.events, &bus)))
    }

    /// One invocation: a stream batch (answered with its failed items) or the redrive
    /// schedule, told apart by shape.
    pub async fn handle(&self, invocation: Value) -> Result<Value, RelayError> {
        if invocation.get("Records").is_some() {
            let batch: StreamBatch = serde_json::from_value(invocation).map_err(RelayError::Batch)?;
            let response = self.relay_batch(&batch.records).await;
            return Ok(serde_json::to_value(response).unwrap_or_default());
        }
        if invocation.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            let (published, pending) = self.redrive(time_format::now()).await?;
            return Ok(json!({"published": published, "pending": pending}));
        }
        Err(RelayError::UnknownInvocation)
    }

    /// Relays records in order. The first record that cannot be handled is reported (and
    /// the ones after it are left for the retry Lambda makes from there), so nothing is
    /// skipped; a poison record is bisected down to and sent to the dead-letter queue.
    pub async fn relay_batch(&self, records: &[EventRecord]) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in records {
            if let Err(error) = self.relay_record(record).await {
                let sequence = record.change.sequence_number.clone();
                tracing::error!(stream_event_id = %record.event_id, error = %error, "record not relayed; reported for a retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
                break;
            }
        }
        response
    }

    /// One stream record.
    pub async fn relay_record(&self, record: &EventRecord) -> Result<Outcome, RelayError> {
        match changes::derive(record)? {
            None => Ok(Outcome::Ignored),
            Some(Derived::Event(event)) => {
                let now = time_format::now();
                match self.store.event_log().record(&event, now).await? {
                    Recorded::Published => Ok(Outcome::AlreadyPublished),
                    Recorded::New | Recorded::Unpublished => {
                        let body = serde_json::to_string(&event).map_err(|_| StoreError::MissingAttribute("body"))?;
                        self.publish_logged(&event.organization_id, &event.event_id, &event.event, body).await
                    }
                }
            }
            Some(Derived::Message(message)) => {
                if !self.store.event_log().outbox_holds(&message.organization_id, &message.event_id).await? {
                    return Ok(Outcome::AlreadyPublished);
                }
                self.publish_message(&message).await
            }
        }
    }

    async fn publish_logged(
        &self,
        org_id: &str,
        event_id: &str,
        event_type: &str,
        body: String,
    ) -> Result<Outcome, RelayError> {
        if let Err(error) = self.bus.publish_json(DOMAIN_SOURCE, event_type, body).await {
            tracing::warn!(event_id, event_type, error = %error, "event left pending for the redrive");
            return Ok(Outcome::Pending);
        }
        self.store.event_log().mark_published(org_id, event_id, time_format::now()).await?;
        Ok(Outcome::Published)
    }

    async fn publish_message(&self, message: &OutboxMessage) -> Result<Outcome, RelayError> {
        let sent = self.bus.publish_json(&message.source, &message.detail_type, message.detail.clone()).await;
        if let Err(error) = sent {
            // Never the detail: it may hold a one-time token.
            tracing::warn!(event_id = %message.event_id, detail_type = %message.detail_type, error = %error,
                "outbox message left pending for the redrive");
            return Ok(Outcome::Pending);
        }
        self.store.event_log().delete_outbox(&message.organization_id, &message.event_id).await?;
        Ok(Outcome::Published)
    }

    /// Publishes what is still pending and older than [`REDRIVE_AFTER`]; returns how many
    /// were published and how many are still pending.
    pub async fn redrive(&self, now: time::OffsetDateTime) -> Result<(usize, usize), RelayError> {
        let pending = self.store.event_log().pending(now - REDRIVE_AFTER, REDRIVE_BATCH).await?;
        let (mut published, mut left) = (0, 0);
        for item in pending {
            let outcome = match item {
                Pending::Event(LoggedEvent { event, body, .. }) => {
                    self.publish_logged(&event.organization_id, &event.event_id, &event.event, body).await?
                }
                Pending::Message(message) => self.publish_message(&message).await?,
            };
            if outcome == Outcome::Published {
                published += 1;
            } else {
                left += 1;
            }
        }
        Ok((published, left))
    }
}
