//! What the leasing repositories share: transaction outcomes, batched reads, and the
//! property counters that units and leases keep in the same transaction as their own write.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use time::{Date, OffsetDateTime};

use crate::domain::calendar;
use crate::store::keys::{self, GSI2SK, PK, SK};
use crate::store::{Item, Store, StoreError, item_key, n, number_attr, s};
use crate::time_format;

/// A transaction was cancelled because these items (by index) failed their condition;
/// each carries the item as it was, when DynamoDB returned it.
pub type FailedConditions = Vec<(usize, Option<Item>)>;

/// The conditions that cancelled a transaction; `None` when it failed otherwise.
pub fn failed_conditions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<FailedConditions> {
    let SdkError::ServiceError(service) = err else { return None };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else { return None };
    let reasons = cancelled.cancellation_reasons();
    let failed: FailedConditions = reasons
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(i, r)| (i, r.item().cloned()))
        .collect();
    // A transaction cancelled for a conflict with another transaction has no failed condition.
    (!failed.is_empty()).then_some(failed)
}

/// Whether a transaction lost a race with another one on the same items.
pub fn is_transaction_conflict<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    let SdkError::ServiceError(service) = err else { return false };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else { return false };
    cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"))
}

/// Whether the transaction item at `index` failed its condition.
pub fn condition_failed(failed: &FailedConditions, index: usize) -> bool {
    failed.iter().any(|(i, _)| *i == index)
}

/// The stored `version` of the transaction item at `index` when it failed its condition
/// and was returned (`ReturnValuesOnConditionCheckFailure::AllOld`); `None` when the
/// item did not fail, or failed because it does not exist.
pub fn failed_version(failed: &FailedConditions, index: usize) -> Option<u64> {
    version_of(failed.iter().find(|(i, _)| *i == index)?.1.as_ref())
}

/// Attempts at a transaction that keeps colliding with concurrent ones on the same
/// items (the property item is shared by every unit and lease write of a property).
pub const CONFLICT_ATTEMPTS: u32 = 10;

/// Rounds of a batch read or write for keys or items DynamoDB leaves unprocessed under
/// throttling.
pub const UNPROCESSED_ATTEMPTS: usize = 8;

/// Sends a transaction, retrying with jittered backoff while it is cancelled only
/// because concurrent transactions held the same items (`TransactionConflict`).
/// Condition failures are returned at once for the caller to interpret.
pub async fn transact_write(
    store: &Store,
    items: Vec<TransactWriteItem>,
) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>> {
    let mut attempt = 0;
    loop {
        let result = store.client().transact_write_items().set_transact_items(Some(items.clone())).send().await;
        match result {
            Err(err)
                if attempt + 1 < CONFLICT_ATTEMPTS
                    && failed_conditions(&err).is_none()
                    && is_transaction_conflict(&err) =>
            {
                attempt += 1;
                let jitter = u64::try_from(ulid::Ulid::generate().random() % 20).unwrap_or(0);
                let backoff = (5u64 << attempt.min(5)) + jitter;
                tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
            }
            other => return other.map(|_| ()),
        }
    }
}

/// Writes `items` when the first one's condition holds: `true` when written, `false`
/// when the first was refused; any other refusal is an error naming `unexpected`.
pub async fn transact_if_first(
    store: &Store,
    items: Vec<TransactWriteItem>,
    unexpected: &'static str,
) -> Result<bool, StoreError> {
    match transact(store, items).await? {
        None => Ok(true),
        Some(failed) if condition_failed(&failed, 0) => Ok(false),
        Some(_) => Err(unexpected_cancellation(unexpected)),
    }
}

/// Runs a transaction through [`transact_write`]: `Ok(None)` when it committed,
/// `Ok(Some(failed))` when conditions failed (the caller's answer), and an error
/// otherwise; one still conflicting after every attempt is a retryable error.
pub async fn transact(store: &Store, items: Vec<TransactWriteItem>) -> Result<Option<FailedConditions>, StoreError> {
    let Err(err) = transact_write(store, items).await else { return Ok(None) };
    if let Some(failed) = failed_conditions(&err) {
        return Ok(Some(failed));
    }
    let conflict = is_transaction_conflict(&err);
    let mut error = StoreError::dynamo("TransactWriteItems", err);
    if let StoreError::Dynamo { retryable, .. } = &mut error {
        *retryable |= conflict;
    }
    Err(error)
}

/// A transaction cancelled by a condition that does not fail in normal operation (an id
/// collision, an item deleted meanwhile): an error, not an answer.
pub fn unexpected_cancellation(detail: &str) -> StoreError {
    StoreError::Dynamo { operation: "TransactWriteItems", detail: detail.into(), retryable: false }
}

/// A request that failed to build (a required field left unset).
pub fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo { operation: "build", detail: e.to_string(), retryable: false }
}

/// The `version` of a returned item.
pub fn version_of(item: Option<&Item>) -> Option<u64> {
    number_attr(item, "version")
}

/// One item of a `TransactWriteItems`, built from its typed request.
pub trait TransactItem {
    fn transact_item(self) -> Result<TransactWriteItem, StoreError>;
}

impl TransactItem for Put {
    fn transact_item(self) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder().put(self).build())
    }
}

impl TransactItem for UpdateBuilder {
    fn transact_item(self) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder().update(self.build().map_err(build_err)?).build())
    }
}

impl TransactItem for DeleteBuilder {
    fn transact_item(self) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder().delete(self.build().map_err(build_err)?).build())
    }
}

impl TransactItem for ConditionCheckBuilder {
    fn transact_item(self) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder().condition_check(self.build().map_err(build_err)?).build())
    }
}

// Transaction items on one key, their expressions still to be set.
impl Store {
    /// An `Update` of the item `pk`, `sk`.
    pub fn update_in_transaction(&self, pk: impl Into<String>, sk: impl Into<String>) -> UpdateBuilder {
        Update::builder().table_name(self.table()).set_key(Some(item_key(pk, sk)))
    }

    /// A `Delete` of the item `pk`, `sk`.
    pub fn delete_in_transaction(&self, pk: impl Into<String>, sk: impl Into<String>) -> DeleteBuilder {
        Delete::builder().table_name(self.table()).set_key(Some(item_key(pk, sk)))
    }

    /// A `ConditionCheck` of the item `pk`, `sk`.
    pub fn check_in_transaction(&self, pk: impl Into<String>, sk: impl Into<String>) -> ConditionCheckBuilder {
        ConditionCheck::builder().table_name(self.table()).set_key(Some(item_key(pk, sk)))
    }
}

/// Writes `requests` (puts and deletes), 25 per `BatchWriteItem`, resending what
/// DynamoDB leaves unprocessed.
pub async fn batch_write(
    store: &Store,
    requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
) -> Result<(), StoreError> {
    let mut requests = requests.into_iter().peekable();
    while requests.peek().is_some() {
        let mut pending = Some(requests.by_ref().take(25).collect::<Vec<_>>());
        for _ in 0..UNPROCESSED_ATTEMPTS {
            let Some(chunk) = pending.take() else { break };
            let output = store
                .client()
                .batch_write_item()
                .request_items(store.table(), chunk)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("BatchWriteItem", e))?;
            pending = output.unprocessed_items.and_then(|mut u| u.remove(store.table())).filter(|r| !r.is_empty());
        }
    }
    Ok(())
}

/// Reads items by key (`PK`, `SK`), 100 distinct keys per `BatchGetItem` (which refuses
/// a key twice), retrying unprocessed keys. Missing items are simply absent from the
/// result, which is in no particular order.
pub async fn batch_get(
    store: &Store,
    keys: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Item>, StoreError> {
    let keys: Vec<(String, String)> = keys.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut items = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut request = KeysAndAttributes::builder().consistent_read(true);
        for (pk, sk) in chunk {
            request = request.keys(item_key(pk, sk));
        }
        let mut pending = Some(request.build().map_err(build_err)?);
        for _ in 0..UNPROCESSED_ATTEMPTS {
            let Some(request) = pending.take() else { break };
            let output = store
                .client()
                .batch_get_item()
                .request_items(store.table(), request)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
            if let Some(mut responses) = output.responses
                && let Some(found) = responses.remove(store.table())
            {
                items.extend(found);
            }
            pending =
                output.unprocessed_keys.and_then(|mut u| u.remove(store.table())).filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Dynamo {
                operation: "BatchGetItem",
                detail: "keys left unprocessed after retries".into(),
                retryable: true,
            });
        }
    }
    Ok(items)
}

/// A change to a property's counters, applied in the same transaction as the unit or
/// lease write that causes it. Every change bumps the property's `version` (so a
/// concurrent full replace of the property cannot write back stale counters) and its
/// `updated_at` (so delta syncs see the new figures).
#[derive(Debug, Default)]
pub struct PropertyCounters {
    /// Added to `unit_count`.
    pub units: i64,
    /// Added to the occupancy change of each day.
    pub occupancy: Vec<(Date, i64)>,
    /// Set by lease writes: the occupancy map is kept to the days from then on.
    pub settle: Option<OccupancySettlement>,
}

/// Keeps a property's occupancy map to the days from `today` on: the changes dated
/// before it, as read, move into `occupied_unit_count` (each removal conditioned on the
/// value read, so a concurrent change is never lost), and so do this write's own.
#[derive(Debug)]
pub struct OccupancySettlement {
    pub today: Date,
    /// From `Property::settled_occupancy`.
    pub settled: Vec<(String, i64)>,
}

impl PropertyCounters {
    /// `+1` on the lease's first day and `−1` the day after its last.
    pub fn add_period(&mut self, start: Date, end: Date, sign: i64) {
        self.occupancy.push((start, sign));
        if let Some(after) = end.next_day() {
            self.occupancy.push((after, -sign));
        }
    }

    /// The transaction `Update` of the property item; it requires the property to exist.
    pub fn update(
        &self,
        store: &Store,
        org_id: &str,
        property_id: &str,
        now: OffsetDateTime,
    ) -> Result<Update, StoreError> {
        let mut net: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for (day, delta) in &self.occupancy {
            *net.entry(calendar::format_date(*day)).or_default() += delta;
        }
        net.retain(|_, delta| *delta != 0);
        // Changes before today go straight into the count of units occupied before the map.
        let mut settled_count = 0;
        let mut removes = Vec::new();
        let mut settled_conditions = String::new();
        let mut settled_values = Vec::new();
        if let Some(settle) = &self.settle {
            let cut = calendar::format_date(settle.today);
            net.retain(|day, delta| {
                let future = *day >= cut;
                if !future {
                    settled_count += *delta;
                }
                future
            });
            for (i, (day, delta)) in settle.settled.iter().enumerate() {
                settled_count += delta;
                removes.push(format!("occupancy.#s{i}"));
                settled_conditions.push_str(&format!(" AND occupancy.#s{i} = :s{i}"));
                settled_values.push((format!("#s{i}"), day.clone(), format!(":s{i}"), *delta));
            }
        }
        let mut sets = vec![
            "#version = #version + :one".to_owned(),
            "updated_at = :now".to_owned(),
            "#gsi2sk = :gsi2sk".to_owned(),
        ];
        let mut update = Update::builder()
            .table_name(store.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(keys::property(property_id)))
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#gsi2sk", GSI2SK)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":gsi2sk", s(keys::by_updated(now, property_id)));
        let mut condition = "attribute_exists(PK)".to_owned();
        if self.units != 0 {
            sets.push("unit_count = unit_count + :units".into());
            update = update.expression_attribute_values(":units", n(self.units));
        }
        if settled_count != 0 {
            sets.push("occupied_unit_count = occupied_unit_count + :settled".into());
            update = update.expression_attribute_values(":settled", n(settled_count));
        }
        for (name, day, value, delta) in settled_values {
            update = update.expression_attribute_names(name, day).expression_attribute_values(value, n(delta));
        }
        condition.push_str(&settled_conditions);
        if self.settle.is_some() {
            // A failed condition on an existing property is a lost race, not a missing one.
            update = update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        if net.is_empty() && removes.is_empty() {
            // Units are created before any lease: make sure the occupancy map exists.
            sets.push("occupancy = if_not_exists(occupancy, :empty)".into());
            update = update.expression_attribute_values(":empty", AttributeValue::M(Default::default()));
        } else {
            condition.push_str(" AND attribute_exists(occupancy)");
            if !net.is_empty() {
                update = update.expression_attribute_values(":zero", n(0));
            }
            for (i, (day, delta)) in net.iter().enumerate() {
                sets.push(format!("occupancy.#d{i} = if_not_exists(occupancy.#d{i}, :zero) + :v{i}"));
                update = update
                    .expression_attribute_names(format!("#d{i}"), day)
                    .expression_attribute_values(format!(":v{i}"), n(delta));
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        update.update_expression(expression).condition_expression(condition).build().map_err(build_err)
    }
}

/// An `Idempotency-Key` to record in the same transaction as a create.
#[derive(Debug, Clone, Copy)]
pub struct IdempotentCreate<'a> {
    pub record: &'a crate::store::idempotency::IdempotencyRecord,
    /// The route, e.g. `POST /api/v1/properties/<id>/units`.
    pub scope: &'a str,
    pub key: &'a str,
}

impl IdempotentCreate<'_> {
    /// The conditional put of the record (fails when the key is already in use).
    pub fn put(&self, store: &Store, org_id: &str, now: OffsetDateTime) -> Result<TransactWriteItem, StoreError> {
        let put = self.record.put(store.table(), org_id, self.scope, self.key, now)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The unexpired record of an `Idempotency-Key`, if the key was used: read before a
/// create so that a retry replays instead of tripping over what the first request wrote.
pub async fn idempotency_record(
    store: &Store,
    org_id: &str,
    scope: &str,
    key: &str,
    now: OffsetDateTime,
) -> Result<Option<crate::store::idempotency::IdempotencyRecord>, StoreError> {
    let output = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(PK, s(keys::org(org_id)))
        .key(SK, s(keys::idempotency(scope, key)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::dynamo("GetItem", e))?;
    let Some(item) = output.item else { return Ok(None) };
    let record = crate::store::idempotency::IdempotencyRecord::from_item(item)?;
    Ok((record.expires_at >= now.unix_timestamp()).then_some(record))
}

/// The stored idempotency record when the transaction item at `index` (the record's
/// put) failed its condition.
pub fn replayed(
    failed: &FailedConditions,
    index: usize,
) -> Result<Option<crate::store::idempotency::IdempotencyRecord>, StoreError> {
    match failed.iter().find(|(i, _)| *i == index) {
        Some((_, Some(item))) => Ok(Some(crate::store::idempotency::IdempotencyRecord::from_item(item.clone())?)),
        _ => Ok(None),
    }
}

/// What a create's transaction came to.
#[derive(Debug)]
pub enum CreateTransaction {
    Written,
    /// The idempotency key was used before: its first answer.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
    /// Other conditions failed, for the caller to interpret by index.
    Refused(FailedConditions),
}

/// Writes a create's `items` and, after them, its idempotency record (if any) in one
/// transaction (see [`transact`]).
pub async fn transact_create(
    store: &Store,
    org_id: &str,
    now: OffsetDateTime,
    mut items: Vec<TransactWriteItem>,
    idempotency: Option<IdempotentCreate<'_>>,
) -> Result<CreateTransaction, StoreError> {
    let record_at = items.len();
    if let Some(idempotency) = idempotency {
        items.push(idempotency.put(store, org_id, now)?);
    }
    let Some(failed) = transact(store, items).await? else { return Ok(CreateTransaction::Written) };
    Ok(match replayed(&failed, record_at)? {
        Some(first) => CreateTransaction::Replay(Box::new(first)),
        None => CreateTransaction::Refused(failed),
    })
}
