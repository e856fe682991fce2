//! Refunds: money given back from a payment. A refund is one entry on the lease's
//! ledger, written in one transaction with the balance, the payment (conditioned on its
//! version, so two refunds never give back more than was paid), the invoices it
//! re-opens and its `payment.refunded` message. A refund from a payment processor
//! carries the processor's id and is recorded once per payment: [`record`].

use axum::response::Response;
use shared::domain::calendar;
use shared::domain::ids::{PaymentId, RefundId};
use shared::domain::invoice::Invoice;
use shared::domain::money::Money;
use shared::domain::payment::{MAX_REFUNDS, Payment, Refund};
use shared::http::etag::Precondition;
use shared::http::idempotency::{CreateRequest, Creation};
use shared::http::optimistic::{Attempt, retry_lost_races_up_to};
use shared::store::ledger::{Posted, RefundPosting};
use shared::{ApiError, Services, time_format};

use crate::announce;
use crate::ledgers::{CONTENTION, LEDGER_ATTEMPTS};
use crate::refusals::Refused;
use crate::requests::RefundTerms;
use crate::views::PaymentView;

/// What recording a refund came to.
#[derive(Debug)]
pub enum Refunded {
    /// Recorded now: the payment with its new refund.
    Recorded(Box<Payment>),
    /// A refund with the same external reference was recorded before; nothing changed.
    AlreadyRecorded(Box<Payment>),
}

/// What [`apply`] answers a route with.
pub(crate) enum Outcome {
    Refunded(Refunded),
    /// The route's 201, or the first answer to its `Idempotency-Key` again.
    Answer(Response),
}

/// Records a refund of the organization's payment `payment_id` (a payment processor's
/// refund, such as Stripe's `charge.refunded`): set `terms.external_reference` to the
/// processor's refund id and a redelivery records nothing new. A payment that is not
/// there is a 404; more than is left to refund a 422.
pub async fn record(
    services: &Services,
    org_id: &str,
    payment_id: &PaymentId,
    terms: &RefundTerms,
) -> Result<Refunded, ApiError> {
    match apply(services, org_id, payment_id, terms, &|_| true, None).await? {
        Outcome::Refunded(refunded) => Ok(refunded),
        Outcome::Answer(_) => Err(ApiError::internal("a refund without a request answered as a route")),
    }
}

/// Refunds the payment if `reaches` it, retrying lost races on the lease's ledger or
/// on the payment. With `request`, answers as the route does (201 or a replay).
pub(crate) async fn apply(
    services: &Services,
    org_id: &str,
    payment_id: &PaymentId,
    terms: &RefundTerms,
    reaches: &(dyn Fn(&Payment) -> bool + Sync),
    request: Option<CreateRequest<'_>>,
) -> Result<Outcome, ApiError> {
    let ledger = services.store.ledger();
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let payment = ledger.payment(org_id, payment_id.as_str()).await?.filter(|p| reaches(p));
        let payment = payment.ok_or(Refused::PaymentMissing)?;
        if let Some(reference) = &terms.external_reference
            && payment.refund_with_reference(reference).is_some()
        {
            return Ok(Attempt::Done(Outcome::Refunded(Refunded::AlreadyRecorded(Box::new(payment)))));
        }
        let refundable = payment.refundable();
        if refundable.0 == 0 {
            return Err(Refused::FullyRefunded.into());
        }
        let amount = terms.amount.unwrap_or(refundable);
        if amount > refundable {
            return Err(Refused::OverRefund(refundable).into());
        }
        if payment.refunds.len() >= MAX_REFUNDS {
            return Err(Refused::TooManyRefunds.into());
        }
        // The balance first: every change of an invoice's payments moves it, so invoices
        // read after it are at least as fresh, and a change after it fails the write.
        let balance = ledger
            .balance(org_id, &payment.lease_id)
            .await?
            .ok_or_else(|| ApiError::internal("a payment's lease has no ledger balance"))?;
        let unpaid = payment.unpaid_by_refund(amount);
        // One read of every invoice the refund un-pays; the ledger write reuses it.
        let ids: Vec<String> = unpaid.iter().map(|a| a.invoice_id.clone()).collect();
        let mut stored = ledger.invoices(org_id, &ids).await?;
        let mut invoices: Vec<Invoice> = Vec::with_capacity(unpaid.len());
        for allocation in &unpaid {
            let at = stored.iter().position(|i| i.id == allocation.invoice_id);
            invoices.push(stored.swap_remove(at.ok_or_else(|| ApiError::internal("a payment's invoice is gone"))?));
        }
        let pairs: Vec<(&Invoice, Money)> = invoices.iter().zip(unpaid.iter().map(|a| a.amount)).collect();
        let (now, today) = (time_format::now(), calendar::today());
        let (posting, paid) = balance.refund_payment(&payment.id, amount, &pairs, now, today);
        let mut refunded = payment.clone();
        refunded.refunded_amount = Money(payment.refunded_amount.0 + amount.0);
        refunded.refunds.push(Refund {
            id: RefundId::generate().to_string(),
            amount,
            reason: terms.reason.clone(),
            external_reference: terms.external_reference.clone(),
            unpaid,
            refunded_at: now,
        });
        refunded.updated_at = Some(now);
        refunded.version = payment.version + 1;
        let view = PaymentView::from(&refunded);
        let messages = [announce::message(org_id, "payment.refunded", "payment", &view, now)?];
        let location = format!("/api/v1/financial/payments/{}", refunded.id);
        let creation = request.map(|r| Creation::new(r, view, refunded.version, location)).transpose()?;
        let idempotency = creation.as_ref().and_then(Creation::idempotency);
        let refund = RefundPosting { refunded: &refunded, expected_version: payment.version, posting: &posting };
        let posted = ledger.record_refund(refund, &paid, &invoices, &messages, idempotency).await?;
        Ok(match (posted, creation) {
            (Posted::Changed, _) => Attempt::LostRace,
            (Posted::Posted, Some(creation)) => Attempt::Done(Outcome::Answer(creation.created())),
            (Posted::Posted, None) => Attempt::Done(Outcome::Refunded(Refunded::Recorded(Box::new(refunded)))),
            (Posted::Replay(first), Some(creation)) => Attempt::Done(Outcome::Answer(creation.replay(*first)?)),
            (Posted::Replay(_), None) => return Err(ApiError::internal("a replay without an Idempotency-Key")),
        })
    })
    .await
}
