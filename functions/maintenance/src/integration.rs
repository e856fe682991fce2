//! The integration API for OAuth apps: `GET` and `POST /api/ai/maintenance`.
//!
//! Bodies are exactly the integration API's shape; the next page is announced in a `Link`
//! header so the body stays untouched. A request made here is the same request the
//! `/api/v1` routes show.

use axum::Json as AxumJson;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::auth::{Permission, Principal, Scope};
use shared::http::body::Json;
use shared::http::envelope::ErrorEnvelope;
use shared::http::listing::{LinkPageParams, PageRequest, with_next_link};
use shared::http::pagination::{self, MAX_PAGE_SIZE};
use shared::http::query::Query;
use shared::store::keys;
use shared::store::maintenance::RequestFilter;
use shared::{ApiError, Services};

use crate::access::Sees;
use crate::requests::{IntegrationInput, RequestInput};
use crate::routes::create_request;
use crate::views::{IntegrationRequest, IntegrationRequestEnvelope, IntegrationRequestList};

/// List maintenance requests (integration API).
#[utoipa::path(get, path = "/api/ai/maintenance", operation_id = "listIntegrationMaintenance", tag = "integration", params(LinkPageParams),
    security(("oauth2" = ["read:maintenance"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Maintenance requests; a `Link` header with rel=\"next\" when more follow", body = IntegrationRequestList),
        (status = 401, description = "Missing or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Token lacks read:maintenance", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<LinkPageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceRead, Some(Scope::ReadMaintenance))?;
    let page_size = pagination::page_size(params.page_size, MAX_PAGE_SIZE)?;
    let Some(filter) = Sees::of(&principal).narrow(RequestFilter::default()) else {
        return Ok(AxumJson(IntegrationRequestList { maintenance_requests: Vec::new() }).into_response());
    };
    let org_id = &principal.org_id;
    let listing = PageRequest::resume(
        &services.cursors,
        org_id,
        format!("ai|{}", filter.fingerprint()),
        page_size,
        params.cursor.as_deref(),
        |key| key.get(keys::GSI1PK) == Some(&keys::maintenance_requests_of(org_id)),
    )?;
    let page = services.store.maintenance().list(org_id, &filter, listing.start.clone(), page_size).await?;
    let next_cursor = page.next.map(|key| listing.cursor(&services.cursors, key));
    let maintenance_requests = page.items.iter().map(IntegrationRequest::from).collect();
    let response = AxumJson(IntegrationRequestList { maintenance_requests }).into_response();
    Ok(with_next_link(response, "/api/ai/maintenance", page_size, next_cursor))
}

/// Create a new maintenance request (integration API). A Tenant's request goes to the
/// unit they rent in the property.
#[utoipa::path(post, path = "/api/ai/maintenance", operation_id = "createIntegrationMaintenance", tag = "integration",
    request_body = IntegrationInput,
    security(("oauth2" = ["write:maintenance"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The request created", body = IntegrationRequestEnvelope, headers(("Location" = String))),
        (status = 400, description = "Invalid request parameters", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Token lacks write:maintenance", body = ErrorEnvelope),
        (status = 404, description = "No such property", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<IntegrationInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceCreate, Some(Scope::WriteMaintenance))?;
    let body = body.accept()?;
    let input = RequestInput::from(body.value.clone());
    let request = create_request(&services, &principal, &input).await.map_err(|e| match e {
        // The integration API answers invalid parameters with 400.
        ApiError::Validation { message, details } => {
            let fields: Vec<String> = details.iter().map(|d| format!("{}: {}", d.field, d.message)).collect();
            ApiError::BadRequest(if fields.is_empty() { message } else { fields.join("; ") })
        }
        other => other,
    })?;
    let mut response =
        (StatusCode::CREATED, AxumJson(IntegrationRequestEnvelope { maintenance_request: (&request).into() }))
            .into_response();
    if let Ok(value) = format!("/api/v1/operations/maintenance-requests/{}", request.id).parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
