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
use shared::store::keys;
use shared::store::page::PageKey;
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
    renters_page(&services, &principal, &params).await
}

/// List the renters with an invoice unpaid past its due date (integration API): the
/// organization's open invoices due before today, read from their index (never every
/// renter), then one page of the renters they name, in id order.
#[utoipa::path(get, path = "/api/ai/renters/overdue", operation_id = "listIntegrationOverdueRenters", tag = "integration", params(LinkPageParams),
    security(("oauth2" = ["read:renters", "read:payments"]), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Overdue renters; a `Link` header with rel=\"next\" when more follow", body = RenterList),
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
    let page_size = pagination::page_size(params.page_size, MAX_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let overdue = services.store.rent_runs().overdue_tenant_ids(org_id, calendar::today()).await?;
    let (ids, next_cursor): (Vec<String>, Option<String>) = match Reach::of(&principal) {
        Reach::Tenant(own) => (own.map(String::from).filter(|id| overdue.contains(id)).into_iter().collect(), None),
        Reach::Organization => {
            let (query, cursor) = ("renters-overdue".to_owned(), params.cursor.as_deref());
            let listing = PageRequest::in_organization(&services.cursors, org_id, query, page_size, cursor)?;
            let after = listing.start.as_ref().and_then(|key| key.get(keys::SK)).cloned().unwrap_or_default();
            let mut rest = overdue.into_iter().filter(|id| keys::tenant(id) > after);
            let ids: Vec<String> = rest.by_ref().take(page_size).collect();
            let next = match (rest.next(), ids.last()) {
                (Some(_), Some(last)) => {
                    let key = PageKey::from([
                        (keys::PK.to_owned(), keys::org(org_id)),
                        (keys::SK.to_owned(), keys::tenant(last)),
                    ]);
                    Some(listing.cursor(&services.cursors, key))
                }
                _ => None,
            };
            (ids, next)
        }
    };
    let mut tenants = services.store.tenants().get_many(org_id, &ids).await?;
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    let renters = render(&services, &principal, &tenants, Listed::Overdue).await?;
    Ok(with_next_link(
        AxumJson(RenterList { renters }).into_response(),
        "/api/ai/renters/overdue",
        page_size,
        next_cursor,
    ))
}

/// Which renters a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    All,
    Overdue,
}

/// One page of all renters as the integration API shows them.
async fn renters_page(
    services: &Services,
    principal: &Principal,
    params: &LinkPageParams,
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
    let renters = render(services, principal, &tenants, Listed::All).await?;
    Ok(with_next_link(AxumJson(RenterList { renters }).into_response(), "/api/ai/renters", page_size, next_cursor))
}

/// `tenants` as renters: each with their headline lease's dates and the rent it is
/// charged (the amount the rent job issues each period), and, for a caller holding
/// `payment:read`, its payment status (`overdue` for every renter of the overdue listing).
async fn render(
    services: &Services,
    principal: &Principal,
    tenants: &[Tenant],
    listed: Listed,
) -> Result<Vec<Renter>, ApiError> {
    let org_id = &principal.org_id;
    let lease_ids: Vec<String> = tenants.iter().flat_map(|t| t.lease_ids.iter().cloned()).collect();
    let leases = services.store.leases().get_many(org_id, &lease_ids).await?;
    let headlines: Vec<Option<&Lease>> = tenants.iter().map(|t| headline(t, &leases)).collect();
    // Payment fields need payment:read (and the read:payments scope for an app).
    let shows_payments = principal.authorize(Permission::PaymentRead, Some(Scope::ReadPayments)).is_ok();
    let balances = if shows_payments && listed == Listed::All {
        let ids: Vec<String> = headlines.iter().flatten().map(|l| l.id.clone()).collect();
        services.store.ledger().balances(org_id, &ids).await?
    } else {
        Vec::new()
    };
    let today = calendar::today();
    let payment_status = |lease: Option<&Lease>| {
        shows_payments.then(|| {
            if listed == Listed::Overdue {
                return PaymentStatus::Overdue.name().to_owned();
            }
            let balance = lease.and_then(|l| balances.iter().find(|b| b.lease_id == l.id));
            balance.map_or(PaymentStatus::Current, |b| b.status_on(today)).name().to_owned()
        })
    };
    Ok(tenants
        .iter()
        .zip(headlines)
        .map(|(t, lease)| Renter {
            id: t.id.clone(),
            name: t.fields.name.clone(),
            property_id: t.property_id.clone(),
            lease_start: lease.map(|l| calendar::format_date(l.start_date)),
            lease_end: lease.map(|l| calendar::format_date(l.end_date)),
            rent_amount: lease.map(|l| l.rent_charge().to_seed_number()),
            payment_status: payment_status(lease),
        })
        .collect())
}
