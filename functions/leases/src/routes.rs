//! Lease handlers: extract → validate → repository → envelope.
//!
//! Booking a lease reads the unit, checks the new period against the unit's bookings
//! and possession dates, then writes everything in one transaction conditioned on the
//! unit's version: of racing requests for overlapping periods exactly one commits, and
//! the others re-read the unit and find the overlap (409).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::{LeaseId, PropertyId, TenantId, UnitId};
use shared::domain::lease::{Lease, LeaseStatus, LeaseTerms};
use shared::domain::property::Property;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::Precondition;
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::listing::{PageRequest, only_page_response, updated_since};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races_up_to};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::leases::{LeaseBooked, LeaseEnded, LeaseFilter};
use shared::store::transactions::OccupancySettlement;
use shared::{ApiError, Services, time_format};
use time::Date;
use utoipa::IntoParams;

use crate::refusals::Refused;
use crate::requests::{LeaseInput, MoveOutInput, RenewInput};
use crate::views::LeaseView;

/// Attempts at a lease write that lost a race on the unit before answering 409. Each
/// lost race means another lease committed, so this bounds work under contention.
const WRITE_ATTEMPTS: usize = 8;

/// Lease writes take no `If-Match`, so a lost race is always retried, never stale.
const NO_PRECONDITION: Precondition = Precondition::None;

#[derive(Debug, Deserialize)]
pub struct TenantPath {
    property_id: String,
    tenant_id: String,
}

#[derive(Debug, Deserialize)]
pub struct LeasePath {
    lease_id: String,
}

fn lease_response(lease: &Lease, status: StatusCode) -> Response {
    versioned_response(LeaseView::from(lease), lease.version, status)
}

/// Whether the caller may see this lease: a Tenant only sees leases naming them.
fn visible(principal: &Principal, lease: &Lease) -> bool {
    match Reach::of(principal) {
        Reach::Organization => true,
        Reach::Tenant(own) => own.is_some_and(|id| lease.names(id.as_str())),
    }
}

async fn load(services: &Services, principal: &Principal, lease_id: &str) -> Result<Lease, ApiError> {
    let lease_id = LeaseId::parse(lease_id).ok_or(Refused::LeaseMissing)?;
    services
        .store
        .leases()
        .get(&principal.org_id, &lease_id)
        .await?
        .filter(|l| visible(principal, l))
        .ok_or_else(|| Refused::LeaseMissing.into())
}

/// Books a new lease on its unit (see the module docs) and answers 201, or replays
/// the first response of an `Idempotency-Key`.
async fn book(
    services: &Services,
    principal: &Principal,
    property_id: &str,
    primary_tenant_id: &str,
    terms: LeaseTerms,
    renewal_of: Option<String>,
    request: CreateRequest<'_>,
) -> Result<Response, ApiError> {
    let org_id = &principal.org_id;
    if let Some(first) = request.replay_if_used(&services.store, org_id).await? {
        return Ok(first);
    }
    let (Some(property_key), Some(unit_id)) = (PropertyId::parse(property_id), UnitId::parse(&terms.unit_id)) else {
        return Err(Refused::UnitMissing.into());
    };
    let contention = Contention { resource: "unit", exhausted: "The unit is being leased concurrently; retry" };
    retry_lost_races_up_to(WRITE_ATTEMPTS, &NO_PRECONDITION, contention, || async {
        let unit = services.store.units().get(org_id, &property_key, &unit_id).await?.ok_or(Refused::UnitMissing)?;
        let property = services.store.properties().get(org_id, &property_key).await?.ok_or(Refused::UnitMissing)?;
        let mut lease = terms.clone().into_lease(org_id, property_id, primary_tenant_id, time_format::now());
        let today = calendar::today();
        let booking = unit.book(&terms, &lease.id).map_err(Refused::Booking)?;
        let bookings = unit.bookings_with(booking, today).map_err(Refused::Booking)?;
        let changes = [Some(lease.start_date), lease.effective_end.next_day()];
        let occupancy = settle_occupancy(&property, changes.into_iter().flatten(), today)?;
        lease.renewal_of.clone_from(&renewal_of);
        let location = format!("/api/v1/leases/{}", lease.id);
        let creation = Creation::new(request, LeaseView::from(&lease), lease.version, location)?;
        match services.store.leases().create(&lease, &unit, &bookings, occupancy, creation.idempotency()).await? {
            LeaseBooked::Booked => Ok(Attempt::Done(creation.created())),
            LeaseBooked::Replay(first) => creation.replay(*first).map(Attempt::Done),
            LeaseBooked::UnitChanged => Ok(Attempt::LostRace),
            LeaseBooked::TenantMissing(position) => Err(Refused::TenantMissing(position).into()),
            LeaseBooked::UnitMissing => Err(Refused::UnitMissing.into()),
        }
    })
    .await
}

/// How a lease write changing occupancy on `days` settles the property's occupancy map;
/// 409 when the map has no room for them.
fn settle_occupancy(
    property: &Property,
    days: impl IntoIterator<Item = Date>,
    today: Date,
) -> Result<OccupancySettlement, ApiError> {
    if !property.occupancy_has_room(days, today) {
        return Err(Refused::OccupancyFull.into());
    }
    Ok(OccupancySettlement { today, settled: property.settled_occupancy(today) })
}

/// The tenant's lease: the current one, else the next future one, else the last.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}/lease", operation_id = "getTenantLease", tag = "leases",
    params(("property_id" = String, Path), ("tenant_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The lease", body = SuccessEnvelope<LeaseView>, headers(("ETag" = String))),
        (status = 404, description = "No such tenant, no lease, or (for a Tenant) another tenant", body = ErrorEnvelope),
    ))]
pub async fn tenant_lease(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseRead, None)?;
    let tenant_id = TenantId::parse(&path.tenant_id).ok_or(Refused::LeaseMissing)?;
    if !Reach::of(&principal).covers_tenant(&path.tenant_id) {
        return Err(Refused::LeaseMissing.into());
    }
    let today = calendar::today();
    let leases: Vec<Lease> = services
        .store
        .leases()
        .of_tenant(&principal.org_id, &tenant_id)
        .await?
        .into_iter()
        .filter(|l| l.property_id == path.property_id)
        .collect();
    let lease = leases
        .iter()
        .find(|l| l.status_on(today) == LeaseStatus::Current)
        .or_else(|| leases.iter().filter(|l| l.status_on(today) == LeaseStatus::Future).min_by_key(|l| l.start_date))
        .or_else(|| leases.iter().max_by_key(|l| l.effective_end))
        .ok_or(Refused::LeaseMissing)?;
    Ok(lease_response(lease, StatusCode::OK))
}

/// Create a lease with this tenant as the primary tenant.
#[utoipa::path(post, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}/lease", operation_id = "createLease", tag = "leases",
    request_body = LeaseInput,
    params(("property_id" = String, Path), ("tenant_id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<LeaseView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such tenant or unit in this property", body = ErrorEnvelope),
        (status = 409, description = "Another lease holds the unit during this period, or the unit or the property's occupancy is full", body = ErrorEnvelope),
        (status = 422, description = "Invalid terms, or a start before the unit's possession start or within its settled lease history", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<LeaseInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseCreate, None)?;
    let tenant_id = TenantId::parse(&path.tenant_id).ok_or(Refused::TenantMissing(0))?;
    // The tenant's 404 before the body's refusals.
    services.store.tenants().get(&principal.org_id, &tenant_id).await?.ok_or(Refused::TenantMissing(0))?;
    let body = body.accept()?;
    let terms = body.value.validate(&path.tenant_id)?;
    let scope = format!("POST /api/v1/properties/{}/tenants/{}/lease", path.property_id, path.tenant_id);
    let request =
        CreateRequest { scope: &scope, key: key.as_deref(), fingerprint: &body.fingerprint, now: time_format::now() };
    book(&services, &principal, &path.property_id, &path.tenant_id, terms, None, request).await
}

/// Query parameters of `GET /api/v1/leases`. Unknown parameters are a 400.
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
    pub tenant_id: Option<String>,
    /// `Past`, `Current` or `Future` (today, UTC).
    pub status: Option<LeaseStatus>,
    /// ISO 8601 date or timestamp: leases changed at or after it.
    pub updated_since: Option<String>,
}

/// List the organization's leases, oldest first.
#[utoipa::path(get, path = "/api/v1/leases", operation_id = "listLeases", tag = "leases", params(ListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of leases (a Tenant sees only their own)", body = SuccessEnvelope<Vec<LeaseView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let updated_since = updated_since(params.updated_since.as_deref())?;
    let mut filter = LeaseFilter {
        property_id: params.property_id.clone(),
        unit_id: params.unit_id.clone(),
        tenant_id: params.tenant_id.clone(),
        status: params.status,
        active: None,
        updated_since,
    };
    if let Reach::Tenant(own) = Reach::of(&principal) {
        match own {
            Some(own) if filter.tenant_id.as_ref().is_none_or(|asked| asked == own.as_str()) => {
                filter.tenant_id = Some(own.into());
            }
            // Another tenant's leases, or no linked profile: nothing to see.
            _ => return Ok(only_page_response(Vec::<LeaseView>::new(), page_size)),
        }
    }
    let org_id = &principal.org_id;
    let (query, cursor) = (filter.fingerprint(), params.cursor.as_deref());
    let listing = PageRequest::in_organization(&services.cursors, org_id, query, page_size, cursor)?;
    let page =
        services.store.leases().list(org_id, &filter, calendar::today(), listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, LeaseView>(&services.cursors, page))
}

/// Get a lease.
#[utoipa::path(get, path = "/api/v1/leases/{lease_id}", operation_id = "getLease", tag = "leases",
    params(("lease_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The lease", body = SuccessEnvelope<LeaseView>, headers(("ETag" = String))),
        (status = 404, description = "No such lease (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<LeasePath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseRead, None)?;
    let lease = load(&services, &principal, &path.lease_id).await?;
    Ok(lease_response(&lease, StatusCode::OK))
}

/// End a lease early: the move-out day becomes its last day, which frees the unit
/// from the next day and updates the property's occupancy.
#[utoipa::path(post, path = "/api/v1/leases/{lease_id}/move-out", operation_id = "moveOut", tag = "leases",
    request_body = MoveOutInput, params(("lease_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The lease, ended", body = SuccessEnvelope<LeaseView>, headers(("ETag" = String))),
        (status = 404, description = "No such lease", body = ErrorEnvelope),
        (status = 409, description = "The lease already has a move-out, or the property's occupancy is full", body = ErrorEnvelope),
        (status = 422, description = "move_out outside the lease period", body = ErrorEnvelope),
    ))]
pub async fn move_out(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<LeasePath>,
    body: Json<MoveOutInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseUpdate, None)?;
    let contention = Contention { resource: "lease", exhausted: "The lease is being changed concurrently; retry" };
    retry_lost_races_up_to(WRITE_ATTEMPTS, &NO_PRECONDITION, contention, || async {
        let current = load(&services, &principal, &path.lease_id).await?;
        if current.move_out.is_some() {
            return Err(ApiError::Conflict(
                "The lease already has a move-out, or the property's occupancy is full".into(),
            ));
        }
        let at = body.get()?.value.validate(&current)?;
        let now = time_format::now();
        let next = Lease {
            move_out: Some(at),
            // `validate` answers in UTC.
            effective_end: at.date(),
            updated_at: now,
            version: current.version + 1,
            ..current.clone()
        };
        let unit = services.store.units().of_lease(&current).await?.ok_or(Refused::UnitMissing)?;
        let property_id = PropertyId::parse(&current.property_id).ok_or(Refused::LeaseMissing)?;
        let property =
            services.store.properties().get(&principal.org_id, &property_id).await?.ok_or(Refused::LeaseMissing)?;
        let today = calendar::today();
        let bookings = unit.bookings_ending(&current.id, next.effective_end, today);
        let occupancy = settle_occupancy(&property, next.effective_end.next_day(), today)?;
        match services.store.leases().end_early(&current, &next, &unit, &bookings, occupancy).await? {
            LeaseEnded::Ended => Ok(Attempt::Done(lease_response(&next, StatusCode::OK))),
            LeaseEnded::Changed => Ok(Attempt::LostRace),
            // The unit or property went between the read and the write: so did the lease.
            LeaseEnded::UnitMissing => Err(Refused::LeaseMissing.into()),
        }
    })
    .await
}

/// Renew a lease: a new lease for the same unit and tenants from the day after this
/// one ends, with a new end date and optionally a new rent.
#[utoipa::path(post, path = "/api/v1/leases/{lease_id}/renew", operation_id = "renewLease", tag = "leases",
    request_body = RenewInput,
    params(("lease_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The renewal", body = SuccessEnvelope<LeaseView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such lease", body = ErrorEnvelope),
        (status = 409, description = "Another lease holds the unit during the renewal, or the unit or the property's occupancy is full", body = ErrorEnvelope),
        (status = 422, description = "Invalid end date or rent, or the lease ended early", body = ErrorEnvelope),
    ))]
pub async fn renew(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<LeasePath>,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<RenewInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseCreate, None)?;
    let current = load(&services, &principal, &path.lease_id).await?;
    let body = body.accept()?;
    let scope = format!("POST /api/v1/leases/{}/renew", current.id);
    let request =
        CreateRequest { scope: &scope, key: key.as_deref(), fingerprint: &body.fingerprint, now: time_format::now() };
    if let Some(first) = request.replay_if_used(&services.store, &principal.org_id).await? {
        return Ok(first);
    }
    let terms = body.value.validate(&current)?;
    let (property_id, primary) = (current.property_id.clone(), current.primary_tenant_id.clone());
    book(&services, &principal, &property_id, &primary, terms, Some(current.id), request).await
}
