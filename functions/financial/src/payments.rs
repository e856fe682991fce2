//! Payment handlers. A payment is applied to the lease's open invoices, oldest due
//! first unless the caller names them; what is left over is a credit. The payment, its
//! ledger entry, the invoices it pays and the lease's balance are one transaction
//! conditioned on the balance's version, so concurrent payments never lose money.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::PaymentId;
use shared::domain::money::Money;
use shared::domain::payment::Payment;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::Precondition;
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races_up_to};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::ledger::{PaymentFilter, Posted};
use shared::{ApiError, Services, time_format};

use crate::ledgers::{LEDGER_ATTEMPTS, LeaseListParams, balance_of, lease_in_reach, list_in_reach, reaches};
use crate::refusals::Refused;
use crate::requests::PaymentInput;
use crate::views::PaymentView;

const CONTENTION: Contention =
    Contention { resource: "ledger", exhausted: "The lease's ledger is being changed concurrently; retry" };

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
    let key = key.ok_or_else(|| ApiError::BadRequest("Idempotency-Key is required: a payment moves money".into()))?;
    let terms = body.value.validate()?;
    let request = CreateRequest {
        scope: "POST /api/v1/financial/payments",
        key: Some(&key),
        fingerprint: &body.fingerprint,
        now: time_format::now(),
    };
    let org_id = &principal.org_id;
    if let Some(first) = request.replay_if_used(&services.store, org_id).await? {
        return Ok(first);
    }
    let lease = lease_in_reach(&services, &principal, &terms.lease_id).await?;
    if terms.currency.as_ref().is_some_and(|c| *c != lease.currency) {
        return Err(Refused::CurrencyMismatch(lease.currency.as_str().to_owned()).into());
    }
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let (now, today) = (time_format::now(), calendar::today());
        let balance = balance_of(&services, &lease).await?;
        let allocations = balance.allocate(terms.amount, terms.invoice_ids.as_deref()).map_err(Refused::Allocation)?;
        let payment_id = PaymentId::generate();
        let (posting, paid) = balance.receive_payment(payment_id.as_str(), terms.amount, &allocations, now, today);
        let applied: i64 = allocations.iter().map(|a| a.amount.0).sum();
        let payment = Payment {
            id: payment_id.to_string(),
            org_id: org_id.clone(),
            lease_id: lease.id.clone(),
            property_id: lease.property_id.clone(),
            tenant_ids: lease.tenant_ids.clone(),
            currency: lease.currency.clone(),
            amount: terms.amount,
            method: terms.method,
            reference: terms.reference.clone(),
            received_on: terms.received_on,
            allocations,
            unapplied: Money(terms.amount.0 - applied),
            created_at: now,
            version: 1,
        };
        let location = format!("/api/v1/financial/payments/{}", payment.id);
        let creation = Creation::new(request, PaymentView::from(&payment), payment.version, location)?;
        match services.store.ledger().record_payment(&payment, &posting, &paid, creation.idempotency()).await? {
            Posted::Posted => Ok(Attempt::Done(creation.created())),
            Posted::Replay(first) => creation.replay(*first).map(Attempt::Done),
            Posted::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
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
        let filter = PaymentFilter { lease_id: params.lease_id.clone(), tenant_id };
        let fingerprint = filter.fingerprint();
        (filter, fingerprint)
    };
    let fetch = |filter: PaymentFilter, start, size| async move {
        store.ledger().list_payments(org_id, &filter, start, size).await
    };
    list_in_reach::<_, _, PaymentView, _>(
        &services,
        &principal,
        params.page_size,
        params.cursor.as_deref(),
        filter_for,
        fetch,
    )
    .await
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
    let payment_id = PaymentId::parse(&path.payment_id).ok_or(Refused::PaymentMissing)?;
    let payment = services
        .store
        .ledger()
        .payment(&principal.org_id, payment_id.as_str())
        .await?
        .filter(|p| reaches(&principal, &p.tenant_ids))
        .ok_or(Refused::PaymentMissing)?;
    Ok(versioned_response(PaymentView::from(&payment), payment.version, StatusCode::OK))
}
