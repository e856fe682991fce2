//! Vendors.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | vendor (`vendor`) | `ORG#<org>` | `VENDOR#<ven>` |
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=VENDOR#<ven>` |
//! | the organization's vendors, by id | `PK=ORG#<org>`, `SK begins_with VENDOR#` |

use crate::domain::ids::VendorId;
use crate::domain::vendor::Vendor;
use crate::store::keys::{self, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    VersionedPut, delete_if_version, entity_item, get_consistent, org_prefix_query, put_at_version, query_page,
};
use crate::store::transactions::{TransactItem, failed_version, transact};
use crate::store::{Item, Store, StoreError, item_key};

const ENTITY_NAME: &str = "vendor";

impl Store {
    pub fn vendors(&self) -> VendorRepository<'_> {
        VendorRepository { store: self }
    }
}

pub struct VendorRepository<'a> {
    store: &'a Store,
}

fn to_item(vendor: &Vendor) -> Result<Item, StoreError> {
    entity_item(vendor, keys::org(&vendor.org_id), keys::vendor(&vendor.id), ENTITY_NAME)
}

impl VendorRepository<'_> {
    /// One vendor of the organization (strongly consistent).
    pub async fn get(&self, org_id: &str, id: &VendorId) -> Result<Option<Vendor>, StoreError> {
        get_consistent(self.store, item_key(keys::org(org_id), keys::vendor(id.as_str()))).await
    }

    pub async fn create(&self, vendor: &Vendor) -> Result<(), StoreError> {
        self.store.put_new(to_item(vendor)?).await
    }

    /// Replaces a vendor if its stored version is still `expected_version`.
    pub async fn replace(&self, next: &Vendor, expected_version: u64) -> Result<VersionedPut, StoreError> {
        put_at_version(self.store, to_item(next)?, expected_version).await
    }

    /// Deletes a vendor at `expected_version`.
    pub async fn delete(&self, vendor: &Vendor, expected_version: u64) -> Result<VersionedPut, StoreError> {
        let delete =
            delete_if_version(self.store, keys::org(&vendor.org_id), keys::vendor(&vendor.id), expected_version);
        Ok(match transact(self.store, vec![delete.transact_item()?]).await? {
            None => VersionedPut::Done,
            Some(failed) => failed_version(&failed, 0).map_or(VersionedPut::Missing, VersionedPut::VersionMismatch),
        })
    }

    /// One page of the organization's vendors in id order: a single consistent `Query`.
    pub async fn list(&self, org_id: &str, start: Option<PageKey>, limit: usize) -> Result<Page<Vendor>, StoreError> {
        let request = org_prefix_query(self.store, org_id, keys::VENDOR_PREFIX).consistent_read(true);
        query_page(request, start, limit, &[PK, SK]).await?.try_map(|item| Ok(serde_dynamo::from_item(item)?))
    }
}
