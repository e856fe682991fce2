//! Stored responses for `Idempotency-Key`: written in the same transaction as the
//! resource they describe, kept 24 hours.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::keys::{self, EXPIRES_AT, PK, SK};
use crate::store::{Conditional, Item, StoreError, delete_or_stored, n, put_or_stored, s};

/// How long a key is remembered.
pub const RETENTION: time::Duration = time::Duration::hours(24);

/// The `status` of a claim: no HTTP answer has it.
const CLAIM_STATUS: u16 = 0;
/// How long a claim holds a key: longer than any create it guards can take.
const CLAIM_LIFETIME: time::Duration = time::Duration::minutes(2);

/// The first response given for a key, replayed for the same key and body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub status: u16,
    /// The response `data`, as JSON text.
    pub body: String,
    pub location: Option<String>,
    pub expires_at: i64,
}

impl IdempotencyRecord {
    pub fn new(fingerprint: &str, status: u16, body: String, location: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            fingerprint: fingerprint.to_owned(),
            status,
            body,
            location,
            expires_at: (now + RETENTION).unix_timestamp(),
        }
    }

    /// A claim on a key while a create that cannot be undone (a paid order) is under way:
    /// `status` 0, no answer yet, and a short life, so a request that dies frees the key.
    pub fn claim(fingerprint: &str, now: OffsetDateTime) -> Self {
        Self {
            fingerprint: fingerprint.to_owned(),
            status: CLAIM_STATUS,
            body: "null".to_owned(),
            location: None,
            expires_at: (now + CLAIM_LIFETIME).unix_timestamp(),
        }
    }

    /// Whether this is a claim (see [`Self::claim`]) rather than an answer.
    pub fn is_claim(&self) -> bool {
        self.status == CLAIM_STATUS
    }

    /// A transaction `Put` that succeeds only if the key is unused, expired (TTL
    /// deletion lags) or claimed for this same request body, returning the stored record
    /// when it fails.
    pub fn put(
        &self,
        table: &str,
        org_id: &str,
        scope: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(table)
            .set_item(Some(self.item(org_id, scope, key)?))
            .condition_expression(
                "attribute_not_exists(#pk) OR #exp < :now OR (#status = :claim AND fingerprint = :fingerprint)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .expression_attribute_values(":claim", n(CLAIM_STATUS))
            .expression_attribute_values(":fingerprint", s(&self.fingerprint))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Dynamo { operation: "Put", detail: e.to_string(), retryable: false })
    }

    /// The record as the item under the organization's key `scope` + `key`.
    fn item(&self, org_id: &str, scope: &str, key: &str) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(self)?;
        item.insert(PK.into(), s(keys::org(org_id)));
        item.insert(SK.into(), s(keys::idempotency(scope, key)));
        item.insert(keys::ENTITY.into(), s("idempotency"));
        Ok(item)
    }

    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        Ok(serde_dynamo::from_item(item)?)
    }
}

impl crate::store::Store {
    /// Claims `key` for a create that cannot be undone: `None` when this request now holds
    /// it, or what the key already holds (a claim in progress or the first answer).
    pub async fn claim_idempotency(
        &self,
        org_id: &str,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = IdempotencyRecord::claim(fingerprint, now).item(org_id, scope, key)?;
        let request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        match put_or_stored(request).await? {
            Conditional::Written => Ok(None),
            Conditional::Refused(held) => {
                let held = held.ok_or(StoreError::MissingAttribute("idempotency record"))?;
                Ok(Some(IdempotencyRecord::from_item(held)?))
            }
        }
    }

    /// Frees a key this request claimed and did not use (its create failed), so that a
    /// retry with the key can try again. An answer stored under the key stays.
    pub async fn release_idempotency(&self, org_id: &str, scope: &str, key: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(keys::idempotency(scope, key)))
            .condition_expression("#status = :claim")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claim", n(CLAIM_STATUS));
        // Refused: the key holds an answer (or nothing), which stays.
        delete_or_stored(request).await.map(drop)
    }
}
