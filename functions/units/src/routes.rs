//! `/api/v1/properties/{property_id}/units` handlers: extract → validate → repository → envelope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::calendar;
use shared::domain::ids::{PropertyId, UnitId};
use shared::domain::unit::{Unit, UnitFields};
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::listing::{PageParams, PageRequest, only_page_response};
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::keys;
use shared::store::units::{UnitCreated, UnitDeleted, UnitReplaced};
use shared::{ApiError, Services, time_format};

use crate::refusals::Refused;
use crate::requests::{UnitInput, UnitPatch, UnitStatusInput};
use crate::views::{UnitStatusView, UnitView};

#[derive(Debug, Deserialize)]
pub struct PropertyPath {
    property_id: String,
}

#[derive(Debug, Deserialize)]
pub struct UnitPath {
    property_id: String,
    unit_id: String,
}

fn location(unit: &Unit) -> String {
    format!("/api/v1/properties/{}/units/{}", unit.property_id, unit.id)
}

fn unit_response(unit: &Unit, status: StatusCode) -> Response {
    versioned_response(UnitView::from(unit), unit.version, status)
}

/// Whether the caller may see this unit: a Tenant only sees units their leases are on.
async fn visible(services: &Services, principal: &Principal, unit: &Unit) -> Result<bool, ApiError> {
    match Reach::of(principal) {
        Reach::Organization => Ok(true),
        Reach::Tenant(None) => Ok(false),
        Reach::Tenant(Some(tenant_id)) => {
            let leases = services.store.leases().of_tenant(&principal.org_id, &tenant_id).await?;
            Ok(leases.iter().any(|l| l.unit_id == unit.id && l.property_id == unit.property_id))
        }
    }
}

async fn load(services: &Services, principal: &Principal, path: &UnitPath) -> Result<Unit, ApiError> {
    let (Some(property_id), Some(unit_id)) = (PropertyId::parse(&path.property_id), UnitId::parse(&path.unit_id))
    else {
        return Err(Refused::UnitMissing.into());
    };
    services
        .store
        .units()
        .get(&principal.org_id, &property_id, &unit_id)
        .await?
        .ok_or_else(|| Refused::UnitMissing.into())
}

/// The unit at this path, if the caller may see it (404 otherwise), for reads.
async fn load_visible(services: &Services, principal: &Principal, path: &UnitPath) -> Result<Unit, ApiError> {
    let unit = load(services, principal, path).await?;
    if !visible(services, principal, &unit).await? {
        return Err(Refused::UnitMissing.into());
    }
    Ok(unit)
}

/// List a property's units, oldest first.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/units", operation_id = "listUnits", tag = "units",
    params(("property_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "A page of units (a Tenant sees only units they lease)", body = SuccessEnvelope<Vec<UnitView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitRead, Some(Scope::ReadProperties))?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    if let Reach::Tenant(own) = Reach::of(&principal) {
        // A tenant's own units are few: one page, no cursor.
        let leases = match own {
            Some(tenant_id) => services.store.leases().of_tenant(org_id, &tenant_id).await?,
            None => Vec::new(),
        };
        let mut units: Vec<UnitView> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for lease in leases.iter().filter(|l| l.property_id == path.property_id) {
            if seen.insert(lease.unit_id.clone())
                && let Some(unit) = services.store.units().of_lease(lease).await?
            {
                units.push(UnitView::from(&unit));
            }
        }
        if units.is_empty() {
            return Err(ApiError::NotFound("Property"));
        }
        return Ok(only_page_response(units, page_size));
    }
    let property_id = PropertyId::parse(&path.property_id).ok_or(Refused::PropertyMissing)?;
    services.store.properties().get(org_id, &property_id).await?.ok_or(Refused::PropertyMissing)?;
    let query = format!("units|{}", path.property_id);
    let listing = PageRequest::resume(&services.cursors, org_id, query, page_size, params.cursor.as_deref(), |key| {
        key.get(keys::SK).is_some_and(|sk| sk.starts_with(&keys::units_of(&path.property_id)))
            && key.get(keys::PK) == Some(&keys::org(org_id))
    })?;
    let page = services.store.units().list(org_id, &path.property_id, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, UnitView>(&services.cursors, page))
}

/// Create a unit. Its number must be unique within the property (case-insensitive).
#[utoipa::path(post, path = "/api/v1/properties/{property_id}/units", operation_id = "createUnit", tag = "units",
    request_body = UnitInput,
    params(("property_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created; the property's unit_count grows by one", body = SuccessEnvelope<UnitView>,
            headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 409, description = "Another unit of the property has this number", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<UnitInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitCreate, None)?;
    let property_id = PropertyId::parse(&path.property_id).ok_or(Refused::PropertyMissing)?;
    // The property's 404 before the body's refusals.
    services.store.properties().get(&principal.org_id, &property_id).await?.ok_or(Refused::PropertyMissing)?;
    let body = body.accept()?;
    let fields = body.value.validate()?;
    let now = time_format::now();
    let scope = format!("POST /api/v1/properties/{}/units", path.property_id);
    let request = CreateRequest { scope: &scope, key: key.as_deref(), fingerprint: &body.fingerprint, now };
    let org_id = &principal.org_id;
    let status = body.value.status.unwrap_or_default();
    let unit = Unit::new(org_id, &property_id, fields, status, now);
    let creation = Creation::new(request, UnitView::from(&unit), unit.version, location(&unit))?;
    let units = services.store.units();
    match creation.write(&services.store, org_id, UnitCreated::Replay, |once| units.create(&unit, once)).await? {
        UnitCreated::Created => Ok(creation.created()),
        UnitCreated::Replay(first) => creation.replay(*first),
        UnitCreated::DuplicateNumber => Err(Refused::DuplicateNumber(unit.fields.unit_number).into()),
        UnitCreated::PropertyMissing => Err(Refused::PropertyMissing.into()),
    }
}

/// Get a unit.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/units/{unit_id}", operation_id = "getUnit", tag = "units",
    params(("property_id" = String, Path), ("unit_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "The unit", body = SuccessEnvelope<UnitView>, headers(("ETag" = String))),
        (status = 404, description = "No such unit (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitRead, Some(Scope::ReadProperties))?;
    let unit = load_visible(&services, &principal, &path).await?;
    Ok(unit_response(&unit, StatusCode::OK))
}

/// How changes answer a stale `If-Match` (412) or losing every race (409).
const CONTENTION: Contention =
    Contention { resource: "unit", exhausted: "The unit is being changed concurrently; retry, ideally with If-Match" };

/// Loads the unit, checks `If-Match`, and writes `change(current)` conditioned on the
/// version just read; without `If-Match` a lost race is retried on the fresh version.
async fn update(
    services: &Services,
    principal: &Principal,
    path: &UnitPath,
    precondition: &Precondition,
    change: impl Fn(&Unit) -> Result<Unit, ApiError>,
) -> Result<Response, ApiError> {
    let change = &change;
    write_current(
        precondition,
        CONTENTION,
        || load(services, principal, path),
        |current| async move {
            let next = change(&current)?;
            match services.store.units().replace(&current, &next).await? {
                UnitReplaced::Replaced => Ok(Attempt::Done(unit_response(&next, StatusCode::OK))),
                UnitReplaced::VersionMismatch(_) => Ok(Attempt::LostRace),
                UnitReplaced::DuplicateNumber => Err(Refused::DuplicateNumber(next.fields.unit_number).into()),
                UnitReplaced::Missing => Err(Refused::UnitMissing.into()),
            }
        },
    )
    .await
}

fn revise(current: &Unit, fields: UnitFields) -> Unit {
    current.revised(fields, time_format::now())
}

/// Replace a unit's writable fields (its status is set through `/status`).
#[utoipa::path(put, path = "/api/v1/properties/{property_id}/units/{unit_id}", operation_id = "replaceUnit", tag = "units",
    request_body = UnitInput,
    params(("property_id" = String, Path), ("unit_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<UnitView>, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = ErrorEnvelope),
        (status = 409, description = "Another unit has this number", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
    IfMatch(precondition): IfMatch,
    body: Json<UnitInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitUpdate, None)?;
    update(&services, &principal, &path, &precondition, |current| {
        let input = &body.get()?.value;
        if input.status.is_some() {
            return Err(ApiError::invalid_field("status", "is set through PUT .../status"));
        }
        Ok(revise(current, input.validate()?))
    })
    .await
}

/// Change some fields of a unit; `null` clears an optional field.
#[utoipa::path(patch, path = "/api/v1/properties/{property_id}/units/{unit_id}", operation_id = "patchUnit", tag = "units",
    request_body = UnitPatch,
    params(("property_id" = String, Path), ("unit_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = SuccessEnvelope<UnitView>, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = ErrorEnvelope),
        (status = 409, description = "Another unit has this number", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn patch(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
    IfMatch(precondition): IfMatch,
    body: Json<UnitPatch>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitUpdate, None)?;
    update(&services, &principal, &path, &precondition, |current| {
        Ok(revise(current, body.get()?.value.clone().apply(&current.fields)?))
    })
    .await
}

/// Delete a unit. A unit with a current or future lease cannot be deleted (409).
#[utoipa::path(delete, path = "/api/v1/properties/{property_id}/units/{unit_id}", operation_id = "deleteUnit", tag = "units",
    params(("property_id" = String, Path), ("unit_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted; the property's unit_count drops by one"),
        (status = 404, description = "No such unit", body = ErrorEnvelope),
        (status = 409, description = "A current or future lease holds the unit", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitDelete, None)?;
    let contention = Contention { exhausted: "The unit is being changed concurrently; retry", ..CONTENTION };
    let services = &services;
    write_current(
        &precondition,
        contention,
        || load(services, &principal, &path),
        |current| async move {
            match services.store.units().delete(&current, calendar::today(), time_format::now()).await? {
                UnitDeleted::Deleted => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                UnitDeleted::VersionMismatch(_) => Ok(Attempt::LostRace),
                UnitDeleted::Leased => Err(Refused::Leased.into()),
                UnitDeleted::Missing => Err(Refused::UnitMissing.into()),
            }
        },
    )
    .await
}

/// Get a unit's rent-roll status.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/units/{unit_id}/status", operation_id = "getUnitStatus", tag = "units",
    params(("property_id" = String, Path), ("unit_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "The status", body = SuccessEnvelope<UnitStatusView>, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = ErrorEnvelope),
    ))]
pub async fn read_status(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitRead, Some(Scope::ReadProperties))?;
    let unit = load_visible(&services, &principal, &path).await?;
    Ok(versioned_response(UnitStatusView::from(&unit), unit.version, StatusCode::OK))
}

/// Set a unit's rent-roll status (by name or id) and `when_available`.
#[utoipa::path(put, path = "/api/v1/properties/{property_id}/units/{unit_id}/status", operation_id = "setUnitStatus", tag = "units",
    request_body = UnitStatusInput,
    params(("property_id" = String, Path), ("unit_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The unit with its new status", body = SuccessEnvelope<UnitView>, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Unknown status", body = ErrorEnvelope),
    ))]
pub async fn set_status(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<UnitPath>,
    IfMatch(precondition): IfMatch,
    body: Json<UnitStatusInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitUpdate, None)?;
    update(&services, &principal, &path, &precondition, |current| {
        let (status, when_available) = body.get()?.value.validate()?;
        let mut next = revise(current, current.fields.clone());
        next.status = status;
        next.fields.when_available = when_available;
        Ok(next)
    })
    .await
}
