//! The partner feed `GET /leases?isActive=true|false[&status=Past|Current|Future]`: a
//! bare JSON array with the partner's field names, across the whole organization.
//!
//! A lease is active while it holds its unit today or later (status Current or
//! Future); `isActive=false` lists Past leases. Each answer is one page with a `Link`
//! to the next (see [`shared::http::feed`]): one `Query` per 1 MB read over the
//! organization's leases, plus one `BatchGetItem` for tenants not seen yet.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::lease::{Lease, LeaseStatus};
use shared::http::envelope::ErrorEnvelope;
use shared::http::feed::{FeedPages, Related, array_response, page_response, page_size, required_bool, row};
use shared::http::listing::PageRequest;
use shared::http::pagination::PageKey;
use shared::http::query::Query;
use shared::store::leases::LeaseFilter;
use shared::store::page::Page;
use shared::{ApiError, Services};
use time::Date;
use utoipa::IntoParams;

use crate::views::{FeedLease, FeedTenant};

/// Query parameters of the feed. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Required: `true` (Current and Future leases) or `false` (Past leases).
    #[serde(rename = "isActive")]
    #[param(rename = "isActive", required = true, value_type = bool)]
    pub is_active: Option<String>,
    /// `Past`, `Current` or `Future`.
    #[param(value_type = Option<LeaseStatus>)]
    pub status: Option<String>,
    /// Rows per page: 1 to 5000, default 5000 (a page also stops at 2 MiB of body).
    pub page_size: Option<usize>,
    /// From the `Link: <...>; rel="next"` header of the previous page.
    pub cursor: Option<String>,
}

/// Leases with their tenants (partner feed).
#[utoipa::path(get, path = "/leases", operation_id = "leaseFeed", tag = "feed", params(FeedParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the organization's matching leases, as a bare array; a `Link: <...>; rel=\"next\"` header names the next page while one follows", body = Vec<FeedLease>,
            headers(("Link" = String, description = "The next page, while one follows"))),
        (status = 400, description = "isActive missing or not a boolean, an unknown status, a bad page_size or cursor, or an unknown parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks lease:read", body = ErrorEnvelope),
    ))]
pub async fn leases(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::LeaseRead, None)?;
    let active = required_bool("isActive", params.is_active.as_deref())?;
    let status = match params.status.as_deref() {
        None => None,
        Some("Past") => Some(LeaseStatus::Past),
        Some("Current") => Some(LeaseStatus::Current),
        Some("Future") => Some(LeaseStatus::Future),
        Some(_) => return Err(ApiError::BadRequest("status must be Past, Current or Future".into())),
    };
    let size = page_size(params.page_size)?;
    let mut filter = LeaseFilter { status, active: Some(active), ..Default::default() };
    if let Reach::Tenant(own) = Reach::of(&principal) {
        match own {
            Some(own) => filter.tenant_id = Some(own.into()),
            None => return Ok(array_response(&[])),
        }
    }
    let mut route = format!("/leases?isActive={active}");
    if let Some(status) = params.status.as_deref() {
        route.push_str(&format!("&status={status}"));
    }
    // A tenant's cursor is bound to their own filter, though the link does not show it.
    let scope = format!("{route}#tenant={:?}", filter.tenant_id);
    let request =
        PageRequest::in_organization(&services.cursors, &principal.org_id, scope, size, params.cursor.as_deref())?;
    let cursors = services.cursors.clone();
    let feed = Feed {
        services,
        org_id: principal.org_id.clone(),
        filter,
        today: calendar::today(),
        tenants: Related::default(),
    };
    page_response(feed, &request, &cursors, &route).await
}

struct Feed {
    services: Services,
    org_id: String,
    filter: LeaseFilter,
    today: Date,
    /// Tenants seen so far.
    tenants: Related<FeedTenant>,
}

impl FeedPages for Feed {
    type Item = Lease;

    async fn page(&mut self, start: Option<PageKey>, limit: usize) -> Result<Page<Lease>, ApiError> {
        Ok(self.services.store.leases().feed_page(&self.org_id, &self.filter, self.today, start, limit).await?)
    }

    /// The leases' JSON rows.
    async fn render(&mut self, leases: &[Lease]) -> Result<Vec<String>, ApiError> {
        let (store, org_id) = (&self.services.store, &self.org_id);
        let tenant_ids = leases.iter().flat_map(|l| l.tenant_ids.iter());
        self.tenants
            .fetch_missing(tenant_ids, |ids| async move {
                let found = store.tenants().get_many(org_id, &ids).await?;
                Ok(found.iter().map(|t| (t.id.clone(), FeedTenant::from(t))).collect())
            })
            .await?;
        leases.iter().map(|lease| row(&FeedLease::new(lease, |id| self.tenants.get(id).cloned()))).collect()
    }

    fn key_of(&self, lease: &Lease) -> PageKey {
        self.services.store.leases().page_key(lease)
    }
}
