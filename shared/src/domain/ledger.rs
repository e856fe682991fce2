//! A lease's ledger: charges, payments, credits and refunds in integer minor units of
//! the lease's currency, the invoices they belong to, and the running balance with its
//! payment status. Every rule here is a pure function; the store writes each entry in
//! the same transaction as the balance it produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::iso_date;
use crate::domain::ids::LedgerEntryId;
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::domain::lease::Lease;
use crate::domain::money::{Currency, Money};
use crate::time_format;

/// At most this many line items on one invoice (each is one ledger entry of the
/// invoice's transaction, which DynamoDB caps at 100 items).
pub const MAX_LINE_ITEMS: usize = 20;

/// At most this many invoices open on one lease: the balance item keeps each one's
/// outstanding amount, so payments apply without reading the invoices.
pub const MAX_OPEN_INVOICES: usize = 100;

/// What a charge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeCategory {
    Rent,
    Deposit,
    LateFee,
    Other,
}

/// What a ledger entry does to the balance: a charge or refund raises it, a payment or
/// credit lowers it, and a failed payment attempt (kept for the history) leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Charge,
    Payment,
    Credit,
    Refund,
    PaymentFailed,
}

impl EntryKind {
    /// The entry's effect on the balance, for an amount of `amount`.
    pub fn effect(self, amount: Money) -> i64 {
        match self {
            EntryKind::Charge | EntryKind::Refund => amount.0,
            EntryKind::Payment | EntryKind::Credit => -amount.0,
            EntryKind::PaymentFailed => 0,
        }
    }
}

/// Where a lease stands with its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing owed, or nothing owed yet due and nothing partly paid.
    Current,
    /// An invoice is partly paid and none is past due.
    Partial,
    /// An invoice is past its due date with an amount outstanding.
    Overdue,
    /// The lease has paid more than it was charged.
    Credit,
}

impl PaymentStatus {
    pub fn name(self) -> &'static str {
        match self {
            PaymentStatus::Current => "current",
            PaymentStatus::Partial => "partial",
            PaymentStatus::Overdue => "overdue",
            PaymentStatus::Credit => "credit",
        }
    }
}

/// One entry of a lease's ledger. Entries are never changed: a correction is another entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub org_id: String,
    pub lease_id: String,
    pub kind: EntryKind,
    /// Charges only.
    #[serde(default)]
    pub category: Option<ChargeCategory>,
    /// Always positive; `kind` gives the direction.
    pub amount: Money,
    /// The lease's balance once this entry is posted.
    pub balance_after: Money,
    pub description: String,
    #[serde(default)]
    pub invoice_id: Option<String>,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub posted_at: OffsetDateTime,
}

/// What the balance keeps of an invoice with an amount outstanding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvoice {
    #[serde(with = "iso_date")]
    pub due_date: Date,
    pub total: Money,
    pub paid: Money,
}

impl OpenInvoice {
    pub fn outstanding(&self) -> Money {
        Money(self.total.0 - self.paid.0)
    }
}

/// A lease's running balance (positive: owed; negative: credit), written in the same
/// transaction as every entry, conditioned on its `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseBalance {
    pub org_id: String,
    pub lease_id: String,
    pub property_id: String,
    pub tenant_ids: Vec<String>,
    pub currency: Currency,
    pub balance: Money,
    /// The status when the balance was last written; `overdue` comes with time, so
    /// readers use [`LeaseBalance::status_on`].
    pub payment_status: PaymentStatus,
    /// The invoices with an amount outstanding, by id.
    #[serde(default)]
    pub open_invoices: BTreeMap<String, OpenInvoice>,
    pub entry_count: u64,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// 0 before the first entry (no item stored yet).
    pub version: u64,
}

/// Why a payment cannot be applied as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("invoice {0} is not open on this lease")]
    NotOpen(String),
}

/// The part of a payment applied to one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub invoice_id: String,
    pub amount: Money,
}

/// An invoice's outstanding amount and payments after a ledger change, for the store to
/// write on the invoice item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePaid {
    pub invoice_id: String,
    pub amount_paid: Money,
    pub total: Money,
}

impl InvoicePaid {
    /// The invoice's stored status with this much paid.
    pub fn status(&self) -> InvoiceStatus {
        InvoiceStatus::of_payments(self.amount_paid, self.total)
    }

    pub fn fully_paid(&self) -> bool {
        self.status() == InvoiceStatus::Paid
    }
}

/// A change of the ledger: the entries to post and the balance they lead to.
#[derive(Debug, Clone, PartialEq)]
pub struct Posting {
    pub entries: Vec<LedgerEntry>,
    pub balance: LeaseBalance,
    /// The version the stored balance must still have (0: none stored yet).
    pub expected_version: u64,
}

/// One line to post: kind, category, amount, description, invoice and payment.
#[derive(Debug, Clone)]
pub struct EntryLine<'a> {
    pub kind: EntryKind,
    pub category: Option<ChargeCategory>,
    pub amount: Money,
    pub description: &'a str,
    pub invoice_id: Option<&'a str>,
    pub payment_id: Option<&'a str>,
}

impl LeaseBalance {
    /// The empty balance of a lease with no entries yet.
    pub fn opening(lease: &Lease, now: OffsetDateTime) -> Self {
        Self {
            org_id: lease.org_id.clone(),
            lease_id: lease.id.clone(),
            property_id: lease.property_id.clone(),
            tenant_ids: lease.tenant_ids.clone(),
            currency: lease.currency.clone(),
            balance: Money(0),
            payment_status: PaymentStatus::Current,
            open_invoices: BTreeMap::new(),
            entry_count: 0,
            updated_at: now,
            version: 0,
        }
    }

    /// The payment status on `today`.
    pub fn status_on(&self, today: Date) -> PaymentStatus {
        if self.balance.0 < 0 {
            return PaymentStatus::Credit;
        }
        if self.balance.0 == 0 {
            return PaymentStatus::Current;
        }
        let owing = || self.open_invoices.values().filter(|i| i.outstanding().0 > 0);
        if owing().any(|i| i.due_date < today) {
            PaymentStatus::Overdue
        } else if owing().any(|i| i.paid.0 > 0) {
            PaymentStatus::Partial
        } else {
            PaymentStatus::Current
        }
    }

    /// The credit a new charge can use: what was paid beyond every charge.
    pub fn available_credit(&self) -> Money {
        Money((-self.balance.0).max(0))
    }

    /// Whether another invoice can be opened.
    pub fn has_room_for_invoice(&self) -> bool {
        self.open_invoices.len() < MAX_OPEN_INVOICES
    }

    /// The open invoices a payment of `amount` pays, oldest due first (ties by id), or
    /// only those named, in the order named; what is left over is a credit.
    pub fn allocate(&self, amount: Money, named: Option<&[String]>) -> Result<Vec<Allocation>, AllocationError> {
        let order: Vec<(&String, &OpenInvoice)> = match named {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    self.open_invoices
                        .get_key_value(id)
                        .filter(|(_, i)| i.outstanding().0 > 0)
                        .ok_or_else(|| AllocationError::NotOpen(id.clone()))
                })
                .collect::<Result<_, _>>()?,
            None => {
                let mut all: Vec<_> = self.open_invoices.iter().collect();
                all.sort_by(|a, b| (a.1.due_date, a.0).cmp(&(b.1.due_date, b.0)));
                all
            }
        };
        let mut left = amount.0;
        let mut allocations = Vec::new();
        for (id, invoice) in order {
            if left == 0 {
                break;
            }
            let applied = left.min(invoice.outstanding().0);
            if applied > 0 {
                allocations.push(Allocation { invoice_id: id.clone(), amount: Money(applied) });
                left -= applied;
            }
        }
        Ok(allocations)
    }

    /// Posts `lines` in order onto a copy of this balance, with the invoice changes
    /// already made by the caller on `next` (see the `with_*` methods).
    fn post(&self, mut next: LeaseBalance, lines: &[EntryLine<'_>], now: OffsetDateTime, today: Date) -> Posting {
        let mut entries = Vec::with_capacity(lines.len());
        // Increasing ids, so the entries of one posting list in the order posted.
        let mut id = ulid::Ulid::generate();
        for line in lines {
            next.balance = Money(next.balance.0 + line.kind.effect(line.amount));
            entries.push(LedgerEntry {
                id: format!("{}_{id}", LedgerEntryId::PREFIX),
                org_id: self.org_id.clone(),
                lease_id: self.lease_id.clone(),
                kind: line.kind,
                category: line.category,
                amount: line.amount,
                balance_after: next.balance,
                description: line.description.to_owned(),
                invoice_id: line.invoice_id.map(str::to_owned),
                payment_id: line.payment_id.map(str::to_owned),
                posted_at: now,
            });
            id = id.increment().unwrap_or_else(|_| ulid::Ulid::generate());
        }
        next.open_invoices.retain(|_, i| i.outstanding().0 > 0);
        next.entry_count += entries.len() as u64;
        next.payment_status = next.status_on(today);
        next.updated_at = now;
        next.version = self.version + 1;
        Posting { entries, balance: next, expected_version: self.version }
    }

    /// Charges an invoice's lines; any credit on the lease pays it at once (returned
    /// as the invoice's `amount_paid`).
    pub fn charge_invoice(
        &self,
        invoice_id: &str,
        due_date: Date,
        lines: &[EntryLine<'_>],
        now: OffsetDateTime,
        today: Date,
    ) -> (Posting, Money) {
        let total: i64 = lines.iter().map(|l| l.amount.0).sum();
        let from_credit = Money(self.available_credit().0.min(total));
        let mut next = self.clone();
        next.open_invoices
            .insert(invoice_id.to_owned(), OpenInvoice { due_date, total: Money(total), paid: from_credit });
        (self.post(next, lines, now, today), from_credit)
    }

    /// Reverses an unpaid invoice's charges with one credit entry.
    pub fn cancel_invoice(&self, invoice_id: &str, total: Money, now: OffsetDateTime, today: Date) -> Posting {
        let mut next = self.clone();
        next.open_invoices.remove(invoice_id);
        let line = EntryLine {
            kind: EntryKind::Credit,
            category: None,
            amount: total,
            description: "Invoice cancelled",
            invoice_id: Some(invoice_id),
            payment_id: None,
        };
        self.post(next, &[line], now, today)
    }

    /// Replaces an unpaid invoice's charges of `old_total` with `lines` due on
    /// `due_date`: one credit entry that reverses the old charges, then the new charges.
    pub fn revise_invoice(
        &self,
        invoice_id: &str,
        old_total: Money,
        due_date: Date,
        lines: &[EntryLine<'_>],
        now: OffsetDateTime,
        today: Date,
    ) -> Posting {
        let total: i64 = lines.iter().map(|l| l.amount.0).sum();
        let mut next = self.clone();
        next.open_invoices.insert(invoice_id.to_owned(), OpenInvoice { due_date, total: Money(total), paid: Money(0) });
        let reversal = EntryLine {
            kind: EntryKind::Credit,
            category: None,
            amount: old_total,
            description: "Invoice revised",
            invoice_id: Some(invoice_id),
            payment_id: None,
        };
        let all: Vec<EntryLine<'_>> = std::iter::once(reversal).chain(lines.iter().map(EntryLine::clone)).collect();
        self.post(next, &all, now, today)
    }

    /// Records a payment applied as `allocations` (from [`Self::allocate`]): one
    /// payment entry, and the invoices' new paid amounts.
    pub fn receive_payment(
        &self,
        payment_id: &str,
        amount: Money,
        allocations: &[Allocation],
        now: OffsetDateTime,
        today: Date,
    ) -> (Posting, Vec<InvoicePaid>) {
        let mut next = self.clone();
        let mut paid = Vec::with_capacity(allocations.len());
        for allocation in allocations {
            if let Some(invoice) = next.open_invoices.get_mut(&allocation.invoice_id) {
                invoice.paid = Money(invoice.paid.0 + allocation.amount.0);
                paid.push(InvoicePaid {
                    invoice_id: allocation.invoice_id.clone(),
                    amount_paid: invoice.paid,
                    total: invoice.total,
                });
            }
        }
        let line = EntryLine {
            kind: EntryKind::Payment,
            category: None,
            amount,
            description: "Payment received",
            invoice_id: None,
            payment_id: Some(payment_id),
        };
        (self.post(next, &[line], now, today), paid)
    }

    /// Records a payment attempt the processor declined: an entry in the history that
    /// leaves the balance as it is.
    pub fn record_failed_payment(&self, amount: Money, description: &str, now: OffsetDateTime, today: Date) -> Posting {
        let line = EntryLine {
            kind: EntryKind::PaymentFailed,
            category: None,
            amount,
            description,
            invoice_id: None,
            payment_id: None,
        };
        self.post(self.clone(), &[line], now, today)
    }

    /// Records a refund of `amount` from a payment: one refund entry, and the invoices
    /// it un-pays (`unpaid`, from `Payment::unpaid_by_refund`, with each invoice as read)
    /// open again with their new paid amounts.
    pub fn refund_payment(
        &self,
        payment_id: &str,
        amount: Money,
        unpaid: &[(&Invoice, Money)],
        now: OffsetDateTime,
        today: Date,
    ) -> (Posting, Vec<InvoicePaid>) {
        let mut next = self.clone();
        let mut paid = Vec::with_capacity(unpaid.len());
        for (invoice, amount) in unpaid {
            let open = next.open_invoices.entry(invoice.id.clone()).or_insert_with(|| OpenInvoice {
                due_date: invoice.due_date,
                total: invoice.total,
                paid: invoice.amount_paid,
            });
            open.paid = Money((open.paid.0 - amount.0).max(0));
            paid.push(InvoicePaid { invoice_id: invoice.id.clone(), amount_paid: open.paid, total: open.total });
        }
        let line = EntryLine {
            kind: EntryKind::Refund,
            category: None,
            amount,
            description: "Payment refunded",
            invoice_id: None,
            payment_id: Some(payment_id),
        };
        (self.post(next, &[line], now, today), paid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn balance() -> LeaseBalance {
        LeaseBalance {
            org_id: "org_1".into(),
            lease_id: "lease_1".into(),
            property_id: "prop_1".into(),
            tenant_ids: vec!["ten_1".into()],
            currency: Currency::parse("USD").unwrap(),
            balance: Money(0),
            payment_status: PaymentStatus::Current,
            open_invoices: BTreeMap::new(),
            entry_count: 0,
            updated_at: datetime!(2025-01-01 0:00 UTC),
            version: 0,
        }
    }

    fn rent(amount: i64) -> EntryLine<'static> {
        EntryLine {
            kind: EntryKind::Charge,
            category: Some(ChargeCategory::Rent),
            amount: Money(amount),
            description: "Rent",
            invoice_id: Some("inv_a"),
            payment_id: None,
        }
    }

    const NOW: OffsetDateTime = datetime!(2025-01-05 12:00 UTC);
    const TODAY: Date = date!(2025 - 01 - 05);

    #[test]
    fn partial_then_full_payment_moves_partial_to_current() {
        let (charged, from_credit) =
            balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY);
        assert_eq!(from_credit, Money(0));
        let charged = charged.balance;
        assert_eq!((charged.balance, charged.status_on(TODAY)), (Money(1000), PaymentStatus::Current));
        let allocations = charged.allocate(Money(400), None).unwrap();
        let (partly, paid) = charged.receive_payment("pay_1", Money(400), &allocations, NOW, TODAY);
        assert_eq!(partly.balance.payment_status, PaymentStatus::Partial);
        assert_eq!(paid[0], InvoicePaid { invoice_id: "inv_a".into(), amount_paid: Money(400), total: Money(1000) });
        let partly = partly.balance;
        let rest = partly.allocate(Money(600), None).unwrap();
        let (cleared, paid) = partly.receive_payment("pay_2", Money(600), &rest, NOW, TODAY);
        assert!(paid[0].fully_paid());
        assert_eq!((cleared.balance.balance, cleared.balance.payment_status), (Money(0), PaymentStatus::Current));
        assert!(cleared.balance.open_invoices.is_empty());
        assert_eq!(cleared.expected_version, 2);
    }

    #[test]
    fn overpayment_is_a_credit_that_pays_the_next_invoice() {
        let charged = balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY).0.balance;
        let allocations = charged.allocate(Money(1500), None).unwrap();
        assert_eq!(allocations, vec![Allocation { invoice_id: "inv_a".into(), amount: Money(1000) }]);
        let credit = charged.receive_payment("pay_1", Money(1500), &allocations, NOW, TODAY).0.balance;
        assert_eq!((credit.balance, credit.status_on(TODAY)), (Money(-500), PaymentStatus::Credit));
        let (next, from_credit) = credit.charge_invoice("inv_b", date!(2025 - 03 - 01), &[rent(1000)], NOW, TODAY);
        assert_eq!(from_credit, Money(500));
        assert_eq!(next.balance.balance, Money(500));
        assert_eq!(next.balance.open_invoices["inv_b"].outstanding(), Money(500));
    }

    #[test]
    fn oldest_due_is_paid_first_and_past_due_is_overdue() {
        let a = balance().charge_invoice("inv_late", date!(2025 - 01 - 01), &[rent(300)], NOW, TODAY).0.balance;
        let b = a.charge_invoice("inv_early", date!(2024 - 12 - 01), &[rent(300)], NOW, TODAY).0.balance;
        assert_eq!(b.status_on(TODAY), PaymentStatus::Overdue);
        let allocations = b.allocate(Money(400), None).unwrap();
        assert_eq!(allocations[0], Allocation { invoice_id: "inv_early".into(), amount: Money(300) });
        assert_eq!(allocations[1], Allocation { invoice_id: "inv_late".into(), amount: Money(100) });
        let named = b.allocate(Money(400), Some(&["inv_late".to_owned()])).unwrap();
        assert_eq!(named, vec![Allocation { invoice_id: "inv_late".into(), amount: Money(300) }]);
        assert_eq!(b.allocate(Money(1), Some(&["inv_x".to_owned()])), Err(AllocationError::NotOpen("inv_x".into())));
    }

    #[test]
    fn a_failed_payment_is_history_that_leaves_the_balance() {
        let charged = balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY).0.balance;
        let failed = charged.record_failed_payment(Money(1000), "Card declined", NOW, TODAY);
        assert_eq!(failed.balance.balance, Money(1000));
        assert_eq!(failed.balance.open_invoices, charged.open_invoices);
        assert_eq!((failed.entries[0].kind, failed.entries[0].balance_after), (EntryKind::PaymentFailed, Money(1000)));
        assert_eq!(failed.balance.entry_count, charged.entry_count + 1);
    }

    #[test]
    fn cancelling_reverses_the_charge() {
        let charged = balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY).0.balance;
        let cancelled = charged.cancel_invoice("inv_a", Money(1000), NOW, TODAY);
        assert_eq!(cancelled.balance.balance, Money(0));
        assert_eq!(cancelled.entries[0].kind, EntryKind::Credit);
        assert!(cancelled.balance.open_invoices.is_empty());
    }

    #[test]
    fn a_refund_reopens_the_invoice_it_unpays() {
        let charged = balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY).0.balance;
        let allocations = charged.allocate(Money(1000), None).unwrap();
        let cleared = charged.receive_payment("pay_1", Money(1000), &allocations, NOW, TODAY).0.balance;
        assert!(cleared.open_invoices.is_empty());
        let invoice = Invoice {
            id: "inv_a".into(),
            org_id: "org_1".into(),
            lease_id: "lease_1".into(),
            property_id: "prop_1".into(),
            unit_id: "unit_1".into(),
            tenant_ids: vec![],
            currency: Currency::parse("USD").unwrap(),
            line_items: vec![],
            total: Money(1000),
            amount_paid: Money(1000),
            status: InvoiceStatus::Paid,
            issue_date: TODAY,
            due_date: date!(2025 - 02 - 01),
            notes: None,
            created_at: NOW,
            updated_at: NOW,
            version: 2,
        };
        let (refunded, paid) = cleared.refund_payment("pay_1", Money(400), &[(&invoice, Money(400))], NOW, TODAY);
        assert_eq!(paid, vec![InvoicePaid { invoice_id: "inv_a".into(), amount_paid: Money(600), total: Money(1000) }]);
        assert_eq!(paid[0].status(), InvoiceStatus::PartiallyPaid);
        assert_eq!((refunded.balance.balance, refunded.balance.payment_status), (Money(400), PaymentStatus::Partial));
        assert_eq!(refunded.entries[0].kind, EntryKind::Refund);
        assert_eq!(refunded.balance.open_invoices["inv_a"].outstanding(), Money(400));
    }

    #[test]
    fn revising_replaces_the_charges() {
        let charged = balance().charge_invoice("inv_a", date!(2025 - 02 - 01), &[rent(1000)], NOW, TODAY).0.balance;
        let revised = charged.revise_invoice("inv_a", Money(1000), date!(2025 - 03 - 01), &[rent(700)], NOW, TODAY);
        assert_eq!(revised.balance.balance, Money(700));
        let kinds: Vec<EntryKind> = revised.entries.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EntryKind::Credit, EntryKind::Charge]);
        assert_eq!(revised.balance.open_invoices["inv_a"].due_date, date!(2025 - 03 - 01));
    }
}
