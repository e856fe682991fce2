//! The partner feed `GET /units?isActive=true|false`: a bare JSON array with the
//! partner's field names, across all properties of the organization, one page at a
//! time with a `Link` to the next (see [`shared::http::feed`]). A page is one `Query`
//! per 1 MB read over the organization's units, plus one `BatchGetItem` for addresses of
//! properties not seen yet.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::Address;
use shared::domain::ids::TenantId;
use shared::domain::unit::Unit;
use shared::http::envelope::ErrorEnvelope;
use shared::http::feed::{FeedPages, Related, array_response, page_response, page_size, required_bool, row};
use shared::http::listing::PageRequest;
use shared::http::pagination::PageKey;
use shared::http::query::Query;
use shared::store::page::Page;
use shared::{ApiError, Services};
use utoipa::IntoParams;

use crate::views::FeedUnit;

/// Query parameters of the feed. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Required: `true` or `false`, the unit's `active` flag.
    #[serde(rename = "isActive")]
    #[param(rename = "isActive", required = true, value_type = bool)]
    pub is_active: Option<String>,
    /// Rows per page: 1 to 5000, default 5000 (a page also stops at 2 MiB of body).
    pub page_size: Option<usize>,
    /// From the `Link: <...>; rel="next"` header of the previous page.
    pub cursor: Option<String>,
}

/// Units with their property's address (partner feed).
#[utoipa::path(get, path = "/units", operation_id = "unitFeed", tag = "feed", params(FeedParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "A page of the organization's units with this active flag, as a bare array; a `Link: <...>; rel=\"next\"` header names the next page while one follows", body = Vec<FeedUnit>,
            headers(("Link" = String, description = "The next page, while one follows"))),
        (status = 400, description = "isActive missing or not a boolean, a bad page_size or cursor, or an unknown parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks unit:read", body = ErrorEnvelope),
    ))]
pub async fn units(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UnitRead, Some(Scope::ReadProperties))?;
    let active = required_bool("isActive", params.is_active.as_deref())?;
    let size = page_size(params.page_size)?;
    let route = format!("/units?isActive={active}");
    let request = PageRequest::in_organization(
        &services.cursors,
        &principal.org_id,
        route.clone(),
        size,
        params.cursor.as_deref(),
    )?;
    let cursors = services.cursors.clone();
    let mut feed = Feed { services, org_id: principal.org_id.clone(), active, addresses: Related::default() };
    if let Reach::Tenant(own) = Reach::of(&principal) {
        let units = feed.tenant_units(own.as_ref()).await?;
        return Ok(array_response(&feed.render(&units).await?));
    }
    page_response(feed, &request, &cursors, &route).await
}

struct Feed {
    services: Services,
    org_id: String,
    active: bool,
    /// Addresses of the properties seen so far.
    addresses: Related<Address>,
}

impl FeedPages for Feed {
    type Item = Unit;

    async fn page(&mut self, start: Option<PageKey>, limit: usize) -> Result<Page<Unit>, ApiError> {
        Ok(self.services.store.units().feed_page(&self.org_id, self.active, start, limit).await?)
    }

    /// The units' JSON rows.
    async fn render(&mut self, units: &[Unit]) -> Result<Vec<String>, ApiError> {
        let (store, org_id) = (&self.services.store, &self.org_id);
        let property_ids = units.iter().map(|u| &u.property_id);
        self.addresses
            .fetch_missing(property_ids, |ids| async move { Ok(store.units().property_addresses(org_id, &ids).await?) })
            .await?;
        units.iter().map(|unit| row(&FeedUnit::new(unit, self.addresses.get(&unit.property_id)))).collect()
    }

    fn key_of(&self, unit: &Unit) -> PageKey {
        self.services.store.units().page_key(unit)
    }
}

impl Feed {
    /// The units a tenant leases, with this feed's active flag.
    async fn tenant_units(&self, tenant_id: Option<&TenantId>) -> Result<Vec<Unit>, ApiError> {
        let Some(tenant_id) = tenant_id else { return Ok(Vec::new()) };
        let leases = self.services.store.leases().of_tenant(&self.org_id, tenant_id).await?;
        let mut units: Vec<Unit> = Vec::new();
        for lease in &leases {
            if units.iter().any(|u| u.id == lease.unit_id) {
                continue;
            }
            if let Some(unit) = self.services.store.units().of_lease(lease).await?
                && unit.fields.active == self.active
            {
                units.push(unit);
            }
        }
        Ok(units)
    }
}
