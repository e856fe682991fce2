//! Saved payment methods: references to methods a processor holds, for a lease's
//! tenants to pay with. A body carrying a full card number or a security code is
//! refused before it is parsed further: card data is never stored, echoed or logged.

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use shared::auth::{Permission, Principal};
use shared::domain::ids::PaymentMethodId;
use shared::domain::payment_method::{SavedPaymentMethod, card_data_in};
use shared::http::body::{Json, shaped};
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::query::Query;
use shared::store::payment_methods::{MethodFilter, MethodSaved};
use shared::{ApiError, Services, time_format};

use crate::ledgers::{LeaseListParams, lease_in_reach, list_in_reach};
use crate::requests::PaymentMethodInput;
use crate::views::PaymentMethodView;

/// Save a payment method for a lease: the processor's token, brand, last four digits
/// and expiry. A Tenant saves methods for their own lease only.
#[utoipa::path(post, path = "/api/v1/financial/payment-methods", operation_id = "createPaymentMethod", tag = "financial",
    request_body = PaymentMethodInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Saved", body = SuccessEnvelope<PaymentMethodView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such lease (or not the caller's, for a Tenant)", body = ErrorEnvelope),
        (status = 422, description = "A card number or security code in the body (the field is named, the value never repeated), or an invalid field", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<Value>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentCreate, None)?;
    let body = body.accept()?;
    if let Some(found) = card_data_in(&body.value) {
        tracing::warn!(field = found.field(), "payment method refused: the body carried card data");
        return Err(ApiError::invalid_field(found.field(), found.reason()));
    }
    let input: PaymentMethodInput = shaped(body.value)?;
    let terms = input.validate()?;
    let request = CreateRequest {
        scope: "POST /api/v1/financial/payment-methods",
        key: key.as_deref(),
        fingerprint: &body.fingerprint,
        now: time_format::now(),
    };
    let org_id = &principal.org_id;
    if let Some(first) = request.replay_if_used(&services.store, org_id).await? {
        return Ok(first);
    }
    let lease = lease_in_reach(&services, &principal, &terms.lease_id).await?;
    let method = SavedPaymentMethod {
        id: PaymentMethodId::generate().to_string(),
        org_id: org_id.clone(),
        lease_id: lease.id.clone(),
        property_id: lease.property_id.clone(),
        tenant_ids: lease.tenant_ids.clone(),
        processor: terms.processor,
        processor_token: terms.processor_token,
        kind: terms.kind,
        brand: terms.brand,
        last4: terms.last4,
        exp_month: terms.expiry.map(|(month, _)| month),
        exp_year: terms.expiry.map(|(_, year)| year),
        created_at: request.now,
        version: 1,
    };
    // Saved methods are listed, not read one by one: the listing is where they live.
    let location = format!("/api/v1/financial/payment-methods?lease_id={}", method.lease_id);
    let creation = Creation::new(request, PaymentMethodView::from(&method), method.version, location)?;
    match services.store.payment_methods().create(&method, creation.idempotency()).await? {
        MethodSaved::Saved => Ok(creation.created()),
        MethodSaved::Replay(first) => creation.replay(*first),
    }
}

/// List the organization's saved payment methods, oldest first.
#[utoipa::path(get, path = "/api/v1/financial/payment-methods", operation_id = "listPaymentMethods", tag = "financial", params(LeaseListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of payment methods (a Tenant sees only their leases')", body = SuccessEnvelope<Vec<PaymentMethodView>>),
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
        let filter = MethodFilter { lease_id: params.lease_id.clone(), tenant_id };
        let fingerprint = filter.fingerprint();
        (filter, fingerprint)
    };
    let fetch = |filter: MethodFilter, start, size| async move {
        store.payment_methods().list(org_id, &filter, start, size).await
    };
    list_in_reach::<_, _, PaymentMethodView, _>(
        &services,
        &principal,
        params.page_size,
        params.cursor.as_deref(),
        filter_for,
        fetch,
    )
    .await
}
