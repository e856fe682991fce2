//! Payment handlers. A payment is applied to the lease's open invoices, oldest due
//! first unless the caller names them; what is left over is a credit. The payment, its
//! ledger entry, the invoices it pays and the lease's balance are one transaction
//! conditioned on the balance's version, so concurrent payments never lose money.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::PaymentId;
use shared::domain::lease::Lease;
use shared::domain::ledger::{Allocation, InvoicePaid};
use shared::domain::money::Money;
use shared::domain::payment::{Payment, PaymentMethod};
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races_up_to, write_current};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::events::OutboxMessage;
use shared::store::ledger::{PaymentFilter, Posted};
use shared::{ApiError, Services, time_format};
use time::{Date, OffsetDateTime};

use crate::announce;
use crate::invoices::paid_message;
use crate::ledgers::{
    CONTENTION, LEDGER_ATTEMPTS, LeaseListParams, balance_of, lease_in_reach, list_in_reach, reaches,
};
use crate::receipts;
use crate::refunds;
use crate::refusals::Refused;
use crate::requests::{PaymentChangeInput, PaymentInput, RefundInput};
use crate::views::{InvoicePaidView, PaymentView, ReceiptView};

#[derive(Debug, Deserialize)]
pub struct PaymentPath {
    payment_id: String,
}

/// Record a payment received for a lease. `Idempotency-Key` is required: a retry with
/// the same key and body replays the first answer and records nothing.
#[utoipa::path(post, path = "/api/v1/financial/payments", operation_id = "createPayment", tag = "financial",
    request_body = PaymentInput,
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Recorded", body = SuccessEnvelope<PaymentView>, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such lease (or not the caller's, for a Tenant)", body = ErrorEnvelope),
        (status = 409, description = "The lease's ledger is busy, or the key's first request is still in progress", body = ErrorEnvelope),
        (status = 422, description = "Invalid amount, method, currency or invoices, or the key was used with another body", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<PaymentInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentCreate, None)?;
    let body = body.accept()?;
    let key = key.ok_or_else(|| ApiError::BadRequest("Idempotency-Key is required: a payment moves money".into()))?;
    let terms = body.value.validate()?;
    let request = CreateRequest {
        scope: "POST /api/v1/financial/payments",
        key: Some(&key),
        fingerprint: &body.fingerprint,
        now: time_format::now(),
    };
    let org_id = &principal.org_id;
    // Both reads at once: a replay is answered whatever the lease's state now.
    let (first, lease) = tokio::join!(
        request.replay_if_used(&services.store, org_id),
        lease_in_reach(&services, &principal, &terms.lease_id),
    );
    if let Some(first) = first? {
        return Ok(first);
    }
    let lease = lease?;
    if terms.currency.as_ref().is_some_and(|c| *c != lease.currency) {
        return Err(Refused::CurrencyMismatch(lease.currency.as_str().to_owned()).into());
    }
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let (now, today) = (time_format::now(), calendar::today());
        let balance = balance_of(&services, &lease).await?;
        let allocations = balance.allocate(terms.amount, terms.invoice_ids.as_deref()).map_err(Refused::Allocation)?;
        let payment_id = PaymentId::generate();
        let (posting, paid) = balance.receive_payment(payment_id.as_str(), terms.amount, &allocations, now, today);
        let received = Received {
            lease: &lease,
            amount: terms.amount,
            method: terms.method,
            reference: terms.reference.clone(),
            received_on: terms.received_on,
        };
        let payment = received.payment(payment_id, allocations, posting.balance.balance, now);
        let location = format!("/api/v1/financial/payments/{}", payment.id);
        let messages = announcements(&payment, &paid, now)?;
        let view = PaymentView::from(&payment);
        let creation = Creation::new(request, view, payment.version, location)?;
        let ledger = services.store.ledger();
        match ledger.record_payment(&payment, &posting, &paid, &messages, creation.idempotency()).await? {
            Posted::Posted => Ok(Attempt::Done(creation.created())),
            Posted::Replay(first) => creation.replay(*first).map(Attempt::Done),
            Posted::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// A payment received for a lease, before it is applied.
pub(crate) struct Received<'a> {
    pub lease: &'a Lease,
    pub amount: Money,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_on: Date,
}

impl Received<'_> {
    /// The payment as recorded `now`, applied as `allocations` and leaving the lease's
    /// balance at `balance_after`.
    pub fn payment(
        self,
        id: PaymentId,
        allocations: Vec<Allocation>,
        balance_after: Money,
        now: OffsetDateTime,
    ) -> Payment {
        let applied: i64 = allocations.iter().map(|a| a.amount.0).sum();
        let lease = self.lease;
        Payment {
            invoice_ids: allocations.iter().map(|a| a.invoice_id.clone()).collect(),
            balance_after: Some(balance_after),
            id: id.to_string(),
            org_id: lease.org_id.clone(),
            lease_id: lease.id.clone(),
            property_id: lease.property_id.clone(),
            tenant_ids: lease.tenant_ids.clone(),
            currency: lease.currency.clone(),
            amount: self.amount,
            method: self.method,
            reference: self.reference,
            received_on: self.received_on,
            allocations,
            unapplied: Money(self.amount.0 - applied),
            refunded_amount: Money(0),
            refunds: Vec::new(),
            memo: None,
            created_at: now,
            updated_at: None,
            version: 1,
        }
    }
}

/// The messages announcing a recorded payment: `payment.received`, and `invoice.paid`
/// for each invoice it paid in full.
pub(crate) fn announcements(
    payment: &Payment,
    paid: &[InvoicePaid],
    now: OffsetDateTime,
) -> Result<Vec<OutboxMessage>, ApiError> {
    let view = PaymentView::from(payment);
    let mut messages = vec![announce::message(&payment.org_id, "payment.received", "payment", &view, now)?];
    for invoice in paid.iter().filter(|p| p.fully_paid()) {
        messages.push(paid_message(&InvoicePaidView::by_payment(payment, invoice), now)?);
    }
    Ok(messages)
}

/// List the organization's payments, oldest first.
#[utoipa::path(get, path = "/api/v1/financial/payments", operation_id = "listPayments", tag = "financial", params(LeaseListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of payments (a Tenant sees only their leases')", body = SuccessEnvelope<Vec<PaymentView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<LeaseListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentRead, None)?;
    let (store, org_id) = (&services.store, &principal.org_id);
    let filter_for = |tenant_id| {
        let filter = PaymentFilter { lease_id: params.lease_id.clone(), tenant_id, invoice_id: None };
        let fingerprint = filter.fingerprint();
        (filter, fingerprint)
    };
    let fetch = |filter: PaymentFilter, start, size| async move {
        store.ledger().list_payments(org_id, &filter, start, size).await
    };
    let (page_size, cursor) = (params.page_size, params.cursor.as_deref());
    list_in_reach::<_, _, PaymentView, _>(&services, &principal, page_size, cursor, filter_for, fetch).await
}

/// Get a payment.
#[utoipa::path(get, path = "/api/v1/financial/payments/{payment_id}", operation_id = "getPayment", tag = "financial",
    params(("payment_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The payment", body = SuccessEnvelope<PaymentView>, headers(("ETag" = String))),
        (status = 404, description = "No such payment (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PaymentPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentRead, None)?;
    let payment = load(&services, &principal, &path.payment_id).await?;
    Ok(versioned_response(PaymentView::from(&payment), payment.version, StatusCode::OK))
}

/// The payment `payment_id` if the caller reaches it; 404 otherwise.
async fn load(services: &Services, principal: &Principal, payment_id: &str) -> Result<Payment, ApiError> {
    let payment_id = PaymentId::parse(payment_id).ok_or(Refused::PaymentMissing)?;
    services
        .store
        .ledger()
        .payment(&principal.org_id, payment_id.as_str())
        .await?
        .filter(|p| reaches(principal, &p.tenant_ids))
        .ok_or_else(|| Refused::PaymentMissing.into())
}

/// A stale `If-Match` names the payment.
const PAYMENT: Contention =
    Contention { resource: "payment", exhausted: "The payment is being changed concurrently; retry" };

/// Change a payment's memo and reference (`If-Match` honoured). What the ledger recorded
/// (amount, method, lease, invoices) cannot change: sending it is a 422; a refund
/// corrects money.
#[utoipa::path(put, path = "/api/v1/financial/payments/{payment_id}", operation_id = "replacePayment", tag = "financial",
    request_body = PaymentChangeInput,
    params(("payment_id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The payment, changed", body = SuccessEnvelope<PaymentView>, headers(("ETag" = String))),
        (status = 404, description = "No such payment", body = ErrorEnvelope),
        (status = 412, description = "The payment changed since the ETag sent", body = ErrorEnvelope),
        (status = 422, description = "Invalid memo or reference, or a field that cannot change", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    IfMatch(precondition): IfMatch,
    Path(path): Path<PaymentPath>,
    body: Json<PaymentChangeInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    let (services, principal, body) = (&services, &principal, &body);
    write_current(
        &precondition,
        PAYMENT,
        || load(services, principal, &path.payment_id),
        |payment| async move {
            let change = body.get()?.value.validate()?;
            let changed = Payment {
                memo: change.memo,
                reference: change.reference,
                updated_at: Some(time_format::now()),
                version: payment.version + 1,
                ..payment.clone()
            };
            if !services.store.ledger().replace_payment(&changed, payment.version).await? {
                return Ok(Attempt::LostRace);
            }
            Ok(Attempt::Done(versioned_response(PaymentView::from(&changed), changed.version, StatusCode::OK)))
        },
    )
    .await
}

/// A payment's receipt: the organization, property and tenants, what it paid, and the
/// lease's balance after it. JSON, or a PDF with `Accept: application/pdf`.
#[utoipa::path(get, path = "/api/v1/financial/payments/{payment_id}/receipt", operation_id = "getPaymentReceipt", tag = "financial",
    params(("payment_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The receipt",
            content((SuccessEnvelope<ReceiptView> = "application/json"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "No such payment (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn receipt(
    State(services): State<Services>,
    principal: Principal,
    headers: HeaderMap,
    Path(path): Path<PaymentPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentRead, None)?;
    let payment = load(&services, &principal, &path.payment_id).await?;
    let receipt = receipts::receipt(&services, &payment).await?;
    if receipts::wants_pdf(&headers) {
        return Ok(receipts::pdf_response(receipts::receipt_pdf(&receipt)));
    }
    Ok(versioned_response(receipt, payment.version, StatusCode::OK))
}

/// Refund a payment in full or in part. The refund is an entry on the lease's ledger;
/// it gives back first what the payment left as credit, then un-pays its invoices,
/// latest allocation first, so they are open (or overdue) again. `Idempotency-Key` is
/// required.
#[utoipa::path(post, path = "/api/v1/financial/payments/{payment_id}/refund", operation_id = "refundPayment", tag = "financial",
    request_body = RefundInput,
    params(("payment_id" = String, Path),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Refunded: the payment with its refunds", body = SuccessEnvelope<PaymentView>, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such payment", body = ErrorEnvelope),
        (status = 409, description = "Refunded in full already, or the lease's ledger is busy", body = ErrorEnvelope),
        (status = 422, description = "More than is left to refund, no reason, or the key was used with another body", body = ErrorEnvelope),
    ))]
pub async fn refund(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    Path(path): Path<PaymentPath>,
    body: Json<RefundInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    // The payment's 404 before the key's and the body's refusals.
    load(&services, &principal, &path.payment_id).await?;
    let payment_id = PaymentId::parse(&path.payment_id).ok_or(Refused::PaymentMissing)?;
    let key = key.ok_or_else(|| ApiError::BadRequest("Idempotency-Key is required: a refund moves money".into()))?;
    let body = body.accept()?;
    let terms = body.value.validate()?;
    let scope = format!("POST /api/v1/financial/payments/{payment_id}/refund");
    let request =
        CreateRequest { scope: &scope, key: Some(&key), fingerprint: &body.fingerprint, now: time_format::now() };
    let org_id = &principal.org_id;
    if let Some(first) = request.replay_if_used(&services.store, org_id).await? {
        return Ok(first);
    }
    let reaches = |p: &Payment| reaches(&principal, &p.tenant_ids);
    match refunds::apply(&services, org_id, &payment_id, &terms, &reaches, Some(request)).await? {
        refunds::Outcome::Answer(response) => Ok(response),
        refunds::Outcome::Refunded(_) => Err(ApiError::internal("a refund route answered without a response")),
    }
}
