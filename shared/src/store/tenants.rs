//! Tenant items.
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=TENANT#<ten>` |
//! | one property's tenants, by id | GSI1: `GSI1PK=ORG#<org>#PROPERTY#<prop>#TENANTS`, `GSI1SK=<ten>` |
//! | all of the organization's tenants | `PK=ORG#<org>`, `SK begins_with TENANT#` |

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::store::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::store::page::Page;
use crate::store::page::PageKey;
use crate::store::requests::{
    VersionedPut, entity_item, get_consistent, org_prefix_query, put_at_version, put_if_new, query_page,
};
use crate::store::transactions::{
    CreateTransaction, IdempotentCreate, batch_get, build_err, transact_create, version_of,
};
use crate::store::{Conditional, Item, Store, StoreError, delete_or_stored, n, s};

const ENTITY_NAME: &str = "tenant";

/// The outcome of [`TenantRepository::create`].
#[derive(Debug, PartialEq)]
pub enum TenantCreated {
    Created,
    /// The property is gone.
    PropertyMissing,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// The outcome of [`TenantRepository::delete`].
#[derive(Debug, PartialEq)]
pub enum TenantDeleted {
    Deleted,
    /// The tenant is gone.
    Missing,
    /// Another writer changed it first; carries the version now stored.
    VersionMismatch(u64),
    /// A lease names the tenant.
    OnLease,
}

impl Store {
    pub fn tenants(&self) -> TenantRepository<'_> {
        TenantRepository::new(self)
    }
}

pub struct TenantRepository<'a> {
    store: &'a Store,
}

fn to_item(tenant: &Tenant) -> Result<Item, StoreError> {
    let mut item = entity_item(tenant, keys::org(&tenant.org_id), keys::tenant(&tenant.id), ENTITY_NAME)?;
    item.insert(GSI1PK.into(), s(keys::tenants_of(&tenant.org_id, &tenant.property_id)));
    item.insert(GSI1SK.into(), s(&tenant.id));
    Ok(item)
}

/// Maps a stored tenant item.
pub fn from_item(item: Item) -> Result<Tenant, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

fn key(org_id: &str, tenant_id: &str) -> Item {
    Item::from([(PK.into(), s(keys::org(org_id))), (SK.into(), s(keys::tenant(tenant_id)))])
}

impl<'a> TenantRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// One tenant of the organization (strongly consistent).
    pub async fn get(&self, org_id: &str, tenant_id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        get_consistent(self.store, key(org_id, tenant_id.as_str())).await
    }

    /// Puts tenants directly, without their property's check: for benchmarks and demo
    /// data that bypass the API on purpose.
    pub async fn put_unchecked(&self, tenants: &[Tenant]) -> Result<(), StoreError> {
        let items = tenants.iter().map(to_item).collect::<Result<Vec<_>, _>>()?;
        crate::store::requests::put_unchecked(self.store, items).await
    }

    /// Several tenants at once by the ids a stored lease names (missing ones are left
    /// out), in no particular order.
    pub async fn get_many(&self, org_id: &str, tenant_ids: &[String]) -> Result<Vec<Tenant>, StoreError> {
        let keys = tenant_ids.iter().map(|id| (keys::org(org_id), keys::tenant(id)));
        batch_get(self.store, keys).await?.into_iter().map(from_item).collect()
    }

    /// Creates a tenant of an existing property (one transaction with a check of the property).
    pub async fn create(
        &self,
        tenant: &Tenant,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<TenantCreated, StoreError> {
        let put = put_if_new(self.store, to_item(tenant)?)?;
        let property = ConditionCheck::builder()
            .table_name(self.store.table())
            .key(PK, s(keys::org(&tenant.org_id)))
            .key(SK, s(keys::property(&tenant.property_id)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().condition_check(property).build(),
        ];
        let (org_id, now) = (&tenant.org_id, tenant.created_at);
        Ok(match transact_create(self.store, org_id, now, items, idempotency).await? {
            CreateTransaction::Written => TenantCreated::Created,
            CreateTransaction::Replay(first) => TenantCreated::Replay(first),
            CreateTransaction::Refused(_) => TenantCreated::PropertyMissing,
        })
    }

    /// Replaces a tenant if its stored version is still `expected_version`.
    pub async fn replace(&self, next: &Tenant, expected_version: u64) -> Result<VersionedPut, StoreError> {
        put_at_version(self.store, to_item(next)?, expected_version).await
    }

    /// Deletes a tenant at `expected_version` unless a lease names them.
    pub async fn delete(&self, tenant: &Tenant, expected_version: u64) -> Result<TenantDeleted, StoreError> {
        let request = self
            .store
            .client()
            .delete_item()
            .table_name(self.store.table())
            .set_key(Some(key(&tenant.org_id, &tenant.id)))
            .condition_expression(
                "attribute_exists(PK) AND version = :expected AND (attribute_not_exists(lease_ids) OR size(lease_ids) = :zero)",
            )
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":zero", n(0));
        Ok(match delete_or_stored(request).await? {
            Conditional::Written => TenantDeleted::Deleted,
            Conditional::Refused(stored) => match version_of(stored.as_ref()) {
                None => TenantDeleted::Missing,
                Some(v) if v != expected_version => TenantDeleted::VersionMismatch(v),
                Some(_) => TenantDeleted::OnLease,
            },
        })
    }

    /// One page of a property's tenants in id order: a single `Query` of GSI1.
    pub async fn list(
        &self,
        org_id: &str,
        property_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Tenant>, StoreError> {
        let request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI1)
            .key_condition_expression("#gpk = :gpk")
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_values(":gpk", s(keys::tenants_of(org_id, property_id)));
        query_page(request, start, limit, &[PK, SK, GSI1PK, GSI1SK]).await?.try_map(from_item)
    }

    /// One page of all the organization's tenants in id order: a single `Query`.
    pub async fn list_all(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Tenant>, StoreError> {
        let request = org_prefix_query(self.store, org_id, keys::TENANT_PREFIX).consistent_read(true);
        query_page(request, start, limit, &[PK, SK]).await?.try_map(from_item)
    }
}
