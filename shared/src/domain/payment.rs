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

/// A stored payment. Payments recorded here are received in full (`completed`).
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
    /// What was left over and became a credit on the lease.
    pub unapplied: Money,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: u64,
}

impl Payment {
    pub fn names(&self, tenant_id: &str) -> bool {
        self.tenant_ids.iter().any(|t| t == tenant_id)
    }
}
