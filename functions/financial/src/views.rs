//! What clients see of invoices, payments and ledgers. Money is a two-place decimal in
//! the owning object's `currency`.

use serde::Serialize;
use shared::domain::calendar;
use shared::domain::invoice::{Invoice, InvoiceStatus};
use shared::domain::late_fee::{LateFee, LateFeePolicy, LateFeeType};
use shared::domain::ledger::{
    Allocation, ChargeCategory, EntryKind, InvoicePaid, LeaseBalance, LedgerEntry, PaymentStatus,
};
use shared::domain::money::{Decimal2, Money};
use shared::domain::payment::{Payment, PaymentMethod, PaymentState};
use shared::domain::payment_method::{MethodKind, Processor, SavedPaymentMethod};
use shared::domain::rent_run::{RentRun, RentRunTrigger};
use shared::time_format;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// One line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineItemView {
    pub description: String,
    pub category: ChargeCategory,
    #[schema(value_type = f64, example = 2400.00)]
    pub amount: Decimal2,
}

/// An invoice on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    #[schema(example = "inv_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub lease_id: String,
    pub property_id: String,
    pub unit_id: String,
    /// The lease's tenants.
    pub tenant_ids: Vec<String>,
    /// ISO 4217.
    pub currency: String,
    pub line_items: Vec<LineItemView>,
    #[schema(value_type = f64)]
    pub total: Decimal2,
    #[schema(value_type = f64)]
    pub amount_paid: Decimal2,
    #[schema(value_type = f64)]
    pub amount_due: Decimal2,
    /// `overdue` when unpaid past the due date (today, UTC).
    pub status: InvoiceStatus,
    /// `YYYY-MM-DD`.
    pub issue_date: String,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    pub notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&Invoice> for InvoiceView {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id.clone(),
            lease_id: i.lease_id.clone(),
            property_id: i.property_id.clone(),
            unit_id: i.unit_id.clone(),
            tenant_ids: i.tenant_ids.clone(),
            currency: i.currency.as_str().to_owned(),
            line_items: i
                .line_items
                .iter()
                .map(|l| LineItemView {
                    description: l.description.clone(),
                    category: l.category,
                    amount: Decimal2(l.amount),
                })
                .collect(),
            total: Decimal2(i.total),
            amount_paid: Decimal2(i.amount_paid),
            amount_due: Decimal2(i.outstanding()),
            status: i.status_on(calendar::today()),
            issue_date: calendar::format_date(i.issue_date),
            due_date: calendar::format_date(i.due_date),
            notes: i.notes.clone(),
            created_at: time_format::format(i.created_at),
            updated_at: time_format::format(i.updated_at),
            version: i.version,
        }
    }
}

/// The part of a payment applied to one invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationView {
    pub invoice_id: String,
    #[schema(value_type = f64)]
    pub amount: Decimal2,
}

/// A payment on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    #[schema(example = "pay_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub lease_id: String,
    pub property_id: String,
    pub tenant_ids: Vec<String>,
    /// ISO 4217.
    pub currency: String,
    #[schema(value_type = f64, example = 1200.00)]
    pub amount: Decimal2,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    /// `completed`, or `partially_refunded` / `refunded` once refunds give some or all
    /// of it back.
    pub status: PaymentState,
    /// The invoices it paid, in order.
    pub applied_to: Vec<AllocationView>,
    /// What was left over and became a credit on the lease.
    #[schema(value_type = f64)]
    pub credited: Decimal2,
    /// What its refunds gave back.
    #[schema(value_type = f64)]
    pub refunded_amount: Decimal2,
    /// Its refunds, oldest first.
    pub refunds: Vec<RefundView>,
    pub memo: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

/// A refund of a payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    #[schema(example = "rfd_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    #[schema(value_type = f64)]
    pub amount: Decimal2,
    pub reason: String,
    /// The payment processor's id of the refund, when it came from one.
    pub external_reference: Option<String>,
    /// The invoices it re-opened, latest allocation first.
    pub unpaid: Vec<AllocationView>,
    pub refunded_at: String,
}

fn allocations(allocations: &[Allocation]) -> Vec<AllocationView> {
    allocations
        .iter()
        .map(|a| AllocationView { invoice_id: a.invoice_id.clone(), amount: Decimal2(a.amount) })
        .collect()
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.clone(),
            lease_id: p.lease_id.clone(),
            property_id: p.property_id.clone(),
            tenant_ids: p.tenant_ids.clone(),
            currency: p.currency.as_str().to_owned(),
            amount: Decimal2(p.amount),
            method: p.method,
            reference: p.reference.clone(),
            received_on: calendar::format_date(p.received_on),
            status: p.state(),
            applied_to: allocations(&p.allocations),
            credited: Decimal2(p.unapplied),
            refunded_amount: Decimal2(p.refunded_amount),
            refunds: p
                .refunds
                .iter()
                .map(|r| RefundView {
                    id: r.id.clone(),
                    amount: Decimal2(r.amount),
                    reason: r.reason.clone(),
                    external_reference: r.external_reference.clone(),
                    unpaid: allocations(&r.unpaid),
                    refunded_at: time_format::format(r.refunded_at),
                })
                .collect(),
            memo: p.memo.clone(),
            created_at: time_format::format(p.created_at),
            updated_at: time_format::format(p.updated_at()),
            version: p.version,
        }
    }
}

/// One ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: String,
    pub kind: EntryKind,
    /// Charges only.
    pub category: Option<ChargeCategory>,
    /// Positive; `kind` gives the direction (charges and refunds raise the balance).
    #[schema(value_type = f64)]
    pub amount: Decimal2,
    #[schema(value_type = f64)]
    pub balance_after: Decimal2,
    pub description: String,
    pub invoice_id: Option<String>,
    pub payment_id: Option<String>,
    pub posted_at: String,
}

impl From<&LedgerEntry> for LedgerEntryView {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id.clone(),
            kind: e.kind,
            category: e.category,
            amount: Decimal2(e.amount),
            balance_after: Decimal2(e.balance_after),
            description: e.description.clone(),
            invoice_id: e.invoice_id.clone(),
            payment_id: e.payment_id.clone(),
            posted_at: time_format::format(e.posted_at),
        }
    }
}

/// A lease's ledger: its balance and one page of its entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    pub lease_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Owed (positive) or credit (negative).
    #[schema(value_type = f64, example = 1200.00)]
    pub balance: Decimal2,
    /// Today (UTC): `overdue` when an invoice is unpaid past its due date.
    pub payment_status: PaymentStatus,
    pub entry_count: u64,
    /// Entries in posting order, one page.
    pub entries: Vec<LedgerEntryView>,
    /// Pass as `cursor` for the next page of entries; null on the last.
    pub next_cursor: Option<String>,
}

impl LedgerView {
    pub fn new(balance: &LeaseBalance, entries: &[LedgerEntry], next_cursor: Option<String>) -> Self {
        Self {
            lease_id: balance.lease_id.clone(),
            currency: balance.currency.as_str().to_owned(),
            balance: Decimal2(balance.balance),
            payment_status: balance.status_on(calendar::today()),
            entry_count: balance.entry_count,
            entries: entries.iter().map(LedgerEntryView::from).collect(),
            next_cursor,
        }
    }
}

/// Whether a rent run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RentRunStatus {
    Running,
    Finished,
}

/// What a rent run did in the caller's organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct RentRunView {
    #[schema(example = "rrun_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    /// `YYYY-MM-DD`: the day the run charged rent and late fees for.
    pub date: String,
    /// `scheduled` (the daily schedule) or `requested` (`POST /api/v1/financial/rent-runs`).
    pub trigger: RentRunTrigger,
    pub status: RentRunStatus,
    /// Rent invoices issued.
    pub issued: u64,
    /// Leases whose rent for the period had been issued already.
    pub already_issued: u64,
    /// Late fees charged.
    pub late_fees: u64,
    /// Overdue invoices whose late fee had been charged already.
    pub late_fees_already: u64,
    /// Leases or invoices that could not be charged.
    pub errors: u64,
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl RentRunView {
    /// The view of `run`, finished at `finished_at` (a scheduled run's is its day's, across organizations).
    pub fn new(run: &RentRun, finished_at: Option<OffsetDateTime>) -> Self {
        Self {
            id: run.id.clone(),
            date: calendar::format_date(run.date),
            trigger: run.trigger,
            status: if finished_at.is_some() { RentRunStatus::Finished } else { RentRunStatus::Running },
            issued: run.issued,
            already_issued: run.already_issued,
            late_fees: run.late_fees,
            late_fees_already: run.late_fees_already,
            errors: run.errors,
            started_at: time_format::format(run.started_at),
            finished_at: finished_at.map(time_format::format),
        }
    }
}

/// A saved payment method on `/api/v1`: the processor's reference, never the card.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodView {
    #[schema(example = "pm_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub lease_id: String,
    pub property_id: String,
    pub tenant_ids: Vec<String>,
    pub processor: Processor,
    #[schema(example = "pm_1NqPZ2LkdIwHu7ix")]
    pub processor_token: String,
    #[serde(rename = "type")]
    pub kind: MethodKind,
    pub brand: Option<String>,
    #[schema(example = "4242")]
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    pub created_at: String,
    pub version: u64,
}

impl From<&SavedPaymentMethod> for PaymentMethodView {
    fn from(m: &SavedPaymentMethod) -> Self {
        Self {
            id: m.id.clone(),
            lease_id: m.lease_id.clone(),
            property_id: m.property_id.clone(),
            tenant_ids: m.tenant_ids.clone(),
            processor: m.processor,
            processor_token: m.processor_token.clone(),
            kind: m.kind,
            brand: m.brand.clone(),
            last4: m.last4.clone(),
            exp_month: m.exp_month,
            exp_year: m.exp_year,
            created_at: time_format::format(m.created_at),
            version: m.version,
        }
    }
}

/// `invoice.paid`'s data: the invoice that reached paid, and the payment that paid it
/// (none when a credit on the lease did).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePaidView {
    pub id: String,
    pub organization_id: String,
    pub lease_id: String,
    pub payment_id: Option<String>,
    /// ISO 4217.
    pub currency: String,
    #[schema(value_type = f64)]
    pub amount_paid: Decimal2,
    pub paid_at: String,
}

impl InvoicePaidView {
    pub fn new(invoice: &Invoice, payment_id: Option<&str>) -> Self {
        Self {
            id: invoice.id.clone(),
            organization_id: invoice.org_id.clone(),
            lease_id: invoice.lease_id.clone(),
            payment_id: payment_id.map(str::to_owned),
            currency: invoice.currency.as_str().to_owned(),
            amount_paid: Decimal2(invoice.amount_paid),
            paid_at: time_format::format(invoice.updated_at),
        }
    }

    /// The invoice `paid` describes, paid by `payment`.
    pub fn by_payment(payment: &Payment, paid: &InvoicePaid) -> Self {
        Self {
            id: paid.invoice_id.clone(),
            organization_id: payment.org_id.clone(),
            lease_id: payment.lease_id.clone(),
            payment_id: Some(payment.id.clone()),
            currency: payment.currency.as_str().to_owned(),
            amount_paid: Decimal2(paid.amount_paid),
            paid_at: time_format::format(payment.created_at),
        }
    }
}

/// A property's late-fee policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct LateFeePolicyView {
    pub property_id: String,
    pub grace_days: u16,
    #[serde(rename = "type")]
    pub fee_type: LateFeeType,
    /// `flat`: the fee.
    #[schema(value_type = Option<f64>)]
    pub amount: Option<Decimal2>,
    /// `percent`: of the rent still owed.
    #[schema(value_type = Option<f64>)]
    pub percent: Option<Decimal2>,
    #[schema(value_type = Option<f64>)]
    pub max_amount: Option<Decimal2>,
    pub updated_at: String,
    pub version: u64,
}

impl From<&LateFeePolicy> for LateFeePolicyView {
    fn from(p: &LateFeePolicy) -> Self {
        let (fee_type, amount, percent) = match p.fee {
            LateFee::Flat { amount } => (LateFeeType::Flat, Some(Decimal2(amount)), None),
            LateFee::Percent { basis_points } => {
                (LateFeeType::Percent, None, Some(Decimal2(Money(i64::from(basis_points)))))
            }
        };
        Self {
            property_id: p.property_id.clone(),
            grace_days: p.grace_days,
            fee_type,
            amount,
            percent,
            max_amount: p.max_amount.map(Decimal2),
            updated_at: time_format::format(p.updated_at),
            version: p.version,
        }
    }
}

/// Someone a receipt or invoice names: the organization, the property or the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptParty {
    pub id: String,
    /// `null` when the record is gone (or, for the organization, not kept here).
    pub name: Option<String>,
    /// The property's street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// One line of a receipt: an invoice paid, or the credit left on the lease.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptLine {
    pub description: String,
    #[schema(value_type = f64)]
    pub amount: Decimal2,
}

/// A payment's receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptView {
    pub receipt_number: String,
    pub payment_id: String,
    pub organization: ReceiptParty,
    pub property: ReceiptParty,
    /// The lease's first tenant.
    pub tenant: ReceiptParty,
    /// ISO 4217.
    pub currency: String,
    #[schema(value_type = f64)]
    pub amount: Decimal2,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    /// What the payment paid: its invoices, then any credit left on the lease.
    pub lines: Vec<ReceiptLine>,
    pub allocations: Vec<AllocationView>,
    #[schema(value_type = f64)]
    pub refunded_amount: Decimal2,
    /// The lease's balance once the payment was recorded (owed, or negative: credit).
    #[schema(value_type = Option<f64>)]
    pub balance_after: Option<Decimal2>,
    pub status: PaymentState,
    pub issued_at: String,
}
