//! DynamoDB repositories. This is the only code that touches `AttributeValue`;
//! items map to models through `serde_dynamo`. Access patterns: `README.md` here.

pub mod api_keys;
pub mod idempotency;
pub mod keys;
pub mod page;
pub mod properties;
pub mod rate_limits;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::ApiError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The table and its client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
}

impl Store {
    pub fn new(client: Client, table: &str) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes an item that must not exist yet (`attribute_not_exists(PK)`).
    pub async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    pub fn properties(&self) -> properties::PropertyRepository<'_> {
        properties::PropertyRepository::new(self)
    }

    pub fn api_keys(&self) -> api_keys::ApiKeyRepository<'_> {
        api_keys::ApiKeyRepository::new(self)
    }

    pub fn rate_limits(&self) -> rate_limits::RateLimitRepository<'_> {
        rate_limits::RateLimitRepository::new(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {detail}")]
    Dynamo { operation: &'static str, detail: String, retryable: bool },
    #[error("stored item does not match its model: {0}")]
    Shape(#[from] serde_dynamo::Error),
    #[error("stored item is missing attribute {0}")]
    MissingAttribute(&'static str),
}

impl StoreError {
    /// Wraps an SDK error, noting whether a retry could succeed (throttling, timeouts).
    pub fn dynamo<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let retryable = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ServiceError(service) => matches!(
                service.err().code(),
                Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded")
            ),
            _ => false,
        };
        Self::Dynamo { operation, detail: DisplayErrorContext(&err).to_string(), retryable }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Dynamo { retryable: true, .. } => ApiError::ServiceUnavailable(Box::new(err)),
            other => ApiError::internal(other),
        }
    }
}

/// Reads a string attribute.
pub fn string_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or(StoreError::MissingAttribute(name))
}

/// `AttributeValue::S` from anything string-like.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// `AttributeValue::N` from a number.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub mod leases;
pub mod requests;
pub mod tenants;
pub mod transactions;
pub mod units;
