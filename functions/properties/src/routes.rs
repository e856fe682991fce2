//! `/api/v1/properties` handlers: extract → validate → repository → envelope.

use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::property::{Property, PropertyFields, PropertyInput, PropertyPatch};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, Pagination, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition, etag};
use shared::http::idempotency::{IDEMPOTENT_REPLAYED_HEADER, IdempotencyKey};
use shared::http::optimistic::{Attempt, retry_lost_races};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::store::idempotency::IdempotencyRecord;
use shared::store::properties::{Created, Written};
use shared::{ApiError, FieldError, Services, time_format};

use crate::list::{ListParams, page};
use crate::views::{PropertyListItem, PropertyView};

/// Idempotency keys are scoped to the route they were used on.
const CREATE_SCOPE: &str = "POST /api/v1/properties";

fn location(id: &str) -> String {
    format!("/api/v1/properties/{id}")
}

fn property_response(property: &Property, status: StatusCode) -> Response {
    ApiResponse::ok(PropertyView::from(property))
        .with_status(status)
        .with_header(header::ETAG, &etag(property.version))
        .into_response()
}

async fn load(services: &Services, principal: &Principal, id: &str) -> Result<Property, ApiError> {
    services.store.properties().get(&principal.org_id, id).await?.ok_or(ApiError::NotFound("Property"))
}

/// List properties.
#[utoipa::path(get, path = "/api/v1/properties", operation_id = "listProperties", tag = "properties", params(ListParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "A page of properties", body = SuccessEnvelope<Vec<PropertyListItem>>),
        (status = 400, description = "Invalid filter, sort or cursor", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks property:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    let query = params.query(&principal.org_id)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let (page, next_cursor) = page(&services, &principal, &query, params.cursor.as_deref(), page_size).await?;
    let items: Vec<PropertyListItem> = page.items.iter().map(PropertyListItem::from).collect();
    let pagination = Pagination { page_size, has_next: next_cursor.is_some(), next_cursor };
    Ok(ApiResponse::page(items, pagination).into_response())
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
    let fields = body.value.validate()?;
    let now = time_format::now();
    let property = Property::new(&principal.org_id, fields, now);
    let repo = services.store.properties();
    let Some(key) = key else {
        repo.create(&property, None).await?;
        return Ok(created(&property));
    };
    let view = serde_json::to_string(&PropertyView::from(&property)).map_err(ApiError::internal)?;
    let record = IdempotencyRecord::new(&body.fingerprint, 201, view, Some(location(&property.id)), now);
    match repo.create(&property, Some((&record, CREATE_SCOPE, &key))).await? {
        Created::New => Ok(created(&property)),
        Created::Replay(first) if first.fingerprint == body.fingerprint => replay(first),
        Created::Replay(_) => Err(ApiError::Validation {
            message: "Idempotency-Key was already used with a different request".into(),
            details: vec![FieldError::new("Idempotency-Key", "was already used with a different body")],
        }),
    }
}

fn created(property: &Property) -> Response {
    let mut response = property_response(property, StatusCode::CREATED);
    if let Ok(value) = location(&property.id).parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The first response again, marked as a replay.
fn replay(first: IdempotencyRecord) -> Result<Response, ApiError> {
    let data = RawValue::from_string(first.body).map_err(ApiError::internal)?;
    let status = StatusCode::from_u16(first.status).map_err(ApiError::internal)?;
    let version = serde_json::from_str::<serde_json::Value>(data.get()).ok().and_then(|v| v.get("version")?.as_u64());
    let mut response = ApiResponse::ok(data)
        .with_status(status)
        .with_header(HeaderName::from_static(IDEMPOTENT_REPLAYED_HEADER), "true");
    if let Some(location) = &first.location {
        response = response.with_header(header::LOCATION, location);
    }
    if let Some(version) = version {
        response = response.with_header(header::ETAG, &etag(version));
    }
    Ok(response.into_response())
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

/// Loads the property, checks `If-Match`, and runs a write conditioned on the version
/// just read. With `If-Match` a concurrent change is a 412; without it the write is
/// retried on the fresh version, then answered with 409.
async fn write_current<Fut>(
    services: &Services,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    write: impl Fn(Property) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<(Written, Response), ApiError>>,
{
    let exhausted = "The property is being changed concurrently; retry, ideally with If-Match";
    retry_lost_races(precondition, stale, exhausted, || async {
        let current = load(services, principal, id).await?;
        if !precondition.allows(current.version) {
            return Err(stale());
        }
        match write(current).await? {
            (Written::Done, response) => Ok(Attempt::Done(response)),
            (Written::Missing, _) => Err(ApiError::NotFound("Property")),
            (Written::HasUnits, _) => Err(ApiError::Conflict(
                "The property still has units; delete them first (a unit with a current or future lease cannot be deleted)".into(),
            )),
            (Written::VersionMismatch(_), _) => Ok(Attempt::LostRace),
        }
    })
    .await
}

/// Replaces the writable fields with `change(current)`, via [`write_current`].
async fn update(
    services: &Services,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    change: impl Fn(&PropertyFields) -> Result<PropertyFields, ApiError>,
) -> Result<Response, ApiError> {
    write_current(services, principal, id, precondition, |current| {
        let next = change(&current.fields).map(|fields| current.revised(fields, time_format::now()));
        async move {
            let next = next?;
            let written = services.store.properties().replace(&next, current.version).await?;
            Ok((written, property_response(&next, StatusCode::OK)))
        }
    })
    .await
}

fn stale() -> ApiError {
    ApiError::PreconditionFailed("The property has changed since the ETag you sent; fetch it again".into())
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
    let fields = body.value.validate()?;
    update(&services, &principal, &id, &precondition, |_| Ok(fields.clone())).await
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
    update(&services, &principal, &id, &precondition, |current| body.value.clone().apply(current)).await
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
    write_current(&services, &principal, &id, &precondition, |current| {
        let services = &services;
        async move {
            let written = services.store.properties().delete(&current, current.version, time_format::now()).await?;
            Ok((written, StatusCode::NO_CONTENT.into_response()))
        }
    })
    .await
}
