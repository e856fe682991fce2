//! The rent-roll sync to RentSync: each organization's settings, the index of
//! organizations that have it enabled, and one delivery per (sync, property, payload).
//!
//! | item | PK | SK | GSI1 |
//! |---|---|---|---|
//! | settings | `ORG#<org>` | `RENTSYNC#SETTINGS` | `RENTSYNC#ENABLED` / `<org>` (enabled only) |
//! | property override | `ORG#<org>` | `RENTSYNC#PROPERTY#<property_id>` | |
//! | delivery | `ORG#<org>#RENTSYNC` | `DELIVERY#<delivery_id>` | `RENTSYNC#RETRY` / `<next_attempt_at>#<delivery_id>` (waiting only) |
//! | sent unit | `ORG#<org>#RENTSYNC#SENT#<property>` | `UNIT#<unit_id>` | |
//!
//! A sent unit is what RentSync last accepted of a unit (its content hash and code),
//! written only when a delivery carrying it succeeds; delta deliveries compare with it.
//! | sync run | `ORG#<org>#RENTSYNC` | `SYNC#<sync_id>` | |
//! | property checkpoint | `ORG#<org>#RENTSYNC` | `SYNCPROP#<sync_id>#<property_id>` | |
//!
//! A sync run counts its properties as the enumeration queues them (`properties`, with
//! the last property key as its checkpoint) and as workers finish them (`finished`, and
//! `delivered`, `failed`, `retrying`), atomically with each property's checkpoint.
//!
//! A delivery's id is `<sync_id>#<property_id>#<payload hash>`, so a repeated trigger of
//! the same sync finds the delivery it started and sends nothing again.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::events::OutboxMessage;
use crate::store::keys::{GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    VersionedPut, due_on_retry_index, entity_item, on_retry_index, put_at_version, query_page,
};
use crate::store::transactions::{TransactItem, build_err, transact_if_first, unexpected_cancellation};
use crate::store::{Conditional, Item, Store, StoreError, boolean, keys, n, put_or_stored, s, update_if};

const SETTINGS_ENTITY: &str = "rentsync_settings";
const DELIVERY_ENTITY: &str = "rentsync_delivery";
const SETTINGS_SK: &str = "RENTSYNC#SETTINGS";
const OVERRIDE_ENTITY: &str = "rentsync_property";
const OVERRIDE_PREFIX: &str = "RENTSYNC#PROPERTY#";
const ENABLED_PARTITION: &str = "RENTSYNC#ENABLED";
const RETRY_PARTITION: &str = "RENTSYNC#RETRY";
const DELIVERY_PREFIX: &str = "DELIVERY#";
const SENT_ENTITY: &str = "rentsync_sent_unit";
const SENT_PREFIX: &str = "UNIT#";
/// How long a delivery's record is kept.
pub const DELIVERY_RETENTION: time::Duration = time::Duration::days(30);
/// An unpublished `rentroll.delivery_failed` outlives this only if the bus keeps refusing it.
const ANNOUNCEMENT_SECONDS: i64 = 86_400;

fn deliveries_pk(org_id: &str) -> String {
    keys::collection(org_id, "RENTSYNC")
}

/// The settings item; on the enabled index while enabled.
fn settings_item(settings: &RentSyncSettings) -> Result<Item, StoreError> {
    let mut item = entity_item(settings, keys::org(&settings.organization_id), SETTINGS_SK.into(), SETTINGS_ENTITY)?;
    if settings.enabled {
        item.insert(GSI1PK.into(), s(ENABLED_PARTITION));
        item.insert(GSI1SK.into(), s(&settings.organization_id));
    }
    Ok(item)
}

fn override_sk(property_id: &str) -> String {
    format!("{OVERRIDE_PREFIX}{property_id}")
}

fn delivery_sk(delivery_id: &str) -> String {
    format!("{DELIVERY_PREFIX}{delivery_id}")
}

fn sent_pk(org_id: &str, property_id: &str) -> String {
    keys::collection(org_id, &format!("RENTSYNC#SENT#{property_id}"))
}

/// The payload shape RentSync receives (the RentSync guide §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// §4.1: one object per unit, each with its property's fields.
    Single,
    /// §4.2: one property with its units.
    Nested,
    /// §4.3: one row per unit.
    Flat,
}

/// How a request proves it comes from Doorstep (the RentSync guide §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// `X-API-Key: <key>`.
    ApiKey,
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `X-Aigent-Timestamp` and `X-Aigent-Signature`: HMAC-SHA256 of the timestamp and
    /// the body, keyed by the secret.
    Hmac,
    /// `Authorization: Bearer <token>`, the token fetched from the settings' OAuth 2.0
    /// token URL with the client credentials grant (the secret is the client secret).
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials,
    /// `Authorization: <secret>`: a fixed header value.
    StaticToken,
}

/// The OAuth 2.0 client of [`AuthMode::OAuth2ClientCredentials`]; its secret lives in
/// Secrets Manager like every other credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub token_url: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// When an organization's sync runs (UTC): `{"kind": "daily", "hour_utc": 2}` or
/// `{"kind": "every_hours", "hours": 6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncSchedule {
    /// Once a day, at this whole hour (0 to 23).
    Daily { hour_utc: u8 },
    /// Every `hours` hours from midnight; `hours` divides 24.
    EveryHours { hours: u8 },
}

impl Default for SyncSchedule {
    /// 02:00 UTC daily.
    fn default() -> Self {
        Self::Daily { hour_utc: 2 }
    }
}

impl SyncSchedule {
    /// Whether a sync triggered at `at` (an hourly tick) runs under this schedule.
    pub fn is_due(self, at: OffsetDateTime) -> bool {
        let hour = at.hour();
        match self {
            Self::Daily { hour_utc } => hour == hour_utc,
            Self::EveryHours { hours } => hours > 0 && hour.is_multiple_of(hours),
        }
    }
}

/// An organization's RentSync settings. The key itself lives in Secrets Manager under
/// `secret_id`; the table never holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RentSyncSettings {
    pub organization_id: String,
    pub enabled: bool,
    pub endpoint_url: String,
    pub format: PayloadFormat,
    pub auth: AuthMode,
    pub secret_id: String,
    /// Full snapshots, or only what changed since the last successful delivery.
    #[serde(default)]
    pub mode: SyncMode,
    /// One POST per property, or one batch for all properties.
    #[serde(default)]
    pub delivery: DeliveryMode,
    /// A batch larger than this is split into several POSTs.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// The header carrying the sync id (the RentSync guide §6 names `X-Aigent-Sync-ID`).
    #[serde(default)]
    pub sync_id_header: Option<String>,
    /// The token URL, client id and scope of the OAuth 2.0 auth mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthClient>,
    #[serde(default)]
    pub schedule: SyncSchedule,
    /// Bumped by every change through the API (the `ETag`).
    #[serde(default)]
    pub version: u64,
    /// RFC 3339.
    pub updated_at: String,
}

/// How one property's sync differs from its organization's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RentSyncPropertyOverride {
    pub organization_id: String,
    pub property_id: String,
    /// Left out of every sync.
    pub excluded: bool,
    /// Another endpoint for this property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Another payload format for this property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<PayloadFormat>,
    pub version: u64,
    /// RFC 3339.
    pub updated_at: String,
}

/// What a delivery sends (the RentSync guide §8.4: snapshots, deltas or both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Every listed unit, every time; the partner removes what is absent.
    #[default]
    Snapshot,
    /// Only units changed since the last successful delivery, with explicit removals.
    Delta,
}

/// How deliveries are grouped (the RentSync guide §3.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// One POST per property.
    #[default]
    PerProperty,
    /// One POST with every property, split when it would exceed `max_body_bytes`.
    Batch,
}

/// The default bound of one POST's body.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 5 * 1024 * 1024;

fn default_max_body_bytes() -> u64 {
    DEFAULT_MAX_BODY_BYTES
}

/// What a delivery has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RentRollDeliveryStatus {
    /// Not accepted yet; another attempt is scheduled.
    Pending,
    Delivered,
    /// No attempt is left: RentSync refused the payload or the credentials, or the
    /// retries ran out.
    Failed,
}

/// One POST of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RentRollAttempt {
    /// RFC 3339.
    pub attempted_at: String,
    /// The HTTP status RentSync answered; absent when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_status: Option<u16>,
    /// Why there was no answer (timeout, connection error, unreadable secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What RentSync last accepted of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentUnit {
    pub property_id: String,
    pub unit_id: String,
    pub unit_code: String,
    /// The hash of the unit's content as sent (its sync timestamp left out).
    pub hash: String,
}

/// How a successful delivery changes what RentSync holds of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SentChange {
    /// The unit was sent with this content.
    Sent(SentUnit),
    /// The unit was sent as removed.
    Removed { property_id: String, unit_id: String },
}

impl SentChange {
    pub fn unit_id(&self) -> &str {
        match self {
            Self::Sent(unit) => &unit.unit_id,
            Self::Removed { unit_id, .. } => unit_id,
        }
    }
}

/// A unit-level error RentSync reported about a delivery (the RentSync guide §8.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUnitError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// One property's rent roll (or, in batch delivery, one part of the batch) on its way
/// to RentSync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RentRollDelivery {
    /// `<sync_id>#<property_id>#<payload_hash>`.
    pub delivery_id: String,
    pub organization_id: String,
    pub property_id: String,
    /// The `X-Aigent-Sync-ID` header: the same on every retry.
    pub sync_id: String,
    /// SHA-256 (hex) of the payload's content, its sync timestamp left out.
    pub payload_hash: String,
    /// The body exactly as sent.
    pub body: String,
    pub unit_count: u32,
    pub bytes: u64,
    pub status: RentRollDeliveryStatus,
    #[serde(default)]
    pub attempts: Vec<RentRollAttempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The 1-based part of a split body (batch deliveries, or a property too large for one POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// What RentSync will hold once this delivery succeeds; applied to the sent units then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<SentChange>,
    /// The unit-level errors RentSync's last answer listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit_errors: Vec<PartnerUnitError>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: i64,
}

impl RentRollDelivery {
    /// The delivery id of a payload of a property in a sync.
    pub fn id_for(sync_id: &str, property_id: &str, payload_hash: &str) -> String {
        format!("{sync_id}#{property_id}#{payload_hash}")
    }
}

/// Settings and deliveries of the rent-roll sync.
pub struct RentRollRepository<'a> {
    store: &'a Store,
}

impl Store {
    pub fn rent_roll(&self) -> RentRollRepository<'_> {
        RentRollRepository { store: self }
    }
}

impl RentRollRepository<'_> {
    /// Stores an organization's settings; on the enabled index while enabled.
    pub async fn save_settings(&self, settings: &RentSyncSettings) -> Result<(), StoreError> {
        self.put(settings_item(settings)?).await
    }

    /// Stores settings changed through the API: created when `expected_version` is
    /// `None`, else only while the stored version is still that one; `false` when
    /// another writer got there first.
    pub async fn save_settings_at(
        &self,
        settings: &RentSyncSettings,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.put_versioned(settings_item(settings)?, expected_version).await
    }

    /// A property's override (consistent read).
    pub async fn property_override(
        &self,
        org_id: &str,
        property_id: &str,
    ) -> Result<Option<RentSyncPropertyOverride>, StoreError> {
        self.store.get_consistent(keys::org(org_id), &override_sk(property_id)).await
    }

    /// Stores a property's override, created when `expected_version` is `None`; `false`
    /// when another writer got there first.
    pub async fn save_property_override(
        &self,
        change: &RentSyncPropertyOverride,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let item =
            entity_item(change, keys::org(&change.organization_id), override_sk(&change.property_id), OVERRIDE_ENTITY)?;
        self.put_versioned(item, expected_version).await
    }

    /// Removes a property's override; `false` when it had none.
    pub async fn delete_property_override(&self, org_id: &str, property_id: &str) -> Result<bool, StoreError> {
        self.store.delete_existing(keys::org(org_id), override_sk(property_id)).await
    }

    /// One page of the organization's property overrides, in property id order.
    pub async fn property_overrides(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<RentSyncPropertyOverride>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), OVERRIDE_PREFIX, start, limit).await
    }

    async fn put_versioned(&self, item: Item, expected_version: Option<u64>) -> Result<bool, StoreError> {
        match expected_version {
            Some(version) => Ok(put_at_version(self.store, item, version).await? == VersionedPut::Done),
            None => self.put_if_absent(item).await,
        }
    }

    /// An organization's settings (consistent read).
    pub async fn settings(&self, org_id: &str) -> Result<Option<RentSyncSettings>, StoreError> {
        self.store.get_consistent(keys::org(org_id), SETTINGS_SK).await
    }

    /// One page of the settings of organizations with the sync enabled: one `Query` of GSI1.
    pub async fn enabled(&self, start: Option<PageKey>, limit: usize) -> Result<Page<RentSyncSettings>, StoreError> {
        let request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(ENABLED_PARTITION));
        query_page(request, start, limit, &[PK, SK, GSI1PK, GSI1SK])
            .await?
            .try_map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
    }

    /// Starts a delivery unless one with its id exists (the same payload of the same
    /// sync); `false` when it existed.
    pub async fn start_delivery(&self, delivery: &RentRollDelivery) -> Result<bool, StoreError> {
        self.put_if_absent(self.delivery_item(delivery)?).await
    }

    /// Writes an item unless one with its key exists; `false` when it existed.
    async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let request = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)");
        Ok(matches!(put_or_stored(request).await?, Conditional::Written))
    }

    /// Stores a delivery as it is now; on the retry index while an attempt is due.
    pub async fn save_delivery(&self, delivery: &RentRollDelivery) -> Result<(), StoreError> {
        self.put(self.delivery_item(delivery)?).await
    }

    /// Stores a failed delivery together with its `announcement` (for the relay to put
    /// on the bus), in one transaction, so the alert is never lost.
    pub async fn save_failed_delivery(
        &self,
        delivery: &RentRollDelivery,
        announcement: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.store.table())
            .set_item(Some(self.delivery_item(delivery)?))
            .build()
            .map_err(build_err)?;
        match self.with_announcement(TransactWriteItem::builder().put(put).build(), announcement, now).await? {
            true => Ok(()),
            false => Err(unexpected_cancellation("rentroll.delivery_failed announcement id collision")),
        }
    }

    /// Writes `write` and stores `announcement` (for the relay to put on the bus) in one
    /// transaction; `false` when the condition of `write` failed (nothing is written).
    async fn with_announcement(
        &self,
        write: TransactWriteItem,
        announcement: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires_at = now.unix_timestamp() + ANNOUNCEMENT_SECONDS;
        let items = vec![write, announcement.put(self.store, expires_at)?];
        transact_if_first(self.store, items, "rent-roll announcement id collision").await
    }

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        crate::store::requests::put(self.store, item).await
    }

    fn delivery_item(&self, delivery: &RentRollDelivery) -> Result<Item, StoreError> {
        let mut item = entity_item(
            delivery,
            deliveries_pk(&delivery.organization_id),
            delivery_sk(&delivery.delivery_id),
            DELIVERY_ENTITY,
        )?;
        if let (RentRollDeliveryStatus::Pending, Some(next)) = (delivery.status, &delivery.next_attempt_at) {
            on_retry_index(&mut item, RETRY_PARTITION, next, &delivery.delivery_id);
        }
        Ok(item)
    }

    /// One page of the organization's deliveries, in id (sync, then property) order.
    pub async fn deliveries(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<RentRollDelivery>, StoreError> {
        self.store.query_prefix_page(deliveries_pk(org_id), DELIVERY_PREFIX, start, limit).await
    }

    /// Every unit RentSync last accepted of a property, by unit id.
    pub async fn sent_units(&self, org_id: &str, property_id: &str) -> Result<Vec<SentUnit>, StoreError> {
        let mut units = Vec::new();
        let mut start = None;
        loop {
            let page: Page<SentUnit> =
                self.store.query_prefix_page(sent_pk(org_id, property_id), SENT_PREFIX, start, 500).await?;
            units.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(units),
            }
        }
    }

    /// Applies a successful delivery's changes to the sent units: a sent unit is stored
    /// with its hash, a removed one is forgotten.
    pub async fn apply_sent(&self, org_id: &str, changes: &[SentChange]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(changes.len());
        for change in changes {
            let request = match change {
                SentChange::Sent(unit) => {
                    let item = entity_item(
                        unit,
                        sent_pk(org_id, &unit.property_id),
                        format!("{SENT_PREFIX}{}", unit.unit_id),
                        SENT_ENTITY,
                    )?;
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().map_err(build_err)?)
                }
                SentChange::Removed { property_id, unit_id } => {
                    let key = crate::store::item_key(sent_pk(org_id, property_id), format!("{SENT_PREFIX}{unit_id}"));
                    WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().map_err(build_err)?)
                }
            };
            requests.push(request.build());
        }
        crate::store::transactions::batch_write(self.store, requests).await
    }

    /// Deliveries whose next attempt is due at `now`, oldest first, up to `limit`: one
    /// `Query` of GSI1.
    pub async fn due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<RentRollDelivery>, StoreError> {
        due_on_retry_index(self.store, RETRY_PARTITION, now, limit).await
    }
}

const RUN_ENTITY: &str = "rentsync_run";
const CHECKPOINT_ENTITY: &str = "rentsync_property";
const RUN_PREFIX: &str = "SYNC#";
const CHECKPOINT_PREFIX: &str = "SYNCPROP#";
/// How long a run and its checkpoints are kept (as long as its deliveries).
pub const RUN_RETENTION: time::Duration = DELIVERY_RETENTION;

fn run_sk(sync_id: &str) -> String {
    format!("{RUN_PREFIX}{sync_id}")
}

fn checkpoint_prefix(sync_id: &str) -> String {
    format!("{CHECKPOINT_PREFIX}{sync_id}#")
}

fn checkpoint_sk(sync_id: &str, property_id: &str) -> String {
    format!("{}{property_id}", checkpoint_prefix(sync_id))
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    /// The daily schedule.
    Schedule,
    /// `POST /api/v1/rent-roll/syncs`.
    OnDemand,
}

/// One organization's part of a sync: its properties queued, finished and how they ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRunRecord {
    pub sync_id: String,
    pub organization_id: String,
    pub trigger: SyncTrigger,
    /// The one property an on-demand run syncs; absent for the whole organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_id: Option<String>,
    /// The trigger time (RFC 3339, whole seconds): the payloads' `sync_timestamp`.
    pub sync_timestamp: String,
    /// Properties queued so far.
    #[serde(default)]
    pub properties: u32,
    /// Properties whose first attempt is over.
    #[serde(default)]
    pub finished: u32,
    #[serde(default)]
    pub delivered: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub retrying: u32,
    /// Properties with nothing to send (excluded, or an empty delta).
    #[serde(default)]
    pub skipped: u32,
    /// Every property is queued.
    #[serde(default)]
    pub enumerated: bool,
    /// Where the enumeration goes on (the last property key queued, as JSON), while it
    /// is not over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub started_at: String,
    /// When every property had finished (and `rentroll.sync_completed` was announced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    pub expires_at: i64,
}

/// Where one property of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertySyncStatus {
    Delivered,
    /// A retry is scheduled.
    Retrying,
    Failed,
    /// Nothing to send: excluded by its override, or a delta without changes.
    Skipped,
}

impl PropertySyncStatus {
    /// The run's counter of properties with this status.
    fn counter(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One property of a run, once its first attempt is over: what a worker that sees the
/// message again skips on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyCheckpoint {
    pub sync_id: String,
    pub organization_id: String,
    pub property_id: String,
    /// Absent when no delivery was started (the property was gone, the sync disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    pub status: PropertySyncStatus,
    pub attempts: u32,
    /// Why the last attempt failed (`rejected`, `unauthorized`, `endpoint_not_found`,
    /// `rate_limited`, `server_error`, `timeout`, `connection`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// The status RentSync last answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_status: Option<u16>,
    pub bytes: u64,
    pub unit_count: u32,
    /// Reading, rendering and the last POST, in milliseconds.
    pub duration_ms: u64,
    pub updated_at: String,
    pub expires_at: i64,
}

impl RentRollRepository<'_> {
    /// Creates a run unless one with its id exists; `false` when it did.
    pub async fn create_run(&self, run: &SyncRunRecord) -> Result<bool, StoreError> {
        self.put_if_absent(entity_item(run, deliveries_pk(&run.organization_id), run_sk(&run.sync_id), RUN_ENTITY)?)
            .await
    }

    /// A run of the organization (consistent read).
    pub async fn run(&self, org_id: &str, sync_id: &str) -> Result<Option<SyncRunRecord>, StoreError> {
        self.store.get_consistent(deliveries_pk(org_id), run_sk(sync_id)).await
    }

    /// One page of the organization's runs, newest first: one `Query`.
    pub async fn runs(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<SyncRunRecord>, StoreError> {
        let request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(deliveries_pk(org_id)))
            .expression_attribute_values(":prefix", s(RUN_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        query_page(request, start, limit, &[PK, SK])
            .await?
            .try_map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
    }

    /// Records that `queued` more properties are on the queue and where the enumeration
    /// goes on (`to`; `None`: it is over), if it was still at `from`: the run as it is
    /// now, or `None` when another enumeration of the run moved it first.
    pub async fn advance_run(
        &self,
        org_id: &str,
        sync_id: &str,
        queued: u32,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        let request = self
            .store
            .update_item(deliveries_pk(org_id), run_sk(sync_id))
            .expression_attribute_names("#cursor", "cursor")
            .expression_attribute_values(":n", n(queued))
            .expression_attribute_values(":f", boolean(false))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let request = match from {
            Some(from) => request
                .condition_expression("#cursor = :from AND enumerated = :f")
                .expression_attribute_values(":from", s(from)),
            None => request
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(#cursor) AND enumerated = :f"),
        };
        let request = match to {
            Some(to) => request
                .update_expression("ADD properties :n SET #cursor = :to")
                .expression_attribute_values(":to", s(to)),
            None => request
                .update_expression("ADD properties :n SET enumerated = :t REMOVE #cursor")
                .expression_attribute_values(":t", boolean(true)),
        };
        let Some(output) = update_if(request).await? else { return Ok(None) };
        Ok(Some(serde_dynamo::from_item(output.attributes.unwrap_or_default())?))
    }

    /// A property's checkpoint in a run (consistent read).
    pub async fn checkpoint(
        &self,
        org_id: &str,
        sync_id: &str,
        property_id: &str,
    ) -> Result<Option<PropertyCheckpoint>, StoreError> {
        self.store.get_consistent(deliveries_pk(org_id), checkpoint_sk(sync_id, property_id)).await
    }

    /// One page of a run's property checkpoints, in property id order.
    pub async fn checkpoints(
        &self,
        org_id: &str,
        sync_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<PropertyCheckpoint>, StoreError> {
        self.store.query_prefix_page(deliveries_pk(org_id), checkpoint_prefix(sync_id), start, limit).await
    }

    /// Stores a property's checkpoint and moves the run's counters with it, in one
    /// transaction: `previous` is the status it is expected to have (`None`: the first
    /// attempt just ended, so it must not exist yet). `false` when it was not so (another
    /// worker recorded it first); nothing is written then.
    pub async fn record_property(
        &self,
        checkpoint: &PropertyCheckpoint,
        previous: Option<PropertySyncStatus>,
    ) -> Result<bool, StoreError> {
        let pk = deliveries_pk(&checkpoint.organization_id);
        let item = entity_item(
            checkpoint,
            pk.clone(),
            checkpoint_sk(&checkpoint.sync_id, &checkpoint.property_id),
            CHECKPOINT_ENTITY,
        )?;
        let put = aws_sdk_dynamodb::types::Put::builder().table_name(self.store.table()).set_item(Some(item));
        let put = match previous {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(status) => put
                .condition_expression("#status = :previous")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":previous", serde_dynamo::to_attribute_value(status)?),
        };
        let mut items = vec![put.build().map_err(build_err)?.transact_item()?];
        let counters = match previous {
            None => Some(format!("ADD finished :one, {} :one", checkpoint.status.counter())),
            Some(status) if status != checkpoint.status => {
                Some(format!("ADD {} :minus, {} :one", status.counter(), checkpoint.status.counter()))
            }
            Some(_) => None,
        };
        if let Some(expression) = counters {
            let update = self
                .store
                .update_in_transaction(pk, run_sk(&checkpoint.sync_id))
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":one", n(1));
            let update = match previous {
                None => update,
                Some(_) => update.expression_attribute_values(":minus", n(-1)),
            };
            items.push(update.update_expression(expression).transact_item()?);
        }
        transact_if_first(self.store, items, "a sync run missing under its property checkpoint").await
    }

    /// Marks the run completed and stores its `announcement`, in one transaction, if
    /// every property is queued and finished and it was not completed before; `false`
    /// otherwise (nothing is written).
    pub async fn complete_run(
        &self,
        run: &SyncRunRecord,
        announcement: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let update = self
            .store
            .update_in_transaction(deliveries_pk(&run.organization_id), run_sk(&run.sync_id))
            .update_expression("SET completed_at = :at")
            .condition_expression("attribute_not_exists(completed_at) AND enumerated = :t AND finished >= properties")
            .expression_attribute_values(":at", s(crate::time_format::format(now)))
            .expression_attribute_values(":t", boolean(true));
        self.with_announcement(update.transact_item()?, announcement, now).await
    }

    /// A delivery of the organization (consistent read).
    pub async fn delivery(&self, org_id: &str, delivery_id: &str) -> Result<Option<RentRollDelivery>, StoreError> {
        self.store.get_consistent(deliveries_pk(org_id), delivery_sk(delivery_id)).await
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_schedule_is_due_at_its_hours_only() {
        let daily = SyncSchedule::default();
        assert!(daily.is_due(datetime!(2026-11-22 2:00 UTC)));
        assert!(!daily.is_due(datetime!(2026-11-22 3:00 UTC)));
        let six_hourly = SyncSchedule::EveryHours { hours: 6 };
        let due: Vec<u8> =
            (0..24).filter(|h| six_hourly.is_due(datetime!(2026-11-22 0:00 UTC).replace_hour(*h).unwrap())).collect();
        assert_eq!(due, vec![0, 6, 12, 18]);
    }
}
