//! `/api/v1/operations/work-orders` handlers. A work order belongs to a property (and
//! optionally a unit and the maintenance request it fixes). Starting it moves its request
//! to `in_progress`; completing the last open work order of a request completes the
//! request, in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::Problems;
use shared::domain::ids::{MaintenanceRequestId, PropertyId, UnitId, VendorId, WorkOrderId};
use shared::domain::maintenance::{MaintenanceRequest, RequestUpdate, Status};
use shared::domain::work_order::{WorkOrder, WorkOrderStatus};
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::listing::{PageRequest, only_page_response};
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::{created_response, versioned_response};
use shared::store::keys;
use shared::store::work_orders::{WorkOrderCreated, WorkOrderFilter, WorkOrderWritten};
use shared::{ApiError, Services, time_format};
use utoipa::IntoParams;

use crate::access::{Sees, actor};
use crate::announce;
use crate::refusals::Refused;
use crate::requests::{CompleteWorkOrderInput, WorkOrderInput};
use crate::routes::load as load_request;
use crate::views::WorkOrderView;

#[derive(Debug, Deserialize)]
pub struct WorkOrderPath {
    work_order_id: String,
}

fn missing() -> ApiError {
    ApiError::NotFound("Work order")
}

fn order_response(order: &WorkOrder, status: StatusCode) -> Response {
    versioned_response(WorkOrderView::from(order), order.version, status)
}

/// The work order, if the caller may see it (MaintenanceStaff: those assigned to them).
async fn load(services: &Services, principal: &Principal, id: &str) -> Result<WorkOrder, ApiError> {
    let id = WorkOrderId::parse(id).ok_or_else(missing)?;
    let sees = Sees::of(principal);
    services
        .store
        .work_orders()
        .get(&principal.org_id, &id)
        .await?
        .filter(|w| match &sees {
            Sees::Assigned(user) => w.fields.assignee_id.as_deref() == Some(user.as_str()),
            _ => true,
        })
        .ok_or_else(missing)
}

/// Query parameters of `GET /api/v1/operations/work-orders`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkOrderParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub maintenance_request_id: Option<String>,
    pub status: Option<WorkOrderStatus>,
    pub assignee_id: Option<String>,
    pub vendor_id: Option<String>,
}

/// List work orders, least recently changed first (MaintenanceStaff: those assigned to them).
#[utoipa::path(get, path = "/api/v1/operations/work-orders", operation_id = "listWorkOrders", tag = "maintenance",
    params(WorkOrderParams), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of work orders", body = SuccessEnvelope<Vec<WorkOrderView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<WorkOrderParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let mut filter = WorkOrderFilter {
        maintenance_request_id: params.maintenance_request_id,
        status: params.status,
        assignee_id: params.assignee_id,
        vendor_id: params.vendor_id,
    };
    if let Sees::Assigned(user) = Sees::of(&principal) {
        if filter.assignee_id.as_ref().is_some_and(|asked| *asked != user) {
            return Ok(only_page_response(Vec::<WorkOrderView>::new(), page_size));
        }
        filter.assignee_id = Some(user);
    }
    let org_id = &principal.org_id;
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

/// Where a new work order goes: its request's property and unit, or the body's.
async fn placement(
    services: &Services,
    principal: &Principal,
    input: &WorkOrderInput,
) -> Result<(Option<String>, String, Option<String>), ApiError> {
    if let Some(request_id) = &input.maintenance_request_id {
        let request = load_request(services, principal, request_id).await?;
        let mut p = Problems::new();
        if input.property_id.as_ref().is_some_and(|asked| *asked != request.property_id) {
            p.add("property_id", "must be the maintenance request's property");
        }
        if input.unit_id.is_some() && input.unit_id != request.unit_id {
            p.add("unit_id", "must be the maintenance request's unit");
        }
        p.into_result()?;
        return Ok((Some(request.id), request.property_id, request.unit_id));
    }
    let mut p = Problems::new();
    let property = input.property_id.as_deref().and_then(PropertyId::parse);
    if property.is_none() {
        p.add("property_id", "must be a property id (or send maintenance_request_id)");
    }
    let unit = input.unit_id.as_deref().map(UnitId::parse);
    if unit.as_ref().is_some_and(Option::is_none) {
        p.add("unit_id", "must be a unit id");
    }
    p.into_result()?;
    let property = property.ok_or(Refused::PropertyMissing)?;
    Ok((None, property.into(), unit.flatten().map(String::from)))
}

/// Create a work order, for a maintenance request or on its own.
#[utoipa::path(post, path = "/api/v1/operations/work-orders", operation_id = "createWorkOrder", tag = "maintenance",
    request_body = WorkOrderInput, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<WorkOrderView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such maintenance request, property or unit", body = ErrorEnvelope),
        (status = 409, description = "The maintenance request is completed or cancelled, or the vendor's insurance has expired", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<WorkOrderInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderCreate, None)?;
    let body = body.accept()?;
    let fields = body.value.validate()?;
    let (request_id, property_id, unit_id) = placement(&services, &principal, &body.value).await?;
    check_vendor(&services, &principal.org_id, fields.vendor_id.as_deref()).await?;
    if let Some(request_id) = request_id.as_deref().and_then(MaintenanceRequestId::parse) {
        let request = services.store.maintenance().get(&principal.org_id, &request_id).await?;
        if let Some(status) = request.map(|r| r.status).filter(|s| s.is_final()) {
            return Err(ApiError::Conflict(format!("The maintenance request is {}", status.name())));
        }
    }
    let order = WorkOrder::new(&principal.org_id, request_id, property_id, unit_id, fields, time_format::now());
    match services.store.work_orders().create(&order).await? {
        WorkOrderCreated::Created => {
            let location = format!("/api/v1/operations/work-orders/{}", order.id);
            Ok(created_response(WorkOrderView::from(&order), order.version, &location))
        }
        WorkOrderCreated::PropertyMissing => Err(Refused::PropertyMissing.into()),
        WorkOrderCreated::UnitMissing => Err(Refused::UnitMissing.into()),
        WorkOrderCreated::RequestMissing => Err(Refused::RequestMissing.into()),
    }
}

/// Get a work order.
#[utoipa::path(get, path = "/api/v1/operations/work-orders/{work_order_id}", operation_id = "getWorkOrder", tag = "maintenance",
    params(("work_order_id" = String, Path)), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The work order", body = SuccessEnvelope<WorkOrderView>, headers(("ETag" = String))),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderRead, None)?;
    Ok(order_response(&load(&services, &principal, &path.work_order_id).await?, StatusCode::OK))
}

/// The vendor a work order names must exist (404) and be insured today (409).
async fn check_vendor(services: &Services, org_id: &str, vendor_id: Option<&str>) -> Result<(), ApiError> {
    let Some(vendor_id) = vendor_id else { return Ok(()) };
    let id = VendorId::parse(vendor_id).ok_or(ApiError::NotFound("Vendor"))?;
    let vendor = services.store.vendors().get(org_id, &id).await?.ok_or(ApiError::NotFound("Vendor"))?;
    if !vendor.insured_on(shared::domain::calendar::today()) {
        return Err(ApiError::Conflict(format!(
            "The vendor's insurance expired on {}; it cannot be assigned",
            vendor.fields.insurance_expires_on.map(shared::domain::calendar::format_date).unwrap_or_default()
        )));
    }
    Ok(())
}

/// What a change of a work order does to its maintenance request, if anything.
type RequestChange = Option<(MaintenanceRequest, MaintenanceRequest)>;

/// A change of a work order: `change` makes the next version from the current one and the
/// work orders of its request; any change of the request commits in the same transaction.
async fn update(
    services: &Services,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    change: impl Fn(&WorkOrder, Option<&MaintenanceRequest>, &[WorkOrder]) -> Result<(WorkOrder, RequestChange), ApiError>,
) -> Result<Response, ApiError> {
    let exhausted = "The work order is being changed concurrently; retry, ideally with If-Match";
    let change = &change;
    write_current(
        precondition,
        Contention { resource: "work order", exhausted },
        || load(services, principal, id),
        |current| async move {
            let org_id = &principal.org_id;
            let request = match current.maintenance_request_id.as_deref().and_then(MaintenanceRequestId::parse) {
                Some(request_id) => services.store.maintenance().get(org_id, &request_id).await?,
                None => None,
            };
            let siblings = match &request {
                Some(r) => services.store.work_orders().of_request(org_id, &r.id).await?,
                None => Vec::new(),
            };
            let (next, request_change) = change(&current, request.as_ref(), &siblings)?;
            let also = match request_change {
                Some((before, after)) => {
                    let entries: Vec<RequestUpdate> =
                        RequestUpdate::between(&before, &after, &actor(principal)).into_iter().collect();
                    let messages = announce::messages(services, Some(&before), &after)?;
                    services.store.maintenance().change_items(&after, before.version, &entries, messages)?
                }
                None => Vec::new(),
            };
            match services.store.work_orders().change(&next, current.version, also).await? {
                WorkOrderWritten::Done => Ok(Attempt::Done(order_response(&next, StatusCode::OK))),
                WorkOrderWritten::Changed => Ok(Attempt::LostRace),
                WorkOrderWritten::Missing => Err(missing()),
            }
        },
    )
    .await
}

fn conflict(order: &WorkOrder, action: &str) -> ApiError {
    ApiError::Conflict(format!("A {} work order cannot {action}", order.status.name()))
}

/// Replace a work order's writable fields while it is open.
#[utoipa::path(put, path = "/api/v1/operations/work-orders/{work_order_id}", operation_id = "replaceWorkOrder", tag = "maintenance",
    request_body = WorkOrderInput,
    params(("work_order_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<WorkOrderView>, headers(("ETag" = String))),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
        (status = 409, description = "The work order is completed or cancelled, or the vendor's insurance has expired", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields, or another request, property or unit", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
    IfMatch(precondition): IfMatch,
    body: Json<WorkOrderInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    // The work order's 404 before the body's refusals.
    load(&services, &principal, &path.work_order_id).await?;
    let body = body.accept()?;
    let fields = body.value.validate()?;
    check_vendor(&services, &principal.org_id, fields.vendor_id.as_deref()).await?;
    let input = &body.value;
    update(&services, &principal, &path.work_order_id, &precondition, |current, _, _| {
        let mut p = Problems::new();
        if input.maintenance_request_id.is_some() && input.maintenance_request_id != current.maintenance_request_id {
            p.add("maintenance_request_id", "cannot change");
        }
        if input.property_id.as_ref().is_some_and(|asked| *asked != current.property_id) {
            p.add("property_id", "cannot change");
        }
        if input.unit_id.is_some() && input.unit_id != current.unit_id {
            p.add("unit_id", "cannot change");
        }
        p.into_result()?;
        if !current.status.is_open() {
            return Err(conflict(current, "change"));
        }
        Ok((current.revised(time_format::now(), |w| w.fields = fields.clone()), None))
    })
    .await
}

/// Start a scheduled work order; its maintenance request moves to `in_progress`.
#[utoipa::path(post, path = "/api/v1/operations/work-orders/{work_order_id}/start", operation_id = "startWorkOrder", tag = "maintenance",
    params(("work_order_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Started", body = SuccessEnvelope<WorkOrderView>, headers(("ETag" = String))),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
        (status = 409, description = "Not scheduled", body = ErrorEnvelope),
    ))]
pub async fn start(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    update(&services, &principal, &path.work_order_id, &precondition, |current, request, _| {
        if current.status != WorkOrderStatus::Scheduled {
            return Err(conflict(current, "start"));
        }
        let now = time_format::now();
        let next = current.revised(now, |w| {
            w.status = WorkOrderStatus::InProgress;
            w.started_at = Some(now);
        });
        let request_change = request
            .filter(|r| r.status.can_become(Status::InProgress))
            .map(|r| (r.clone(), r.revised(now, |r| r.status = Status::InProgress)));
        Ok((next, request_change))
    })
    .await
}

/// Complete a work order in progress, with its cost and notes. Completing the last open
/// work order of a maintenance request completes the request (and publishes
/// `maintenance.completed`).
#[utoipa::path(post, path = "/api/v1/operations/work-orders/{work_order_id}/complete", operation_id = "completeWorkOrder", tag = "maintenance",
    request_body = CompleteWorkOrderInput,
    params(("work_order_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Completed", body = SuccessEnvelope<WorkOrderView>, headers(("ETag" = String))),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
        (status = 409, description = "Not in progress", body = ErrorEnvelope),
        (status = 422, description = "Negative cost", body = ErrorEnvelope),
    ))]
pub async fn complete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
    IfMatch(precondition): IfMatch,
    body: Json<CompleteWorkOrderInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    update(&services, &principal, &path.work_order_id, &precondition, |current, request, siblings| {
        let (cost, notes) = body.get()?.value.validate()?;
        if current.status != WorkOrderStatus::InProgress {
            return Err(conflict(current, "complete"));
        }
        let now = time_format::now();
        let next = current.revised(now, |w| {
            w.status = WorkOrderStatus::Completed;
            w.cost = Some(cost);
            w.notes = notes;
            w.completed_at = Some(now);
        });
        let others_open = siblings.iter().any(|w| w.id != current.id && w.status.is_open());
        let request_change = request
            .filter(|r| !others_open && r.status.can_become(Status::Completed))
            .map(|r| (r.clone(), r.revised(now, |r| r.status = Status::Completed)));
        Ok((next, request_change))
    })
    .await
}

/// Cancel an open work order.
#[utoipa::path(post, path = "/api/v1/operations/work-orders/{work_order_id}/cancel", operation_id = "cancelWorkOrder", tag = "maintenance",
    params(("work_order_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Cancelled", body = SuccessEnvelope<WorkOrderView>, headers(("ETag" = String))),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
        (status = 409, description = "Already completed or cancelled", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderUpdate, None)?;
    update(&services, &principal, &path.work_order_id, &precondition, |current, _, _| {
        if !current.status.is_open() {
            return Err(conflict(current, "be cancelled"));
        }
        Ok((current.revised(time_format::now(), |w| w.status = WorkOrderStatus::Cancelled), None))
    })
    .await
}

/// Delete a work order.
#[utoipa::path(delete, path = "/api/v1/operations/work-orders/{work_order_id}", operation_id = "deleteWorkOrder", tag = "maintenance",
    params(("work_order_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such work order", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<WorkOrderPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::WorkOrderDelete, None)?;
    let (services, principal) = (&services, &principal);
    write_current(
        &precondition,
        Contention { resource: "work order", exhausted: "The work order is being changed concurrently; retry" },
        || load(services, principal, &path.work_order_id),
        |current| async move {
            match services.store.work_orders().delete(&current, current.version).await? {
                WorkOrderWritten::Done => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                WorkOrderWritten::Changed => Ok(Attempt::LostRace),
                WorkOrderWritten::Missing => Err(missing()),
            }
        },
    )
    .await
}
