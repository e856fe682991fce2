//! Property items and their access patterns.
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=PROPERTY#<id>` |
//! | list by creation (ids are ULIDs) | `PK=ORG#<org>`, `SK BETWEEN PROPERTY#<lo> AND PROPERTY#<hi>` |
//! | list by name | GSI1: `GSI1PK=ORG#<org>#PROPERTIES`, `GSI1SK=<lower name>#<id>` |
//! | changes since (with tombstones) | GSI2: `GSI2PK=ORG#<org>#PROPERTIES`, `GSI2SK > <updated_at>` |

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ids::PropertyId;
use crate::domain::property::{Property, PropertyStatus, PropertyType};
use crate::store::idempotency::IdempotencyRecord;
use crate::store::keys::{self, ENTITY, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{VersionedPut, entity_item, get_consistent, put_at_version, put_if_new, query_page};
use crate::store::transactions::{
    CreateTransaction, IdempotentCreate, build_err, condition_failed, failed_version, transact, transact_create,
    unexpected_cancellation,
};
use crate::store::{Item, Store, StoreError, n, s};
use crate::time_format;

const COLLECTION: &str = "PROPERTIES";
const ENTITY_NAME: &str = "property";
const TOMBSTONE_ENTITY: &str = "tombstone";
/// How long a deletion stays visible to `updated_since` delta syncs.
pub const TOMBSTONE_RETENTION: time::Duration = time::Duration::days(90);

/// A deleted property, as delta syncs see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyTombstone {
    pub id: String,
    #[serde(with = "time_format::rfc3339")]
    pub deleted_at: OffsetDateTime,
}

/// A row of a property listing: a live property, or (delta syncs only) a deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyRow {
    Live(Box<Property>),
    Deleted(PropertyTombstone),
}

/// How a listing is ordered, which decides the index it reads.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyOrder {
    CreatedAt {
        descending: bool,
    },
    Name {
        descending: bool,
    },
    /// Changes at or after `since`, oldest first, tombstones included.
    UpdatedSince {
        since: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyQuery {
    pub org_id: String,
    pub order: PropertyOrder,
    pub status: Option<PropertyStatus>,
    pub property_type: Option<PropertyType>,
    pub created_after: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
}

impl PropertyQuery {
    /// A canonical description of the query, which pagination cursors are bound to.
    pub fn fingerprint(&self) -> String {
        format!(
            "properties|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.order, self.status, self.property_type, self.created_after, self.created_before
        )
    }
}

/// The outcome of [`PropertyRepository::create`].
#[derive(Debug, PartialEq)]
pub enum PropertyCreated {
    Created,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<IdempotencyRecord>),
}

/// The outcome of [`PropertyRepository::delete`].
#[derive(Debug, PartialEq)]
pub enum PropertyDeleted {
    Deleted,
    /// The property is gone.
    Missing,
    /// Another writer changed it first; carries the version now stored.
    VersionMismatch(u64),
    /// Units are still on the property (a unit with a current or future lease cannot
    /// be deleted, so neither can its property).
    HasUnits,
}

pub struct PropertyRepository<'a> {
    store: &'a Store,
}

fn to_item(property: &Property) -> Result<Item, StoreError> {
    let mut item = entity_item(property, keys::org(&property.org_id), keys::property(&property.id), ENTITY_NAME)?;
    let collection = keys::collection(&property.org_id, COLLECTION);
    item.insert(GSI1PK.into(), s(&collection));
    item.insert(GSI1SK.into(), s(keys::by_name(&property.fields.name, &property.id)));
    item.insert(GSI2PK.into(), s(collection));
    item.insert(GSI2SK.into(), s(keys::by_updated(property.updated_at, &property.id)));
    Ok(item)
}

fn from_item(item: Item) -> Result<Property, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

fn row_from_item(item: Item) -> Result<PropertyRow, StoreError> {
    let is_tombstone = item.get(ENTITY).and_then(|v| v.as_s().ok()).is_some_and(|e| e == TOMBSTONE_ENTITY);
    if is_tombstone {
        Ok(PropertyRow::Deleted(serde_dynamo::from_item(item)?))
    } else {
        Ok(PropertyRow::Live(Box::new(from_item(item)?)))
    }
}

impl<'a> PropertyRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    fn key(&self, org_id: &str, id: &str) -> [(String, AttributeValue); 2] {
        [(PK.into(), s(keys::org(org_id))), (SK.into(), s(keys::property(id)))]
    }

    /// One property of the organization (strongly consistent).
    pub async fn get(&self, org_id: &str, id: &PropertyId) -> Result<Option<Property>, StoreError> {
        get_consistent(self.store, self.key(org_id, id.as_str()).into_iter().collect()).await
    }

    /// Creates a property; with an idempotency record, atomically with it (one transaction).
    pub async fn create(
        &self,
        property: &Property,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<PropertyCreated, StoreError> {
        let item = to_item(property)?;
        // A property claims nothing but its fresh id: without a key, one plain put.
        let Some(idempotency) = idempotency else {
            self.store.put_new(item).await?;
            return Ok(PropertyCreated::Created);
        };
        let items = vec![TransactWriteItem::builder().put(put_if_new(self.store, item)?).build()];
        let (org_id, now) = (&property.org_id, property.created_at);
        match transact_create(self.store, org_id, now, items, Some(idempotency)).await? {
            CreateTransaction::Written => Ok(PropertyCreated::Created),
            CreateTransaction::Replay(first) => Ok(PropertyCreated::Replay(first)),
            CreateTransaction::Refused(_) => Err(unexpected_cancellation("the new property's id is taken")),
        }
    }

    /// Replaces a property if its stored version is still `expected_version`.
    pub async fn replace(&self, next: &Property, expected_version: u64) -> Result<VersionedPut, StoreError> {
        put_at_version(self.store, to_item(next)?, expected_version).await
    }

    /// Deletes a property at `expected_version` and leaves a tombstone, in one transaction.
    pub async fn delete(
        &self,
        property: &Property,
        expected_version: u64,
        now: OffsetDateTime,
    ) -> Result<PropertyDeleted, StoreError> {
        let delete = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(self.key(&property.org_id, &property.id).into_iter().collect()))
            .condition_expression(
                "attribute_exists(PK) AND version = :expected AND (attribute_not_exists(unit_count) OR unit_count = :none)",
            )
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":none", n(0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let tombstone = PropertyTombstone { id: property.id.clone(), deleted_at: now };
        let mut item: Item = serde_dynamo::to_item(&tombstone)?;
        item.insert(PK.into(), s(keys::org(&property.org_id)));
        item.insert(SK.into(), s(keys::tombstone(ENTITY_NAME, &property.id)));
        item.insert(GSI2PK.into(), s(keys::collection(&property.org_id, COLLECTION)));
        item.insert(GSI2SK.into(), s(keys::by_updated(now, &property.id)));
        item.insert(ENTITY.into(), s(TOMBSTONE_ENTITY));
        item.insert(EXPIRES_AT.into(), n((now + TOMBSTONE_RETENTION).unix_timestamp()));
        let put = Put::builder().table_name(self.store.table()).set_item(Some(item)).build().map_err(build_err)?;
        let items =
            vec![TransactWriteItem::builder().delete(delete).build(), TransactWriteItem::builder().put(put).build()];
        let Some(failed) = transact(self.store, items).await? else { return Ok(PropertyDeleted::Deleted) };
        if !condition_failed(&failed, 0) {
            return Err(unexpected_cancellation("the tombstone's put failed"));
        }
        Ok(match failed_version(&failed, 0) {
            None => PropertyDeleted::Missing,
            Some(version) if version != expected_version => PropertyDeleted::VersionMismatch(version),
            Some(_) => PropertyDeleted::HasUnits,
        })
    }

    /// One page of a listing: a single `Query`.
    pub async fn list(
        &self,
        query: &PropertyQuery,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<PropertyRow>, StoreError> {
        let collection = keys::collection(&query.org_id, COLLECTION);
        let mut request = self.store.client().query().table_name(self.store.table());
        let mut filters: Vec<&str> = Vec::new();
        let key_names: &[&'static str] = match &query.order {
            PropertyOrder::CreatedAt { descending } => {
                let lo = query
                    .created_after
                    .map_or_else(|| "prop_".to_owned(), |at| crate::domain::ids::lower_bound(PropertyId::PREFIX, at));
                let hi = query
                    .created_before
                    .map_or_else(|| "prop_~".to_owned(), |at| crate::domain::ids::lower_bound(PropertyId::PREFIX, at));
                request = request
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":pk", s(keys::org(&query.org_id)))
                    .expression_attribute_values(":lo", s(keys::property(&lo)))
                    .expression_attribute_values(":hi", s(keys::property(&hi)))
                    .scan_index_forward(!descending)
                    .consistent_read(true);
                &[PK, SK]
            }
            PropertyOrder::Name { descending } => {
                request = request
                    .index_name(GSI1)
                    .key_condition_expression("#gpk = :gpk")
                    .expression_attribute_names("#gpk", GSI1PK)
                    .expression_attribute_values(":gpk", s(collection))
                    .scan_index_forward(!descending);
                &[PK, SK, GSI1PK, GSI1SK]
            }
            PropertyOrder::UpdatedSince { since } => {
                request = request
                    .index_name(GSI2)
                    .key_condition_expression("#gpk = :gpk AND #gsk >= :since")
                    .expression_attribute_names("#gpk", GSI2PK)
                    .expression_attribute_names("#gsk", GSI2SK)
                    .expression_attribute_values(":gpk", s(collection))
                    .expression_attribute_values(":since", s(time_format::format(*since)));
                &[PK, SK, GSI2PK, GSI2SK]
            }
        };
        let tombstones_pass = matches!(query.order, PropertyOrder::UpdatedSince { .. });
        if let Some(status) = query.status {
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
            filters.push(if tombstones_pass {
                "(#status = :status OR attribute_not_exists(#status))"
            } else {
                "#status = :status"
            });
        }
        if let Some(kind) = query.property_type {
            request = request
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":type", s(kind.as_str()));
            filters.push(if tombstones_pass {
                "(#type = :type OR attribute_not_exists(#type))"
            } else {
                "#type = :type"
            });
        }
        // The creation-order listing filters creation time with its key condition.
        if !matches!(query.order, PropertyOrder::CreatedAt { .. }) {
            if let Some(after) = query.created_after {
                request = request
                    .expression_attribute_names("#created", "created_at")
                    .expression_attribute_values(":after", s(time_format::format(after)));
                filters.push("#created >= :after");
            }
            if let Some(before) = query.created_before {
                request = request
                    .expression_attribute_names("#created", "created_at")
                    .expression_attribute_values(":before", s(time_format::format(before)));
                filters.push("#created < :before");
            }
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        query_page(request, start, limit, key_names).await?.try_map(row_from_item)
    }
}
