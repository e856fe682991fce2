//! Invoices: what a lease is asked to pay, by when. Issuing one charges its lines to the
//! lease's ledger; payments raise `amount_paid`.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::iso_date;
use crate::domain::ledger::ChargeCategory;
use crate::domain::money::{Currency, Money};
use crate::time_format;

/// An invoice's status. `overdue` is never stored: an `open` or `partially_paid` invoice
/// past its due date reads as `overdue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Open,
    PartiallyPaid,
    Paid,
    Overdue,
    Cancelled,
    Void,
}

impl InvoiceStatus {
    pub fn name(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::PartiallyPaid => "partially_paid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Overdue => "overdue",
            InvoiceStatus::Cancelled => "cancelled",
            InvoiceStatus::Void => "void",
        }
    }

    /// The stored status after payments reach `paid` of `total`.
    pub fn of_payments(paid: Money, total: Money) -> Self {
        if paid.0 >= total.0 {
            InvoiceStatus::Paid
        } else if paid.0 > 0 {
            InvoiceStatus::PartiallyPaid
        } else {
            InvoiceStatus::Open
        }
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub category: ChargeCategory,
    pub amount: Money,
}

/// A stored invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub org_id: String,
    pub lease_id: String,
    pub property_id: String,
    pub unit_id: String,
    /// The lease's tenants, so a Tenant's listing is one filter.
    pub tenant_ids: Vec<String>,
    pub currency: Currency,
    pub line_items: Vec<LineItem>,
    pub total: Money,
    pub amount_paid: Money,
    /// As stored (never `overdue`); see [`Invoice::status_on`].
    pub status: InvoiceStatus,
    #[serde(with = "iso_date")]
    pub issue_date: Date,
    #[serde(with = "iso_date")]
    pub due_date: Date,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Invoice {
    /// The status as shown on `today`: unpaid past the due date is `overdue`.
    pub fn status_on(&self, today: Date) -> InvoiceStatus {
        match self.status {
            InvoiceStatus::Open | InvoiceStatus::PartiallyPaid if self.due_date < today => InvoiceStatus::Overdue,
            status => status,
        }
    }

    pub fn outstanding(&self) -> Money {
        Money((self.total.0 - self.amount_paid.0).max(0))
    }

    pub fn names(&self, tenant_id: &str) -> bool {
        self.tenant_ids.iter().any(|t| t == tenant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_set_the_stored_status() {
        assert_eq!(InvoiceStatus::of_payments(Money(0), Money(100)), InvoiceStatus::Open);
        assert_eq!(InvoiceStatus::of_payments(Money(1), Money(100)), InvoiceStatus::PartiallyPaid);
        assert_eq!(InvoiceStatus::of_payments(Money(100), Money(100)), InvoiceStatus::Paid);
    }
}
