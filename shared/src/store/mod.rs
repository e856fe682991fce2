//! DynamoDB repositories. This is the only code that touches `AttributeValue`;
//! items map to models through `serde_dynamo`. Access patterns: `README.md` here.

pub mod api_keys;
pub mod attachments;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod page;
pub mod properties;
pub mod rate_limits;
pub mod rent_roll;
pub mod rent_runs;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

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

/// `AttributeValue::Bool`.
pub fn boolean(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// `AttributeValue::Ss`, a string set.
pub fn string_set(values: Vec<String>) -> AttributeValue {
    AttributeValue::Ss(values)
}

/// Reads a number attribute of `item`; `None` when the item or the attribute is missing.
pub fn number_attr<T: std::str::FromStr>(item: Option<&Item>, name: &str) -> Option<T> {
    item?.get(name)?.as_n().ok()?.parse().ok()
}

/// The table key `PK`, `SK` of an item.
pub fn item_key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

pub mod leases;
pub mod ledger;
pub mod maintenance;
pub mod payment_methods;
pub mod requests;
pub mod screenings;
pub mod stripe_events;
pub mod tenants;
pub mod transactions;
pub mod units;
pub mod vendors;
pub mod webhooks;
pub mod work_orders;

// Reads and conditional writes that several repositories share: one consistent
// `GetItem`, one page of a sort-key prefix, one `UpdateItem` whose failed condition is
// an answer rather than an error.

impl Store {
    /// One item by key, read consistently; `None` when there is none.
    pub async fn get_item_consistent(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table())
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        Ok(output.item)
    }

    /// One item by key, read consistently and mapped to its model with `serde_dynamo`;
    /// `None` when there is none.
    pub async fn get_consistent<T: serde::de::DeserializeOwned>(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<Option<T>, StoreError> {
        let item = self.get_item_consistent(pk, sk).await?;
        item.map(serde_dynamo::from_item).transpose().map_err(StoreError::from)
    }

    /// One page of the items of partition `pk` whose sort key starts with `prefix`, in
    /// sort-key order: a single consistent `Query` for `limit + 1` items, the extra one
    /// telling whether there is a next page. `start` is where the previous page ended.
    pub async fn query_prefix_page<T: serde::de::DeserializeOwned>(
        &self,
        pk: impl Into<String>,
        prefix: impl Into<String>,
        start: Option<crate::store::page::PageKey>,
        limit: usize,
    ) -> Result<page::Page<T>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(start) = start {
            request = request.set_exclusive_start_key(Some(start.into_iter().map(|(k, v)| (k, s(v))).collect()));
        }
        let output = request.send().await.map_err(|e| StoreError::dynamo("Query", e))?;
        let (items, next) = page::split_page(
            output.items.unwrap_or_default(),
            output.last_evaluated_key.as_ref(),
            limit,
            &[keys::PK, keys::SK],
        )?;
        let items = items.into_iter().map(serde_dynamo::from_item).collect::<Result<_, _>>()?;
        Ok(page::Page { items, next })
    }
}

/// The sort key of an item, for deleting what a prefix query found.
#[derive(serde::Deserialize)]
struct SortKey {
    #[serde(rename = "SK")]
    sk: String,
}

impl Store {
    /// Deletes every item of partition `pk` whose sort key starts with `prefix` (a
    /// deleted request's timeline, its attachments), a page of 100 at a time.
    pub async fn delete_prefix(&self, pk: &str, prefix: &str) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page: page::Page<SortKey> = self.query_prefix_page(pk, prefix, start, 100).await?;
            for item in page.items {
                self.delete_existing(pk, item.sk).await?;
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }
}

impl Store {
    /// An `UpdateItem` of the item `pk`, `sk`, its expressions still to be set.
    pub fn update_item(&self, pk: impl Into<String>, sk: impl Into<String>) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(self.table()).set_key(Some(item_key(pk, sk)))
    }

    /// Deletes the item `pk`, `sk` if it exists; `false` when there was none.
    pub async fn delete_existing(&self, pk: impl Into<String>, sk: impl Into<String>) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(item_key(pk, sk)))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::dynamo("DeleteItem", err)),
        }
    }
}

/// Sends an unconditional `UpdateItem`.
pub async fn update(request: UpdateItemFluentBuilder) -> Result<UpdateItemOutput, StoreError> {
    request.send().await.map_err(|e| StoreError::dynamo("UpdateItem", e))
}

/// Sends a conditional `UpdateItem`. `Ok(None)` when its condition failed (the answer
/// the caller asked the condition for, not an error); any other failure is an error.
pub async fn update_if(request: UpdateItemFluentBuilder) -> Result<Option<UpdateItemOutput>, StoreError> {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match request.send().await {
        Ok(output) => Ok(Some(output)),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(None)
        }
        Err(err) => Err(StoreError::dynamo("UpdateItem", err)),
    }
}

/// What a conditional write found: written, or refused by its condition, with the item
/// stored under its key at that moment (`None` when there was none).
#[derive(Debug)]
pub enum Conditional {
    Written,
    Refused(Option<Item>),
}

/// Sends a conditional `PutItem`, asking for the stored item when the condition fails,
/// so the caller can tell why (missing, another version, already recorded) without a read.
pub async fn put_or_stored(request: PutItemFluentBuilder) -> Result<Conditional, StoreError> {
    let sent = request.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld).send();
    match sent.await {
        Ok(_) => Ok(Conditional::Written),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), PutItemError::ConditionalCheckFailedException(_)) =>
        {
            let PutItemError::ConditionalCheckFailedException(failed) = service.into_err() else {
                return Ok(Conditional::Refused(None));
            };
            Ok(Conditional::Refused(failed.item))
        }
        Err(err) => Err(StoreError::dynamo("PutItem", err)),
    }
}

/// [`put_or_stored`] for a conditional `DeleteItem`.
pub async fn delete_or_stored(request: DeleteItemFluentBuilder) -> Result<Conditional, StoreError> {
    let sent = request.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld).send();
    match sent.await {
        Ok(_) => Ok(Conditional::Written),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
        {
            let DeleteItemError::ConditionalCheckFailedException(failed) = service.into_err() else {
                return Ok(Conditional::Refused(None));
            };
            Ok(Conditional::Refused(failed.item))
        }
        Err(err) => Err(StoreError::dynamo("DeleteItem", err)),
    }
}
