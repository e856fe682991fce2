//! Unit items, their unit-number claims, and the property counters they keep.
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=UNIT#<prop>#<unit>` |
//! | one property's units, by id | `PK=ORG#<org>`, `SK begins_with UNIT#<prop>#` |
//! | all of the organization's units (feed) | `PK=ORG#<org>`, `SK begins_with UNIT#` |
//! | unit number claim | `PK=ORG#<org>`, `SK=UNITNO#<prop>#<lower(number)>` |

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use time::{Date, OffsetDateTime};

use crate::domain::calendar;
use crate::domain::ids::{PropertyId, UnitId};
use crate::domain::unit::Unit;
use crate::store::keys::{self, ENTITY, PK, SK};
use crate::store::page::Page;
use crate::store::page::PageKey;
use crate::store::requests::{
    VersionedPut, entity_item, get_consistent, org_prefix_query, put_at_version, put_if_new, query_filled_page,
    query_page,
};
use crate::store::transactions::{
    CreateTransaction, IdempotentCreate, PropertyCounters, build_err, condition_failed, failed_conditions,
    transact_create, transact_write, unexpected_cancellation, version_of,
};
use crate::store::{Item, Store, StoreError, n, s};

const ENTITY_NAME: &str = "unit";
const NUMBER_ENTITY: &str = "unit_number";

/// The outcome of [`UnitRepository::create`].
#[derive(Debug, PartialEq)]
pub enum UnitCreated {
    Created,
    /// The property is gone.
    PropertyMissing,
    /// Another unit of the property has this number.
    DuplicateNumber,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// The outcome of [`UnitRepository::replace`].
#[derive(Debug, PartialEq)]
pub enum UnitReplaced {
    Replaced,
    /// The unit is gone.
    Missing,
    /// Another writer changed it first; carries the version now stored.
    VersionMismatch(u64),
    /// Another unit of the property has the new number.
    DuplicateNumber,
}

/// The outcome of [`UnitRepository::delete`].
#[derive(Debug, PartialEq)]
pub enum UnitDeleted {
    Deleted,
    /// The unit is gone.
    Missing,
    /// Another writer changed it first; carries the version now stored.
    VersionMismatch(u64),
    /// A lease holds the unit today or later.
    Leased,
}

impl Store {
    pub fn units(&self) -> UnitRepository<'_> {
        UnitRepository::new(self)
    }
}

pub struct UnitRepository<'a> {
    store: &'a Store,
}

fn to_item(unit: &Unit) -> Result<Item, StoreError> {
    entity_item(unit, keys::org(&unit.org_id), keys::unit(&unit.property_id, &unit.id), ENTITY_NAME)
}

/// Maps a stored unit item.
pub fn from_item(item: Item) -> Result<Unit, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

fn key(org_id: &str, property_id: &str, unit_id: &str) -> Item {
    Item::from([(PK.into(), s(keys::org(org_id))), (SK.into(), s(keys::unit(property_id, unit_id)))])
}

impl<'a> UnitRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    fn number_claim(&self, unit: &Unit) -> Result<Put, StoreError> {
        let item = Item::from([
            (PK.into(), s(keys::org(&unit.org_id))),
            (SK.into(), s(keys::unit_number(&unit.property_id, &unit.fields.unit_number))),
            (ENTITY.into(), s(NUMBER_ENTITY)),
            ("unit_id".into(), s(&unit.id)),
        ]);
        put_if_new(self.store, item)
    }

    fn number_release(&self, unit: &Unit) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(self.store.table())
            .key(PK, s(keys::org(&unit.org_id)))
            .key(SK, s(keys::unit_number(&unit.property_id, &unit.fields.unit_number)))
            .build()
            .map_err(build_err)
    }

    /// One unit of the property (strongly consistent).
    pub async fn get(
        &self,
        org_id: &str,
        property_id: &PropertyId,
        unit_id: &UnitId,
    ) -> Result<Option<Unit>, StoreError> {
        get_consistent(self.store, key(org_id, property_id.as_str(), unit_id.as_str())).await
    }

    /// The unit a stored lease is on (strongly consistent); its ids were checked when
    /// the lease was booked.
    pub async fn of_lease(&self, lease: &crate::domain::lease::Lease) -> Result<Option<Unit>, StoreError> {
        get_consistent(self.store, key(&lease.org_id, &lease.property_id, &lease.unit_id)).await
    }

    /// Creates a unit in one transaction: the unit, its number claim, and `+1` on the
    /// property's `unit_count` (which requires the property to exist).
    pub async fn create(
        &self,
        unit: &Unit,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<UnitCreated, StoreError> {
        let put = put_if_new(self.store, to_item(unit)?)?;
        let counters = PropertyCounters { units: 1, ..Default::default() };
        let property = counters.update(self.store, &unit.org_id, &unit.property_id, unit.created_at)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().put(self.number_claim(unit)?).build(),
            TransactWriteItem::builder().update(property).build(),
        ];
        match transact_create(self.store, &unit.org_id, unit.created_at, items, idempotency).await? {
            CreateTransaction::Written => Ok(UnitCreated::Created),
            CreateTransaction::Replay(first) => Ok(UnitCreated::Replay(first)),
            CreateTransaction::Refused(failed) if condition_failed(&failed, 2) => Ok(UnitCreated::PropertyMissing),
            CreateTransaction::Refused(failed) if condition_failed(&failed, 1) => Ok(UnitCreated::DuplicateNumber),
            CreateTransaction::Refused(_) => Err(unexpected_cancellation("the new unit's id is taken")),
        }
    }

    /// Replaces a unit if its stored version is still `current.version`; a new unit
    /// number moves the claim in the same transaction.
    pub async fn replace(&self, current: &Unit, next: &Unit) -> Result<UnitReplaced, StoreError> {
        let renumbered = current.fields.unit_number.to_lowercase() != next.fields.unit_number.to_lowercase();
        if !renumbered {
            return Ok(match put_at_version(self.store, to_item(next)?, current.version).await? {
                VersionedPut::Done => UnitReplaced::Replaced,
                VersionedPut::Missing => UnitReplaced::Missing,
                VersionedPut::VersionMismatch(version) => UnitReplaced::VersionMismatch(version),
            });
        }
        let put = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(to_item(next)?))
            .condition_expression("attribute_exists(PK) AND version = :expected")
            .expression_attribute_values(":expected", n(current.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().delete(self.number_release(current)?).build(),
            TransactWriteItem::builder().put(self.number_claim(next)?).build(),
        ];
        match transact_write(self.store, items).await {
            Ok(()) => Ok(UnitReplaced::Replaced),
            Err(err) => match failed_conditions(&err) {
                Some(failed) => {
                    if let Some((_, item)) = failed.iter().find(|(i, _)| *i == 0) {
                        Ok(version_of(item.as_ref()).map_or(UnitReplaced::Missing, UnitReplaced::VersionMismatch))
                    } else {
                        Ok(UnitReplaced::DuplicateNumber)
                    }
                }
                None => Err(StoreError::dynamo("TransactWriteItems", err)),
            },
        }
    }

    /// Deletes a unit at `current.version` unless a lease holds it on `today` or later,
    /// releasing its number and taking it off the property's `unit_count`, in one transaction.
    pub async fn delete(&self, current: &Unit, today: Date, now: OffsetDateTime) -> Result<UnitDeleted, StoreError> {
        let delete = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(key(&current.org_id, &current.property_id, &current.id)))
            .condition_expression(
                "attribute_exists(PK) AND version = :expected AND (attribute_not_exists(booked_until) OR booked_until < :today)",
            )
            .expression_attribute_values(":expected", n(current.version))
            .expression_attribute_values(":today", s(calendar::format_date(today)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let counters = PropertyCounters { units: -1, ..Default::default() };
        let property = counters.update(self.store, &current.org_id, &current.property_id, now)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().delete(self.number_release(current)?).build(),
            TransactWriteItem::builder().update(property).build(),
        ];
        let result = transact_write(self.store, items).await;
        match result {
            Ok(_) => Ok(UnitDeleted::Deleted),
            Err(err) => match failed_conditions(&err) {
                Some(failed) => match failed.iter().find(|(i, _)| *i == 0) {
                    Some((_, item)) => Ok(match version_of(item.as_ref()) {
                        None => UnitDeleted::Missing,
                        Some(v) if v != current.version => UnitDeleted::VersionMismatch(v),
                        Some(_) => UnitDeleted::Leased,
                    }),
                    None => Ok(UnitDeleted::Missing),
                },
                None => Err(StoreError::dynamo("TransactWriteItems", err)),
            },
        }
    }

    /// One page of a property's units in id (creation) order: a single `Query`.
    pub async fn list(
        &self,
        org_id: &str,
        property_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Unit>, StoreError> {
        let request = org_prefix_query(self.store, org_id, keys::units_of(property_id)).consistent_read(true);
        query_page(request, start, limit, &[PK, SK]).await?.try_map(from_item)
    }

    /// One feed page: up to `limit` of the organization's units with the given `active`
    /// flag, from `start` (one `Query` per 1 MB read).
    pub async fn feed_page(
        &self,
        org_id: &str,
        active: bool,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Unit>, StoreError> {
        let request = org_prefix_query(self.store, org_id, keys::UNIT_PREFIX)
            .filter_expression("active = :active")
            .expression_attribute_values(":active", AttributeValue::Bool(active));
        query_filled_page(request, start, limit, &[PK, SK]).await?.try_map(from_item)
    }

    /// The key a page of `feed_page` ending with `unit` continues after.
    pub fn page_key(&self, unit: &Unit) -> PageKey {
        PageKey::from([
            (PK.to_owned(), keys::org(&unit.org_id)),
            (SK.to_owned(), keys::unit(&unit.property_id, &unit.id)),
        ])
    }

    /// The addresses of several properties (missing ones are left out): one
    /// `BatchGetItem` per 100 properties. The unit feed shows its property's address.
    pub async fn property_addresses(
        &self,
        org_id: &str,
        property_ids: &[String],
    ) -> Result<std::collections::HashMap<String, crate::domain::Address>, StoreError> {
        let keys = property_ids.iter().map(|id| (keys::org(org_id), keys::property(id)));
        let items = crate::store::transactions::batch_get(self.store, keys).await?;
        items
            .into_iter()
            .map(|item| {
                let property: crate::domain::Property = serde_dynamo::from_item(item)?;
                Ok((property.id, property.fields.address))
            })
            .collect()
    }

    /// Puts units directly, 25 per `BatchWriteItem`, without claims or counters: for
    /// benchmarks and demo data that bypass the API on purpose.
    pub async fn put_unchecked(&self, units: &[Unit]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(units.len());
        for unit in units {
            let put = PutRequest::builder().set_item(Some(to_item(unit)?)).build().map_err(build_err)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        crate::store::transactions::batch_write(self.store, requests).await
    }
}
