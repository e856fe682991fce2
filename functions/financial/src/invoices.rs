//! Invoice handlers. Issuing an invoice charges its lines to the lease's ledger, and
//! cancelling one credits them back, each in one transaction with the lease's balance
//! conditioned on the version read: a lost race re-reads the balance and tries again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::InvoiceId;
use shared::domain::invoice::{Invoice, InvoiceStatus, LineItem};
use shared::domain::ledger::{EntryKind, EntryLine};
use shared::domain::money::Money;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::Precondition;
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races_up_to};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::ledger::{InvoiceFilter, Posted, Reversed};
use shared::{ApiError, Services, time_format};
use utoipa::IntoParams;

use crate::ledgers::{LEDGER_ATTEMPTS, balance_of, lease_in_reach, list_in_reach, reaches};
use crate::refusals::Refused;
use crate::requests::InvoiceInput;
use crate::views::InvoiceView;

const CONTENTION: Contention =
    Contention { resource: "ledger", exhausted: "The lease's ledger is being changed concurrently; retry" };

#[derive(Debug, Deserialize)]
pub struct InvoicePath {
    invoice_id: String,
}

async fn load(services: &Services, principal: &Principal, invoice_id: &str) -> Result<Invoice, ApiError> {
    let invoice_id = InvoiceId::parse(invoice_id).ok_or(Refused::InvoiceMissing)?;
    services
        .store
        .ledger()
        .invoice(&principal.org_id, invoice_id.as_str())
        .await?
        .filter(|i| reaches(principal, &i.tenant_ids))
        .ok_or_else(|| Refused::InvoiceMissing.into())
}

/// Issue an invoice to a lease: its lines are charged to the lease's ledger at once,
/// and any credit on the lease pays it.
#[utoipa::path(post, path = "/api/v1/financial/invoices", operation_id = "createInvoice", tag = "financial",
    request_body = InvoiceInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Issued", body = SuccessEnvelope<InvoiceView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such lease", body = ErrorEnvelope),
        (status = 409, description = "The lease has too many open invoices, or its ledger is busy", body = ErrorEnvelope),
        (status = 422, description = "Invalid lines, dates or currency", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<InvoiceInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceCreate, None)?;
    let terms = body.value.validate()?;
    let request = CreateRequest {
        scope: "POST /api/v1/financial/invoices",
        key: key.as_deref(),
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
    let line_items: Vec<LineItem> = terms
        .lines
        .iter()
        .map(|l| LineItem { description: l.description.clone(), category: l.category, amount: l.amount })
        .collect();
    let total = Money(line_items.iter().map(|l| l.amount.0).sum());
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let (now, today) = (time_format::now(), calendar::today());
        let balance = balance_of(&services, &lease).await?;
        if !balance.has_room_for_invoice() {
            return Err(Refused::TooManyOpenInvoices.into());
        }
        let invoice_id = InvoiceId::generate();
        let charges: Vec<EntryLine<'_>> = line_items
            .iter()
            .map(|l| EntryLine {
                kind: EntryKind::Charge,
                category: Some(l.category),
                amount: l.amount,
                description: &l.description,
                invoice_id: Some(invoice_id.as_str()),
                payment_id: None,
            })
            .collect();
        let (posting, from_credit) = balance.charge_invoice(invoice_id.as_str(), terms.due_date, &charges, now, today);
        let invoice = Invoice {
            id: invoice_id.to_string(),
            org_id: org_id.clone(),
            lease_id: lease.id.clone(),
            property_id: lease.property_id.clone(),
            unit_id: lease.unit_id.clone(),
            tenant_ids: lease.tenant_ids.clone(),
            currency: lease.currency.clone(),
            line_items: line_items.clone(),
            total,
            amount_paid: from_credit,
            status: InvoiceStatus::of_payments(from_credit, total),
            issue_date: terms.issue_date,
            due_date: terms.due_date,
            notes: terms.notes.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let location = format!("/api/v1/financial/invoices/{}", invoice.id);
        let creation = Creation::new(request, InvoiceView::from(&invoice), invoice.version, location)?;
        match services.store.ledger().issue_invoice(&invoice, &posting, creation.idempotency()).await? {
            Posted::Posted => Ok(Attempt::Done(creation.created())),
            Posted::Replay(first) => creation.replay(*first).map(Attempt::Done),
            Posted::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// Query parameters of `GET /api/v1/financial/invoices`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub lease_id: Option<String>,
    /// `overdue` is an `open` or `partially_paid` invoice past its due date (today, UTC).
    pub status: Option<InvoiceStatus>,
}

/// List the organization's invoices, oldest first.
#[utoipa::path(get, path = "/api/v1/financial/invoices", operation_id = "listInvoices", tag = "financial", params(ListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of invoices (a Tenant sees only their leases')", body = SuccessEnvelope<Vec<InvoiceView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceRead, None)?;
    let (store, org_id) = (&services.store, &principal.org_id);
    let filter_for = |tenant_id| {
        let filter = InvoiceFilter { lease_id: params.lease_id.clone(), tenant_id, status: params.status };
        let fingerprint = filter.fingerprint();
        (filter, fingerprint)
    };
    let fetch = |filter: InvoiceFilter, start, size| async move {
        store.ledger().list_invoices(org_id, &filter, calendar::today(), start, size).await
    };
    list_in_reach::<_, _, InvoiceView, _>(
        &services,
        &principal,
        params.page_size,
        params.cursor.as_deref(),
        filter_for,
        fetch,
    )
    .await
}

/// Get an invoice.
#[utoipa::path(get, path = "/api/v1/financial/invoices/{invoice_id}", operation_id = "getInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceRead, None)?;
    let invoice = load(&services, &principal, &path.invoice_id).await?;
    Ok(versioned_response(InvoiceView::from(&invoice), invoice.version, StatusCode::OK))
}

/// Cancel an unpaid invoice: its charges are credited back to the lease's ledger. An
/// invoice with payments must be refunded first (409).
#[utoipa::path(post, path = "/api/v1/financial/invoices/{invoice_id}/cancel", operation_id = "cancelInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, cancelled", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice has payments (refund first), or is already cancelled", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let invoice = load(&services, &principal, &path.invoice_id).await?;
        match invoice.status {
            InvoiceStatus::Draft | InvoiceStatus::Cancelled | InvoiceStatus::Void => {
                return Err(Refused::InvoiceClosed.into());
            }
            _ if invoice.amount_paid.0 > 0 => return Err(Refused::InvoicePaid.into()),
            _ => {}
        }
        let balance = services
            .store
            .ledger()
            .balance(&principal.org_id, &invoice.lease_id)
            .await?
            .ok_or_else(|| ApiError::internal("an issued invoice's lease has no ledger balance"))?;
        let now = time_format::now();
        let posting = balance.cancel_invoice(&invoice.id, invoice.total, now, calendar::today());
        let cancelled = Invoice {
            status: InvoiceStatus::Cancelled,
            updated_at: now,
            version: invoice.version + 1,
            ..invoice.clone()
        };
        match services.store.ledger().cancel_invoice(&cancelled, invoice.version, &posting).await? {
            Reversed::Reversed => {
                Ok(Attempt::Done(versioned_response(InvoiceView::from(&cancelled), cancelled.version, StatusCode::OK)))
            }
            Reversed::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}
