//! A lease's ledger: its balance item, its entries, its invoices and its payments.
//!
//! | pattern | key condition |
//! |---|---|
//! | a lease's balance | `PK=ORG#<org>`, `SK=LEDGER#<lease>` |
//! | a lease's entries, in posting order | `PK=ORG#<org>`, `SK begins_with LEDGERENTRY#<lease>#` |
//! | one invoice / all invoices | `PK=ORG#<org>`, `SK=INVOICE#<inv>` / `SK begins_with INVOICE#` |
//! | one payment / all payments | `PK=ORG#<org>`, `SK=PAYMENT#<pay>` / `SK begins_with PAYMENT#` |
//!
//! Every change of the ledger is one transaction: the balance item (conditioned on the
//! `version` read, or on not existing yet), the new entries, and the invoice or payment
//! it concerns. Of two concurrent changes of one lease only one commits; the other
//! re-reads the balance and tries again.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::TransactWriteItem;
use time::{Date, OffsetDateTime};

use crate::domain::calendar;
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::domain::ledger::{InvoicePaid, LeaseBalance, LedgerEntry, Posting};
use crate::domain::payment::Payment;
use crate::store::events::OutboxMessage;
use crate::store::keys::{self, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    delete_if_version, entity_item, org_prefix_query, put_if_new, put_if_version, query_page,
};
use crate::store::transactions::{
    CreateTransaction, IdempotentCreate, TransactItem, batch_get, condition_failed, transact_create,
};
use crate::store::{Item, Store, StoreError, n, s};
use crate::time_format;

/// The outcome of a ledger change.
#[derive(Debug, PartialEq)]
pub enum Posted {
    Posted,
    /// Another change of the lease's ledger (or of the invoice) committed first.
    Changed,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// The outcome of [`LedgerRepository::change_invoice`].
#[derive(Debug, PartialEq)]
pub enum Revised {
    Revised,
    /// Another change of the lease's ledger or of the invoice committed first.
    Changed,
}

/// What a change of an invoice does to its item.
#[derive(Debug, Clone, Copy)]
pub enum InvoiceWrite<'a> {
    /// Stores the invoice as it is now.
    Put(&'a Invoice),
    /// Deletes the invoice.
    Delete(&'a Invoice),
}

/// Filters of the invoice listing.
#[derive(Debug, Default, Clone)]
pub struct InvoiceFilter {
    pub lease_id: Option<String>,
    /// A Tenant's own invoices: those of leases naming them.
    pub tenant_id: Option<String>,
    pub property_id: Option<String>,
    pub status: Option<InvoiceStatus>,
    /// Due on or before this day.
    pub due_before: Option<Date>,
    /// Due on or after this day.
    pub due_after: Option<Date>,
    /// Changed at or after this time.
    pub updated_since: Option<OffsetDateTime>,
}

impl InvoiceFilter {
    /// What a cursor of this listing is bound to.
    pub fn fingerprint(&self) -> String {
        format!("invoices|{self:?}")
    }
}

/// Filters of the payment listing.
#[derive(Debug, Default, Clone)]
pub struct PaymentFilter {
    pub lease_id: Option<String>,
    /// A Tenant's own payments: those of leases naming them.
    pub tenant_id: Option<String>,
    /// The payments applied (in part) to this invoice.
    pub invoice_id: Option<String>,
}

impl PaymentFilter {
    /// What a cursor of this listing is bound to.
    pub fn fingerprint(&self) -> String {
        format!("payments|{self:?}")
    }
}

impl Store {
    pub fn ledger(&self) -> LedgerRepository<'_> {
        LedgerRepository { store: self }
    }
}

/// The payment side of a refund for [`LedgerRepository::record_refund`]: the payment
/// with its new refund, the version it must still be at, and the ledger posting.
#[derive(Debug, Clone, Copy)]
pub struct RefundPosting<'a> {
    pub refunded: &'a Payment,
    pub expected_version: u64,
    pub posting: &'a Posting,
}

pub struct LedgerRepository<'a> {
    store: &'a Store,
}

/// An invoice's item, on the overdue and late-fee indexes while it is open.
pub(crate) fn invoice_item(invoice: &Invoice) -> Result<Item, StoreError> {
    let mut item = entity_item(invoice, keys::org(&invoice.org_id), keys::invoice(&invoice.id), "invoice")?;
    crate::store::rent_runs::invoice_index_keys(&mut item, invoice);
    Ok(item)
}

fn payment_item(payment: &Payment) -> Result<Item, StoreError> {
    entity_item(payment, keys::org(&payment.org_id), keys::payment(&payment.id), "payment")
}

/// The balance item and the new entries of `posting`, the balance first.
pub(crate) fn posting_items(store: &Store, posting: &Posting) -> Result<Vec<TransactWriteItem>, StoreError> {
    let balance = &posting.balance;
    let item =
        entity_item(balance, keys::org(&balance.org_id), keys::lease_balance(&balance.lease_id), "lease_balance")?;
    let put = if posting.expected_version == 0 {
        put_if_new(store, item)?
    } else {
        put_if_version(store, item, posting.expected_version)?
    };
    let mut items = vec![put.transact_item()?];
    for entry in &posting.entries {
        let item = entity_item(
            entry,
            keys::org(&entry.org_id),
            keys::ledger_entry(&entry.lease_id, &entry.id),
            "ledger_entry",
        )?;
        items.push(put_if_new(store, item)?.transact_item()?);
    }
    Ok(items)
}

/// An unpublished message outlives this long only if the bus keeps refusing it.
const OUTBOX_SECONDS: i64 = 86_400;

/// The puts of the outbox messages announcing a ledger change made at `now`.
pub(crate) fn outbox(
    store: &Store,
    messages: &[OutboxMessage],
    now: OffsetDateTime,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    messages.iter().map(|m| m.put(store, now.unix_timestamp() + OUTBOX_SECONDS)).collect()
}

/// What a create's transaction came to, when index 0 is the balance and nothing else
/// fails in normal operation.
fn posted(outcome: CreateTransaction) -> Result<Posted, StoreError> {
    Ok(match outcome {
        CreateTransaction::Written => Posted::Posted,
        CreateTransaction::Replay(first) => Posted::Replay(first),
        CreateTransaction::Refused(failed) if condition_failed(&failed, 0) => Posted::Changed,
        CreateTransaction::Refused(_) => {
            return Err(crate::store::transactions::unexpected_cancellation("a new ledger item already exists"));
        }
    })
}

/// A consistent `Query` of the organization's items under `prefix` (invoices or
/// payments), with the filter conditions for one lease and for a Tenant's own leases;
/// the caller adds its own conditions and sets the filter expression.
fn lease_query(
    store: &Store,
    org_id: &str,
    prefix: &str,
    lease_id: &Option<String>,
    tenant_id: &Option<String>,
) -> (QueryFluentBuilder, Vec<&'static str>) {
    let mut request = org_prefix_query(store, org_id, prefix).consistent_read(true);
    let mut conditions = Vec::new();
    if let Some(lease_id) = lease_id {
        conditions.push("lease_id = :lease");
        request = request.expression_attribute_values(":lease", s(lease_id));
    }
    if let Some(tenant_id) = tenant_id {
        conditions.push("contains(tenant_ids, :tenant)");
        request = request.expression_attribute_values(":tenant", s(tenant_id));
    }
    (request, conditions)
}

impl LedgerRepository<'_> {
    /// A lease's balance (strongly consistent); `None` before its first entry.
    pub async fn balance(&self, org_id: &str, lease_id: &str) -> Result<Option<LeaseBalance>, StoreError> {
        self.store.get_consistent(keys::org(org_id), keys::lease_balance(lease_id)).await
    }

    /// The balances of several leases (those with entries), in no particular order.
    pub async fn balances(&self, org_id: &str, lease_ids: &[String]) -> Result<Vec<LeaseBalance>, StoreError> {
        let keys = lease_ids.iter().map(|id| (keys::org(org_id), keys::lease_balance(id)));
        batch_get(self.store, keys).await?.into_iter().map(|i| Ok(serde_dynamo::from_item(i)?)).collect()
    }

    /// One page of a lease's entries in posting order.
    pub async fn entries(
        &self,
        org_id: &str,
        lease_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), keys::ledger_entries_of(lease_id), start, limit).await
    }

    /// The organization's name, as identity stores it; `None` when it has no record.
    pub async fn organization_name(&self, org_id: &str) -> Result<Option<String>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Named {
            name: String,
        }
        let named: Option<Named> = self.store.get_consistent(keys::org(org_id), "ORGANIZATION").await?;
        Ok(named.map(|n| n.name))
    }

    pub async fn invoice(&self, org_id: &str, invoice_id: &str) -> Result<Option<Invoice>, StoreError> {
        self.store.get_consistent(keys::org(org_id), keys::invoice(invoice_id)).await
    }

    /// Several invoices of the organization, in no particular order (one `BatchGetItem`).
    pub async fn invoices(&self, org_id: &str, invoice_ids: &[String]) -> Result<Vec<Invoice>, StoreError> {
        if invoice_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = invoice_ids.iter().map(|id| (keys::org(org_id), keys::invoice(id)));
        batch_get(self.store, keys).await?.into_iter().map(|i| Ok(serde_dynamo::from_item(i)?)).collect()
    }

    pub async fn payment(&self, org_id: &str, payment_id: &str) -> Result<Option<Payment>, StoreError> {
        self.store.get_consistent(keys::org(org_id), keys::payment(payment_id)).await
    }

    /// Creates an invoice: issued, with its charges and the balance (`posting`), or a
    /// draft (no posting, not on the ledger), and the `messages` announcing it, in one
    /// transaction.
    pub async fn issue_invoice(
        &self,
        invoice: &Invoice,
        posting: Option<&Posting>,
        messages: &[OutboxMessage],
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<Posted, StoreError> {
        let mut items = match posting {
            Some(posting) => posting_items(self.store, posting)?,
            None => Vec::new(),
        };
        items.push(put_if_new(self.store, invoice_item(invoice)?)?.transact_item()?);
        items.extend(outbox(self.store, messages, invoice.created_at)?);
        posted(transact_create(self.store, &invoice.org_id, invoice.created_at, items, idempotency).await?)
    }

    /// Changes an invoice still at `expected_version` (stores or deletes it), with the
    /// ledger change it makes, if any (`posting`: issuing a draft, revising its lines,
    /// the credit that reverses it), and the `messages` announcing it, in one transaction.
    pub async fn change_invoice(
        &self,
        change: InvoiceWrite<'_>,
        expected_version: u64,
        posting: Option<&Posting>,
        messages: &[OutboxMessage],
        now: OffsetDateTime,
    ) -> Result<Revised, StoreError> {
        let mut items = match posting {
            Some(posting) => posting_items(self.store, posting)?,
            None => Vec::new(),
        };
        let invoice_at = items.len();
        items.push(match change {
            InvoiceWrite::Put(invoice) => {
                put_if_version(self.store, invoice_item(invoice)?, expected_version)?.transact_item()?
            }
            InvoiceWrite::Delete(invoice) => {
                let (pk, sk) = (keys::org(&invoice.org_id), keys::invoice(&invoice.id));
                delete_if_version(self.store, pk, sk, expected_version).transact_item()?
            }
        });
        items.extend(outbox(self.store, messages, now)?);
        let Some(failed) = crate::store::transactions::transact(self.store, items).await? else {
            return Ok(Revised::Revised);
        };
        if (posting.is_some() && condition_failed(&failed, 0)) || condition_failed(&failed, invoice_at) {
            return Ok(Revised::Changed);
        }
        Err(crate::store::transactions::unexpected_cancellation("a new ledger entry already exists"))
    }

    /// Announces `messages` about an invoice that is still at `version`; `Changed` when
    /// it is not.
    pub async fn announce_invoice(
        &self,
        invoice: &Invoice,
        messages: &[OutboxMessage],
        now: OffsetDateTime,
    ) -> Result<Revised, StoreError> {
        let check = self
            .store
            .check_in_transaction(keys::org(&invoice.org_id), keys::invoice(&invoice.id))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(invoice.version));
        let mut items = vec![check.transact_item()?];
        items.extend(outbox(self.store, messages, now)?);
        match crate::store::transactions::transact(self.store, items).await? {
            None => Ok(Revised::Revised),
            Some(_) => Ok(Revised::Changed),
        }
    }

    /// A payment's transaction items: the balance (index 0) and entries of `posting`, the
    /// payment, each invoice it paid (their paid amounts come from the balance, which
    /// every change goes through) and the `messages` announcing it.
    pub(crate) fn payment_items(
        &self,
        payment: &Payment,
        posting: &Posting,
        paid: &[InvoicePaid],
        messages: &[OutboxMessage],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = posting_items(self.store, posting)?;
        items.push(put_if_new(self.store, payment_item(payment)?)?.transact_item()?);
        let now = payment.created_at;
        items.extend(self.invoices_paid(&payment.org_id, paid, &[], now)?);
        items.extend(outbox(self.store, messages, now)?);
        Ok(items)
    }

    /// Records a payment: the payment, its entry, the balance and each invoice it paid
    /// (their paid amounts come from the balance, which every change goes through).
    pub async fn record_payment(
        &self,
        payment: &Payment,
        posting: &Posting,
        paid: &[InvoicePaid],
        messages: &[OutboxMessage],
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<Posted, StoreError> {
        let items = self.payment_items(payment, posting, paid, messages)?;
        posted(transact_create(self.store, &payment.org_id, payment.created_at, items, idempotency).await?)
    }

    /// Records a refund: `refunded` (the payment with the refund, still at
    /// `expected_version` when stored), its entry, the balance, each invoice it
    /// un-paid (`stored`: those invoices as the caller read them after the balance, so
    /// they are not read again) and the `messages` announcing it. `Changed` when the
    /// balance or the payment moved meanwhile: the caller
    /// re-reads both (and finds a refund with the same external reference, if that was
    /// the change) and tries again.
    pub async fn record_refund(
        &self,
        refund: RefundPosting<'_>,
        unpaid: &[InvoicePaid],
        stored: &[Invoice],
        messages: &[OutboxMessage],
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<Posted, StoreError> {
        let RefundPosting { refunded, expected_version, posting } = refund;
        let mut items = posting_items(self.store, posting)?;
        let payment_at = items.len();
        items.push(put_if_version(self.store, payment_item(refunded)?, expected_version)?.transact_item()?);
        let now = refunded.updated_at();
        let reopened: Vec<Invoice> =
            stored.iter().filter(|i| unpaid.iter().any(|u| u.invoice_id == i.id && !u.fully_paid())).cloned().collect();
        items.extend(self.invoices_paid(&refunded.org_id, unpaid, &reopened, now)?);
        items.extend(outbox(self.store, messages, now)?);
        match transact_create(self.store, &refunded.org_id, now, items, idempotency).await? {
            CreateTransaction::Refused(failed) if condition_failed(&failed, payment_at) => Ok(Posted::Changed),
            outcome => posted(outcome),
        }
    }

    /// Stores a payment's changed memo or reference if it is still at
    /// `expected_version`; `false` when it is not.
    pub async fn replace_payment(&self, payment: &Payment, expected_version: u64) -> Result<bool, StoreError> {
        let put = put_if_version(self.store, payment_item(payment)?, expected_version)?;
        Ok(crate::store::transactions::transact(self.store, vec![put.transact_item()?]).await?.is_none())
    }

    /// The updates of invoices whose paid amount a ledger change moved. One paid in full
    /// leaves the open-invoice and late-fee indexes; one a refund re-opens (`reopened`:
    /// the stored invoices the refund un-pays) goes back on them.
    fn invoices_paid(
        &self,
        org_id: &str,
        paid: &[InvoicePaid],
        reopened: &[Invoice],
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        paid.iter()
            .map(|invoice| {
                let mut update = self
                    .store
                    .update_in_transaction(keys::org(org_id), keys::invoice(&invoice.invoice_id))
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":paid", n(invoice.amount_paid.0))
                    .expression_attribute_values(":status", s(invoice.status().name()))
                    .expression_attribute_values(":now", s(time_format::format(now)))
                    .expression_attribute_values(":one", n(1));
                let mut set = String::from("SET amount_paid = :paid, #status = :status, updated_at = :now");
                if let Some(stored) = reopened.iter().find(|i| i.id == invoice.invoice_id) {
                    let mut index = Item::new();
                    let reopened = Invoice { status: invoice.status(), ..stored.clone() };
                    crate::store::rent_runs::invoice_index_keys(&mut index, &reopened);
                    for (at, (name, value)) in index.into_iter().enumerate() {
                        set.push_str(&format!(", {name} = :index{at}"));
                        update = update.expression_attribute_values(format!(":index{at}"), value);
                    }
                }
                let expression = match invoice.fully_paid() {
                    true => format!("{set} ADD #version :one {}", crate::store::rent_runs::CLOSED_INVOICE_INDEX_KEYS),
                    false => format!("{set} ADD #version :one"),
                };
                update.update_expression(expression).transact_item()
            })
            .collect()
    }

    /// One page of the organization's invoices in id (creation) order, filtered.
    pub async fn list_invoices(
        &self,
        org_id: &str,
        filter: &InvoiceFilter,
        today: Date,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Invoice>, StoreError> {
        let (mut request, mut conditions) =
            lease_query(self.store, org_id, keys::INVOICE_PREFIX, &filter.lease_id, &filter.tenant_id);
        if let Some(property_id) = &filter.property_id {
            conditions.push("property_id = :property");
            request = request.expression_attribute_values(":property", s(property_id));
        }
        if let Some(day) = filter.due_before {
            conditions.push("due_date <= :due_before");
            request = request.expression_attribute_values(":due_before", s(calendar::format_date(day)));
        }
        if let Some(day) = filter.due_after {
            conditions.push("due_date >= :due_after");
            request = request.expression_attribute_values(":due_after", s(calendar::format_date(day)));
        }
        if let Some(since) = filter.updated_since {
            conditions.push("updated_at >= :since");
            request = request.expression_attribute_values(":since", s(time_format::format(since)));
        }
        if let Some(status) = filter.status {
            let today = calendar::format_date(today);
            match status {
                InvoiceStatus::Overdue => {
                    conditions.push("#status IN (:open, :partly) AND due_date < :today");
                    request = request
                        .expression_attribute_values(":open", s(InvoiceStatus::Open.name()))
                        .expression_attribute_values(":partly", s(InvoiceStatus::PartiallyPaid.name()))
                        .expression_attribute_values(":today", s(today));
                }
                InvoiceStatus::Open | InvoiceStatus::PartiallyPaid => {
                    conditions.push("#status = :status AND due_date >= :today");
                    request = request
                        .expression_attribute_values(":status", s(status.name()))
                        .expression_attribute_values(":today", s(today));
                }
                _ => {
                    conditions.push("#status = :status");
                    request = request.expression_attribute_values(":status", s(status.name()));
                }
            }
            request = request.expression_attribute_names("#status", "status");
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        query_page(request, start, limit, &[PK, SK]).await?.try_map(|i| Ok(serde_dynamo::from_item(i)?))
    }

    /// One page of the organization's payments in id (creation) order, filtered.
    pub async fn list_payments(
        &self,
        org_id: &str,
        filter: &PaymentFilter,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Payment>, StoreError> {
        let (mut request, mut conditions) =
            lease_query(self.store, org_id, keys::PAYMENT_PREFIX, &filter.lease_id, &filter.tenant_id);
        if let Some(invoice_id) = &filter.invoice_id {
            conditions.push("contains(invoice_ids, :invoice)");
            request = request.expression_attribute_values(":invoice", s(invoice_id));
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        query_page(request, start, limit, &[PK, SK]).await?.try_map(|i| Ok(serde_dynamo::from_item(i)?))
    }
}

/// One page of the organization's items under `prefix`, in id order, of one lease or of
/// a Tenant's own leases when those filters are given.
pub(crate) async fn lease_filtered_page<T: serde::de::DeserializeOwned>(
    store: &Store,
    org_id: &str,
    prefix: &str,
    lease_id: &Option<String>,
    tenant_id: &Option<String>,
    start: Option<PageKey>,
    limit: usize,
) -> Result<Page<T>, StoreError> {
    let (mut request, conditions) = lease_query(store, org_id, prefix, lease_id, tenant_id);
    if !conditions.is_empty() {
        request = request.filter_expression(conditions.join(" AND "));
    }
    query_page(request, start, limit, &[PK, SK]).await?.try_map(|i| Ok(serde_dynamo::from_item(i)?))
}
