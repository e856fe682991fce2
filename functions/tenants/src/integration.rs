//! `GET /api/ai/renters` in the integration API's shape; the next page is announced in a `Link` header.

use axum::Json as AxumJson;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use shared::auth::tenancy::Reach;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::calendar;
use shared::domain::lease::{Lease, LeaseStatus};
use shared::domain::ledger::PaymentStatus;
use shared::domain::tenant::Tenant;
use shared::http::envelope::ErrorEnvelope;
use shared::http::listing::{LinkPageParams, PageRequest, with_next_link};
use shared::http::pagination::{self, MAX_PAGE_SIZE};
use shared::http::query::Query;
use shared::{ApiError, Services};

use crate::views::{Renter, RenterList};

/// The lease a renter is shown with: the current one, else the next future one, else the last.
fn headline<'a>(tenant: &Tenant, leases: &'a [Lease]) -> Option<&'a Lease> {
    let today = calendar::today();
    let own: Vec<&Lease> = leases.iter().filter(|l| l.names(&tenant.id)).collect();
    own.iter()
        .find(|l| l.status_on(today) == LeaseStatus::Current)
        .or_else(|| own.iter().filter(|l| l.status_on(today) == LeaseStatus::Future).min_by_key(|l| l.start_date))
        .or_else(|| own.iter().max_by_key(|l| l.effective_end))
        .copied()
}

/// List all tenants/renters (integration API).
#[utoipa::path(get, path = "/api/ai/renters", operation_id = "listIntegrationRenters", tag = "integration", params(LinkPageParams),
    security(("oauth2" = ["read:renters"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Renters; a `Link` header with rel=\"next\" when more follow", body = RenterList),
        (status = 401, description = "Missing or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Token lacks read:renters", body = ErrorEnvelope),
    ))]
pub async fn renters(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<LinkPageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantRead, Some(Scope::ReadRenters))?;
    renters_page(&services, &principal, &params, Listed::All).await
}

/// List the renters whose lease has an invoice unpaid past its due date (integration API).
/// The page is a page of renters with only the overdue kept, so it may be short while a
/// `Link` header still announces more.
#[utoipa::path(get, path = "/api/ai/renters/overdue", operation_id = "listIntegrationOverdueRenters", tag = "integration", params(LinkPageParams),
    security(("oauth2" = ["read:renters", "read:payments"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Overdue renters; a `Link` header with rel=\"next\" when more may follow", body = RenterList),
        (status = 401, description = "Missing or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Token lacks read:renters or read:payments", body = ErrorEnvelope),
    ))]
pub async fn overdue_renters(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<LinkPageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::TenantRead, Some(Scope::ReadRenters))?;
    principal.authorize(Permission::PaymentRead, Some(Scope::ReadPayments))?;
    renters_page(&services, &principal, &params, Listed::Overdue).await
}

/// Which renters a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    All,
    Overdue,
}

/// One page of renters as the integration API shows them.
async fn renters_page(
    services: &Services,
    principal: &Principal,
    params: &LinkPageParams,
    listed: Listed,
) -> Result<Response, ApiError> {
    let page_size = pagination::page_size(params.page_size, MAX_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let (tenants, next_cursor) = match Reach::of(principal) {
        Reach::Tenant(own) => {
            let own = match own {
                Some(id) => services.store.tenants().get(org_id, &id).await?,
                None => None,
            };
            (own.into_iter().collect::<Vec<_>>(), None)
        }
        Reach::Organization => {
            let (query, cursor) = ("renters".to_owned(), params.cursor.as_deref());
            let listing = PageRequest::in_organization(&services.cursors, org_id, query, page_size, cursor)?;
            let page = services.store.tenants().list_all(org_id, listing.start.clone(), page_size).await?;
            (page.items, page.next.map(|key| listing.cursor(&services.cursors, key)))
        }
    };
    let lease_ids: Vec<String> = tenants.iter().flat_map(|t| t.lease_ids.iter().cloned()).collect();
    let leases = services.store.leases().get_many(org_id, &lease_ids).await?;
    let headlines: Vec<Option<&Lease>> = tenants.iter().map(|t| headline(t, &leases)).collect();
    // Payment fields need payment:read (and the read:payments scope for an app).
    let shows_payments = principal.authorize(Permission::PaymentRead, Some(Scope::ReadPayments)).is_ok();
    let balances = if shows_payments {
        let ids: Vec<String> = headlines.iter().flatten().map(|l| l.id.clone()).collect();
        services.store.ledger().balances(org_id, &ids).await?
    } else {
        Vec::new()
    };
    let today = calendar::today();
    let payment_status = |lease: Option<&Lease>| {
        shows_payments.then(|| {
            let balance = lease.and_then(|l| balances.iter().find(|b| b.lease_id == l.id));
            balance.map_or(PaymentStatus::Current, |b| b.status_on(today)).name().to_owned()
        })
    };
    let renters = tenants
        .iter()
        .zip(headlines)
        .filter(|(_, lease)| {
            listed == Listed::All || payment_status(*lease).as_deref() == Some(PaymentStatus::Overdue.name())
        })
        .map(|(t, lease)| Renter {
            id: t.id.clone(),
            name: t.fields.name.clone(),
            property_id: t.property_id.clone(),
            lease_start: lease.map(|l| calendar::format_date(l.start_date)),
            lease_end: lease.map(|l| calendar::format_date(l.end_date)),
            rent_amount: lease.map(|l| l.rent_amount.to_seed_number()),
            payment_status: payment_status(lease),
        })
        .collect();
    let response = AxumJson(RenterList { renters }).into_response();
    let route = if listed == Listed::All { "/api/ai/renters" } else { "/api/ai/renters/overdue" };
    Ok(with_next_link(response, route, page_size, next_cursor))
}
