//! `/api/v1/operations/vendors` handlers: the contractors work orders go to, their
//! ratings (one per completed work order) and performance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::ids::VendorId;
use shared::domain::vendor::Vendor;
use shared::domain::work_order::WorkOrderStatus;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::listing::{PageParams, PageRequest};
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::{created_response, versioned_response};
use shared::store::keys;
use shared::store::requests::VersionedPut;
use shared::store::work_orders::WorkOrderFilter;
use shared::{ApiError, Services, time_format};

use crate::requests::{RateInput, VendorInput};
use crate::views::{VendorPerformance, VendorView, WorkOrderView};

#[derive(Debug, Deserialize)]
pub struct VendorPath {
    vendor_id: String,
}

fn missing() -> ApiError {
    ApiError::NotFound("Vendor")
}

fn vendor_response(vendor: &Vendor, status: StatusCode) -> Response {
    versioned_response(VendorView::from(vendor), vendor.version, status)
}

async fn load(services: &Services, principal: &Principal, id: &str) -> Result<Vendor, ApiError> {
    let id = VendorId::parse(id).ok_or_else(missing)?;
    services.store.vendors().get(&principal.org_id, &id).await?.ok_or_else(missing)
}

/// List the organization's vendors, oldest first.
#[utoipa::path(get, path = "/api/v1/operations/vendors", operation_id = "listVendors", tag = "maintenance",
    params(PageParams), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of vendors", body = SuccessEnvelope<Vec<VendorView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let listing =
        PageRequest::resume(&services.cursors, org_id, "vendors".into(), page_size, params.cursor.as_deref(), |key| {
            key.get(keys::PK) == Some(&keys::org(org_id))
                && key.get(keys::SK).is_some_and(|sk| sk.starts_with(keys::VENDOR_PREFIX))
        })?;
    let page = services.store.vendors().list(org_id, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, VendorView>(&services.cursors, page))
}

/// Add a vendor.
#[utoipa::path(post, path = "/api/v1/operations/vendors", operation_id = "createVendor", tag = "maintenance",
    request_body = VendorInput, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<VendorView>, headers(("Location" = String), ("ETag" = String))),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<VendorInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderCreate, None)?;
    let body = body.accept()?;
    let vendor = Vendor::new(&principal.org_id, body.value.validate()?, time_format::now());
    services.store.vendors().create(&vendor).await?;
    let location = format!("/api/v1/operations/vendors/{}", vendor.id);
    Ok(created_response(VendorView::from(&vendor), vendor.version, &location))
}

/// Get a vendor.
#[utoipa::path(get, path = "/api/v1/operations/vendors/{vendor_id}", operation_id = "getVendor", tag = "maintenance",
    params(("vendor_id" = String, Path)), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The vendor", body = SuccessEnvelope<VendorView>, headers(("ETag" = String))),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    Ok(vendor_response(&load(&services, &principal, &path.vendor_id).await?, StatusCode::OK))
}

async fn update(
    services: &Services,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    change: impl Fn(&Vendor) -> Result<Vendor, ApiError>,
) -> Result<Response, ApiError> {
    let change = &change;
    write_current(
        precondition,
        Contention { resource: "vendor", exhausted: "The vendor is being changed concurrently; retry" },
        || load(services, principal, id),
        |current| async move {
            let next = change(&current)?;
            match services.store.vendors().replace(&next, current.version).await? {
                VersionedPut::Done => Ok(Attempt::Done(vendor_response(&next, StatusCode::OK))),
                VersionedPut::VersionMismatch(_) => Ok(Attempt::LostRace),
                VersionedPut::Missing => Err(missing()),
            }
        },
    )
    .await
}

/// Replace a vendor's fields.
#[utoipa::path(put, path = "/api/v1/operations/vendors/{vendor_id}", operation_id = "replaceVendor", tag = "maintenance",
    request_body = VendorInput,
    params(("vendor_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<VendorView>, headers(("ETag" = String))),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
    IfMatch(precondition): IfMatch,
    body: Json<VendorInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    update(&services, &principal, &path.vendor_id, &precondition, |current| {
        let fields = body.get()?.value.validate()?;
        Ok(current.revised(time_format::now(), |v| v.fields = fields))
    })
    .await
}

/// Delete a vendor. A vendor with open work orders cannot be deleted (409).
#[utoipa::path(delete, path = "/api/v1/operations/vendors/{vendor_id}", operation_id = "deleteVendor", tag = "maintenance",
    params(("vendor_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
        (status = 409, description = "The vendor has open work orders", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderDelete, None)?;
    let (services, principal) = (&services, &principal);
    write_current(
        &precondition,
        Contention { resource: "vendor", exhausted: "The vendor is being changed concurrently; retry" },
        || load(services, principal, &path.vendor_id),
        |current| async move {
            let orders = services.store.work_orders().of_vendor(&principal.org_id, &current.id).await?;
            let open = orders.iter().filter(|w| w.status.is_open()).count();
            if open > 0 {
                return Err(ApiError::Conflict(format!(
                    "The vendor has {open} open work order(s); it cannot be deleted"
                )));
            }
            match services.store.vendors().delete(&current, current.version).await? {
                VersionedPut::Done => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                VersionedPut::VersionMismatch(_) => Ok(Attempt::LostRace),
                VersionedPut::Missing => Err(missing()),
            }
        },
    )
    .await
}

/// The vendor's work orders, least recently changed first.
#[utoipa::path(get, path = "/api/v1/operations/vendors/{vendor_id}/work-orders", operation_id = "listVendorWorkOrders", tag = "maintenance",
    params(("vendor_id" = String, Path), PageParams), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of work orders", body = SuccessEnvelope<Vec<WorkOrderView>>),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
    ))]
pub async fn work_orders(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let vendor = load(&services, &principal, &path.vendor_id).await?;
    let org_id = &principal.org_id;
    let filter = WorkOrderFilter { vendor_id: Some(vendor.id), ..WorkOrderFilter::default() };
    let listing = PageRequest::resume(
        &services.cursors,
        org_id,
        filter.fingerprint(),
        page_size,
        params.cursor.as_deref(),
        |key| key.get(keys::GSI1PK) == Some(&keys::work_orders_of(org_id)),
    )?;
    let page = services.store.work_orders().list(org_id, &filter, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, WorkOrderView>(&services.cursors, page))
}

/// Rate the vendor for one of its completed work orders (1 to 5, once per work order).
#[utoipa::path(post, path = "/api/v1/operations/vendors/{vendor_id}/rate", operation_id = "rateVendor", tag = "maintenance",
    request_body = RateInput, params(("vendor_id" = String, Path)), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Rated", body = SuccessEnvelope<VendorView>, headers(("ETag" = String))),
        (status = 404, description = "No such vendor, or no such work order of this vendor", body = ErrorEnvelope),
        (status = 409, description = "The work order is not completed, or is already rated", body = ErrorEnvelope),
        (status = 422, description = "Rating outside 1 to 5", body = ErrorEnvelope),
    ))]
pub async fn rate(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
    body: Json<RateInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    // The vendor's 404 before the body's refusals.
    load(&services, &principal, &path.vendor_id).await?;
    let input = body.accept()?.value;
    if !(1..=5).contains(&input.rating) {
        return Err(ApiError::invalid_field("rating", "must be between 1 and 5"));
    }
    let order_id =
        shared::domain::ids::WorkOrderId::parse(&input.work_order_id).ok_or(ApiError::NotFound("Work order"))?;
    let order = services.store.work_orders().get(&principal.org_id, &order_id).await?;
    let order = order
        .filter(|w| w.fields.vendor_id.as_deref() == Some(path.vendor_id.as_str()))
        .ok_or(ApiError::NotFound("Work order"))?;
    if order.status != WorkOrderStatus::Completed {
        return Err(ApiError::Conflict("Only a completed work order can be rated".into()));
    }
    update(&services, &principal, &path.vendor_id, &Precondition::None, |current| {
        if current.ratings.contains_key(&order.id) {
            return Err(ApiError::Conflict("This work order is already rated".into()));
        }
        Ok(current.revised(time_format::now(), |v| {
            v.ratings.insert(order.id.clone(), input.rating);
        }))
    })
    .await
}

/// The vendor's figures: work orders done, average rating, median time from assignment
/// to completion, total cost.
#[utoipa::path(get, path = "/api/v1/operations/vendors/{vendor_id}/performance", operation_id = "getVendorPerformance", tag = "maintenance",
    params(("vendor_id" = String, Path)), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The figures", body = SuccessEnvelope<VendorPerformance>),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
    ))]
pub async fn performance(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<VendorPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    let vendor = load(&services, &principal, &path.vendor_id).await?;
    let orders = services.store.work_orders().of_vendor(&principal.org_id, &vendor.id).await?;
    let completed: Vec<_> = orders.iter().filter(|w| w.status == WorkOrderStatus::Completed).collect();
    let mut durations: Vec<i64> = completed
        .iter()
        .filter_map(|w| Some((w.completed_at? - w.assigned_at.unwrap_or(w.created_at)).whole_seconds()))
        .collect();
    durations.sort_unstable();
    let median = match durations.len() {
        0 => None,
        n if n % 2 == 1 => Some(durations[n / 2]),
        n => Some((durations[n / 2 - 1] + durations[n / 2]) / 2),
    };
    let ratings: Vec<f64> = vendor.ratings.values().map(|r| f64::from(*r)).collect();
    let average_rating = (!ratings.is_empty()).then(|| ratings.iter().sum::<f64>() / ratings.len() as f64);
    let figures = VendorPerformance {
        vendor_id: vendor.id.clone(),
        work_orders_total: orders.len(),
        work_orders_completed: completed.len(),
        average_rating,
        ratings_count: ratings.len(),
        median_completion_seconds: median,
        total_cost: completed.iter().filter_map(|w| w.cost).sum(),
    };
    Ok(ApiResponse::ok(figures).into_response())
}
