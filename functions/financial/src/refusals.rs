//! What the ledger can refuse a change for, and the one place each refusal becomes an
//! HTTP answer.

use shared::ApiError;
use shared::domain::ledger::{AllocationError, MAX_OPEN_INVOICES};
use shared::domain::money::Money;
use shared::domain::payment::MAX_REFUNDS;

/// An outcome that answers the request with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The lease is not in the caller's reach (or is gone).
    LeaseMissing,
    InvoiceMissing,
    PaymentMissing,
    /// Money was paid on the invoice: it must be refunded before it can be cancelled.
    InvoicePaid,
    /// The invoice is already cancelled or void.
    InvoiceClosed,
    /// The invoice is paid: it can no longer change.
    InvoiceSettled,
    /// The lease has the most open invoices it can keep.
    TooManyOpenInvoices,
    /// The money is in another currency than the lease's.
    CurrencyMismatch(String),
    /// A payment names an invoice that is not open on its lease.
    Allocation(AllocationError),
    /// The payment was refunded in full already.
    FullyRefunded,
    /// A refund of more than is left to refund (this much).
    OverRefund(Money),
    /// The payment has the most refunds it can keep.
    TooManyRefunds,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::LeaseMissing => ApiError::NotFound("Lease"),
            Refused::InvoiceMissing => ApiError::NotFound("Invoice"),
            Refused::PaymentMissing => ApiError::NotFound("Payment"),
            Refused::InvoicePaid => {
                ApiError::Conflict("The invoice has payments; refund first, then change or cancel it".into())
            }
            Refused::InvoiceClosed => ApiError::Conflict("The invoice is already cancelled or void".into()),
            Refused::InvoiceSettled => {
                ApiError::Conflict("The invoice is paid and can no longer change; refund its payments first".into())
            }
            Refused::TooManyOpenInvoices => ApiError::Conflict(format!(
                "The lease already has {MAX_OPEN_INVOICES} open invoices; collect or cancel some first"
            )),
            Refused::CurrencyMismatch(lease) => {
                ApiError::invalid_field("currency", format!("must be the lease's currency, {lease}"))
            }
            Refused::Allocation(error) => ApiError::invalid_field("invoice_ids", format!("{error:.120}")),
            Refused::FullyRefunded => ApiError::Conflict("The payment is refunded in full already".into()),
            Refused::OverRefund(left) => ApiError::invalid_field(
                "amount",
                format!("must not be more than what is left to refund, {}", left.to_decimal_string()),
            ),
            Refused::TooManyRefunds => {
                ApiError::Conflict(format!("The payment already has {MAX_REFUNDS} refunds; refund the rest at once"))
            }
        }
    }
}
