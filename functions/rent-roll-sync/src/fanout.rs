//! The sync fanned out over an SQS queue. The daily schedule's invocation (the
//! coordinator) starts a run per organization with the sync enabled and queues its
//! enumeration; a worker enumerating a run queues one message per active property,
//! checkpointing the last property key on the run after each page, so a redelivered
//! enumeration resumes where it stopped; a worker given a property syncs that property.
//! Workers are this function, invoked with SQS batches; a message that fails is reported
//! in `batchItemFailures` and comes back after the queue's visibility timeout.

use std::time::Instant;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::Services;
use shared::domain::PropertyStatus;
use shared::domain::ids::PropertyId;
use shared::domain::property::Property;
use shared::store::page::PageKey;
use shared::store::properties::{PropertyOrder, PropertyQuery, PropertyRow};
use shared::store::rent_roll::{
    DeliveryMode, RentRollDelivery, RentSyncSettings, SyncMode, SyncRunRecord, SyncTrigger,
};
use shared::time_format;
use time::OffsetDateTime;

use crate::checkpoint::{self, Unavailable};
use crate::delta::{self, PropertyRoll};
use crate::{PAGE, SyncError, SyncRun, SyncSummary, Syncer};

/// The environment variable naming the work queue's URL.
pub const QUEUE_URL_VAR: &str = "RENT_ROLL_QUEUE_URL";
/// Messages per `SendMessageBatch` (SQS's limit).
const SEND_BATCH: usize = 10;

/// One message of the work queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkMessage {
    /// Queue the run's properties, from where its enumeration stopped.
    Enumerate { organization_id: String, sync_id: String },
    /// Sync one property of the run.
    Property { organization_id: String, sync_id: String, property_id: String },
}

/// The queue that carries work messages to the workers.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl WorkQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { sqs, url: url.into() }
    }

    /// The queue `RENT_ROLL_QUEUE_URL` names; `None` when it is not set.
    pub fn from_env(services: &Services) -> Option<Self> {
        let url = std::env::var(QUEUE_URL_VAR).ok().filter(|url| !url.trim().is_empty())?;
        Some(Self::new(aws_sdk_sqs::Client::new(&services.aws.sdk_config), url))
    }

    /// Sends `messages`, ten per `SendMessageBatch`.
    pub async fn send(&self, messages: &[WorkMessage]) -> Result<(), SyncError> {
        for chunk in messages.chunks(SEND_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, message) in chunk.iter().enumerate() {
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(message)?)
                    .build()
                    .map_err(|e| SyncError::Queue(e.to_string()))?;
                entries.push(entry);
            }
            let sent = self
                .sqs
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| SyncError::Queue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
            if let Some(failed) = sent.failed.first() {
                return Err(SyncError::Queue(format!("{} ({})", failed.code, failed.message().unwrap_or_default())));
            }
        }
        Ok(())
    }
}

/// What the coordinator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FanOut {
    /// Organizations whose run it started.
    pub started: usize,
    /// Organizations whose run had started before (a redelivered event) and whose
    /// enumeration it queued again, to resume.
    pub resumed: usize,
    /// Organizations whose schedule does not name this hour.
    pub not_due: usize,
}

/// Where an enumeration sends its properties: to the queue, or synced at once.
enum Dispatch<'a> {
    Queue(&'a WorkQueue),
    Inline(&'a mut SyncSummary),
}

impl Syncer {
    /// The coordinator (an hourly tick): starts the run of `run` for every organization
    /// with the sync enabled whose schedule names the tick's hour and queues each run's enumeration (again, for a run that started before
    /// and is not enumerated yet).
    pub async fn fan_out(&self, run: &SyncRun, now: OffsetDateTime) -> Result<FanOut, SyncError> {
        let queue = self.queue()?;
        let mut fan_out = FanOut::default();
        let mut start = None;
        loop {
            let page = self.store.rent_roll().enabled(start, PAGE).await?;
            let mut messages = Vec::new();
            for settings in &page.items {
                if !settings.schedule.is_due(run.at) {
                    fan_out.not_due += 1;
                    continue;
                }
                let org_id = &settings.organization_id;
                let record = new_run(org_id, run, SyncTrigger::Schedule, None, now);
                if self.store.rent_roll().create_run(&record).await? {
                    fan_out.started += 1;
                } else if self.store.rent_roll().run(org_id, &run.sync_id).await?.is_some_and(|r| !r.enumerated) {
                    fan_out.resumed += 1;
                } else {
                    continue;
                }
                messages.push(WorkMessage::Enumerate { organization_id: org_id.clone(), sync_id: run.sync_id.clone() });
            }
            queue.send(&messages).await?;
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(fan_out),
            }
        }
    }

    /// Starts an on-demand run of the organization (one property, or all) and queues its
    /// enumeration; `None` when a run with the same id (the same second) exists.
    pub async fn start_on_demand(
        &self,
        org_id: &str,
        property_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<SyncRunRecord>, SyncError> {
        let queue = self.queue()?;
        let record = new_run(org_id, &SyncRun::at(now), SyncTrigger::OnDemand, property_id, now);
        if !self.store.rent_roll().create_run(&record).await? {
            return Ok(None);
        }
        let message = WorkMessage::Enumerate { organization_id: org_id.to_owned(), sync_id: record.sync_id.clone() };
        queue.send(&[message]).await?;
        Ok(Some(record))
    }

    /// A worker's SQS batch: each message handled (concurrently); the ids of those that
    /// failed, for SQS to deliver again.
    pub async fn work(&self, payload: &Value, now: OffsetDateTime) -> Value {
        let records = payload["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
        let handled = join_all(records.iter().map(|record| async move {
            let id = record["messageId"].as_str().unwrap_or_default();
            let body = record["body"].as_str().unwrap_or_default();
            let result = match serde_json::from_str::<WorkMessage>(body) {
                Ok(message) => self.handle_message(&message, now).await,
                Err(err) => Err(SyncError::from(err)),
            };
            result.err().map(|err| {
                tracing::error!(message_id = id, error = %err, "rent roll work message failed");
                json!({ "itemIdentifier": id })
            })
        }))
        .await;
        json!({ "batchItemFailures": handled.into_iter().flatten().collect::<Vec<_>>() })
    }

    /// One work message.
    pub async fn handle_message(&self, message: &WorkMessage, now: OffsetDateTime) -> Result<(), SyncError> {
        match message {
            WorkMessage::Enumerate { organization_id, sync_id } => {
                self.enumerate(organization_id, sync_id, Dispatch::Queue(self.queue()?), now).await
            }
            WorkMessage::Property { organization_id, sync_id, property_id } => {
                self.sync_property(organization_id, sync_id, property_id, now).await.map(drop)
            }
        }
    }

    /// Syncs one organization in this invocation, without the queue: the same run, the
    /// same checkpoints and the same announcement as the fanned-out sync.
    pub async fn sync_organization(
        &self,
        org_id: &str,
        run: &SyncRun,
        now: OffsetDateTime,
    ) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        if self.store.rent_roll().settings(org_id).await?.is_some_and(|s| s.enabled) {
            let record = new_run(org_id, run, SyncTrigger::Schedule, None, now);
            self.store.rent_roll().create_run(&record).await?;
            self.enumerate(org_id, &run.sync_id, Dispatch::Inline(&mut summary), now).await?;
        }
        Ok(summary)
    }

    /// Sends the run's properties on, a page at a time from its checkpoint, moving the
    /// checkpoint after each page; stops when another enumeration of the run moved it
    /// first. The run may complete when the enumeration ends.
    async fn enumerate(
        &self,
        org_id: &str,
        sync_id: &str,
        mut dispatch: Dispatch<'_>,
        now: OffsetDateTime,
    ) -> Result<(), SyncError> {
        let Some(run) = self.store.rent_roll().run(org_id, sync_id).await? else {
            tracing::warn!(org_id, sync_id, "no such rent roll sync run to enumerate");
            return Ok(());
        };
        if run.enumerated {
            return self.try_complete(org_id, sync_id, now).await;
        }
        if run.property_id.is_none() {
            let settings = self.store.rent_roll().settings(org_id).await?.filter(|s| s.enabled);
            if let Some(settings) = settings.filter(|s| s.delivery == DeliveryMode::Batch) {
                let summary = match &mut dispatch {
                    Dispatch::Inline(summary) => Some(&mut **summary),
                    Dispatch::Queue(_) => None,
                };
                return self.sync_batch(&run, &settings, summary, now).await;
            }
        }
        let query = active_properties(org_id);
        let mut cursor = run.cursor.clone();
        loop {
            let (property_ids, next) = match &run.property_id {
                Some(one) if cursor.is_none() => (vec![one.clone()], None),
                Some(_) => (Vec::new(), None),
                None => {
                    let start = cursor.as_deref().map(serde_json::from_str::<PageKey>).transpose()?;
                    let page = self.store.properties().list(&query, start, PAGE).await?;
                    let ids = page
                        .items
                        .into_iter()
                        .filter_map(|row| match row {
                            PropertyRow::Live(property) => Some(property.id),
                            _ => None,
                        })
                        .collect();
                    (ids, page.next.map(|key| serde_json::to_string(&key)).transpose()?)
                }
            };
            match &mut dispatch {
                Dispatch::Queue(queue) => {
                    let messages: Vec<_> = property_ids
                        .iter()
                        .map(|property_id| WorkMessage::Property {
                            organization_id: org_id.to_owned(),
                            sync_id: sync_id.to_owned(),
                            property_id: property_id.clone(),
                        })
                        .collect();
                    queue.send(&messages).await?;
                }
                Dispatch::Inline(summary) => {
                    for property_id in &property_ids {
                        summary.add(self.sync_property(org_id, sync_id, property_id, now).await?);
                    }
                }
            }
            let queued = u32::try_from(property_ids.len()).unwrap_or(u32::MAX);
            let advanced =
                self.store.rent_roll().advance_run(org_id, sync_id, queued, cursor.as_deref(), next.as_deref()).await?;
            match advanced {
                None => return Ok(()),
                Some(run) if run.enumerated => return self.try_complete(org_id, sync_id, now).await,
                Some(_) => cursor = next,
            }
        }
    }

    /// Syncs one property of a run, unless its checkpoint says it was done: reads its
    /// active units, starts its delivery (a no-op when the same payload was started in
    /// this sync), makes the first attempt and records the checkpoint with the run's
    /// counters. The run may complete with it.
    pub async fn sync_property(
        &self,
        org_id: &str,
        sync_id: &str,
        property_id: &str,
        now: OffsetDateTime,
    ) -> Result<Synced, SyncError> {
        let began = Instant::now();
        let store = self.store.rent_roll();
        if store.checkpoint(org_id, sync_id, property_id).await?.is_some() {
            return Ok(Synced::Already);
        }
        let Some(run) = store.run(org_id, sync_id).await? else {
            tracing::warn!(org_id, sync_id, property_id, "no such rent roll sync run");
            return Ok(Synced::Already);
        };
        let settings = store.settings(org_id).await?.filter(|s| s.enabled);
        let property = match PropertyId::parse(property_id) {
            Some(id) => self.store.properties().get(org_id, &id).await?,
            None => None,
        };
        let (settings, property) = match (settings, property) {
            (None, _) => return self.unavailable(&run, property_id, Unavailable::SyncDisabled, now).await,
            (Some(_), None) => return self.unavailable(&run, property_id, Unavailable::PropertyGone, now).await,
            (Some(_), Some(p)) if p.fields.status != PropertyStatus::Active => {
                return self.unavailable(&run, property_id, Unavailable::PropertyInactive, now).await;
            }
            (Some(settings), Some(property)) => (settings, property),
        };
        let Some(settings) = self.for_property(&settings, property_id).await? else {
            return self.unavailable(&run, property_id, Unavailable::Excluded, now).await;
        };
        let sync = SyncRun::at(time_format::parse(&run.sync_timestamp).unwrap_or(now));
        let Some(roll) = self.roll(&settings, property).await? else {
            return self.unavailable(&run, property_id, Unavailable::Unchanged, now).await;
        };
        let parts = Syncer::parts(&settings, std::slice::from_ref(&roll), &sync);
        drop(roll);
        let deliveries: Vec<_> =
            self.deliver(&settings, parts, &sync, now).await?.into_iter().map(|(_, delivery)| delivery).collect();
        let checkpoint = checkpoint::of_parts(property_id, &deliveries, began.elapsed(), now);
        if store.record_property(&checkpoint, None).await? {
            self.try_complete(org_id, sync_id, now).await?;
        }
        Ok(Synced::Sent(deliveries))
    }

    /// What to send of `property` (its listed units, or in delta mode what changed since
    /// RentSync last accepted them); `None` when a delta has nothing to send.
    async fn roll(&self, settings: &RentSyncSettings, property: Property) -> Result<Option<PropertyRoll>, SyncError> {
        let org_id = &settings.organization_id;
        let units = crate::listed_units(&self.store, org_id, &property.id).await?;
        let sent = match settings.mode {
            SyncMode::Delta => self.store.rent_roll().sent_units(org_id, &property.id).await?,
            SyncMode::Snapshot => Vec::new(),
        };
        let roll = delta::roll(settings.mode, &property, units, &sent);
        Ok((!roll.is_empty_delta()).then_some(roll))
    }

    /// A batch-mode organization's run, in the enumeration's invocation: every property's
    /// roll, sent together in parts (the batch holds the organization's rent roll while it
    /// is split), each property's checkpoint naming the part that carried it.
    async fn sync_batch(
        &self,
        run: &SyncRunRecord,
        settings: &RentSyncSettings,
        mut summary: Option<&mut SyncSummary>,
        now: OffsetDateTime,
    ) -> Result<(), SyncError> {
        let began = Instant::now();
        let (org_id, sync_id) = (&run.organization_id, &run.sync_id);
        let sync = SyncRun::at(time_format::parse(&run.sync_timestamp).unwrap_or(now));
        let query = active_properties(org_id);
        let (mut rolls, mut queued, mut start) = (Vec::new(), 0u32, None);
        loop {
            let page = self.store.properties().list(&query, start, PAGE).await?;
            for row in page.items {
                let PropertyRow::Live(property) = row else { continue };
                queued += 1;
                let property_id = property.id.clone();
                let Some(own) = self.for_property(settings, &property_id).await? else {
                    self.unavailable(run, &property_id, Unavailable::Excluded, now).await?;
                    continue;
                };
                match self.roll(&own, *property).await? {
                    Some(roll) => rolls.push(roll),
                    None => drop(self.unavailable(run, &property_id, Unavailable::Unchanged, now).await?),
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let parts = Syncer::parts(settings, &rolls, &sync);
        drop(rolls);
        for (property_ids, delivery) in self.deliver(settings, parts, &sync, now).await? {
            if let Some(summary) = summary.as_deref_mut() {
                summary.add(Synced::Sent(vec![delivery.clone()]));
            }
            for property_id in property_ids {
                let mut checkpoint = checkpoint::of(&delivery, began.elapsed(), now);
                checkpoint.property_id = property_id;
                self.store.rent_roll().record_property(&checkpoint, None).await?;
            }
        }
        let advanced = self.store.rent_roll().advance_run(org_id, sync_id, queued, None, None).await?;
        if advanced.is_some_and(|run| run.enumerated) {
            self.try_complete(org_id, sync_id, now).await?;
        }
        Ok(())
    }

    /// The work queue; an error when this deployment has none.
    fn queue(&self) -> Result<&WorkQueue, SyncError> {
        self.queue.as_ref().ok_or(SyncError::NoQueue)
    }
}

/// The organization's active properties, oldest first.
fn active_properties(org_id: &str) -> PropertyQuery {
    PropertyQuery {
        org_id: org_id.to_owned(),
        order: PropertyOrder::CreatedAt { descending: false },
        status: Some(PropertyStatus::Active),
        property_type: None,
        created_after: None,
        created_before: None,
    }
}

/// What became of one property of a run.
#[derive(Debug, Clone)]
pub enum Synced {
    /// Its checkpoint was there: nothing read, nothing sent.
    Already,
    /// Its deliveries (one, or the parts of a large property), after the first attempt.
    Sent(Vec<RentRollDelivery>),
    /// Nothing to send: the property is excluded, or its delta is empty.
    Skipped,
    /// Nothing to send: the property or the sync is gone.
    Unavailable,
}

/// Whether a delivery started without an attempt was left by a worker that stopped: no
/// invocation runs longer than this.
pub(crate) fn abandoned(delivery: &RentRollDelivery, now: OffsetDateTime) -> bool {
    time_format::parse(&delivery.created_at).is_none_or(|created| now - created > IN_FLIGHT)
}

/// The longest a worker holds a message (the function's timeout).
const IN_FLIGHT: time::Duration = time::Duration::minutes(15);

/// A new run of an organization.
fn new_run(
    org_id: &str,
    run: &SyncRun,
    trigger: SyncTrigger,
    property_id: Option<&str>,
    now: OffsetDateTime,
) -> SyncRunRecord {
    SyncRunRecord {
        sync_id: run.sync_id.clone(),
        organization_id: org_id.to_owned(),
        trigger,
        property_id: property_id.map(str::to_owned),
        sync_timestamp: run.timestamp(),
        properties: 0,
        finished: 0,
        delivered: 0,
        failed: 0,
        retrying: 0,
        skipped: 0,
        enumerated: false,
        cursor: None,
        started_at: time_format::format(now),
        completed_at: None,
        expires_at: (now + shared::store::rent_roll::RUN_RETENTION).unix_timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_message_fixture_is_a_property_message() {
        let path = format!("{}/../../events/rent-roll-sync/work-batch.json", env!("CARGO_MANIFEST_DIR"));
        let batch: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let bodies: Vec<WorkMessage> = batch["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
            .collect();
        assert!(matches!(&bodies[0], WorkMessage::Property { property_id, .. } if property_id.starts_with("prop_")));
        assert!(matches!(&bodies[1], WorkMessage::Enumerate { .. }));
    }
}
