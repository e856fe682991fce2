//! The integration API for OAuth apps: `/api/ai/properties[/{property_id}]`.
//!
//! Bodies are exactly the integration API's shape; the next page is announced in a `Link`
//! header so the body stays untouched.

use axum::Json as AxumJson;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use shared::auth::{Permission, Principal, Scope};
use shared::http::envelope::ErrorEnvelope;
use shared::http::listing::{LinkPageParams, with_next_link};
use shared::http::pagination::{self, MAX_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::store::properties::{PropertyOrder, PropertyQuery, PropertyRow};
use shared::{ApiError, Services};

use crate::list::page;
use crate::views::{IntegrationProperty, IntegrationPropertyEnvelope, IntegrationPropertyList};

/// List all properties (integration API).
#[utoipa::path(get, path = "/api/ai/properties", operation_id = "listIntegrationProperties", tag = "integration", params(LinkPageParams),
    security(("oauth2" = ["read:properties"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Properties; a `Link` header with rel=\"next\" when more follow", body = IntegrationPropertyList),
        (status = 401, description = "Missing or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Token lacks read:properties", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<LinkPageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    let page_size = pagination::page_size(params.page_size, MAX_PAGE_SIZE)?;
    let query = PropertyQuery {
        org_id: principal.org_id.clone(),
        order: PropertyOrder::CreatedAt { descending: false },
        status: None,
        property_type: None,
        created_after: None,
        created_before: None,
    };
    let (page, listing) = page(&services, &query, params.cursor.as_deref(), page_size).await?;
    let next_cursor = page.next.as_ref().map(|key| listing.cursor(&services.cursors, key.clone()));
    let properties = page
        .items
        .iter()
        .filter_map(|row| match row {
            PropertyRow::Live(p) => Some(IntegrationProperty::from(p.as_ref())),
            PropertyRow::Deleted(_) => None,
        })
        .collect();
    let response = AxumJson(IntegrationPropertyList { properties }).into_response();
    Ok(with_next_link(response, "/api/ai/properties", page_size, next_cursor))
}

/// Get detailed information about a property (integration API).
#[utoipa::path(get, path = "/api/ai/properties/{property_id}", operation_id = "getIntegrationProperty", tag = "integration",
    params(("property_id" = String, Path)),
    security(("oauth2" = ["read:properties"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The property", body = IntegrationPropertyEnvelope),
        (status = 404, description = "No such property", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    let property = crate::routes::load(&services, &principal, &id).await?;
    Ok(AxumJson(IntegrationPropertyEnvelope::from(&property)).into_response())
}
