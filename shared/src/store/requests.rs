//! The DynamoDB requests several repositories make the same way: a strongly consistent
//! `GetItem`, a `PutItem` conditioned on the stored version, one page of a `Query`, and
//! the item an entity is stored as.
//! Each is still exactly one round trip; the repositories keep their keys, conditions
//! and outcome types.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::builders::{DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::keys::{self, ENTITY, PK, SK};
use crate::store::page::PageKey;
use crate::store::page::{Page, split_page};
use crate::store::transactions::{build_err, version_of};
use crate::store::{Conditional, Item, Store, StoreError, n, put_or_stored, s, string_attr};

/// Reads one item by its key (strongly consistent) and maps it with serde_dynamo.
pub async fn get_consistent<T: DeserializeOwned>(store: &Store, key: Item) -> Result<Option<T>, StoreError> {
    let output = store
        .client()
        .get_item()
        .table_name(store.table())
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::dynamo("GetItem", e))?;
    output.item.map(|item| Ok(serde_dynamo::from_item(item)?)).transpose()
}

/// The condition of a write to an item whose stored `version` must still be `:expected`.
const AT_VERSION: &str = "attribute_exists(PK) AND version = :expected";

/// The outcome of [`put_at_version`].
#[derive(Debug, PartialEq)]
pub enum VersionedPut {
    Done,
    /// No item has this key.
    Missing,
    /// The stored item has another version (carried).
    VersionMismatch(u64),
}

/// Replaces an existing item if its stored `version` is still `expected_version`: one
/// conditional `PutItem`, which tells a missing item from a version mismatch.
pub async fn put_at_version(store: &Store, item: Item, expected_version: u64) -> Result<VersionedPut, StoreError> {
    let request = store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression(AT_VERSION)
        .expression_attribute_values(":expected", n(expected_version));
    Ok(match put_or_stored(request).await? {
        Conditional::Written => VersionedPut::Done,
        Conditional::Refused(stored) => {
            version_of(stored.as_ref()).map_or(VersionedPut::Missing, VersionedPut::VersionMismatch)
        }
    })
}

/// A page key as DynamoDB's `ExclusiveStartKey`.
pub fn start_key(start: Option<PageKey>) -> Option<Item> {
    start.map(|start| start.into_iter().map(|(k, v)| (k, s(v))).collect())
}

/// Sends `request` for one listing page of at most `limit` items from `start`: a single
/// `Query` asking for `limit + 1` (see [`split_page`]); `key_names` are the attributes of
/// the queried index's key, which the next page starts from.
pub async fn query_page(
    request: QueryFluentBuilder,
    start: Option<PageKey>,
    limit: usize,
    key_names: &[&'static str],
) -> Result<Page<Item>, StoreError> {
    let output = request
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start_key(start))
        .send()
        .await
        .map_err(|e| StoreError::dynamo("Query", e))?;
    let (items, next) =
        split_page(output.items.unwrap_or_default(), output.last_evaluated_key.as_ref(), limit, key_names)?;
    Ok(Page { items, next })
}

/// Sends `request` for one page as DynamoDB cuts it (up to 1 MB), from `start`: a single
/// `Query`, for feeds that stream every page. `key_names` are the key attributes of the
/// queried index.
pub async fn query_raw_page(
    request: QueryFluentBuilder,
    start: Option<PageKey>,
    key_names: &[&'static str],
) -> Result<Page<Item>, StoreError> {
    let output =
        request.set_exclusive_start_key(start_key(start)).send().await.map_err(|e| StoreError::dynamo("Query", e))?;
    let next = output
        .last_evaluated_key
        .as_ref()
        .map(|key| {
            key_names
                .iter()
                .map(|name| Ok(((*name).to_owned(), string_attr(key, name)?.to_owned())))
                .collect::<Result<PageKey, StoreError>>()
        })
        .transpose()?;
    Ok(Page { items: output.items.unwrap_or_default(), next })
}

/// Sends `request` for one page of at most `limit` items from `start`, reading the pages
/// DynamoDB cuts (up to 1 MB each) until `limit` items passed the request's filter or the
/// query ends: a feed page is full unless it is the last. The next page starts after the
/// last item kept.
pub async fn query_filled_page(
    request: QueryFluentBuilder,
    start: Option<PageKey>,
    limit: usize,
    key_names: &[&'static str],
) -> Result<Page<Item>, StoreError> {
    let mut items = Vec::new();
    let mut from = start;
    loop {
        let page = query_raw_page(request.clone(), from, key_names).await?;
        items.extend(page.items);
        match page.next {
            Some(next) if items.len() <= limit => from = Some(next),
            next if items.len() > limit => {
                items.truncate(limit);
                let after = items.last().map(|last| crate::store::page::key_of(last, key_names)).transpose()?;
                return Ok(Page { items, next: after.or(next) });
            }
            next => return Ok(Page { items, next }),
        }
    }
}

impl Page<Item> {
    /// Maps each item of the page (with serde_dynamo, usually), keeping where it ends.
    pub fn try_map<T>(self, map: impl FnMut(Item) -> Result<T, StoreError>) -> Result<Page<T>, StoreError> {
        Ok(Page { items: self.items.into_iter().map(map).collect::<Result<_, _>>()?, next: self.next })
    }
}

/// A `Query` of the organization's items whose sort key begins with `prefix`, for the
/// caller to add its filters, read consistency and page bounds to.
pub fn org_prefix_query(store: &Store, org_id: &str, prefix: impl Into<String>) -> QueryFluentBuilder {
    store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .expression_attribute_values(":pk", s(keys::org(org_id)))
        .expression_attribute_values(":prefix", s(prefix))
}

/// `value` as a stored item (serde_dynamo) under the key `pk`, `sk`, marked with its
/// `entity` name; callers add any index keys.
pub fn entity_item<T: Serialize>(value: &T, pk: String, sk: String, entity: &str) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item.insert(ENTITY.into(), s(entity));
    Ok(item)
}

/// A transaction's `Put` of `item` on condition that no item has its key yet (a create).
pub fn put_if_new(store: &Store, item: Item) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(build_err)
}

/// A transaction's `Put` of `item` on condition that the stored item's `version` is still
/// `expected`; a failure returns the stored item, so [`failed_version`] tells a missing
/// item from a version mismatch.
///
/// [`failed_version`]: crate::store::transactions::failed_version
pub fn put_if_version(store: &Store, item: Item, expected: u64) -> Result<Put, StoreError> {
    Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression(AT_VERSION)
        .expression_attribute_values(":expected", n(expected))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(build_err)
}

/// A transaction's `Delete` of the item `pk`, `sk` on condition that its stored `version`
/// is still `expected`; like [`put_if_version`], a failure returns the stored item.
pub fn delete_if_version(store: &Store, pk: String, sk: String, expected: u64) -> DeleteBuilder {
    store
        .delete_in_transaction(pk, sk)
        .condition_expression(AT_VERSION)
        .expression_attribute_values(":expected", n(expected))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
}

/// A transaction's `Update` of the item `pk`, `sk` on condition that its stored `version`
/// is still `expected`, its update expression still to be set; like [`put_if_version`],
/// a failure returns the stored item. It writes only the attributes the caller names, so
/// counters that other writers change atomically are left as they are.
pub fn update_if_version(store: &Store, pk: String, sk: String, expected: u64) -> UpdateBuilder {
    store
        .update_in_transaction(pk, sk)
        .condition_expression(AT_VERSION)
        .expression_attribute_values(":expected", n(expected))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
}

/// Adds a filter expression to `request` that keeps the items whose attribute equals the
/// value, for each `(attribute, value)` with a value (all must hold).
pub fn equal_filters(mut request: QueryFluentBuilder, equals: Vec<(&str, Option<String>)>) -> QueryFluentBuilder {
    let mut conditions = Vec::new();
    for (i, (name, value)) in equals.into_iter().enumerate() {
        if let Some(value) = value {
            conditions.push(format!("#f{i} = :f{i}"));
            request = request
                .expression_attribute_names(format!("#f{i}"), name)
                .expression_attribute_values(format!(":f{i}"), s(value));
        }
    }
    if conditions.is_empty() { request } else { request.filter_expression(conditions.join(" AND ")) }
}

/// Puts `item` on a retry index partition of GSI1 until `next_attempt_at`, as
/// [`due_on_retry_index`] reads it.
pub fn on_retry_index(item: &mut Item, partition: &str, next_attempt_at: &str, id: &str) {
    use crate::store::keys::{GSI1PK, GSI1SK};
    item.insert(GSI1PK.into(), s(partition));
    item.insert(GSI1SK.into(), s(format!("{next_attempt_at}#{id}")));
}

/// The items of a retry index partition of GSI1 (`GSI1SK` = `<next_attempt_at>#<id>`)
/// that are due at `now`, oldest first, up to `limit`: one `Query` of GSI1.
pub async fn due_on_retry_index<T: DeserializeOwned>(
    store: &Store,
    partition: &str,
    now: time::OffsetDateTime,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    use crate::store::keys::{GSI1, GSI1PK, GSI1SK};
    // `~` sorts after every id character, so the bound includes `now` itself.
    let upper = format!("{}#~", crate::time_format::format(now));
    let request = store
        .client()
        .query()
        .table_name(store.table())
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :upper")
        .expression_attribute_values(":pk", s(partition))
        .expression_attribute_values(":upper", s(upper));
    let page = query_page(request, None, limit, &[PK, SK, GSI1PK, GSI1SK]).await?;
    page.items.into_iter().map(|item| serde_dynamo::from_item(item).map_err(StoreError::from)).collect()
}

/// Puts items directly, 25 per `BatchWriteItem` (what DynamoDB leaves unprocessed is
/// sent again), without conditions, claims or counters: for benchmarks and demo data
/// that bypass the API on purpose.
pub async fn put_unchecked(store: &Store, items: Vec<Item>) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut requests = Vec::with_capacity(25);
        for item in items.by_ref().take(25) {
            let put = PutRequest::builder().set_item(Some(item)).build().map_err(build_err)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut pending = Some(requests);
        for _ in 0..crate::store::transactions::UNPROCESSED_ATTEMPTS {
            let Some(requests) = pending.take() else { break };
            let output = store
                .client()
                .batch_write_item()
                .request_items(store.table(), requests)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("BatchWriteItem", e))?;
            pending = output.unprocessed_items.and_then(|mut u| u.remove(store.table())).filter(|r| !r.is_empty());
        }
    }
    Ok(())
}

/// Puts `item` whatever is stored under its key (the last write wins): one `PutItem`.
pub async fn put(store: &Store, item: Item) -> Result<(), StoreError> {
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| StoreError::dynamo("PutItem", e))?;
    Ok(())
}
