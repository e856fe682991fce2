//! API key records: `PK=ORG#<org>`, `SK=APIKEY#<key_id>`. Only a digest of the secret is stored.
//!
//! | pattern | operation |
//! |---|---|
//! | authenticate / get one | `GetItem` (consistent) |
//! | list an organization's keys | `Query PK=ORG#<org> AND begins_with(SK, APIKEY#)` |
//! | revoke | `UpdateItem SET revoked_at` if the key exists |
//! | note a use | `UpdateItem SET last_used_at` only if the stored value is older than a threshold |

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::keys::{self, PK, SK};
use crate::store::page::Page;
use crate::store::page::PageKey;
use crate::store::{Item, Store, StoreError, s, update_if};
use crate::time_format;

const SK_PREFIX: &str = "APIKEY#";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    pub permissions: Vec<String>,
    /// The organization's plan when the key was created; sets its rate-limit tier.
    #[serde(default)]
    pub plan: crate::domain::Plan,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// The visible start of the key (`dsk_<org>_<key>_` and a few secret characters), so
    /// people can tell keys apart without the secret.
    #[serde(default)]
    pub prefix: String,
    /// Who created the key: a user id or another key's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When the key last authenticated, to within [`LAST_USED_RESOLUTION`].
    #[serde(default, with = "time_format::rfc3339_option", skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `last_used_at` is refreshed at most this often, so that a busy key does not cost a
/// write per request.
pub const LAST_USED_RESOLUTION: time::Duration = time::Duration::minutes(1);

impl ApiKeyRecord {
    /// Not revoked and not past its validity.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.valid_until.is_none_or(|until| now < until)
    }

    /// Whether a use at `now` should be recorded (the stored time is missing or stale).
    pub fn last_use_is_stale(&self, now: OffsetDateTime) -> bool {
        self.last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
    }
}

pub struct ApiKeyRepository<'a> {
    store: &'a Store,
}

impl<'a> ApiKeyRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// An `UpdateItem` of one key's item, its expressions still to be set.
    fn update_key_item(&self, org_id: &str, key_id: &str) -> UpdateItemFluentBuilder {
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(keys::api_key(key_id)))
    }

    /// One key of the organization. An id that is not a key id cannot exist and is not
    /// looked up.
    pub async fn get(&self, org_id: &str, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        if !crate::domain::ids::is_valid(key_id, "key") {
            return Ok(None);
        }
        self.store.get_consistent(keys::org(org_id), keys::api_key(key_id)).await
    }

    /// Stores a new key; an existing id is never overwritten.
    pub async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(record)?;
        item.insert(PK.into(), s(keys::org(&record.org_id)));
        item.insert(SK.into(), s(keys::api_key(&record.id)));
        item.insert(keys::ENTITY.into(), s("api_key"));
        self.store.put_new(item).await
    }

    /// One page of the organization's keys, oldest first: a single `Query`.
    pub async fn list(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<ApiKeyRecord>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), SK_PREFIX, start, limit).await
    }

    /// Marks a key revoked; it stops authenticating at once. `false` when there is no
    /// such key. (Stored records may hold `revoked_at` as NULL, so no `if_not_exists`.)
    pub async fn revoke(&self, org_id: &str, key_id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        if !crate::domain::ids::is_valid(key_id, "key") {
            return Ok(false);
        }
        let request = self
            .update_key_item(org_id, key_id)
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", s(time_format::format(at)));
        Ok(update_if(request).await?.is_some())
    }

    /// Records a use at `now`, unless a use within [`LAST_USED_RESOLUTION`] is already
    /// recorded (the condition makes concurrent requests write at most once). `true`
    /// when it wrote.
    pub async fn touch_last_used(&self, org_id: &str, key_id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let request = self
            .update_key_item(org_id, key_id)
            .update_expression("SET last_used_at = :now")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR last_used_at < :stale)",
            )
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":stale", s(time_format::format(now - LAST_USED_RESOLUTION)));
        Ok(update_if(request).await?.is_some())
    }
}
