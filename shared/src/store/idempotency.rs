//! Stored responses for `Idempotency-Key`: written in the same transaction as the
//! resource they describe, kept 24 hours.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::keys::{self, EXPIRES_AT, PK, SK};
use crate::store::{Item, StoreError, n, s};

/// How long a key is remembered.
pub const RETENTION: time::Duration = time::Duration::hours(24);

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

    /// A transaction `Put` that succeeds only if the key is unused or expired (TTL
    /// deletion lags), returning the stored record when it fails.
    pub fn put(
        &self,
        table: &str,
        org_id: &str,
        scope: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Put, StoreError> {
        let mut item: Item = serde_dynamo::to_item(self)?;
        item.insert(PK.into(), s(keys::org(org_id)));
        item.insert(SK.into(), s(keys::idempotency(scope, key)));
        item.insert(keys::ENTITY.into(), s("idempotency"));
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Dynamo { operation: "Put", detail: e.to_string(), retryable: false })
    }

    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        Ok(serde_dynamo::from_item(item)?)
    }
}
