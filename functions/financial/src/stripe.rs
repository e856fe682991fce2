//! `POST /webhooks/stripe`: Stripe's events about online rent payments.
//!
//! Each request is verified first: `Stripe-Signature` carries `t=<unix seconds>` and one
//! or more `v1=<hex>`, each an HMAC-SHA256 of `<t>.<raw body>` keyed by the endpoint's
//! signing secret (the whole `whsec_...` string); one must match, compared in constant
//! time, and `t` must be within 5 minutes of now. Then each event is handled once (its
//! id is written in the same transaction as the ledger change):
//!
//! - `payment_intent.succeeded`: a card payment on the lease named by the intent's
//!   `metadata.organization_id` and `metadata.lease_id`, in minor units of the lease's
//!   currency, applied like any payment (oldest invoice first, the rest a credit);
//! - `payment_intent.payment_failed`: an entry in the lease's ledger history that leaves
//!   the balance, and a `payment.failed` event;
//! - `charge.refunded`: each of the charge's refunds, as a refund of the payment its
//!   intent was recorded as, once per Stripe refund id;
//! - any other type: answered 200 and ignored.
//!
//! An event that names no lease of ours, or one in another currency, is kept as
//! unmatched for review and answered 200, so Stripe does not retry it for days.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use shared::domain::calendar;
use shared::domain::ids::{LeaseId, PaymentId};
use shared::domain::lease::Lease;
use shared::domain::money::{Currency, Money};
use shared::domain::payment::PaymentMethod;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::Precondition;
use shared::http::optimistic::{Attempt, retry_lost_races_up_to};
use shared::secrets::OnFirstUse;
use shared::store::stripe_events::{Applied, RecordedIntent, StripeEventReceipt, StripeOutcome};
use shared::{ApiError, Services, time_format};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::announce;
use crate::ledgers::{CONTENTION, LEDGER_ATTEMPTS, balance_of};
use crate::payments::{Received, announcements};
use crate::refunds;
use crate::requests::RefundTerms;

/// The header Stripe signs each delivery with.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";
/// How far `t=` may be from now, in seconds (Stripe's default tolerance).
pub const TOLERANCE_SECS: i64 = 300;
/// The variable naming the Secrets Manager secret that holds the signing secret.
pub const SECRET_ID_VAR: &str = "STRIPE_WEBHOOK_SECRET_ID";

/// The endpoint's signing secret (`whsec_...`), read by the first Stripe event an
/// instance receives and kept. Its `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Arc<str>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn new(secret: &str) -> Self {
        Self(secret.into())
    }

    /// The secret named by `STRIPE_WEBHOOK_SECRET_ID`, read from Secrets Manager on first
    /// use.
    pub fn on_first_use(services: &Services) -> Result<OnFirstUse<Self>, shared::config::ConfigError> {
        let id = shared::config::required(SECRET_ID_VAR)?;
        Ok(OnFirstUse::new(&services.aws.secrets, &id, |raw, _| Ok(Self::new(&raw))))
    }

    /// Reads the secret named by `STRIPE_WEBHOOK_SECRET_ID` from Secrets Manager now.
    pub async fn load(services: &Services) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let id = shared::config::required(SECRET_ID_VAR)?;
        Ok(Self::new(&shared::secrets::read_string(&services.aws.secrets, &id).await?))
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The `Stripe-Signature` value Stripe would send for `body` at `timestamp`: for
    /// fixtures and tests.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let signature = shared::http::body::hex(&self.mac(&timestamp.to_string(), body));
        format!("t={timestamp},v1={signature}")
    }

    /// Checks a `Stripe-Signature` value against `body` at `now` (Unix seconds).
    pub fn verify(&self, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => timestamp = Some(value),
                Some(("v1", value)) => signatures.push(value),
                _ => {}
            }
        }
        let raw_timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        let at: i64 = raw_timestamp.parse().map_err(|_| SignatureError::Malformed)?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let expected = self.mac(raw_timestamp, body);
        let matches = signatures.iter().fold(subtle::Choice::from(0), |found, hex| {
            found | decode_hex(hex).map_or(subtle::Choice::from(0), |given| given.ct_eq(&expected))
        });
        if !bool::from(matches) {
            return Err(SignatureError::Mismatch);
        }
        if (now - at).abs() > TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        Ok(())
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Why a delivery's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Stripe-Signature is missing or malformed")]
    Malformed,
    #[error("Stripe-Signature does not match the body")]
    Mismatch,
    #[error("Stripe-Signature's timestamp is more than 5 minutes from now")]
    Stale,
}

/// A Stripe event as delivered.
#[derive(Debug, Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// The fields of a PaymentIntent the ledger uses.
#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    /// In the currency's smallest unit.
    amount: i64,
    #[serde(default)]
    amount_received: Option<i64>,
    currency: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    last_payment_error: Option<PaymentError>,
}

#[derive(Debug, Deserialize)]
struct PaymentError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
}

/// The fields of a Charge its refunds need.
#[derive(Debug, Deserialize)]
struct Charge {
    id: String,
    #[serde(default)]
    payment_intent: Option<String>,
    /// The sum refunded so far, in the currency's smallest unit.
    amount_refunded: i64,
    currency: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    /// Included by API versions before 2022-11-15 (and when expanded).
    #[serde(default)]
    refunds: Option<RefundList>,
}

#[derive(Debug, Deserialize)]
struct RefundList {
    data: Vec<StripeRefund>,
}

#[derive(Debug, Deserialize)]
struct StripeRefund {
    id: String,
    amount: i64,
    #[serde(default)]
    status: Option<String>,
}

/// What the receiver did with an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeReceipt {
    pub event_id: String,
    /// `payment_recorded`, `failure_recorded`, `refund_recorded`, `unmatched` (kept for review),
    /// `duplicate` (received before; nothing changed) or `ignored` (a type not handled).
    #[schema(example = "payment_recorded")]
    pub outcome: &'static str,
}

fn malformed(what: &str) -> ApiError {
    ApiError::BadRequest(format!("Malformed Stripe event: {what}"))
}

/// Receive a Stripe event.
#[utoipa::path(post, path = "/webhooks/stripe", operation_id = "receiveStripeEvent", tag = "financial",
    request_body(content = Object, description = "A Stripe event, exactly as Stripe signed it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>`")),
    security(()),
    responses(
        (status = 200, description = "Handled, a duplicate, unmatched (kept for review) or ignored", body = SuccessEnvelope<StripeReceipt>),
        (status = 400, description = "Missing, wrong or stale signature, or a malformed event; nothing is recorded", body = ErrorEnvelope),
        (status = 409, description = "The lease's ledger is busy; Stripe retries", body = ErrorEnvelope),
    ))]
pub async fn receive(
    State(services): State<Services>,
    Extension(secret): Extension<OnFirstUse<WebhookSecret>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let secret = secret.get().await?;
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Err(refused) = secret.verify(header, &body, time_format::now().unix_timestamp()) {
        tracing::warn!(reason = %refused, "Stripe event refused");
        return Err(ApiError::BadRequest(refused.to_string()));
    }
    let event: StripeEvent = serde_json::from_slice(&body).map_err(|_| malformed("not a Stripe event"))?;
    if !event.id.starts_with("evt_")
        || event.id.len() > 255
        || !event.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(malformed("id"));
    }
    let event_id = event.id.as_str();
    let outcome = match event.event_type.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" => {
            let intent: PaymentIntent = serde_json::from_value(event.data.object)
                .map_err(|_| malformed("data.object is not a PaymentIntent"))?;
            if services.store.stripe_events().get(event_id).await?.is_some() {
                "duplicate"
            } else {
                handle_intent(&services, event_id, &event.event_type, &intent).await?
            }
        }
        "charge.refunded" => {
            let charge: Charge =
                serde_json::from_value(event.data.object).map_err(|_| malformed("data.object is not a Charge"))?;
            if services.store.stripe_events().get(event_id).await?.is_some() {
                "duplicate"
            } else {
                handle_refunds(&services, event_id, &charge).await?
            }
        }
        _ => "ignored",
    };
    tracing::info!(event_id = %event.id, event_type = %event.event_type, outcome, "Stripe event");
    Ok(ApiResponse::ok(StripeReceipt { event_id: event.id, outcome }).into_response())
}

/// Keeps an event that cannot be applied for review, with why: `unmatched`, or
/// `duplicate` when it was kept before.
async fn keep_unmatched(
    services: &Services,
    mut receipt: StripeEventReceipt,
    metadata: &HashMap<String, String>,
    reason: String,
) -> Result<&'static str, ApiError> {
    receipt.outcome = StripeOutcome::Unmatched;
    receipt.organization_id = receipt.organization_id.or_else(|| metadata.get("organization_id").cloned());
    receipt.lease_id = receipt.lease_id.or_else(|| metadata.get("lease_id").cloned());
    receipt.reason = Some(reason.chars().take(300).collect());
    tracing::warn!(event_id = %receipt.event_id, reason = receipt.reason.as_deref(), "Stripe event kept unmatched");
    Ok(match services.store.stripe_events().record(&receipt).await? {
        Applied::AlreadyReceived => "duplicate",
        Applied::Applied | Applied::Changed => "unmatched",
    })
}

/// The lease an intent is for, or why it cannot be applied.
async fn lease_of(services: &Services, intent: &PaymentIntent) -> Result<Result<Lease, String>, ApiError> {
    let org_id = intent.metadata.get("organization_id").map(String::as_str).unwrap_or("");
    if !shared::domain::ids::is_valid(org_id, "org") {
        return Ok(Err("metadata.organization_id names no organization".into()));
    }
    let Some(lease_id) = intent.metadata.get("lease_id").and_then(|id| LeaseId::parse(id)) else {
        return Ok(Err("metadata.lease_id names no lease".into()));
    };
    let Some(lease) = services.store.leases().get(org_id, &lease_id).await? else {
        return Ok(Err("no such lease in the organization".into()));
    };
    let currency = Currency::parse(&intent.currency.to_ascii_uppercase()).ok();
    if currency.as_ref() != Some(&lease.currency) {
        return Ok(Err(format!("the intent's currency is not the lease's ({})", lease.currency.as_str())));
    }
    if intent.amount <= 0 {
        return Ok(Err("the amount is not positive".into()));
    }
    Ok(Ok(lease))
}

async fn handle_intent(
    services: &Services,
    event_id: &str,
    event_type: &str,
    intent: &PaymentIntent,
) -> Result<&'static str, ApiError> {
    let now = time_format::now();
    let receipt = |outcome, lease: Option<&Lease>, reason: Option<String>| StripeEventReceipt {
        event_id: event_id.to_owned(),
        event_type: event_type.to_owned(),
        outcome,
        object_id: intent.id.clone(),
        organization_id: lease.map(|l| l.org_id.clone()),
        lease_id: lease.map(|l| l.id.clone()),
        reason,
        received_at: now,
    };
    let lease = match lease_of(services, intent).await? {
        Ok(lease) => lease,
        Err(reason) => {
            return keep_unmatched(services, receipt(StripeOutcome::Unmatched, None, None), &intent.metadata, reason)
                .await;
        }
    };
    let applied = if event_type == "payment_intent.succeeded" {
        let amount = Money(intent.amount_received.unwrap_or(intent.amount));
        let receipt = receipt(StripeOutcome::PaymentRecorded, Some(&lease), None);
        record_payment(services, &lease, intent, amount, &receipt, now).await?
    } else {
        let receipt = receipt(StripeOutcome::FailureRecorded, Some(&lease), None);
        record_failure(services, &lease, intent, &receipt, now).await?
    };
    Ok(match (applied, event_type) {
        (Applied::AlreadyReceived, _) => "duplicate",
        (_, "payment_intent.succeeded") => "payment_recorded",
        _ => "failure_recorded",
    })
}

async fn record_payment(
    services: &Services,
    lease: &Lease,
    intent: &PaymentIntent,
    amount: Money,
    receipt: &StripeEventReceipt,
    now: OffsetDateTime,
) -> Result<Applied, ApiError> {
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let today = calendar::today();
        let balance = balance_of(services, lease).await?;
        let allocations = balance.allocate(amount, None).map_err(|e| ApiError::internal(e.to_string()))?;
        let payment_id = PaymentId::generate();
        let (posting, paid) = balance.receive_payment(payment_id.as_str(), amount, &allocations, now, today);
        let received = Received {
            lease,
            amount,
            method: PaymentMethod::Card,
            reference: Some(intent.id.chars().take(100).collect()),
            received_on: today,
        };
        let payment = received.payment(payment_id, allocations, posting.balance.balance, now);
        let messages = announcements(&payment, &paid, now)?;
        let recorded = RecordedIntent {
            intent_id: intent.id.clone(),
            organization_id: lease.org_id.clone(),
            lease_id: lease.id.clone(),
            payment_id: payment.id.clone(),
        };
        let events = services.store.stripe_events();
        match events.record_payment(receipt, &recorded, &payment, &posting, &paid, &messages).await? {
            Applied::Changed => Ok(Attempt::LostRace),
            done => Ok(Attempt::Done(done)),
        }
    })
    .await
}

/// `payment.failed`'s data: the lease and the attempt the processor declined.
#[derive(Debug, Serialize)]
struct FailedPayment<'a> {
    /// The lease's id (also as `lease_id`).
    id: &'a str,
    property_id: &'a str,
    tenant_ids: &'a [String],
    currency: &'a str,
    amount: shared::domain::money::Decimal2,
    method: PaymentMethod,
    /// The processor's id of the attempt (`pi_...`).
    reference: &'a str,
    /// The processor's decline code.
    reason: Option<&'a str>,
}

async fn record_failure(
    services: &Services,
    lease: &Lease,
    intent: &PaymentIntent,
    receipt: &StripeEventReceipt,
    now: OffsetDateTime,
) -> Result<Applied, ApiError> {
    let error = intent.last_payment_error.as_ref();
    let reason = error.and_then(|e| e.decline_code.clone().or_else(|| e.code.clone()));
    let description = match &reason {
        Some(reason) => format!("Card payment failed ({})", reason.chars().take(60).collect::<String>()),
        None => "Card payment failed".to_owned(),
    };
    let amount = Money(intent.amount);
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let balance = balance_of(services, lease).await?;
        let posting = balance.record_failed_payment(amount, &description, now, calendar::today());
        let failure = FailedPayment {
            id: &lease.id,
            property_id: &lease.property_id,
            tenant_ids: &lease.tenant_ids,
            currency: lease.currency.as_str(),
            amount: shared::domain::money::Decimal2(amount),
            method: PaymentMethod::Card,
            reference: &intent.id,
            reason: reason.as_deref(),
        };
        let messages = [announce::message(&lease.org_id, "payment.failed", "lease", &failure, now)?];
        match services.store.stripe_events().record_failure(receipt, &posting, &messages).await? {
            Applied::Changed => Ok(Attempt::LostRace),
            done => Ok(Attempt::Done(done)),
        }
    })
    .await
}

/// Records each refund of a charge on the payment its intent was recorded as, once per
/// Stripe refund id (the refund's external reference), then the event.
async fn handle_refunds(services: &Services, event_id: &str, charge: &Charge) -> Result<&'static str, ApiError> {
    let receipt = StripeEventReceipt {
        event_id: event_id.to_owned(),
        event_type: "charge.refunded".to_owned(),
        outcome: StripeOutcome::RefundRecorded,
        object_id: charge.id.clone(),
        organization_id: None,
        lease_id: None,
        reason: None,
        received_at: time_format::now(),
    };
    let recorded = match &charge.payment_intent {
        Some(intent) => services.store.stripe_events().intent(intent).await?,
        None => None,
    };
    let Some(recorded) = recorded else {
        let reason = "no payment was recorded for the charge's payment intent".to_owned();
        return keep_unmatched(services, receipt, &charge.metadata, reason).await;
    };
    let receipt = StripeEventReceipt {
        organization_id: Some(recorded.organization_id.clone()),
        lease_id: Some(recorded.lease_id.clone()),
        ..receipt
    };
    let org_id = &recorded.organization_id;
    let payment_id = PaymentId::parse(&recorded.payment_id)
        .ok_or_else(|| ApiError::internal("a recorded intent names no payment"))?;
    let payment = services
        .store
        .ledger()
        .payment(org_id, payment_id.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("a recorded intent's payment is gone"))?;
    if Currency::parse(&charge.currency.to_ascii_uppercase()).ok().as_ref() != Some(&payment.currency) {
        let reason = format!("the charge's currency is not the payment's ({})", payment.currency.as_str());
        return keep_unmatched(services, receipt, &charge.metadata, reason).await;
    }
    let refunds: Vec<(String, i64)> = match &charge.refunds {
        Some(list) => list
            .data
            .iter()
            .filter(|r| !matches!(r.status.as_deref(), Some("failed" | "canceled")))
            .map(|r| (r.id.clone(), r.amount))
            .collect(),
        // Without the list, what was refunded beyond what the payment shows, once per total.
        None => {
            let left = charge.amount_refunded - payment.refunded_amount.0;
            if left > 0 { vec![(format!("{}:{}", charge.id, charge.amount_refunded), left)] } else { Vec::new() }
        }
    };
    for (refund_id, amount) in refunds {
        let terms = RefundTerms {
            amount: Some(Money(amount)),
            reason: format!("Refunded at Stripe ({})", refund_id.chars().take(100).collect::<String>()),
            external_reference: Some(refund_id.clone()),
        };
        match refunds::record(services, org_id, &payment_id, &terms).await {
            Ok(_) => {}
            Err(refused) if refused.status_code().is_client_error() => {
                let reason = format!("refund {refund_id}: {refused}");
                return keep_unmatched(services, receipt, &charge.metadata, reason).await;
            }
            Err(failed) => return Err(failed),
        }
    }
    Ok(match services.store.stripe_events().record(&receipt).await? {
        Applied::AlreadyReceived => "duplicate",
        Applied::Applied | Applied::Changed => "refund_recorded",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn a_signature_verifies_within_the_tolerance_only() {
        let secret = WebhookSecret::new(SECRET);
        let header = secret.sign(1_700_000_000, BODY);
        assert_eq!(secret.verify(&header, BODY, 1_700_000_000 + 299), Ok(()));
        assert_eq!(secret.verify(&header, BODY, 1_700_000_000 + 301), Err(SignatureError::Stale));
        assert_eq!(secret.verify(&header, b"{}", 1_700_000_000), Err(SignatureError::Mismatch));
        let other = WebhookSecret::new("whsec_other").sign(1_700_000_000, BODY);
        assert_eq!(secret.verify(&other, BODY, 1_700_000_000), Err(SignatureError::Mismatch));
        assert_eq!(secret.verify("v1=abcd", BODY, 1_700_000_000), Err(SignatureError::Malformed));
        assert_eq!(secret.verify("t=1700000000", BODY, 1_700_000_000), Err(SignatureError::Malformed));
    }

    #[test]
    fn one_matching_v1_among_several_is_enough() {
        let secret = WebhookSecret::new(SECRET);
        let signed = secret.sign(1_700_000_000, BODY);
        let v1 = signed.split_once(",v1=").unwrap().1;
        let header = format!("t=1700000000,v1={},v0=ignored,v1={v1}", "0".repeat(64));
        assert_eq!(secret.verify(&header, BODY, 1_700_000_000), Ok(()));
    }

    #[test]
    fn the_signature_is_stripes_hmac_of_the_timestamp_and_body() {
        // Python: hmac.new(b"whsec_test_secret", b'1700000000.' + BODY, hashlib.sha256).hexdigest()
        let header = WebhookSecret::new(SECRET).sign(1_700_000_000, BODY);
        assert_eq!(header, "t=1700000000,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31");
    }
}
