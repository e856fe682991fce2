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
//!
//! A delivery's id is `<sync_id>#<property_id>#<payload hash>`, so a repeated trigger of
//! the same sync finds the delivery it started and sends nothing again.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::events::OutboxMessage;
use crate::store::keys::{GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{VersionedPut, due_on_retry_index, entity_item, put_at_version, query_page};
use crate::store::transactions::{build_err, transact};
use crate::store::{Conditional, Item, Store, StoreError, keys, put_or_stored, s};

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
        let expires_at = now.unix_timestamp() + ANNOUNCEMENT_SECONDS;
        let items = vec![TransactWriteItem::builder().put(put).build(), announcement.put(self.store, expires_at)?];
        match transact(self.store, items).await? {
            None => Ok(()),
            Some(_) => Err(crate::store::transactions::unexpected_cancellation(
                "rentroll.delivery_failed announcement id collision",
            )),
        }
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
            item.insert(GSI1PK.into(), s(RETRY_PARTITION));
            item.insert(GSI1SK.into(), s(format!("{next}#{}", delivery.delivery_id)));
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
