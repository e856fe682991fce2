//! Work orders.
//!
//! | item | PK | SK | GSI1 |
//! |---|---|---|---|
//! | work order (`work_order`) | `ORG#<org>` | `WORKORDER#<wo>` | `ORG#<org>#WORKORDERS` / `<updated_at>#<wo>` |
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=WORKORDER#<wo>` |
//! | the organization's work orders by last change | GSI1: `GSI1PK=ORG#<org>#WORKORDERS`; filters are a filter expression |

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::domain::ids::WorkOrderId;
use crate::domain::work_order::{WorkOrder, WorkOrderStatus};
use crate::store::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    delete_if_version, entity_item, equal_filters, get_consistent, put_if_new, put_if_version, query_page,
};
use crate::store::transactions::{TransactItem, condition_failed, failed_version, transact};
use crate::store::{Item, Store, StoreError, item_key, s};

const ENTITY_NAME: &str = "work_order";

/// The outcome of [`WorkOrderRepository::create`].
#[derive(Debug, PartialEq, Eq)]
pub enum WorkOrderCreated {
    Created,
    PropertyMissing,
    UnitMissing,
    RequestMissing,
}

/// The outcome of a versioned write of a work order (and what it changes with it).
#[derive(Debug, PartialEq, Eq)]
pub enum WorkOrderWritten {
    Done,
    Missing,
    /// The work order, or an item changed with it, changed first.
    Changed,
}

/// Which work orders a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkOrderFilter {
    pub maintenance_request_id: Option<String>,
    pub status: Option<WorkOrderStatus>,
    pub assignee_id: Option<String>,
    pub vendor_id: Option<String>,
}

impl WorkOrderFilter {
    /// A canonical description of the filter, which pagination cursors are bound to.
    pub fn fingerprint(&self) -> String {
        format!(
            "workorders|{:?}|{:?}|{:?}|{:?}",
            self.maintenance_request_id,
            self.status.map(WorkOrderStatus::name),
            self.assignee_id,
            self.vendor_id
        )
    }
}

impl Store {
    pub fn work_orders(&self) -> WorkOrderRepository<'_> {
        WorkOrderRepository { store: self }
    }
}

pub struct WorkOrderRepository<'a> {
    store: &'a Store,
}

fn to_item(order: &WorkOrder) -> Result<Item, StoreError> {
    let mut item = entity_item(order, keys::org(&order.org_id), keys::work_order(&order.id), ENTITY_NAME)?;
    item.insert(GSI1PK.into(), s(keys::work_orders_of(&order.org_id)));
    item.insert(GSI1SK.into(), s(keys::by_updated(order.updated_at, &order.id)));
    Ok(item)
}

fn written(failed: Option<crate::store::transactions::FailedConditions>) -> WorkOrderWritten {
    match failed {
        None => WorkOrderWritten::Done,
        Some(failed) if condition_failed(&failed, 0) && failed_version(&failed, 0).is_none() => {
            WorkOrderWritten::Missing
        }
        Some(_) => WorkOrderWritten::Changed,
    }
}

impl WorkOrderRepository<'_> {
    /// One work order of the organization (strongly consistent).
    pub async fn get(&self, org_id: &str, id: &WorkOrderId) -> Result<Option<WorkOrder>, StoreError> {
        get_consistent(self.store, item_key(keys::org(org_id), keys::work_order(id.as_str()))).await
    }

    /// Creates a work order of an existing property (and unit, and request): one transaction.
    pub async fn create(&self, order: &WorkOrder) -> Result<WorkOrderCreated, StoreError> {
        let org = keys::org(&order.org_id);
        let exists = |sk: String| {
            self.store
                .check_in_transaction(org.clone(), sk)
                .condition_expression("attribute_exists(PK)")
                .transact_item()
        };
        let mut items = vec![
            put_if_new(self.store, to_item(order)?)?.transact_item()?,
            exists(keys::property(&order.property_id))?,
        ];
        let unit_at = order.unit_id.as_ref().map(|_| items.len());
        if let Some(unit_id) = &order.unit_id {
            items.push(exists(keys::unit(&order.property_id, unit_id))?);
        }
        let request_at = order.maintenance_request_id.as_ref().map(|_| items.len());
        if let Some(request_id) = &order.maintenance_request_id {
            items.push(exists(keys::maintenance_request(request_id))?);
        }
        match transact(self.store, items).await? {
            None => Ok(WorkOrderCreated::Created),
            Some(failed) if condition_failed(&failed, 1) => Ok(WorkOrderCreated::PropertyMissing),
            Some(failed) if unit_at.is_some_and(|i| condition_failed(&failed, i)) => Ok(WorkOrderCreated::UnitMissing),
            Some(failed) if request_at.is_some_and(|i| condition_failed(&failed, i)) => {
                Ok(WorkOrderCreated::RequestMissing)
            }
            Some(_) => Err(crate::store::transactions::unexpected_cancellation("work order id collision")),
        }
    }

    /// Replaces a work order still at `expected_version`, with `also` (items of the same
    /// transaction, such as its request's completion).
    pub async fn change(
        &self,
        next: &WorkOrder,
        expected_version: u64,
        also: Vec<TransactWriteItem>,
    ) -> Result<WorkOrderWritten, StoreError> {
        let mut items = vec![put_if_version(self.store, to_item(next)?, expected_version)?.transact_item()?];
        items.extend(also);
        Ok(written(transact(self.store, items).await?))
    }

    /// Deletes a work order at `expected_version`.
    pub async fn delete(&self, order: &WorkOrder, expected_version: u64) -> Result<WorkOrderWritten, StoreError> {
        let delete =
            delete_if_version(self.store, keys::org(&order.org_id), keys::work_order(&order.id), expected_version);
        Ok(written(transact(self.store, vec![delete.transact_item()?]).await?))
    }

    /// One page of the organization's work orders by last change (oldest first): a single
    /// `Query` of GSI1, the filters applied by DynamoDB.
    pub async fn list(
        &self,
        org_id: &str,
        filter: &WorkOrderFilter,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<WorkOrder>, StoreError> {
        let mut request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI1)
            .key_condition_expression("#gpk = :gpk")
            .expression_attribute_names("#gpk", GSI1PK)
            .expression_attribute_values(":gpk", s(keys::work_orders_of(org_id)));
        let equals = vec![
            ("maintenance_request_id", filter.maintenance_request_id.clone()),
            ("status", filter.status.map(|st| st.name().to_owned())),
            ("assignee_id", filter.assignee_id.clone()),
            ("vendor_id", filter.vendor_id.clone()),
        ];
        request = equal_filters(request, equals);
        query_page(request, start, limit, &[PK, SK, GSI1PK, GSI1SK])
            .await?
            .try_map(|item| Ok(serde_dynamo::from_item(item)?))
    }

    /// Every work order of one maintenance request.
    pub async fn of_request(&self, org_id: &str, request_id: &str) -> Result<Vec<WorkOrder>, StoreError> {
        let filter =
            WorkOrderFilter { maintenance_request_id: Some(request_id.to_owned()), ..WorkOrderFilter::default() };
        self.all(org_id, &filter).await
    }

    /// Every work order of one vendor.
    pub async fn of_vendor(&self, org_id: &str, vendor_id: &str) -> Result<Vec<WorkOrder>, StoreError> {
        let filter = WorkOrderFilter { vendor_id: Some(vendor_id.to_owned()), ..WorkOrderFilter::default() };
        self.all(org_id, &filter).await
    }

    /// Every work order the filter keeps, page by page.
    async fn all(&self, org_id: &str, filter: &WorkOrderFilter) -> Result<Vec<WorkOrder>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self.list(org_id, filter, start, 100).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(all),
            }
        }
    }
}
