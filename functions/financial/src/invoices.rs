//! Invoice handlers. Issuing an invoice charges its lines to the lease's ledger; a draft
//! stays off the ledger until it is sent. Revising, cancelling, voiding or deleting an
//! issued invoice posts the entries that correct the ledger. Each change is one
//! transaction with the lease's balance conditioned on the version read: a lost race
//! re-reads the balance and tries again.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::InvoiceId;
use shared::domain::invoice::{Invoice, InvoiceStatus, LineItem};
use shared::domain::ledger::{EntryKind, EntryLine, LeaseBalance, Posting};
use shared::domain::money::Money;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::listing::{PageParams, PageRequest, only_page_response, updated_since};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races_up_to};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::events::OutboxMessage;
use shared::store::ledger::{InvoiceFilter, InvoiceWrite, PaymentFilter, Posted, Revised};
use shared::{ApiError, Services, time_format};
use time::{Date, OffsetDateTime};
use utoipa::IntoParams;

use crate::announce;
use crate::ledgers::{CONTENTION, LEDGER_ATTEMPTS, balance_of, lease_in_reach, listing_reach, reaches};
use crate::receipts;
use crate::refusals::Refused;
use crate::requests::{InvoiceChangeInput, InvoiceInput, Line};
use crate::views::{InvoicePaidView, InvoiceView, PaymentView};

/// A stale `If-Match` names the invoice; lost races on the ledger are retried.
const INVOICE: Contention = Contention { resource: "invoice", exhausted: CONTENTION.exhausted };

#[derive(Debug, Deserialize)]
pub struct InvoicePath {
    invoice_id: String,
}

pub(crate) async fn load(services: &Services, principal: &Principal, invoice_id: &str) -> Result<Invoice, ApiError> {
    let invoice_id = InvoiceId::parse(invoice_id).ok_or(Refused::InvoiceMissing)?;
    services
        .store
        .ledger()
        .invoice(&principal.org_id, invoice_id.as_str())
        .await?
        .filter(|i| reaches(principal, &i.tenant_ids))
        .ok_or_else(|| Refused::InvoiceMissing.into())
}

/// The lease's stored balance, which every issued invoice has.
async fn stored_balance(services: &Services, invoice: &Invoice) -> Result<LeaseBalance, ApiError> {
    services
        .store
        .ledger()
        .balance(&invoice.org_id, &invoice.lease_id)
        .await?
        .ok_or_else(|| ApiError::internal("an issued invoice's lease has no ledger balance"))
}

/// The credit that reverses an unpaid invoice's charges; none for an invoice that is
/// not on the ledger (a draft, or one already cancelled or void).
async fn reversal(services: &Services, invoice: &Invoice, now: OffsetDateTime) -> Result<Option<Posting>, ApiError> {
    Ok(match invoice.status {
        InvoiceStatus::Draft | InvoiceStatus::Cancelled | InvoiceStatus::Void => None,
        _ => {
            let balance = stored_balance(services, invoice).await?;
            Some(balance.cancel_invoice(&invoice.id, invoice.total, now, calendar::today()))
        }
    })
}

fn line_items(lines: &[Line]) -> Vec<LineItem> {
    lines
        .iter()
        .map(|l| LineItem { description: l.description.clone(), category: l.category, amount: l.amount })
        .collect()
}

fn total(items: &[LineItem]) -> Money {
    Money(items.iter().map(|l| l.amount.0).sum())
}

/// An invoice's lines as ledger charges.
fn charges<'a>(invoice_id: &'a str, items: &'a [LineItem]) -> Vec<EntryLine<'a>> {
    items
        .iter()
        .map(|l| EntryLine {
            kind: EntryKind::Charge,
            category: Some(l.category),
            amount: l.amount,
            description: &l.description,
            invoice_id: Some(invoice_id),
            payment_id: None,
        })
        .collect()
}

/// `invoice.paid` when `invoice` is paid now (it was not before).
pub(crate) fn paid_message(invoice: &InvoicePaidView, at: OffsetDateTime) -> Result<OutboxMessage, ApiError> {
    announce::message(&invoice.organization_id, "invoice.paid", "invoice", invoice, at)
}

/// Issues `draft` (or, for a new invoice, builds it issued): charges its lines, any
/// credit on the lease paying it. The messages are `invoice.paid` when the credit pays
/// it in full, and `invoice.sent` when `sent`.
fn issue(
    balance: &LeaseBalance,
    draft: &Invoice,
    now: OffsetDateTime,
    sent: bool,
) -> Result<(Invoice, Posting, Vec<OutboxMessage>), ApiError> {
    if !balance.has_room_for_invoice() {
        return Err(Refused::TooManyOpenInvoices.into());
    }
    let charges = charges(&draft.id, &draft.line_items);
    let (posting, from_credit) = balance.charge_invoice(&draft.id, draft.due_date, &charges, now, calendar::today());
    let issued = Invoice {
        amount_paid: from_credit,
        status: InvoiceStatus::of_payments(from_credit, draft.total),
        updated_at: now,
        ..draft.clone()
    };
    let mut messages = Vec::new();
    if issued.status == InvoiceStatus::Paid {
        messages.push(paid_message(&InvoicePaidView::new(&issued, None), now)?);
    }
    if sent {
        messages.push(announce::message(&issued.org_id, "invoice.sent", "invoice", &InvoiceView::from(&issued), now)?);
    }
    Ok((issued, posting, messages))
}

/// Issue an invoice to a lease: its lines are charged to the lease's ledger at once,
/// and any credit on the lease pays it. With `status: draft` it stays off the ledger
/// until it is sent.
#[utoipa::path(post, path = "/api/v1/financial/invoices", operation_id = "createInvoice", tag = "financial",
    request_body = InvoiceInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Issued (or drafted)", body = SuccessEnvelope<InvoiceView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such lease", body = ErrorEnvelope),
        (status = 409, description = "The lease has too many open invoices, or its ledger is busy", body = ErrorEnvelope),
        (status = 422, description = "Invalid lines, dates, status or currency", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<InvoiceInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceCreate, None)?;
    let body = body.accept()?;
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
    let items = line_items(&terms.content.lines);
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let now = time_format::now();
        let draft = Invoice {
            id: InvoiceId::generate().to_string(),
            org_id: org_id.clone(),
            lease_id: lease.id.clone(),
            property_id: lease.property_id.clone(),
            unit_id: lease.unit_id.clone(),
            tenant_ids: lease.tenant_ids.clone(),
            currency: lease.currency.clone(),
            line_items: items.clone(),
            total: total(&items),
            amount_paid: Money(0),
            status: InvoiceStatus::Draft,
            issue_date: terms.content.issue_date,
            due_date: terms.content.due_date,
            notes: terms.content.notes.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let (invoice, posting, messages) = if terms.draft {
            (draft, None, Vec::new())
        } else {
            let balance = balance_of(&services, &lease).await?;
            let (issued, posting, messages) = issue(&balance, &draft, now, false)?;
            (issued, Some(posting), messages)
        };
        let location = format!("/api/v1/financial/invoices/{}", invoice.id);
        let creation = Creation::new(request, InvoiceView::from(&invoice), invoice.version, location)?;
        let ledger = services.store.ledger();
        match ledger.issue_invoice(&invoice, posting.as_ref(), &messages, creation.idempotency()).await? {
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
    /// Invoices of leases naming this tenant (a Tenant sees only their own anyway).
    pub tenant_id: Option<String>,
    pub property_id: Option<String>,
    /// `overdue` is an `open` or `partially_paid` invoice past its due date (today, UTC).
    pub status: Option<InvoiceStatus>,
    /// `YYYY-MM-DD`: due on or before this day.
    pub due_before: Option<String>,
    /// `YYYY-MM-DD`: due on or after this day.
    pub due_after: Option<String>,
    /// ISO 8601 date or timestamp: invoices changed at or after it.
    pub updated_since: Option<String>,
}

fn due_filter(name: &str, raw: Option<&str>) -> Result<Option<Date>, ApiError> {
    raw.map(|raw| {
        calendar::parse_date(raw).ok_or_else(|| ApiError::BadRequest(format!("{name} must be a YYYY-MM-DD date")))
    })
    .transpose()
}

/// List the organization's invoices, oldest first.
#[utoipa::path(get, path = "/api/v1/financial/invoices", operation_id = "listInvoices", tag = "financial", params(ListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of invoices (a Tenant sees only their leases')", body = SuccessEnvelope<Vec<InvoiceView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
        (status = 422, description = "due_after is later than due_before", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let due_before = due_filter("due_before", params.due_before.as_deref())?;
    let due_after = due_filter("due_after", params.due_after.as_deref())?;
    if let (Some(before), Some(after)) = (due_before, due_after)
        && after > before
    {
        return Err(ApiError::invalid_field("due_after", "must not be later than due_before"));
    }
    let updated_since = updated_since(params.updated_since.as_deref())?;
    let Some(own) = listing_reach(&principal) else {
        return Ok(only_page_response(Vec::<InvoiceView>::new(), page_size));
    };
    let tenant_id = match (own, &params.tenant_id) {
        (Some(own), Some(asked)) if own != *asked => {
            return Ok(only_page_response(Vec::<InvoiceView>::new(), page_size));
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked.clone(),
    };
    let filter = InvoiceFilter {
        lease_id: params.lease_id.clone(),
        tenant_id,
        property_id: params.property_id.clone(),
        status: params.status,
        due_before,
        due_after,
        updated_since,
    };
    let org_id = &principal.org_id;
    let listing = PageRequest::in_organization(
        &services.cursors,
        org_id,
        filter.fingerprint(),
        page_size,
        params.cursor.as_deref(),
    )?;
    let page = services
        .store
        .ledger()
        .list_invoices(org_id, &filter, calendar::today(), listing.start.clone(), page_size)
        .await?;
    Ok(listing.respond::<_, InvoiceView>(&services.cursors, page))
}

/// Get an invoice: JSON, or a PDF with `Accept: application/pdf`.
#[utoipa::path(get, path = "/api/v1/financial/invoices/{invoice_id}", operation_id = "getInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String)),
            content((SuccessEnvelope<InvoiceView> = "application/json"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "No such invoice (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    headers: HeaderMap,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceRead, None)?;
    let invoice = load(&services, &principal, &path.invoice_id).await?;
    if receipts::wants_pdf(&headers) {
        return receipts::invoice_pdf(&services, &invoice).await;
    }
    Ok(versioned_response(InvoiceView::from(&invoice), invoice.version, StatusCode::OK))
}

/// Closes an invoice as `status` (cancelled or void): an issued one's charges are
/// credited back; one with payments must be refunded first.
async fn close(
    services: &Services,
    principal: &Principal,
    invoice_id: &str,
    status: InvoiceStatus,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let invoice = load(services, principal, invoice_id).await?;
        match invoice.status {
            InvoiceStatus::Cancelled | InvoiceStatus::Void => return Err(Refused::InvoiceClosed.into()),
            _ if invoice.amount_paid.0 > 0 => return Err(Refused::InvoicePaid.into()),
            _ => {}
        }
        let now = time_format::now();
        let posting = reversal(services, &invoice, now).await?;
        let closed = Invoice { status, updated_at: now, version: invoice.version + 1, ..invoice.clone() };
        let ledger = services.store.ledger();
        match ledger.change_invoice(InvoiceWrite::Put(&closed), invoice.version, posting.as_ref(), &[], now).await? {
            Revised::Revised => {
                Ok(Attempt::Done(versioned_response(InvoiceView::from(&closed), closed.version, StatusCode::OK)))
            }
            Revised::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// Cancel an unpaid invoice: its charges are credited back to the lease's ledger. An
/// invoice with payments must be refunded first (409).
#[utoipa::path(post, path = "/api/v1/financial/invoices/{invoice_id}/cancel", operation_id = "cancelInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, cancelled", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice has payments (refund first), or is already cancelled or void", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    close(&services, &principal, &path.invoice_id, InvoiceStatus::Cancelled).await
}

/// Void an invoice issued in error (or a draft): like a cancellation, an issued one's
/// charges are credited back, and one with payments must be refunded first (409).
#[utoipa::path(post, path = "/api/v1/financial/invoices/{invoice_id}/void", operation_id = "voidInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, void", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice has payments (refund first), or is already cancelled or void", body = ErrorEnvelope),
    ))]
pub async fn void(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    close(&services, &principal, &path.invoice_id, InvoiceStatus::Void).await
}

/// Send an invoice to the lease's tenants: a draft is issued (charged to the ledger) and
/// `invoice.sent` is published for the mail sender; sending an open invoice again
/// publishes `invoice.sent` again.
#[utoipa::path(post, path = "/api/v1/financial/invoices/{invoice_id}/send", operation_id = "sendInvoice", tag = "financial",
    params(("invoice_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, issued and sent", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice is paid, cancelled or void, or the lease's ledger is busy", body = ErrorEnvelope),
    ))]
pub async fn send(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &Precondition::None, CONTENTION, || async {
        let invoice = load(&services, &principal, &path.invoice_id).await?;
        let now = time_format::now();
        let ledger = services.store.ledger();
        let (shown, outcome) = match invoice.status {
            InvoiceStatus::Draft => {
                let balance = balance_of(&services, &lease_of(&services, &principal, &invoice).await?).await?;
                let (issued, posting, messages) = issue(&balance, &invoice, now, true)?;
                let issued = Invoice { version: invoice.version + 1, ..issued };
                let change = InvoiceWrite::Put(&issued);
                let outcome = ledger.change_invoice(change, invoice.version, Some(&posting), &messages, now).await?;
                (issued, outcome)
            }
            InvoiceStatus::Open | InvoiceStatus::PartiallyPaid | InvoiceStatus::Overdue => {
                let view = InvoiceView::from(&invoice);
                let message = announce::message(&invoice.org_id, "invoice.sent", "invoice", &view, now)?;
                let outcome = ledger.announce_invoice(&invoice, &[message], now).await?;
                (invoice, outcome)
            }
            InvoiceStatus::Paid => return Err(Refused::InvoiceSettled.into()),
            InvoiceStatus::Cancelled | InvoiceStatus::Void => return Err(Refused::InvoiceClosed.into()),
        };
        Ok(match outcome {
            Revised::Revised => {
                Attempt::Done(versioned_response(InvoiceView::from(&shown), shown.version, StatusCode::OK))
            }
            Revised::Changed => Attempt::LostRace,
        })
    })
    .await
}

/// The lease of an invoice, which the caller reaches since they reach the invoice.
async fn lease_of(
    services: &Services,
    principal: &Principal,
    invoice: &Invoice,
) -> Result<shared::domain::lease::Lease, ApiError> {
    let lease_id = shared::domain::ids::LeaseId::parse(&invoice.lease_id)
        .ok_or_else(|| ApiError::internal("an invoice names no lease id"))?;
    lease_in_reach(services, principal, &lease_id).await
}

/// Change an invoice's lines, dates and notes (`If-Match` honoured). An issued invoice's
/// charges are replaced on the ledger (a credit of the old total, then the new lines);
/// an invoice with payments, or cancelled or void, cannot change (409).
#[utoipa::path(put, path = "/api/v1/financial/invoices/{invoice_id}", operation_id = "replaceInvoice", tag = "financial",
    request_body = InvoiceChangeInput,
    params(("invoice_id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The invoice, changed", body = SuccessEnvelope<InvoiceView>, headers(("ETag" = String))),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice has payments, or is cancelled or void", body = ErrorEnvelope),
        (status = 412, description = "The invoice changed since the ETag sent", body = ErrorEnvelope),
        (status = 422, description = "Invalid lines or dates, or a field that cannot change", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    IfMatch(precondition): IfMatch,
    Path(path): Path<InvoicePath>,
    body: Json<InvoiceChangeInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &precondition, INVOICE, || async {
        let invoice = load(&services, &principal, &path.invoice_id).await?;
        if !precondition.allows(invoice.version) {
            return Err(INVOICE.stale());
        }
        refuse_paid_or_closed(&invoice)?;
        let content = body.get()?.value.validate(invoice.issue_date)?;
        let now = time_format::now();
        let items = line_items(&content.lines);
        let changed = Invoice {
            total: total(&items),
            line_items: items,
            issue_date: content.issue_date,
            due_date: content.due_date,
            notes: content.notes.clone(),
            updated_at: now,
            version: invoice.version + 1,
            ..invoice.clone()
        };
        let posting = match invoice.status {
            InvoiceStatus::Draft => None,
            _ => {
                let balance = stored_balance(&services, &invoice).await?;
                let charges = charges(&changed.id, &changed.line_items);
                let today = calendar::today();
                Some(balance.revise_invoice(&invoice.id, invoice.total, changed.due_date, &charges, now, today))
            }
        };
        let ledger = services.store.ledger();
        match ledger.change_invoice(InvoiceWrite::Put(&changed), invoice.version, posting.as_ref(), &[], now).await? {
            Revised::Revised => {
                Ok(Attempt::Done(versioned_response(InvoiceView::from(&changed), changed.version, StatusCode::OK)))
            }
            Revised::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// 409 for an invoice whose money or status no longer allows a change.
fn refuse_paid_or_closed(invoice: &Invoice) -> Result<(), ApiError> {
    match invoice.status {
        InvoiceStatus::Paid => Err(Refused::InvoiceSettled.into()),
        InvoiceStatus::Cancelled | InvoiceStatus::Void => Err(Refused::InvoiceClosed.into()),
        _ if invoice.amount_paid.0 > 0 => Err(Refused::InvoicePaid.into()),
        _ => Ok(()),
    }
}

/// Delete a draft, or an invoice without payments (`If-Match` honoured): an issued
/// one's charges are credited back first. A paid invoice, or one with payments, is 409.
#[utoipa::path(delete, path = "/api/v1/financial/invoices/{invoice_id}", operation_id = "deleteInvoice", tag = "financial",
    params(("invoice_id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such invoice", body = ErrorEnvelope),
        (status = 409, description = "The invoice has payments", body = ErrorEnvelope),
        (status = 412, description = "The invoice changed since the ETag sent", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    IfMatch(precondition): IfMatch,
    Path(path): Path<InvoicePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceUpdate, None)?;
    retry_lost_races_up_to(LEDGER_ATTEMPTS, &precondition, INVOICE, || async {
        let invoice = load(&services, &principal, &path.invoice_id).await?;
        if !precondition.allows(invoice.version) {
            return Err(INVOICE.stale());
        }
        match invoice.status {
            InvoiceStatus::Paid => return Err(Refused::InvoiceSettled.into()),
            _ if invoice.amount_paid.0 > 0 => return Err(Refused::InvoicePaid.into()),
            _ => {}
        }
        let now = time_format::now();
        let posting = reversal(&services, &invoice, now).await?;
        let ledger = services.store.ledger();
        match ledger.change_invoice(InvoiceWrite::Delete(&invoice), invoice.version, posting.as_ref(), &[], now).await?
        {
            Revised::Revised => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
            Revised::Changed => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// The payments applied (in part) to an invoice, oldest first.
#[utoipa::path(get, path = "/api/v1/financial/invoices/{invoice_id}/payments", operation_id = "listInvoicePayments", tag = "financial",
    params(("invoice_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the invoice's payments", body = SuccessEnvelope<Vec<PaymentView>>),
        (status = 400, description = "Invalid cursor", body = ErrorEnvelope),
        (status = 404, description = "No such invoice (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn payments(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<InvoicePath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::InvoiceRead, None)?;
    principal.authorize(Permission::PaymentRead, None)?;
    let invoice = load(&services, &principal, &path.invoice_id).await?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let filter = PaymentFilter {
        lease_id: Some(invoice.lease_id.clone()),
        tenant_id: None,
        invoice_id: Some(invoice.id.clone()),
    };
    let org_id = &principal.org_id;
    let listing = PageRequest::in_organization(
        &services.cursors,
        org_id,
        filter.fingerprint(),
        page_size,
        params.cursor.as_deref(),
    )?;
    let page = services.store.ledger().list_payments(org_id, &filter, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, PaymentView>(&services.cursors, page))
}
