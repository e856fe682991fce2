//! Saved payment methods: references to methods a processor holds, one lease's each.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | payment method (`payment_method`) | `ORG#<org>` | `PAYMETHOD#<pm>` |
//!
//! | pattern | key condition |
//! |---|---|
//! | the organization's methods, by id (filtered by lease or by a Tenant's leases) | `PK=ORG#<org>`, `SK begins_with PAYMETHOD#` |

use crate::domain::payment_method::SavedPaymentMethod;
use crate::store::keys;
use crate::store::ledger::lease_filtered_page;
use crate::store::page::{Page, PageKey};
use crate::store::requests::{entity_item, put_if_new};
use crate::store::transactions::{CreateTransaction, IdempotentCreate, TransactItem, transact_create};
use crate::store::{Store, StoreError};

/// The outcome of [`PaymentMethodRepository::create`].
#[derive(Debug, PartialEq)]
pub enum MethodSaved {
    Saved,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// Filters of the payment-method listing.
#[derive(Debug, Default, Clone)]
pub struct MethodFilter {
    pub lease_id: Option<String>,
    /// A Tenant's own methods: those of leases naming them.
    pub tenant_id: Option<String>,
}

impl MethodFilter {
    /// What a cursor of this listing is bound to.
    pub fn fingerprint(&self) -> String {
        format!(
            "payment-methods|{}|{}",
            self.lease_id.as_deref().unwrap_or(""),
            self.tenant_id.as_deref().unwrap_or("")
        )
    }
}

impl Store {
    pub fn payment_methods(&self) -> PaymentMethodRepository<'_> {
        PaymentMethodRepository { store: self }
    }
}

pub struct PaymentMethodRepository<'a> {
    store: &'a Store,
}

impl PaymentMethodRepository<'_> {
    /// Saves a new method, with the request's `Idempotency-Key` record if any.
    pub async fn create(
        &self,
        method: &SavedPaymentMethod,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<MethodSaved, StoreError> {
        let item = entity_item(method, keys::org(&method.org_id), keys::payment_method(&method.id), "payment_method")?;
        let items = vec![put_if_new(self.store, item)?.transact_item()?];
        match transact_create(self.store, &method.org_id, method.created_at, items, idempotency).await? {
            CreateTransaction::Written => Ok(MethodSaved::Saved),
            CreateTransaction::Replay(first) => Ok(MethodSaved::Replay(first)),
            CreateTransaction::Refused(_) => {
                Err(crate::store::transactions::unexpected_cancellation("a new payment method's id already exists"))
            }
        }
    }

    /// One page of the organization's methods in id (creation) order, filtered.
    pub async fn list(
        &self,
        org_id: &str,
        filter: &MethodFilter,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<SavedPaymentMethod>, StoreError> {
        lease_filtered_page(
            self.store,
            org_id,
            keys::PAYMENT_METHOD_PREFIX,
            &filter.lease_id,
            &filter.tenant_id,
            start,
            limit,
        )
        .await
    }
}
