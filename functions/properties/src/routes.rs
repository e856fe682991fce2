//! `/api/v1/properties` handlers: extract → validate → repository → envelope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::auth::{Permission, Principal, Scope};
use shared::domain::ids::PropertyId;
use shared::domain::property::{Property, PropertyFields};
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::idempotency::{CreateRequest, Creation, IdempotencyKey};
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::properties::{PropertyCreated, PropertyDeleted};
use shared::store::requests::VersionedPut;
use shared::{ApiError, Services, time_format};

use crate::list::{ListParams, page};
use crate::refusals::Refused;
use crate::requests::{PropertyInput, PropertyPatch};
use crate::views::{PropertyListItem, PropertyView};

/// Idempotency keys are scoped to the route they were used on.
const CREATE_SCOPE: &str = "POST /api/v1/properties";

/// How writes answer a stale `If-Match` (412) or losing every race (409).
const CONTENTION: Contention = Contention {
    resource: "property",
    exhausted: "The property is being changed concurrently; retry, ideally with If-Match",
};

fn location(id: &str) -> String {
    format!("/api/v1/properties/{id}")
}

fn property_response(property: &Property, status: StatusCode) -> Response {
    versioned_response(PropertyView::from(property), property.version, status)
}

/// The property `id` of the caller's organization (404 otherwise).
pub(crate) async fn load(services: &Services, principal: &Principal, id: &str) -> Result<Property, ApiError> {
    let id = PropertyId::parse(id).ok_or(Refused::PropertyMissing)?;
    services.store.properties().get(&principal.org_id, &id).await?.ok_or_else(|| Refused::PropertyMissing.into())
}

/// List properties.
#[utoipa::path(get, path = "/api/v1/properties", operation_id = "listProperties", tag = "properties", params(ListParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "A page of properties", body = SuccessEnvelope<Vec<PropertyListItem>>),
        (status = 400, description = "Invalid filter, sort or cursor", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks property:read", body = ErrorEnvelope),
        (status = 422, description = "created_after is later than created_before", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    let query = params.query(&principal.org_id)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let (page, listing) = page(&services, &query, params.cursor.as_deref(), page_size).await?;
    Ok(listing.respond::<_, PropertyListItem>(&services.cursors, page))
}

/// Create a property. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/properties", operation_id = "createProperty", tag = "properties", request_body = PropertyInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<PropertyView>,
            headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
        (status = 413, description = "Body over 64 KiB", body = ErrorEnvelope),
        (status = 415, description = "Not JSON", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields, or Idempotency-Key reused with another body", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    body: Json<PropertyInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyCreate, None)?;
    let body = body.accept()?;
    let fields = body.value.validate()?;
    let now = time_format::now();
    let request = CreateRequest { scope: CREATE_SCOPE, key: key.as_deref(), fingerprint: &body.fingerprint, now };
    let property = Property::new(&principal.org_id, fields, now);
    let creation = Creation::new(request, PropertyView::from(&property), property.version, location(&property.id))?;
    // A property claims nothing but a fresh id, so a retry cannot trip before its key is
    // checked: the write itself tells a used key, without a read first.
    match services.store.properties().create(&property, creation.idempotency()).await? {
        PropertyCreated::Created => Ok(creation.created()),
        PropertyCreated::Replay(first) => creation.replay(*first),
    }
}

/// Get a property.
#[utoipa::path(get, path = "/api/v1/properties/{property_id}", operation_id = "getProperty", tag = "properties",
    params(("property_id" = String, Path, description = "Property id")),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "The property", body = SuccessEnvelope<PropertyView>, headers(("ETag" = String))),
        (status = 404, description = "No such property in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    let property = load(&services, &principal, &id).await?;
    Ok(property_response(&property, StatusCode::OK))
}

/// Loads the property, checks `If-Match`, and writes `change(current)` conditioned on
/// the version just read; without `If-Match` a lost race is retried on the fresh version.
async fn update(
    services: &Services,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    change: impl Fn(&PropertyFields) -> Result<PropertyFields, ApiError>,
) -> Result<Response, ApiError> {
    let change = &change;
    write_current(
        precondition,
        CONTENTION,
        || load(services, principal, id),
        |current| async move {
            let next = current.revised(change(&current.fields)?, time_format::now());
            match services.store.properties().replace(&next, current.version).await? {
                VersionedPut::Done => Ok(Attempt::Done(property_response(&next, StatusCode::OK))),
                VersionedPut::VersionMismatch(_) => Ok(Attempt::LostRace),
                VersionedPut::Missing => Err(Refused::PropertyMissing.into()),
            }
        },
    )
    .await
}

/// Replace a property's writable fields.
#[utoipa::path(put, path = "/api/v1/properties/{property_id}", operation_id = "replaceProperty", tag = "properties", request_body = PropertyInput,
    params(("property_id" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<PropertyView>, headers(("ETag" = String))),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
    body: Json<PropertyInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyUpdate, None)?;
    update(&services, &principal, &id, &precondition, |_| Ok(body.get()?.value.validate()?)).await
}

/// Change some fields of a property (`address` merges field by field).
#[utoipa::path(patch, path = "/api/v1/properties/{property_id}", operation_id = "patchProperty", tag = "properties", request_body = PropertyPatch,
    params(("property_id" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = SuccessEnvelope<PropertyView>, headers(("ETag" = String))),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn patch(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
    body: Json<PropertyPatch>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyUpdate, None)?;
    update(&services, &principal, &id, &precondition, |current| Ok(body.get()?.value.clone().apply(current)?)).await
}

/// Delete a property. Delta syncs see a tombstone for 90 days.
#[utoipa::path(delete, path = "/api/v1/properties/{property_id}", operation_id = "deleteProperty", tag = "properties",
    params(("property_id" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag from a previous read")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 409, description = "The property still has units", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyDelete, None)?;
    let services = &services;
    write_current(
        &precondition,
        CONTENTION,
        || load(services, &principal, &id),
        |current| async move {
            match services.store.properties().delete(&current, current.version, time_format::now()).await? {
                PropertyDeleted::Deleted => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                PropertyDeleted::VersionMismatch(_) => Ok(Attempt::LostRace),
                PropertyDeleted::Missing => Err(Refused::PropertyMissing.into()),
                PropertyDeleted::HasUnits => Err(Refused::HasUnits.into()),
            }
        },
    )
    .await
}
