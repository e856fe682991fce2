//! Stripe events received on `POST /webhooks/stripe`, each handled once.
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | received event (`stripe_event`) | `STRIPEEVENT#<evt>` | `STRIPEEVENT#<evt>` | unmatched only: `STRIPEEVENT#UNMATCHED` / `<received_at>#<evt>` |
//! | recorded payment intent (`stripe_intent`) | `STRIPEINTENT#<pi>` | `STRIPEINTENT#<pi>` | – |
//!
//! | pattern | key condition |
//! |---|---|
//! | whether an event was received | `PK=SK=STRIPEEVENT#<evt>` |
//! | the payment an intent was recorded as (for its charge's refunds) | `PK=SK=STRIPEINTENT#<pi>` |
//! | the unmatched events to review, oldest first | GSI1: `GSI1PK=STRIPEEVENT#UNMATCHED` |
//!
//! The event's item is written with a condition that it does not exist, in the same
//! transaction as the ledger change it causes, so a redelivered event changes nothing.
//! Its key is the event id alone: which organization an event concerns is only known
//! from the event's own metadata, which may name none.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ledger::{InvoicePaid, Posting};
use crate::domain::payment::Payment;
use crate::store::events::OutboxMessage;
use crate::store::keys::{self, GSI1PK, GSI1SK};
use crate::store::ledger::{outbox, posting_items};
use crate::store::requests::{entity_item, put_if_new};
use crate::store::transactions::{TransactItem, condition_failed, transact, unexpected_cancellation};
use crate::store::{Item, Store, StoreError, s};
use crate::time_format;

/// What became of a Stripe event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeOutcome {
    /// A payment was recorded on the lease's ledger.
    PaymentRecorded,
    /// A declined payment was recorded in the lease's ledger history.
    FailureRecorded,
    /// A refund was recorded on the lease's ledger.
    RefundRecorded,
    /// It names no lease of ours (or one it cannot apply to): kept for review.
    Unmatched,
}

/// The record of one received Stripe event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripeEventReceipt {
    pub event_id: String,
    pub event_type: String,
    pub outcome: StripeOutcome,
    /// The payment intent or charge the event is about.
    pub object_id: String,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub lease_id: Option<String>,
    /// Why an unmatched event was not applied.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// The payment a Stripe payment intent was recorded as, written with it: each intent
/// is recorded once, and its charge's refunds find the payment here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedIntent {
    pub intent_id: String,
    pub organization_id: String,
    pub lease_id: String,
    pub payment_id: String,
}

/// The outcome of applying an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The event was received before: nothing was written.
    AlreadyReceived,
    /// Another change of the lease's ledger committed first.
    Changed,
}

impl Store {
    pub fn stripe_events(&self) -> StripeEventRepository<'_> {
        StripeEventRepository { store: self }
    }
}

pub struct StripeEventRepository<'a> {
    store: &'a Store,
}

fn receipt_item(receipt: &StripeEventReceipt) -> Result<Item, StoreError> {
    let key = keys::stripe_event(&receipt.event_id);
    let mut item = entity_item(receipt, key.clone(), key, "stripe_event")?;
    if receipt.outcome == StripeOutcome::Unmatched {
        item.insert(GSI1PK.into(), s(keys::stripe_event("UNMATCHED")));
        item.insert(GSI1SK.into(), s(format!("{}#{}", time_format::format(receipt.received_at), receipt.event_id)));
    }
    Ok(item)
}

impl StripeEventRepository<'_> {
    /// The record of an event, if it was received.
    pub async fn get(&self, event_id: &str) -> Result<Option<StripeEventReceipt>, StoreError> {
        let key = keys::stripe_event(event_id);
        self.store.get_consistent(key.clone(), key).await
    }

    /// The payment an intent was recorded as, if it was.
    pub async fn intent(&self, intent_id: &str) -> Result<Option<RecordedIntent>, StoreError> {
        let key = keys::stripe_intent(intent_id);
        self.store.get_consistent(key.clone(), key).await
    }

    /// Sends the receipt's conditional put (index 0), then `once` (conditional puts that
    /// also make the change happen once), then the ledger's `items`, whose balance (when
    /// there is one) comes first.
    async fn apply(
        &self,
        receipt: &StripeEventReceipt,
        once: Vec<TransactWriteItem>,
        items: Vec<TransactWriteItem>,
    ) -> Result<Applied, StoreError> {
        let mut all = vec![put_if_new(self.store, receipt_item(receipt)?)?.transact_item()?];
        let balance_at = 1 + once.len();
        let has_balance = !items.is_empty();
        all.extend(once);
        all.extend(items);
        let Some(failed) = transact(self.store, all).await? else { return Ok(Applied::Applied) };
        if (0..balance_at).any(|i| condition_failed(&failed, i)) {
            return Ok(Applied::AlreadyReceived);
        }
        if has_balance && condition_failed(&failed, balance_at) {
            return Ok(Applied::Changed);
        }
        Err(unexpected_cancellation("a new ledger item already exists"))
    }

    /// Keeps an event that changes nothing (unmatched), once.
    pub async fn record(&self, receipt: &StripeEventReceipt) -> Result<Applied, StoreError> {
        self.apply(receipt, Vec::new(), Vec::new()).await
    }

    /// Records the event's payment on the lease's ledger with the `messages` announcing
    /// it, once per event and once per intent (`AlreadyReceived` if either was before).
    pub async fn record_payment(
        &self,
        receipt: &StripeEventReceipt,
        intent: &RecordedIntent,
        payment: &Payment,
        posting: &Posting,
        paid: &[InvoicePaid],
        messages: &[OutboxMessage],
    ) -> Result<Applied, StoreError> {
        let key = keys::stripe_intent(&intent.intent_id);
        let intent = put_if_new(self.store, entity_item(intent, key.clone(), key, "stripe_intent")?)?;
        let items = self.store.ledger().payment_items(payment, posting, paid, messages)?;
        self.apply(receipt, vec![intent.transact_item()?], items).await
    }

    /// Records a declined payment in the lease's ledger history with the `messages`
    /// announcing it, once.
    pub async fn record_failure(
        &self,
        receipt: &StripeEventReceipt,
        posting: &Posting,
        messages: &[OutboxMessage],
    ) -> Result<Applied, StoreError> {
        let mut items = posting_items(self.store, posting)?;
        items.extend(outbox(self.store, messages, receipt.received_at)?);
        self.apply(receipt, Vec::new(), items).await
    }
}
