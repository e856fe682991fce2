//! `/api/v1/screenings` handlers: extract → validate → SmartMove → store → envelope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::Problems;
use shared::domain::ids::{PropertyId, ScreeningId, UnitId};
use shared::domain::screening::{ReportStatus, Screening, ScreeningMode, password_digest};
use shared::domain::tenant::{Tenant, TenantFields};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::Precondition;
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::listing::PageRequest;
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::keys;
use shared::store::requests::VersionedPut;
use shared::store::screenings::{ScreeningCreated, ScreeningFilter};
use shared::store::tenants::TenantCreated;
use shared::{ApiError, time_format};
use utoipa::IntoParams;

use crate::ScreeningState;
use crate::refusals::Refused;
use crate::requests::{ApplicantInput, ScreeningInput, ValidOrder, email};
use crate::smartmove::{
    ApplicantRef, Application, ApplicationRef, Customer, OrderRequest, Product, Property, RequestParameters,
    SmartMoveError,
};
use crate::views::{ReportStatusView, ReportUrlView, ScreeningView};

#[derive(Debug, Deserialize)]
pub struct ScreeningPath {
    screening_id: String,
}

#[derive(Debug, Deserialize)]
pub struct ApplicantPath {
    screening_id: String,
    /// The applicant's email.
    applicant_id: String,
}

/// Query parameters of `GET /api/v1/screenings`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub property_id: Option<String>,
    pub unit_id: Option<String>,
    /// A report status (`Pending`, `InProgress`, `Ready`, ...).
    pub status: Option<ReportStatus>,
}

fn screening_response(view: ScreeningView, status: StatusCode) -> Response {
    let version = view.version;
    versioned_response(view, version, status)
}

async fn load(state: &ScreeningState, principal: &Principal, raw_id: &str) -> Result<Screening, ApiError> {
    let id = ScreeningId::parse(raw_id).ok_or(Refused::ScreeningMissing)?;
    state
        .services
        .store
        .screenings()
        .get(&principal.org_id, id.as_str())
        .await?
        .ok_or_else(|| Refused::ScreeningMissing.into())
}

/// The application reference of a placed, live order.
fn placed(screening: &Screening) -> Result<ApplicationRef, ApiError> {
    let application_id = screening.application_id.ok_or(Refused::NotPlaced)?;
    Ok(ApplicationRef { application_id, reference_id: screening.org_id.clone() })
}

const CONTENTION: Contention =
    Contention { resource: "screening", exhausted: "The screening is being changed concurrently; retry" };

/// Applies `change` to the stored screening (retrying lost races) and answers with it.
async fn revise(
    state: &ScreeningState,
    principal: &Principal,
    raw_id: &str,
    change: impl Fn(&mut Screening),
) -> Result<Screening, ApiError> {
    let change = &change;
    write_current(
        &Precondition::None,
        CONTENTION,
        || load(state, principal, raw_id),
        |current: Screening| async move {
            let mut next = current.clone();
            change(&mut next);
            next.version = current.version + 1;
            next.updated_at = time_format::now();
            match state.services.store.screenings().replace(&next, current.version).await? {
                VersionedPut::Done => Ok(Attempt::Done(next)),
                VersionedPut::VersionMismatch(_) => Ok(Attempt::LostRace),
                VersionedPut::Missing => Err(Refused::ScreeningMissing.into()),
            }
        },
    )
    .await
}

/// 32 random bytes, URL-safe base64.
fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The property's part of the order from our property and unit, in SmartMove's limits.
fn order_property(
    order: &ValidOrder,
    property: &shared::domain::Property,
    unit: &shared::domain::unit::Unit,
) -> Result<Property, Problems> {
    let mut problems = Problems::new();
    let address = &property.fields.address;
    let street = problems.text("property.address.street", &address.street, 1, 100);
    let city = problems.text("property.address.city", &address.city, 1, 50);
    let state = crate::requests::state(&mut problems, "property.address.state", &address.state);
    let zip = address.postal_code.trim().to_owned();
    if zip.len() != 5 || !zip.bytes().all(|b| b.is_ascii_digit()) {
        problems.add("property.address.postal_code", "SmartMove takes a 5-digit US ZIP code");
    }
    let name = problems.text("property.name", &property.fields.name, 1, 50);
    let unit_number = problems.text("unit.unit_number", &unit.fields.unit_number, 1, 50);
    problems.into_result()?;
    let landlord = order.landlord.clone();
    Ok(Property {
        landlord_first_name: landlord.as_ref().map(|l| l.first_name.clone()),
        landlord_last_name: landlord.as_ref().map(|l| l.last_name.clone()),
        landlord_street_address_line_one: landlord.as_ref().map(|l| l.street_line_one.clone()),
        landlord_street_address_line_two: landlord.as_ref().and_then(|l| l.street_line_two.clone()),
        landlord_city: landlord.as_ref().map(|l| l.city.clone()),
        landlord_state: landlord.as_ref().map(|l| l.state.clone()),
        landlord_zip: landlord.as_ref().map(|l| l.zip.clone()),
        landlord_phone_number: landlord.as_ref().map(|l| l.phone.clone()),
        landlord_phone_extension: landlord.as_ref().and_then(|l| l.phone_extension.clone()),
        landlord_email: landlord.as_ref().map(|l| l.email.clone()),
        street: Some(street),
        city: Some(city),
        state: Some(state),
        zip: Some(zip),
        unit_number: Some(unit_number),
        property_name: Some(name),
        classification: Some(order.classification),
        is_fcra_agreement_accepted: (order.mode == ScreeningMode::Embedded).then_some(order.fcra_agreement_accepted),
    })
}

/// Order a screening of a unit's applicants (product `PackageCorePlusEviction`).
///
/// `Idempotency-Key` is required: an order costs money, and a retry with the same key
/// replays the first answer instead of ordering again.
#[utoipa::path(post, path = "/api/v1/screenings", operation_id = "createScreening", tag = "screening",
    request_body = ScreeningInput,
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Ordered", body = SuccessEnvelope<ScreeningView>, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such property or unit", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields (SmartMove's limits are checked before sending)", body = ErrorEnvelope),
        (status = 502, description = "SmartMove refused or failed (`SMARTMOVE_*` codes)", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<ScreeningState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<ScreeningInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningCreate, None)?;
    let body = body.accept()?;
    let key = key.ok_or_else(|| ApiError::BadRequest("Idempotency-Key is required: a screening costs money".into()))?;
    let order = body.value.validate()?;
    let org_id = &principal.org_id;
    let now = time_format::now();
    let request =
        CreateRequest { scope: "POST /api/v1/screenings", key: Some(&key), fingerprint: &body.fingerprint, now };
    let services = &state.services;
    // The key is claimed before SmartMove is called, so two concurrent requests with one
    // key never pay for two orders; a request that fails frees it for a retry.
    if let Some(answer) = request.claim(&services.store, org_id).await? {
        return Ok(answer);
    }
    let placed = place(&state, &principal, order, request).await;
    if placed.is_err() {
        request.release(&services.store, org_id).await;
    }
    placed
}

/// Places a validated order under a claimed key: SmartMove first, then our record with
/// the key's answer, in one transaction.
async fn place(
    state: &ScreeningState,
    principal: &Principal,
    order: ValidOrder,
    key: CreateRequest<'_>,
) -> Result<Response, ApiError> {
    let (org_id, now, services) = (&principal.org_id, key.now, &state.services);
    let property_id = PropertyId::parse(&order.property_id).ok_or(Refused::PropertyMissing)?;
    let unit_id = UnitId::parse(&order.unit_id).ok_or(Refused::UnitMissing)?;
    let property = services.store.properties().get(org_id, &property_id).await?.ok_or(Refused::PropertyMissing)?;
    let unit = services.store.units().get(org_id, &property_id, &unit_id).await?.ok_or(Refused::UnitMissing)?;
    let smartmove_property = order_property(&order, &property, &unit)?;

    let id = ScreeningId::generate();
    let postback_username = format!("scr-{}", &random_token()?[..16]);
    let postback_password = random_token()?;
    let embedded = order.mode == ScreeningMode::Embedded;
    let request = OrderRequest {
        product: Product::PackageCorePlusEviction,
        application: Application {
            applicants: order.applicants.clone(),
            decline_for_open_bankruptcies: order.decline_for_open_bankruptcies,
            open_bankruptcy_window: order.open_bankruptcy_window,
            landlord_pays: embedded.then_some(true),
        },
        customer: Customer { reference_id: org_id.clone() },
        property: smartmove_property,
        credit_card: order.credit_card,
        request_parameters: RequestParameters {
            postback_uri: state.postback_uri.clone(),
            postback_password: postback_password.clone(),
            postback_username: postback_username.clone(),
            reference_id: id.to_string(),
            reference_text: None,
        },
    };
    let (application_id, order_link) = if embedded {
        (Some(state.smartmove.get().await?.create_embedded(&request).await?), None)
    } else {
        (None, Some(state.smartmove.get().await?.create(&request).await?))
    };
    let screening = Screening {
        id: id.to_string(),
        org_id: org_id.clone(),
        property_id: property_id.to_string(),
        unit_id: unit_id.to_string(),
        applicants: order.applicants,
        mode: order.mode,
        landlord_pays: embedded,
        application_id,
        order_link,
        status: ReportStatus::Pending,
        status_rank: ReportStatus::Pending.rank(),
        cancelled: false,
        postback_username,
        postback_password_sha256: password_digest(&postback_password),
        tenant_ids: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let view = ScreeningView::from(&screening);
    let location = format!("/api/v1/screenings/{}", screening.id);
    let creation = Creation::new(key, view, screening.version, location)?;
    match services.store.screenings().create(&screening, creation.idempotency()).await? {
        ScreeningCreated::Created => {
            tracing::info!(screening_id = %screening.id, application_id = ?application_id, "screening ordered");
            Ok(creation.created())
        }
        ScreeningCreated::Replay(first) => creation.replay(*first),
    }
}

/// List the organization's screenings, oldest first.
#[utoipa::path(get, path = "/api/v1/screenings", operation_id = "listScreenings", tag = "screening",
    params(ListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of screenings", body = SuccessEnvelope<Vec<ScreeningView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<ScreeningState>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let filter = ScreeningFilter {
        property_id: params.property_id.clone(),
        unit_id: params.unit_id.clone(),
        status: params.status,
    };
    let query = format!("screenings|{:?}|{:?}|{:?}", filter.property_id, filter.unit_id, filter.status);
    let services = &state.services;
    let listing = PageRequest::resume(&services.cursors, org_id, query, page_size, params.cursor.as_deref(), |key| {
        key.get(keys::PK) == Some(&keys::org(org_id))
            && key.get(keys::SK).is_some_and(|sk| sk.starts_with(keys::SCREENING_PREFIX))
    })?;
    let page = services.store.screenings().list(org_id, &filter, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, ScreeningView>(&services.cursors, page))
}

/// Get a screening, refreshed from SmartMove's application details (applicants with
/// their `ApplicantStatus`, the credit recommendation by name) and with its postbacks.
#[utoipa::path(get, path = "/api/v1/screenings/{screening_id}", operation_id = "getScreening", tag = "screening",
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The screening", body = SuccessEnvelope<ScreeningView>, headers(("ETag" = String))),
        (status = 404, description = "No such screening in this organization", body = ErrorEnvelope),
        (status = 502, description = "SmartMove failed", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningRead, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    let history = state.services.store.screenings().history(&principal.org_id, &screening.id).await?;
    let mut view = ScreeningView::from(&screening);
    if let Ok(reference) = placed(&screening) {
        let details = state.smartmove.get().await?.details(&reference).await?;
        view = view.with_details(&details);
    }
    view.postbacks = Some(history);
    Ok(screening_response(view, StatusCode::OK))
}

/// A SmartMove refusal of an applicant change is its precondition failing: a 409 with the reason.
fn applicant_refusal(err: SmartMoveError) -> ApiError {
    match err {
        SmartMoveError::Refused(reason) => Refused::Precondition(reason).into(),
        other => other.into(),
    }
}

/// Add an applicant (only while the tenants pay and the application is not completed).
#[utoipa::path(post, path = "/api/v1/screenings/{screening_id}/applicants", operation_id = "addScreeningApplicant", tag = "screening",
    request_body = ApplicantInput,
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Added", body = SuccessEnvelope<ScreeningView>, headers(("ETag" = String))),
        (status = 404, description = "No such screening", body = ErrorEnvelope),
        (status = 409, description = "Not placed yet, cancelled, or SmartMove's precondition failed (the reason is given)", body = ErrorEnvelope),
        (status = 422, description = "Invalid email", body = ErrorEnvelope),
        (status = 502, description = "SmartMove failed", body = ErrorEnvelope),
    ))]
pub async fn add_applicant(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
    body: Json<ApplicantInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningUpdate, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    let body = body.accept()?;
    let mut problems = Problems::new();
    let address = email(&mut problems, "email", &body.value.email).to_lowercase();
    problems.into_result()?;
    if screening.cancelled {
        return Err(Refused::Cancelled.into());
    }
    let reference = placed(&screening)?;
    let request = ApplicantRef {
        application_id: reference.application_id,
        reference_id: reference.reference_id,
        email: address.clone(),
    };
    state.smartmove.get().await?.add_applicant(&request).await.map_err(applicant_refusal)?;
    let next = revise(&state, &principal, &path.screening_id, |s| {
        if !s.applicants.contains(&address) {
            s.applicants.push(address.clone());
        }
    })
    .await?;
    Ok(screening_response(ScreeningView::from(&next), StatusCode::OK))
}

/// Remove an applicant (only one who has not responded, and never the last one).
#[utoipa::path(delete, path = "/api/v1/screenings/{screening_id}/applicants/{applicant_id}", operation_id = "deleteScreeningApplicant", tag = "screening",
    params(("screening_id" = String, Path), ("applicant_id" = String, Path, description = "The applicant's email")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Removed", body = SuccessEnvelope<ScreeningView>, headers(("ETag" = String))),
        (status = 404, description = "No such screening, or no such applicant on it", body = ErrorEnvelope),
        (status = 409, description = "Not placed yet, cancelled, or SmartMove's precondition failed (the reason is given)", body = ErrorEnvelope),
        (status = 502, description = "SmartMove failed", body = ErrorEnvelope),
    ))]
pub async fn delete_applicant(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ApplicantPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningUpdate, None)?;
    let address = path.applicant_id.trim().to_lowercase();
    let screening = load(&state, &principal, &path.screening_id).await?;
    if !screening.applicants.contains(&address) {
        return Err(ApiError::NotFound("Applicant"));
    }
    if screening.cancelled {
        return Err(Refused::Cancelled.into());
    }
    let reference = placed(&screening)?;
    let request = ApplicantRef {
        application_id: reference.application_id,
        reference_id: reference.reference_id,
        email: address.clone(),
    };
    state.smartmove.get().await?.delete_applicant(&request).await.map_err(applicant_refusal)?;
    let next = revise(&state, &principal, &path.screening_id, |s| s.applicants.retain(|a| *a != address)).await?;
    Ok(screening_response(ScreeningView::from(&next), StatusCode::OK))
}

/// Cancel the application at SmartMove.
#[utoipa::path(post, path = "/api/v1/screenings/{screening_id}/cancel", operation_id = "cancelScreening", tag = "screening",
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Cancelled (again, if it already was)", body = SuccessEnvelope<ScreeningView>, headers(("ETag" = String))),
        (status = 404, description = "No such screening", body = ErrorEnvelope),
        (status = 409, description = "Not placed yet, or SmartMove refused (the reason is given)", body = ErrorEnvelope),
        (status = 502, description = "SmartMove failed", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningUpdate, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    if screening.cancelled {
        return Ok(screening_response(ScreeningView::from(&screening), StatusCode::OK));
    }
    let reference = placed(&screening)?;
    state.smartmove.get().await?.cancel(&reference).await.map_err(applicant_refusal)?;
    let next = revise(&state, &principal, &path.screening_id, |s| s.cancelled = true).await?;
    Ok(screening_response(ScreeningView::from(&next), StatusCode::OK))
}

/// SmartMove's link to the reports.
#[utoipa::path(get, path = "/api/v1/screenings/{screening_id}/report-url", operation_id = "getScreeningReportUrl", tag = "screening",
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The link", body = SuccessEnvelope<ReportUrlView>),
        (status = 404, description = "No such screening", body = ErrorEnvelope),
        (status = 409, description = "Not placed yet", body = ErrorEnvelope),
        (status = 502, description = "SmartMove refused or failed", body = ErrorEnvelope),
    ))]
pub async fn report_url(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningRead, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    let reference = placed(&screening)?;
    let url = state.smartmove.get().await?.report_url(&reference).await?;
    Ok(ApiResponse::ok(ReportUrlView { screening_id: screening.id, application_id: reference.application_id, url })
        .into_response())
}

/// The report status as SmartMove reports it now.
#[utoipa::path(get, path = "/api/v1/screenings/{screening_id}/report-status", operation_id = "getScreeningReportStatus", tag = "screening",
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The status", body = SuccessEnvelope<ReportStatusView>),
        (status = 404, description = "No such screening", body = ErrorEnvelope),
        (status = 409, description = "Not placed yet", body = ErrorEnvelope),
        (status = 502, description = "SmartMove refused or failed", body = ErrorEnvelope),
    ))]
pub async fn report_status(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningRead, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    let reference = placed(&screening)?;
    let status = state.smartmove.get().await?.report_status(&reference).await?;
    Ok(ApiResponse::ok(ReportStatusView {
        screening_id: screening.id,
        application_id: reference.application_id,
        status,
    })
    .into_response())
}

/// Turn a screening into tenants: one tenant of the property per applicant, named as
/// SmartMove's details name them, once the report is `Ready`.
#[utoipa::path(post, path = "/api/v1/screenings/{screening_id}/convert", operation_id = "convertScreening", tag = "screening",
    params(("screening_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tenants were created; `tenant_ids` lists them", body = SuccessEnvelope<ScreeningView>, headers(("ETag" = String))),
        (status = 404, description = "No such screening, or its property is gone", body = ErrorEnvelope),
        (status = 409, description = "The report is not Ready, the screening was cancelled, or it was converted before", body = ErrorEnvelope),
        (status = 502, description = "SmartMove failed", body = ErrorEnvelope),
    ))]
pub async fn convert(
    State(state): State<ScreeningState>,
    principal: Principal,
    Path(path): Path<ScreeningPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ScreeningUpdate, None)?;
    principal.authorize(Permission::TenantCreate, None)?;
    let screening = load(&state, &principal, &path.screening_id).await?;
    if screening.cancelled {
        return Err(Refused::Cancelled.into());
    }
    if !screening.tenant_ids.is_empty() {
        return Err(Refused::AlreadyConverted.into());
    }
    if screening.status != ReportStatus::Ready {
        return Err(Refused::NotReady.into());
    }
    let details = state.smartmove.get().await?.details(&placed(&screening)?).await?;
    let property_id = PropertyId::parse(&screening.property_id).ok_or(Refused::PropertyMissing)?;
    let now = time_format::now();
    let mut tenant_ids = Vec::new();
    for applicant in &details.applicants {
        let name = [applicant.first_name.as_deref(), applicant.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let email = applicant.email_address.trim().to_lowercase();
        let name = if name.is_empty() { email.clone() } else { name };
        let tenant =
            Tenant::new(&principal.org_id, &property_id, TenantFields { name, email, phone: None, user_id: None }, now);
        match state.services.store.tenants().create(&tenant, None).await? {
            TenantCreated::Created => tenant_ids.push(tenant.id.clone()),
            TenantCreated::PropertyMissing => return Err(Refused::PropertyMissing.into()),
            TenantCreated::Replay(_) => return Err(ApiError::internal("a tenant create without a key replayed")),
        }
    }
    let next = revise(&state, &principal, &path.screening_id, |s| s.tenant_ids = tenant_ids.clone()).await?;
    Ok(screening_response(ScreeningView::from(&next).with_details(&details), StatusCode::OK))
}
