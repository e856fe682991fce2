//! Each property's checkpoint in its run, the run's counters that move with it, and the
//! announcement of a completed run.

use std::time::Duration;

use shared::store::events::OutboxMessage;
use shared::store::rent_roll::{
    PropertyCheckpoint, PropertySyncStatus, RUN_RETENTION, RentRollDelivery, RentRollDeliveryStatus, SyncRunRecord,
};
use shared::time_format;
use time::OffsetDateTime;

use crate::fanout::Synced;
use crate::{Outcome, RENT_ROLL_SOURCE, SyncError, Syncer};

/// The event announcing that every property of a run has had its first attempt.
pub const SYNC_COMPLETED: &str = "rentroll.sync_completed";

/// Why a property of a run was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The organization disabled the sync after the run started.
    SyncDisabled,
    /// The property was deleted after the run queued it.
    PropertyGone,
    /// The property is no longer active.
    PropertyInactive,
    /// The property's override leaves it out of every sync.
    Excluded,
    /// A delta with nothing to send: RentSync has every change already.
    Unchanged,
}

impl Unavailable {
    /// Nothing to send is not a failure.
    fn status(self) -> PropertySyncStatus {
        match self {
            Self::Excluded | Self::Unchanged => PropertySyncStatus::Skipped,
            Self::SyncDisabled | Self::PropertyGone | Self::PropertyInactive => PropertySyncStatus::Failed,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::SyncDisabled => "sync_disabled",
            Self::PropertyGone => "property_gone",
            Self::PropertyInactive => "property_inactive",
            Self::Excluded => "excluded",
            Self::Unchanged => "unchanged",
        }
    }
}

/// Why the delivery's last attempt failed, as a class; `None` once delivered.
/// A property's checkpoint after the first attempt of its deliveries (one, or the parts of
/// a large property): the least advanced part's status, the parts' bytes and units summed.
pub fn of_parts(
    property_id: &str,
    deliveries: &[RentRollDelivery],
    took: Duration,
    now: OffsetDateTime,
) -> PropertyCheckpoint {
    let rank = |d: &&RentRollDelivery| match d.status {
        RentRollDeliveryStatus::Failed => 0,
        RentRollDeliveryStatus::Pending => 1,
        RentRollDeliveryStatus::Delivered => 2,
    };
    let mut checkpoint = match deliveries.iter().min_by_key(rank) {
        Some(worst) => of(worst, took, now),
        None => PropertyCheckpoint {
            sync_id: String::new(),
            organization_id: String::new(),
            property_id: String::new(),
            delivery_id: None,
            status: PropertySyncStatus::Skipped,
            attempts: 0,
            error_class: None,
            partner_status: None,
            bytes: 0,
            unit_count: 0,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            updated_at: time_format::format(now),
            expires_at: (now + RUN_RETENTION).unix_timestamp(),
        },
    };
    checkpoint.property_id = property_id.to_owned();
    checkpoint.bytes = deliveries.iter().map(|d| d.bytes).sum();
    checkpoint.unit_count = deliveries.iter().map(|d| d.unit_count).sum();
    checkpoint
}

pub fn error_class(delivery: &RentRollDelivery) -> Option<String> {
    if delivery.status == RentRollDeliveryStatus::Delivered {
        return None;
    }
    let last = delivery.attempts.last()?;
    let class = match (last.partner_status, last.error.as_deref()) {
        (Some(429), _) => "rate_limited",
        (Some(408), _) => "timeout",
        (Some(status), _) => match Outcome::of_status(status, None) {
            Outcome::Rejected => "rejected",
            Outcome::Unauthorized => "unauthorized",
            Outcome::EndpointNotFound => "endpoint_not_found",
            Outcome::EndpointRefused => "endpoint_refused",
            Outcome::Delivered | Outcome::Transient { .. } => "server_error",
        },
        (None, Some("Timed out")) => "timeout",
        (None, Some("Could not connect")) => "connection",
        (None, _) => "secret_unreadable",
    };
    Some(delivery.failure.as_deref().filter(|f| *f == "sync_disabled").unwrap_or(class).to_owned())
}

/// The checkpoint of a property whose delivery is as `delivery` is now.
pub fn of(delivery: &RentRollDelivery, took: Duration, now: OffsetDateTime) -> PropertyCheckpoint {
    PropertyCheckpoint {
        sync_id: delivery.sync_id.clone(),
        organization_id: delivery.organization_id.clone(),
        property_id: delivery.property_id.clone(),
        delivery_id: Some(delivery.delivery_id.clone()),
        status: match delivery.status {
            RentRollDeliveryStatus::Delivered => PropertySyncStatus::Delivered,
            RentRollDeliveryStatus::Pending => PropertySyncStatus::Retrying,
            RentRollDeliveryStatus::Failed => PropertySyncStatus::Failed,
        },
        attempts: u32::try_from(delivery.attempts.len()).unwrap_or(u32::MAX),
        error_class: error_class(delivery),
        partner_status: delivery.attempts.last().and_then(|a| a.partner_status),
        bytes: delivery.bytes,
        unit_count: delivery.unit_count,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        updated_at: time_format::format(now),
        expires_at: (now + RUN_RETENTION).unix_timestamp(),
    }
}

impl Syncer {
    /// Records a property that had nothing to send as failed, so that its run still completes.
    pub(crate) async fn unavailable(
        &self,
        run: &SyncRunRecord,
        property_id: &str,
        why: Unavailable,
        now: OffsetDateTime,
    ) -> Result<Synced, SyncError> {
        let checkpoint = PropertyCheckpoint {
            sync_id: run.sync_id.clone(),
            organization_id: run.organization_id.clone(),
            property_id: property_id.to_owned(),
            delivery_id: None,
            status: why.status(),
            attempts: 0,
            error_class: Some(why.class().to_owned()),
            partner_status: None,
            bytes: 0,
            unit_count: 0,
            duration_ms: 0,
            updated_at: time_format::format(now),
            expires_at: (now + RUN_RETENTION).unix_timestamp(),
        };
        if self.store.rent_roll().record_property(&checkpoint, None).await? {
            self.try_complete(&run.organization_id, &run.sync_id, now).await?;
        }
        Ok(match why.status() {
            PropertySyncStatus::Skipped => Synced::Skipped,
            _ => Synced::Unavailable,
        })
    }

    /// Carries a later attempt of a delivery (a retry, a redrive) into its property's
    /// checkpoint and its run's counters, when the delivery belongs to a run.
    pub(crate) async fn settle(
        &self,
        delivery: &RentRollDelivery,
        took: Duration,
        now: OffsetDateTime,
    ) -> Result<(), SyncError> {
        let store = self.store.rent_roll();
        let Some(previous) =
            store.checkpoint(&delivery.organization_id, &delivery.sync_id, &delivery.property_id).await?
        else {
            return Ok(());
        };
        if previous.delivery_id.as_deref() != Some(delivery.delivery_id.as_str()) {
            return Ok(());
        }
        let checkpoint = of(delivery, took, now);
        if !store.record_property(&checkpoint, Some(previous.status)).await? {
            tracing::warn!(delivery_id = %delivery.delivery_id, "rent roll checkpoint moved meanwhile");
        }
        Ok(())
    }

    /// Moves a failed property back to retrying before a redrive of its delivery.
    pub(crate) async fn reopen(&self, delivery: &RentRollDelivery, now: OffsetDateTime) -> Result<(), SyncError> {
        let store = self.store.rent_roll();
        let Some(mut checkpoint) =
            store.checkpoint(&delivery.organization_id, &delivery.sync_id, &delivery.property_id).await?
        else {
            return Ok(());
        };
        if checkpoint.status != PropertySyncStatus::Failed {
            return Ok(());
        }
        checkpoint.status = PropertySyncStatus::Retrying;
        checkpoint.updated_at = time_format::format(now);
        store.record_property(&checkpoint, Some(PropertySyncStatus::Failed)).await?;
        Ok(())
    }

    /// Completes the run if every property is queued and has had its first attempt:
    /// marks it and announces `rentroll.sync_completed` through the outbox, in one
    /// transaction, once.
    pub(crate) async fn try_complete(&self, org_id: &str, sync_id: &str, now: OffsetDateTime) -> Result<(), SyncError> {
        let store = self.store.rent_roll();
        let Some(run) = store.run(org_id, sync_id).await? else { return Ok(()) };
        if !run.enumerated || run.finished < run.properties || run.completed_at.is_some() {
            return Ok(());
        }
        let detail = serde_json::json!({
            "organization_id": run.organization_id,
            "sync_id": run.sync_id,
            "trigger": run.trigger,
            "property_id": run.property_id,
            "property_count": run.properties,
            "delivered": run.delivered,
            "failed": run.failed,
            "retrying": run.retrying,
            "started_at": run.started_at,
            "completed_at": time_format::format(now),
        });
        let announcement = OutboxMessage::new(org_id, RENT_ROLL_SOURCE, SYNC_COMPLETED, detail.to_string());
        if store.complete_run(&run, &announcement, now).await? {
            tracing::info!(org_id, sync_id, delivered = run.delivered, failed = run.failed, "rent roll sync completed");
        }
        Ok(())
    }
}
