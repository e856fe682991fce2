//! `GET /api/v1/financial/ledgers/{lease_id}`: a lease's balance, payment status and
//! entries; and who may reach a lease's money.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde::Serialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal};
use shared::domain::ids::LeaseId;
use shared::domain::lease::Lease;
use shared::domain::ledger::LeaseBalance;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::{PageParams, PageRequest, only_page_response};
use shared::http::optimistic::Contention;
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::store::StoreError;
use shared::store::keys;
use shared::store::page::{Page, PageKey};
use shared::{ApiError, Services, time_format};
use utoipa::IntoParams;

use crate::refusals::Refused;
use crate::views::LedgerView;

/// Attempts at a ledger change that lost a race on the lease's balance before answering
/// 409. Each lost race means another change of the same ledger committed, so this bounds
/// work, and lets 20 concurrent payments on one lease all land.
pub const LEDGER_ATTEMPTS: usize = 30;

/// How ledger changes answer when every attempt lost a race.
pub const CONTENTION: Contention =
    Contention { resource: "ledger", exhausted: "The lease's ledger is being changed concurrently; retry" };

/// Whether the caller reaches money of a lease naming `tenant_ids`: a Tenant only their own.
pub fn reaches(principal: &Principal, tenant_ids: &[String]) -> bool {
    match Reach::of(principal) {
        Reach::Organization => true,
        Reach::Tenant(own) => own.is_some_and(|own| tenant_ids.iter().any(|t| t == own.as_str())),
    }
}

/// Whose money a listing shows: the whole organization's (`Some(None)`), a Tenant's own
/// leases' (`Some(Some(tenant id))`), or nothing, for a Tenant without a linked profile (`None`).
pub fn listing_reach(principal: &Principal) -> Option<Option<String>> {
    match Reach::of(principal) {
        Reach::Organization => Some(None),
        Reach::Tenant(own) => own.map(|own| Some(own.into())),
    }
}

/// Query parameters of the listings filtered by lease. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaseListParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub lease_id: Option<String>,
}

/// One page of a listing of the organization's money, in the caller's reach (a Tenant's
/// only of their own leases, nothing without a linked profile). `filter_for` builds the
/// filter for the Tenant's id (if any) with the fingerprint its cursors are bound to;
/// `fetch` reads the page.
pub async fn list_in_reach<F, T, V, Fut>(
    services: &Services,
    principal: &Principal,
    page_size: Option<usize>,
    cursor: Option<&str>,
    filter_for: impl FnOnce(Option<String>) -> (F, String),
    fetch: impl FnOnce(F, Option<PageKey>, usize) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<Page<T>, StoreError>>,
    V: Serialize + for<'a> From<&'a T>,
{
    let page_size = pagination::page_size(page_size, DEFAULT_PAGE_SIZE)?;
    let Some(tenant_id) = listing_reach(principal) else {
        return Ok(only_page_response(Vec::<V>::new(), page_size));
    };
    let (filter, fingerprint) = filter_for(tenant_id);
    let listing = PageRequest::in_organization(&services.cursors, &principal.org_id, fingerprint, page_size, cursor)?;
    let page = fetch(filter, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, V>(&services.cursors, page))
}

/// The lease `lease_id` if the caller reaches it; 404 otherwise, as for a foreign id.
pub async fn lease_in_reach(services: &Services, principal: &Principal, lease_id: &LeaseId) -> Result<Lease, ApiError> {
    services
        .store
        .leases()
        .get(&principal.org_id, lease_id)
        .await?
        .filter(|l| reaches(principal, &l.tenant_ids))
        .ok_or_else(|| Refused::LeaseMissing.into())
}

/// The lease's balance as stored, or its empty opening balance before any entry.
pub async fn balance_of(services: &Services, lease: &Lease) -> Result<LeaseBalance, ApiError> {
    let stored = services.store.ledger().balance(&lease.org_id, &lease.id).await?;
    Ok(stored.unwrap_or_else(|| LeaseBalance::opening(lease, time_format::now())))
}

#[derive(Debug, Deserialize)]
pub struct LedgerPath {
    lease_id: String,
}

/// A lease's ledger: its balance, payment status and one page of entries in posting order.
#[utoipa::path(get, path = "/api/v1/financial/ledgers/{lease_id}", operation_id = "getLedger", tag = "financial",
    params(("lease_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The ledger", body = SuccessEnvelope<LedgerView>, headers(("ETag" = String))),
        (status = 400, description = "Invalid cursor", body = ErrorEnvelope),
        (status = 404, description = "No such lease (or not the caller's, for a Tenant)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<LedgerPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PaymentRead, None)?;
    let lease_id = LeaseId::parse(&path.lease_id).ok_or(Refused::LeaseMissing)?;
    let lease = lease_in_reach(&services, &principal, &lease_id).await?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let prefix = keys::ledger_entries_of(lease.id.as_str());
    let query = format!("ledger|{}", lease.id);
    let listing =
        PageRequest::under_prefix(&services.cursors, org_id, query, page_size, params.cursor.as_deref(), &prefix)?;
    let balance = balance_of(&services, &lease).await?;
    let page = services.store.ledger().entries(org_id, &lease.id, listing.start.clone(), page_size).await?;
    let next_cursor = page.next.map(|key| listing.cursor(&services.cursors, key));
    let view = LedgerView::new(&balance, &page.items, next_cursor);
    Ok(versioned_response(view, balance.version, StatusCode::OK))
}
