//! `/api/v1/properties/{property_id}/tenants` handlers: extract → validate → repository → envelope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::ids::{PropertyId, TenantId};
use shared::domain::tenant::{Tenant, TenantFields};
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
use shared::store::requests::VersionedPut;
use shared::store::tenants::{TenantCreated, TenantDeleted};
use shared::{ApiError, Services, time_format};

use crate::refusals::Refused;
use crate::requests::{TenantInput, TenantPatch};
use crate::views::TenantView;

#[derive(Debug, Deserialize)]
pub struct PropertyPath {
    property_id: String,
}

#[derive(Debug, Deserialize)]
pub struct TenantPath {
    property_id: String,
    tenant_id: String,
}

fn tenant_response(tenant: &Tenant, status: StatusCode) -> Response {
    versioned_response(TenantView::from(tenant), tenant.version, status)
}

/// The tenant at this path, if the caller may see it (a Tenant sees only themselves).
async fn load(services: &Services, principal: &Principal, path: &TenantPath) -> Result<Tenant, ApiError> {
    let tenant_id = TenantId::parse(&path.tenant_id).ok_or(Refused::TenantMissing)?;
    if !Reach::of(principal).covers_tenant(&path.tenant_id) {
        return Err(Refused::TenantMissing.into());
    }
    services
        .store
        .tenants()
        .get(&principal.org_id, &tenant_id)
        .await?
        .filter(|t| t.property_id == path.property_id)
        .ok_or_else(|| Refused::TenantMissing.into())
}

/// List a property's tenants, oldest first.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/tenants", operation_id = "listTenants", tag = "tenants",
    params(("property_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:renters"])),
    responses(
        (status = 200, description = "A page of tenants (a Tenant sees only themselves)", body = SuccessEnvelope<Vec<TenantView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantRead, Some(Scope::ReadRenters))?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    if let Reach::Tenant(own) = Reach::of(&principal) {
        let own = match own {
            Some(id) => services.store.tenants().get(org_id, &id).await?,
            None => None,
        };
        let items: Vec<TenantView> =
            own.iter().filter(|t| t.property_id == path.property_id).map(TenantView::from).collect();
        if items.is_empty() {
            return Err(ApiError::NotFound("Property"));
        }
        return Ok(only_page_response(items, page_size));
    }
    let property_id = PropertyId::parse(&path.property_id).ok_or(Refused::PropertyMissing)?;
    services.store.properties().get(org_id, &property_id).await?.ok_or(Refused::PropertyMissing)?;
    let query = format!("tenants|{}", path.property_id);
    let listing = PageRequest::resume(&services.cursors, org_id, query, page_size, params.cursor.as_deref(), |key| {
        key.get(keys::GSI1PK) == Some(&keys::tenants_of(org_id, &path.property_id))
    })?;
    let page = services.store.tenants().list(org_id, &path.property_id, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, TenantView>(&services.cursors, page))
}

/// Create a tenant of a property.
#[utoipa::path(post, path = "/api/v1/properties/{property_id}/tenants", operation_id = "createTenant", tag = "tenants",
    request_body = TenantInput,
    params(("property_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<TenantView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<TenantInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantCreate, None)?;
    let property_id = PropertyId::parse(&path.property_id).ok_or(Refused::PropertyMissing)?;
    // The property's 404 before the body's refusals.
    services.store.properties().get(&principal.org_id, &property_id).await?.ok_or(Refused::PropertyMissing)?;
    let body = body.accept()?;
    let fields = body.value.validate()?;
    let now = time_format::now();
    let scope = format!("POST /api/v1/properties/{}/tenants", path.property_id);
    let request = CreateRequest { scope: &scope, key: key.as_deref(), fingerprint: &body.fingerprint, now };
    let org_id = &principal.org_id;
    let tenant = Tenant::new(org_id, &property_id, fields, now);
    let location = format!("/api/v1/properties/{}/tenants/{}", tenant.property_id, tenant.id);
    let creation = Creation::new(request, TenantView::from(&tenant), tenant.version, location)?;
    let tenants = services.store.tenants();
    match creation.write(&services.store, org_id, TenantCreated::Replay, |once| tenants.create(&tenant, once)).await? {
        TenantCreated::Created => Ok(creation.created()),
        TenantCreated::Replay(first) => creation.replay(*first),
        TenantCreated::PropertyMissing => Err(Refused::PropertyMissing.into()),
    }
}

/// Get a tenant.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}", operation_id = "getTenant", tag = "tenants",
    params(("property_id" = String, Path), ("tenant_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:renters"])),
    responses(
        (status = 200, description = "The tenant", body = SuccessEnvelope<TenantView>, headers(("ETag" = String))),
        (status = 404, description = "No such tenant (or another tenant, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantRead, Some(Scope::ReadRenters))?;
    let tenant = load(&services, &principal, &path).await?;
    Ok(tenant_response(&tenant, StatusCode::OK))
}

/// How changes answer a stale `If-Match` (412) or losing every race (409).
const CONTENTION: Contention = Contention {
    resource: "tenant",
    exhausted: "The tenant is being changed concurrently; retry, ideally with If-Match",
};

async fn update(
    services: &Services,
    principal: &Principal,
    path: &TenantPath,
    precondition: &Precondition,
    change: impl Fn(&TenantFields) -> Result<TenantFields, ApiError>,
) -> Result<Response, ApiError> {
    let change = &change;
    write_current(
        precondition,
        CONTENTION,
        || load(services, principal, path),
        |current| async move {
            let next = current.revised(change(&current.fields)?, time_format::now());
            match services.store.tenants().replace(&next, current.version).await? {
                VersionedPut::Done => Ok(Attempt::Done(tenant_response(&next, StatusCode::OK))),
                VersionedPut::VersionMismatch(_) => Ok(Attempt::LostRace),
                VersionedPut::Missing => Err(Refused::TenantMissing.into()),
            }
        },
    )
    .await
}

/// Replace a tenant's writable fields.
#[utoipa::path(put, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}", operation_id = "replaceTenant", tag = "tenants",
    request_body = TenantInput,
    params(("property_id" = String, Path), ("tenant_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<TenantView>, headers(("ETag" = String))),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
    IfMatch(precondition): IfMatch,
    body: Json<TenantInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantUpdate, None)?;
    update(&services, &principal, &path, &precondition, |_| Ok(body.get()?.value.validate()?)).await
}

/// Change some fields of a tenant; `null` clears `phone` or `user_id`.
#[utoipa::path(patch, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}", operation_id = "patchTenant", tag = "tenants",
    request_body = TenantPatch,
    params(("property_id" = String, Path), ("tenant_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = SuccessEnvelope<TenantView>, headers(("ETag" = String))),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn patch(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
    IfMatch(precondition): IfMatch,
    body: Json<TenantPatch>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantUpdate, None)?;
    update(&services, &principal, &path, &precondition, |current| Ok(body.get()?.value.clone().apply(current)?)).await
}

/// Delete a tenant. A tenant named on any lease cannot be deleted (409): leases keep their history.
#[utoipa::path(delete, path = "/api/v1/properties/{property_id}/tenants/{tenant_id}", operation_id = "deleteTenant", tag = "tenants",
    params(("property_id" = String, Path), ("tenant_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 409, description = "A lease names the tenant", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<TenantPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantDelete, None)?;
    let contention = Contention { exhausted: "The tenant is being changed concurrently; retry", ..CONTENTION };
    let services = &services;
    write_current(
        &precondition,
        contention,
        || load(services, &principal, &path),
        |current| async move {
            match services.store.tenants().delete(&current, current.version).await? {
                TenantDeleted::Deleted => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                TenantDeleted::VersionMismatch(_) => Ok(Attempt::LostRace),
                TenantDeleted::OnLease => Err(Refused::OnLease.into()),
                TenantDeleted::Missing => Err(Refused::TenantMissing.into()),
            }
        },
    )
    .await
}
