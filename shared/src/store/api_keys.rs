//! API key records: `PK=ORG#<org>`, `SK=APIKEY#<key_id>`. Only a digest of the secret is stored.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::keys::{self, PK, SK};
use crate::store::{Item, Store, StoreError, s};
use crate::time_format;

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
}

impl ApiKeyRecord {
    /// Not revoked and not past its validity.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.valid_until.is_none_or(|until| now < until)
    }
}

pub struct ApiKeyRepository<'a> {
    store: &'a Store,
}

impl<'a> ApiKeyRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub async fn get(&self, org_id: &str, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let output = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(keys::api_key(key_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        output.item.map(serde_dynamo::from_item).transpose().map_err(StoreError::from)
    }

    /// Stores a new key; an existing id is never overwritten.
    pub async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(record)?;
        item.insert(PK.into(), s(keys::org(&record.org_id)));
        item.insert(SK.into(), s(keys::api_key(&record.id)));
        item.insert(keys::ENTITY.into(), s("api_key"));
        self.store.put_new(item).await
    }

    /// Marks a key revoked; it stops authenticating at once.
    pub async fn revoke(&self, org_id: &str, key_id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(keys::api_key(key_id)))
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", s(time_format::format(at)))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }
}
