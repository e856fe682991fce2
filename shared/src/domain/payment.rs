//! Payments received for a lease, and how each was applied to its invoices.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::iso_date;
use crate::domain::ledger::Allocation;
use crate::domain::money::{Currency, Money};
use crate::time_format;

/// How a payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Check,
    BankTransfer,
    Card,
    Upi,
    Interac,
    Other,
}

/// At most this many refunds of one payment (they are kept on the payment's item).
pub const MAX_REFUNDS: usize = 50;

/// Where a payment stands: received in full, or (partly) given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Completed,
    PartiallyRefunded,
    Refunded,
}

/// Money given back from a payment: a refund entry on the lease's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: Money,
    pub reason: String,
    /// The processor's id of the refund (a Stripe refund), recorded once per payment.
    #[serde(default)]
    pub external_reference: Option<String>,
    /// The invoices it un-paid, and by how much.
    pub unpaid: Vec<Allocation>,
    #[serde(with = "time_format::rfc3339")]
    pub refunded_at: OffsetDateTime,
}

/// A stored payment. Payments recorded here are received in full (`completed`) until
/// refunds give some of it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub org_id: String,
    pub lease_id: String,
    pub property_id: String,
    pub tenant_ids: Vec<String>,
    pub currency: Currency,
    pub amount: Money,
    pub method: PaymentMethod,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(with = "iso_date")]
    pub received_on: Date,
    /// The invoices it paid, in order.
    pub allocations: Vec<Allocation>,
    /// The ids of those invoices, so a listing of an invoice's payments is one filter.
    #[serde(default)]
    pub invoice_ids: Vec<String>,
    /// What was left over and became a credit on the lease.
    pub unapplied: Money,
    /// The lease's balance once it was recorded.
    #[serde(default)]
    pub balance_after: Option<Money>,
    /// The sum of its refunds.
    #[serde(default)]
    pub refunded_amount: Money,
    /// Its refunds, oldest first.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// A note for the books: up to 1000 characters.
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `None` on a payment never changed since it was recorded.
    #[serde(default, with = "time_format::rfc3339_option")]
    pub updated_at: Option<OffsetDateTime>,
    pub version: u64,
}

impl Payment {
    pub fn names(&self, tenant_id: &str) -> bool {
        self.tenant_ids.iter().any(|t| t == tenant_id)
    }

    /// What is left to give back.
    pub fn refundable(&self) -> Money {
        Money(self.amount.0 - self.refunded_amount.0)
    }

    pub fn state(&self) -> PaymentState {
        match self.refunded_amount.0 {
            0 => PaymentState::Completed,
            r if r >= self.amount.0 => PaymentState::Refunded,
            _ => PaymentState::PartiallyRefunded,
        }
    }

    /// The refund recorded under a processor's `external_reference`, if any.
    pub fn refund_with_reference(&self, external_reference: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.external_reference.as_deref() == Some(external_reference))
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at.unwrap_or(self.created_at)
    }

    /// The invoices a refund of `amount` un-pays, after the refunds so far: a refund
    /// gives back first what the payment left as credit, then un-pays its invoices,
    /// latest allocation first.
    pub fn unpaid_by_refund(&self, amount: Money) -> Vec<Allocation> {
        let (from, to) = (self.refunded_amount.0, self.refunded_amount.0 + amount.0);
        let mut offset = self.unapplied.0;
        let mut unpaid = Vec::new();
        for allocation in self.allocations.iter().rev() {
            let (start, end) = (offset, offset + allocation.amount.0);
            let overlap = end.min(to) - start.max(from);
            if overlap > 0 {
                unpaid.push(Allocation { invoice_id: allocation.invoice_id.clone(), amount: Money(overlap) });
            }
            offset = end;
        }
        unpaid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn payment(allocations: &[(&str, i64)], unapplied: i64) -> Payment {
        let allocations: Vec<Allocation> = allocations
            .iter()
            .map(|(id, amount)| Allocation { invoice_id: (*id).into(), amount: Money(*amount) })
            .collect();
        let amount = allocations.iter().map(|a| a.amount.0).sum::<i64>() + unapplied;
        Payment {
            id: "pay_1".into(),
            org_id: "org_1".into(),
            lease_id: "lease_1".into(),
            property_id: "prop_1".into(),
            tenant_ids: vec![],
            currency: Currency::parse("USD").unwrap(),
            amount: Money(amount),
            method: PaymentMethod::Cash,
            reference: None,
            received_on: date!(2025 - 01 - 01),
            allocations,
            invoice_ids: vec![],
            unapplied: Money(unapplied),
            balance_after: None,
            refunded_amount: Money(0),
            refunds: vec![],
            memo: None,
            created_at: datetime!(2025-01-01 0:00 UTC),
            updated_at: None,
            version: 1,
        }
    }

    fn unpaid(invoice_id: &str, amount: i64) -> Allocation {
        Allocation { invoice_id: invoice_id.into(), amount: Money(amount) }
    }

    #[test]
    fn a_refund_gives_back_the_credit_first_then_the_latest_allocation() {
        let mut paid = payment(&[("inv_a", 300), ("inv_b", 200)], 100);
        assert_eq!(paid.unpaid_by_refund(Money(50)), vec![]);
        assert_eq!(paid.unpaid_by_refund(Money(250)), vec![unpaid("inv_b", 150)]);
        assert_eq!(paid.unpaid_by_refund(Money(600)), vec![unpaid("inv_b", 200), unpaid("inv_a", 300)]);
        paid.refunded_amount = Money(250);
        assert_eq!(paid.state(), PaymentState::PartiallyRefunded);
        assert_eq!(paid.refundable(), Money(350));
        assert_eq!(paid.unpaid_by_refund(Money(100)), vec![unpaid("inv_b", 50), unpaid("inv_a", 50)]);
        paid.refunded_amount = Money(600);
        assert_eq!(paid.state(), PaymentState::Refunded);
    }
}
