//! Rate-limit counters: `PK=<bucket>`, `SK=WINDOW#<window start>`, one item per bucket
//! and window, removed by TTL after the window.

use crate::store::keys::{self, EXPIRES_AT, PK, SK};
use crate::store::{Store, StoreError, n, s};

pub struct RateLimitRepository<'a> {
    store: &'a Store,
}

impl<'a> RateLimitRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Adds `amount` requests to the window's counter and returns the new count.
    pub async fn add(&self, bucket: &str, window_start: i64, expires_at: i64, amount: u64) -> Result<u64, StoreError> {
        let output = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(bucket.to_owned()))
            .key(SK, s(keys::rate_limit_window(window_start)))
            .update_expression("ADD request_count :amount SET #expires = if_not_exists(#expires, :expires)")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":amount", n(amount))
            .expression_attribute_values(":expires", n(expires_at))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        let count = output
            .attributes
            .as_ref()
            .and_then(|a| a.get("request_count"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or(StoreError::MissingAttribute("request_count"))?;
        Ok(count)
    }
}
