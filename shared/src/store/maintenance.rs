//! Maintenance requests and their timelines.
//!
//! | item | PK | SK | GSI1 |
//! |---|---|---|---|
//! | request (`maintenance_request`) | `ORG#<org>` | `MAINT#<mr>` | `ORG#<org>#MAINTENANCE` / `<updated_at>#<mr>` |
//! | timeline entry (`maintenance_update`) | `ORG#<org>` | `MAINTUPDATE#<mr>#<mru>` | – |
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=MAINT#<mr>` |
//! | the organization's requests by last change, `updated_since` | GSI1: `GSI1PK=ORG#<org>#MAINTENANCE`, `GSI1SK >= <since>`; the other filters are a filter expression |
//! | one request's timeline, oldest first | `PK=ORG#<org>`, `SK begins_with MAINTUPDATE#<mr>#` |
//!
//! A create, a change and a comment are each one transaction: the request (or a check that
//! it exists), its timeline entry, and any outbox message announcing it.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::ids::MaintenanceRequestId;
use crate::domain::maintenance::{MaintenanceRequest, Priority, RequestUpdate, Status};
use crate::store::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    delete_if_version, entity_item, equal_filters, get_consistent, put_if_new, put_if_version, query_page,
};
use crate::store::transactions::{TransactItem, condition_failed, failed_version, transact};
use crate::store::{Item, Store, StoreError, item_key, s};

const REQUEST_ENTITY: &str = "maintenance_request";
const UPDATE_ENTITY: &str = "maintenance_update";

/// The outcome of [`MaintenanceRepository::create`].
#[derive(Debug, PartialEq, Eq)]
pub enum RequestCreated {
    Created,
    PropertyMissing,
    UnitMissing,
}

/// The outcome of a versioned write of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestWritten {
    Done,
    Missing,
    /// Another writer changed it first; carries the version now stored.
    VersionMismatch(u64),
}

/// Which requests a listing wants; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub property_id: Option<String>,
    pub unit_id: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<String>,
    pub tenant_id: Option<String>,
    pub updated_since: Option<OffsetDateTime>,
}

fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl RequestFilter {
    /// A canonical description of the filter, which pagination cursors are bound to.
    pub fn fingerprint(&self) -> String {
        format!(
            "maintenance|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.property_id,
            self.unit_id,
            self.status.map(Status::name),
            self.priority.as_ref().map(wire),
            self.assignee_id,
            self.tenant_id,
            self.updated_since.map(crate::time_format::format),
        )
    }
}

impl Store {
    pub fn maintenance(&self) -> MaintenanceRepository<'_> {
        MaintenanceRepository { store: self }
    }
}

pub struct MaintenanceRepository<'a> {
    store: &'a Store,
}

fn request_item(request: &MaintenanceRequest) -> Result<Item, StoreError> {
    let mut item =
        entity_item(request, keys::org(&request.org_id), keys::maintenance_request(&request.id), REQUEST_ENTITY)?;
    item.insert(GSI1PK.into(), s(keys::maintenance_requests_of(&request.org_id)));
    item.insert(GSI1SK.into(), s(keys::by_updated(request.updated_at, &request.id)));
    Ok(item)
}

fn update_sk(update: &RequestUpdate) -> String {
    format!("{}{}", keys::maintenance_updates_of(&update.request_id), update.id)
}

impl MaintenanceRepository<'_> {
    /// One request of the organization (strongly consistent).
    pub async fn get(
        &self,
        org_id: &str,
        request_id: &MaintenanceRequestId,
    ) -> Result<Option<MaintenanceRequest>, StoreError> {
        get_consistent(self.store, item_key(keys::org(org_id), keys::maintenance_request(request_id.as_str()))).await
    }

    fn put_update(&self, update: &RequestUpdate) -> Result<TransactWriteItem, StoreError> {
        let item = entity_item(update, keys::org(&update.org_id), update_sk(update), UPDATE_ENTITY)?;
        put_if_new(self.store, item)?.transact_item()
    }

    /// Creates a request of an existing property (and unit), with its first timeline entry
    /// and `messages` (outbox items): one transaction.
    pub async fn create(
        &self,
        request: &MaintenanceRequest,
        created: &RequestUpdate,
        messages: Vec<TransactWriteItem>,
    ) -> Result<RequestCreated, StoreError> {
        let org = keys::org(&request.org_id);
        let mut items = vec![
            put_if_new(self.store, request_item(request)?)?.transact_item()?,
            self.put_update(created)?,
            self.store
                .check_in_transaction(org.clone(), keys::property(&request.property_id))
                .condition_expression("attribute_exists(PK)")
                .transact_item()?,
        ];
        if let Some(unit_id) = &request.unit_id {
            items.push(
                self.store
                    .check_in_transaction(org, keys::unit(&request.property_id, unit_id))
                    .condition_expression("attribute_exists(PK)")
                    .transact_item()?,
            );
        }
        items.extend(messages);
        match transact(self.store, items).await? {
            None => Ok(RequestCreated::Created),
            Some(failed) if condition_failed(&failed, 2) => Ok(RequestCreated::PropertyMissing),
            Some(failed) if condition_failed(&failed, 3) => Ok(RequestCreated::UnitMissing),
            Some(_) => Err(crate::store::transactions::unexpected_cancellation("maintenance request id collision")),
        }
    }

    /// Replaces a request still at `expected_version`, with its timeline entries and
    /// `messages`: one transaction.
    pub async fn change(
        &self,
        next: &MaintenanceRequest,
        expected_version: u64,
        entries: &[RequestUpdate],
        messages: Vec<TransactWriteItem>,
    ) -> Result<RequestWritten, StoreError> {
        let items = self.change_items(next, expected_version, entries, messages)?;
        match transact(self.store, items).await? {
            None => Ok(RequestWritten::Done),
            Some(failed) => {
                Ok(failed_version(&failed, 0).map_or(RequestWritten::Missing, RequestWritten::VersionMismatch))
            }
        }
    }

    /// The items of [`Self::change`], the request's put first, for a transaction that
    /// changes something else as well.
    pub fn change_items(
        &self,
        next: &MaintenanceRequest,
        expected_version: u64,
        entries: &[RequestUpdate],
        messages: Vec<TransactWriteItem>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = vec![put_if_version(self.store, request_item(next)?, expected_version)?.transact_item()?];
        for entry in entries {
            items.push(self.put_update(entry)?);
        }
        items.extend(messages);
        Ok(items)
    }

    /// Adds a comment (or any entry) to the timeline of a request that still exists.
    pub async fn comment(&self, entry: &RequestUpdate) -> Result<bool, StoreError> {
        let items = vec![
            self.put_update(entry)?,
            self.store
                .check_in_transaction(keys::org(&entry.org_id), keys::maintenance_request(&entry.request_id))
                .condition_expression("attribute_exists(PK)")
                .transact_item()?,
        ];
        Ok(transact(self.store, items).await?.is_none())
    }

    /// Deletes a request at `expected_version`, then its timeline and its attachments' records.
    pub async fn delete(
        &self,
        request: &MaintenanceRequest,
        expected_version: u64,
    ) -> Result<RequestWritten, StoreError> {
        let delete = delete_if_version(
            self.store,
            keys::org(&request.org_id),
            keys::maintenance_request(&request.id),
            expected_version,
        );
        if let Some(failed) = transact(self.store, vec![delete.transact_item()?]).await? {
            return Ok(failed_version(&failed, 0).map_or(RequestWritten::Missing, RequestWritten::VersionMismatch));
        }
        let org = keys::org(&request.org_id);
        self.store.delete_prefix(&org, &keys::maintenance_updates_of(&request.id)).await?;
        // The attachments' objects stay in the bucket: the function may not delete objects.
        self.store.delete_prefix(&org, &keys::maintenance_attachments_of(&request.id)).await?;
        Ok(RequestWritten::Done)
    }

    /// One page of the organization's requests by last change (oldest first): a single
    /// `Query` of GSI1, the filters applied by DynamoDB.
    pub async fn list(
        &self,
        org_id: &str,
        filter: &RequestFilter,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<MaintenanceRequest>, StoreError> {
        let mut request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI1)
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_values(":gpk", s(keys::maintenance_requests_of(org_id)));
        request = match filter.updated_since {
            Some(since) => request
                .key_condition_expression("#gpk = :gpk AND #gsk >= :since")
                .expression_attribute_names("#gsk", GSI1SK)
                .expression_attribute_values(":since", s(crate::time_format::format(since))),
            None => request.key_condition_expression("#gpk = :gpk"),
        };
        let equals = vec![
            ("property_id", filter.property_id.clone()),
            ("unit_id", filter.unit_id.clone()),
            ("status", filter.status.map(|st| st.name().to_owned())),
            ("priority", filter.priority.as_ref().map(wire)),
            ("assignee_id", filter.assignee_id.clone()),
            ("tenant_id", filter.tenant_id.clone()),
        ];
        request = equal_filters(request, equals);
        query_page(request, start, limit, &[PK, SK, GSI1PK, GSI1SK])
            .await?
            .try_map(|item| Ok(serde_dynamo::from_item(item)?))
    }

    /// One page of a request's timeline, oldest first: a single consistent `Query`.
    pub async fn timeline(
        &self,
        org_id: &str,
        request_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<RequestUpdate>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), keys::maintenance_updates_of(request_id), start, limit).await
    }
}
