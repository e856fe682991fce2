//! Lease items. A lease is written in one transaction with everything it must keep
//! true: the unit's bookings (no overlap), the property's occupancy, and each named
//! tenant's lease list.
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=LEASE#<lease>` |
//! | all of the organization's leases (list, feed) | `PK=ORG#<org>`, `SK begins_with LEASE#`, filters |

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use time::{Date, OffsetDateTime};

use crate::domain::calendar;
use crate::domain::ids::{LeaseId, TenantId};
use crate::domain::lease::{Lease, LeaseStatus};
use crate::domain::unit::{Bookings, Unit};
use crate::store::keys::{self, PK, SK};
use crate::store::page::Page;
use crate::store::page::PageKey;
use crate::store::requests::{
    entity_item, get_consistent, org_prefix_query, put_if_new, query_filled_page, query_page,
};
use crate::store::transactions::{
    IdempotentCreate, OccupancySettlement, PropertyCounters, batch_get, build_err, failed_conditions,
    is_transaction_conflict, replayed, transact_write,
};
use crate::store::{Item, Store, StoreError, n, s};
use crate::time_format;

const ENTITY_NAME: &str = "lease";

/// The outcome of [`LeaseRepository::create`].
#[derive(Debug, PartialEq)]
pub enum LeaseBooked {
    Booked,
    /// The unit changed since it was read (another lease, an edit): read it again.
    UnitChanged,
    /// A tenant the lease names (by position: 0 is the primary) is gone or belongs to
    /// another property.
    TenantMissing(usize),
    /// The unit or its property is gone.
    UnitMissing,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// The outcome of [`LeaseRepository::end_early`].
#[derive(Debug, PartialEq)]
pub enum LeaseEnded {
    Ended,
    /// The unit or the lease changed since they were read: read them again.
    Changed,
    /// The unit or its property is gone.
    UnitMissing,
}

/// Why a lease transaction was cancelled, by the position of the item that failed.
enum Cancelled {
    /// The unit (0) without a stored item, or the property (2).
    Missing,
    /// The unit (0) or the lease (1) is at another version, or another transaction held them.
    Changed,
    /// The tenant at this position of the lease.
    Tenant(usize),
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// Which leases a listing returns. Status filters compare dates with `today`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaseFilter {
    pub property_id: Option<String>,
    pub unit_id: Option<String>,
    pub tenant_id: Option<String>,
    pub status: Option<LeaseStatus>,
    /// `true`: Current or Future; `false`: Past.
    pub active: Option<bool>,
    pub updated_since: Option<OffsetDateTime>,
}

impl LeaseFilter {
    /// A canonical description, which pagination cursors are bound to.
    pub fn fingerprint(&self) -> String {
        format!("leases|{self:?}")
    }
}

impl Store {
    pub fn leases(&self) -> LeaseRepository<'_> {
        LeaseRepository::new(self)
    }
}

pub struct LeaseRepository<'a> {
    store: &'a Store,
}

fn to_item(lease: &Lease) -> Result<Item, StoreError> {
    let mut item = entity_item(lease, keys::org(&lease.org_id), keys::lease(&lease.id), ENTITY_NAME)?;
    crate::store::rent_runs::lease_index_keys(&mut item, lease);
    Ok(item)
}

/// Maps a stored lease item.
pub fn from_item(item: Item) -> Result<Lease, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

impl<'a> LeaseRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub async fn get(&self, org_id: &str, lease_id: &LeaseId) -> Result<Option<Lease>, StoreError> {
        get_consistent(
            self.store,
            Item::from([(PK.into(), s(keys::org(org_id))), (SK.into(), s(keys::lease(lease_id.as_str())))]),
        )
        .await
    }

    /// Puts leases directly, without their unit's bookings, the property's occupancy or
    /// the tenants' lease lists: for benchmarks and demo data that bypass the API on purpose.
    pub async fn put_unchecked(&self, leases: &[Lease]) -> Result<(), StoreError> {
        let items = leases.iter().map(to_item).collect::<Result<Vec<_>, _>>()?;
        crate::store::requests::put_unchecked(self.store, items).await
    }

    /// Several leases at once (missing ones are left out), in no particular order.
    pub async fn get_many(&self, org_id: &str, lease_ids: &[String]) -> Result<Vec<Lease>, StoreError> {
        let keys = lease_ids.iter().map(|id| (keys::org(org_id), keys::lease(id)));
        batch_get(self.store, keys).await?.into_iter().map(from_item).collect()
    }

    /// Every lease naming `tenant_id` (none when the tenant does not exist): the
    /// tenant's lease list, then one batched read of the leases.
    pub async fn of_tenant(&self, org_id: &str, tenant_id: &TenantId) -> Result<Vec<Lease>, StoreError> {
        let Some(tenant) = self.store.tenants().get(org_id, tenant_id).await? else {
            return Ok(Vec::new());
        };
        let mut leases = self.get_many(org_id, &tenant.lease_ids).await?;
        leases.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(leases)
    }

    /// Sets the unit's bookings, conditioned on the version it was read at, so that two
    /// leases racing for the same unit cannot both pass their overlap check.
    fn book(&self, unit: &Unit, bookings: &Bookings, now: OffsetDateTime) -> Result<Update, StoreError> {
        let mut sets = vec!["bookings = :bookings", "#version = :next", "updated_at = :now"];
        let mut removes = Vec::new();
        let mut update = Update::builder()
            .table_name(self.store.table())
            .key(PK, s(keys::org(&unit.org_id)))
            .key(SK, s(keys::unit(&unit.property_id, &unit.id)))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":bookings", serde_dynamo::to_attribute_value(&bookings.kept)?)
            .expression_attribute_values(":expected", n(unit.version))
            .expression_attribute_values(":next", n(unit.version + 1))
            .expression_attribute_values(":now", s(time_format::format(now)))
            .condition_expression("attribute_exists(PK) AND #version = :expected")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match bookings.booked_until() {
            Some(until) => {
                sets.push("booked_until = :until");
                update = update.expression_attribute_values(":until", s(calendar::format_date(until)));
            }
            None => removes.push("booked_until"),
        }
        if let Some(settled) = bookings.settled_until {
            sets.push("settled_until = :settled");
            update = update.expression_attribute_values(":settled", s(calendar::format_date(settled)));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        update.update_expression(expression).build().map_err(build_err)
    }

    /// Sends a lease transaction: items 0 to 2 are the unit, the lease and the property,
    /// then the tenants from `tenants_from`, then (at `record_at`) any idempotency record.
    /// `Ok(None)` when it committed.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        tenants_from: usize,
        record_at: Option<usize>,
    ) -> Result<Option<Cancelled>, StoreError> {
        let result = transact_write(self.store, items).await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => match failed_conditions(&err) {
                Some(failed)
                    if let Some(at) = record_at
                        && let Some(first) = replayed(&failed, at)? =>
                {
                    Ok(Some(Cancelled::Replay(Box::new(first))))
                }
                Some(failed) => {
                    let (index, item) = &failed[0];
                    Ok(Some(match *index {
                        0 if item.is_none() => Cancelled::Missing,
                        0 | 1 => Cancelled::Changed,
                        // The property exists but its occupancy changed since it was read.
                        2 if item.is_some() => Cancelled::Changed,
                        2 => Cancelled::Missing,
                        i if i >= tenants_from && record_at != Some(i) => Cancelled::Tenant(i - tenants_from),
                        _ => Cancelled::Changed,
                    }))
                }
                None if is_transaction_conflict(&err) => Ok(Some(Cancelled::Changed)),
                None => Err(StoreError::dynamo("TransactWriteItems", err)),
            },
        }
    }

    /// Creates a lease on `unit` (as read at its current version) in one transaction:
    /// the unit's `bookings` (from `Unit::bookings_with`), the lease, the property's
    /// occupancy (settled as `occupancy` says), and each tenant's lease list.
    pub async fn create(
        &self,
        lease: &Lease,
        unit: &Unit,
        bookings: &Bookings,
        occupancy: OccupancySettlement,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<LeaseBooked, StoreError> {
        let put = put_if_new(self.store, to_item(lease)?)?;
        let mut counters = PropertyCounters { settle: Some(occupancy), ..Default::default() };
        counters.add_period(lease.start_date, lease.effective_end, 1);
        let property = counters.update(self.store, &lease.org_id, &lease.property_id, lease.created_at)?;
        let mut items = vec![
            TransactWriteItem::builder().update(self.book(unit, bookings, lease.created_at)?).build(),
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(property).build(),
        ];
        for tenant_id in &lease.tenant_ids {
            let update = Update::builder()
                .table_name(self.store.table())
                .key(PK, s(keys::org(&lease.org_id)))
                .key(SK, s(keys::tenant(tenant_id)))
                .update_expression(
                    "SET lease_ids = list_append(if_not_exists(lease_ids, :empty), :lease), #version = #version + :one",
                )
                .condition_expression("attribute_exists(PK) AND property_id = :property")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":lease", AttributeValue::L(vec![s(&lease.id)]))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":property", s(&lease.property_id))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let mut record_at = None;
        if let Some(idempotency) = idempotency {
            record_at = Some(items.len());
            items.push(idempotency.put(self.store, &lease.org_id, lease.created_at)?);
        }
        Ok(match self.transact(items, 3, record_at).await? {
            None => LeaseBooked::Booked,
            Some(Cancelled::Missing) => LeaseBooked::UnitMissing,
            Some(Cancelled::Changed) => LeaseBooked::UnitChanged,
            Some(Cancelled::Tenant(position)) => LeaseBooked::TenantMissing(position),
            Some(Cancelled::Replay(first)) => LeaseBooked::Replay(first),
        })
    }

    /// Ends `current` early on `next.effective_end`: the lease, the unit's bookings (from
    /// `Unit::bookings_ending`) and the property's occupancy change together, each
    /// conditioned on the version read.
    pub async fn end_early(
        &self,
        current: &Lease,
        next: &Lease,
        unit: &Unit,
        bookings: &Bookings,
        occupancy: OccupancySettlement,
    ) -> Result<LeaseEnded, StoreError> {
        let put = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(to_item(next)?))
            .condition_expression("attribute_exists(PK) AND version = :expected")
            .expression_attribute_values(":expected", n(current.version))
            .build()
            .map_err(build_err)?;
        let mut counters = PropertyCounters { settle: Some(occupancy), ..Default::default() };
        counters.add_period(current.start_date, current.effective_end, -1);
        counters.add_period(next.start_date, next.effective_end, 1);
        let property = counters.update(self.store, &next.org_id, &next.property_id, next.updated_at)?;
        let items = vec![
            TransactWriteItem::builder().update(self.book(unit, bookings, next.updated_at)?).build(),
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(property).build(),
        ];
        Ok(match self.transact(items, usize::MAX, None).await? {
            None => LeaseEnded::Ended,
            Some(Cancelled::Missing) => LeaseEnded::UnitMissing,
            // Without tenants or a record in the transaction, any other failure is a change.
            Some(Cancelled::Changed | Cancelled::Tenant(_) | Cancelled::Replay(_)) => LeaseEnded::Changed,
        })
    }

    fn query(
        &self,
        org_id: &str,
        filter: &LeaseFilter,
        today: Date,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut request = org_prefix_query(self.store, org_id, keys::LEASE_PREFIX).consistent_read(true);
        let mut filters: Vec<&str> = Vec::new();
        let day = s(calendar::format_date(today));
        if let Some(property_id) = &filter.property_id {
            request = request.expression_attribute_values(":property", s(property_id));
            filters.push("property_id = :property");
        }
        if let Some(unit_id) = &filter.unit_id {
            request = request.expression_attribute_values(":unit", s(unit_id));
            filters.push("unit_id = :unit");
        }
        if let Some(tenant_id) = &filter.tenant_id {
            request = request.expression_attribute_values(":tenant", s(tenant_id));
            filters.push("contains(tenant_ids, :tenant)");
        }
        if filter.status.is_some() || filter.active.is_some() {
            request = request.expression_attribute_values(":today", day);
        }
        match filter.status {
            Some(LeaseStatus::Past) => filters.push("effective_end < :today"),
            Some(LeaseStatus::Current) => filters.push("start_date <= :today AND effective_end >= :today"),
            Some(LeaseStatus::Future) => filters.push("start_date > :today"),
            None => {}
        }
        match filter.active {
            Some(true) => filters.push("effective_end >= :today"),
            Some(false) => filters.push("effective_end < :today"),
            None => {}
        }
        if let Some(since) = filter.updated_since {
            request = request.expression_attribute_values(":since", s(time_format::format(since)));
            filters.push("updated_at >= :since");
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        request
    }

    /// One page of the organization's leases in id (creation) order: a single `Query`.
    pub async fn list(
        &self,
        org_id: &str,
        filter: &LeaseFilter,
        today: Date,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Lease>, StoreError> {
        query_page(self.query(org_id, filter, today), start, limit, &[PK, SK]).await?.try_map(from_item)
    }

    /// One feed page: up to `limit` of the organization's leases matching `filter`, from
    /// `start` (one `Query` per 1 MB read).
    pub async fn feed_page(
        &self,
        org_id: &str,
        filter: &LeaseFilter,
        today: Date,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Lease>, StoreError> {
        query_filled_page(self.query(org_id, filter, today), start, limit, &[PK, SK]).await?.try_map(from_item)
    }

    /// The key a page of `feed_page` ending with `lease` continues after.
    pub fn page_key(&self, lease: &Lease) -> PageKey {
        PageKey::from([(PK.to_owned(), keys::org(&lease.org_id)), (SK.to_owned(), keys::lease(&lease.id))])
    }
}
