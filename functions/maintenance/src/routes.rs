//! `/api/v1/operations/maintenance-requests` handlers: extract → validate → repository → envelope.
//!
//! Every change of a request is one transaction: the request (conditioned on the version
//! read), its timeline entry, and the outbox messages it announces (see `announce`).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::calendar;
use shared::domain::ids::MaintenanceRequestId;
use shared::domain::lease::LeaseStatus;
use shared::domain::maintenance::{MaintenanceRequest, Origin, Priority, RequestUpdate, Status, UpdateKind};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::listing::{PageParams, PageRequest, only_page_response, updated_since};
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::{created_response, versioned_response};
use shared::store::keys;
use shared::store::maintenance::{RequestCreated, RequestFilter, RequestWritten};
use shared::{ApiError, Services, time_format};
use utoipa::IntoParams;

use crate::access::{Sees, actor};
use crate::announce;
use crate::refusals::Refused;
use crate::requests::{AssignInput, CommentInput, CompleteInput, RequestInput, RequestReplace};
use crate::views::{MaintenanceRequestView, UpdateView};

#[derive(Debug, Deserialize)]
pub struct RequestPath {
    pub request_id: String,
}

fn request_response(request: &MaintenanceRequest, status: StatusCode) -> Response {
    versioned_response(MaintenanceRequestView::from(request), request.version, status)
}

fn location(request: &MaintenanceRequest) -> String {
    format!("/api/v1/operations/maintenance-requests/{}", request.id)
}

/// The request, if the caller may see it.
pub async fn load(
    services: &Services,
    principal: &Principal,
    request_id: &str,
) -> Result<MaintenanceRequest, ApiError> {
    let id = MaintenanceRequestId::parse(request_id).ok_or(Refused::RequestMissing)?;
    let sees = Sees::of(principal);
    services
        .store
        .maintenance()
        .get(&principal.org_id, &id)
        .await?
        .filter(|r| sees.covers(r))
        .ok_or_else(|| Refused::RequestMissing.into())
}

/// A page of one of a visible request's own lists (its timeline, its attachments): the
/// request, and the page asked for, its cursor bound to the list `name` and the request.
pub async fn request_page(
    services: &Services,
    principal: &Principal,
    request_id: &str,
    params: &PageParams,
    name: &str,
    prefix: fn(&str) -> String,
) -> Result<(MaintenanceRequest, PageRequest), ApiError> {
    principal.authorize(Permission::MaintenanceRead, Some(Scope::ReadMaintenance))?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let request = load(services, principal, request_id).await?;
    let listing = PageRequest::under_prefix(
        &services.cursors,
        &principal.org_id,
        format!("{name}|{}", request.id),
        page_size,
        params.cursor.as_deref(),
        &prefix(&request.id),
    )?;
    Ok((request, listing))
}

/// Where a Tenant's new request goes: a unit they rent (now or next) in the property.
/// Without `unit_id`, their only such unit there.
async fn tenant_origin(
    services: &Services,
    principal: &Principal,
    own: Option<&shared::domain::ids::TenantId>,
    input: &crate::requests::Placement,
) -> Result<(String, String), ApiError> {
    let own = own.ok_or(Refused::PropertyMissing)?;
    let today = calendar::today();
    let units: BTreeSet<String> = services
        .store
        .leases()
        .of_tenant(&principal.org_id, own)
        .await?
        .into_iter()
        .filter(|l| l.property_id == input.property_id.as_str() && l.status_on(today) != LeaseStatus::Past)
        .map(|l| l.unit_id)
        .collect();
    let unit = match &input.unit_id {
        Some(asked) => units.get(asked.as_str()).cloned().ok_or(Refused::UnitMissing)?,
        None if units.is_empty() => return Err(Refused::PropertyMissing.into()),
        None if units.len() > 1 => {
            return Err(ApiError::invalid_field("unit_id", "name the unit: you rent more than one here"));
        }
        None => units.into_iter().next().ok_or(Refused::PropertyMissing)?,
    };
    Ok((unit, own.to_string()))
}

/// Creates a request from a validated body: what both APIs' `POST` do.
pub async fn create_request(
    services: &Services,
    principal: &Principal,
    input: &RequestInput,
) -> Result<MaintenanceRequest, ApiError> {
    let (placement, fields) = input.validate()?;
    let (unit_id, tenant_id) = match Sees::of(principal) {
        Sees::Reported(own) => {
            let (unit, tenant) = tenant_origin(services, principal, own.as_ref(), &placement).await?;
            (Some(unit), Some(tenant))
        }
        _ => (placement.unit_id.map(String::from), None),
    };
    let origin =
        Origin { property_id: placement.property_id.into(), unit_id, tenant_id, reported_by: actor(principal) };
    let request = MaintenanceRequest::new(&principal.org_id, origin, fields, time_format::now());
    let created = RequestUpdate::new(&request, UpdateKind::Created, &request.reported_by);
    let messages = announce::messages(services, None, &request)?;
    match services.store.maintenance().create(&request, &created, messages).await? {
        RequestCreated::Created => Ok(request),
        RequestCreated::PropertyMissing => Err(Refused::PropertyMissing.into()),
        RequestCreated::UnitMissing => Err(Refused::UnitMissing.into()),
    }
}

/// A change of a request: `change` makes the next version (and an optional note for the
/// timeline entry) from the current one.
async fn update(
    services: &Services,
    principal: &Principal,
    request_id: &str,
    precondition: &Precondition,
    change: impl Fn(&MaintenanceRequest) -> Result<(MaintenanceRequest, Option<String>), ApiError>,
) -> Result<Response, ApiError> {
    let exhausted = "The maintenance request is being changed concurrently; retry, ideally with If-Match";
    let change = &change;
    write_current(
        precondition,
        Contention { resource: "maintenance request", exhausted },
        || load(services, principal, request_id),
        |current| async move {
            let (next, note) = change(&current)?;
            let mut entries: Vec<RequestUpdate> =
                RequestUpdate::between(&current, &next, &actor(principal)).into_iter().collect();
            if let Some(note) = note {
                match entries.first_mut() {
                    Some(entry) => entry.comment = Some(note),
                    None => {
                        let mut entry = RequestUpdate::new(&next, UpdateKind::Comment, &actor(principal));
                        entry.comment = Some(note);
                        entries.push(entry);
                    }
                }
            }
            let messages = announce::messages(services, Some(&current), &next)?;
            match services.store.maintenance().change(&next, current.version, &entries, messages).await? {
                RequestWritten::Done => Ok(Attempt::Done(request_response(&next, StatusCode::OK))),
                RequestWritten::VersionMismatch(_) => Ok(Attempt::LostRace),
                RequestWritten::Missing => Err(Refused::RequestMissing.into()),
            }
        },
    )
    .await
}

/// Query parameters of `GET /api/v1/operations/maintenance-requests`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub property_id: Option<String>,
    pub unit_id: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    /// The user working on it.
    pub assignee_id: Option<String>,
    /// ISO 8601 date or timestamp: requests changed at or after it.
    pub updated_since: Option<String>,
}

/// List maintenance requests, least recently changed first. A Tenant sees the requests
/// they reported; MaintenanceStaff see those assigned to them.
#[utoipa::path(get, path = "/api/v1/operations/maintenance-requests", operation_id = "listMaintenanceRequests", tag = "maintenance",
    params(ListParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:maintenance"])),
    responses(
        (status = 200, description = "A page of requests", body = SuccessEnvelope<Vec<MaintenanceRequestView>>),
        (status = 400, description = "Invalid filter or cursor", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceRead, Some(Scope::ReadMaintenance))?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let updated_since = updated_since(params.updated_since.as_deref())?;
    let filter = RequestFilter {
        property_id: params.property_id,
        unit_id: params.unit_id,
        status: params.status,
        priority: params.priority,
        assignee_id: params.assignee_id,
        tenant_id: None,
        updated_since,
    };
    let Some(filter) = Sees::of(&principal).narrow(filter) else {
        return Ok(only_page_response(Vec::<MaintenanceRequestView>::new(), page_size));
    };
    let org_id = &principal.org_id;
    let listing = PageRequest::resume(
        &services.cursors,
        org_id,
        filter.fingerprint(),
        page_size,
        params.cursor.as_deref(),
        |key| key.get(keys::GSI1PK) == Some(&keys::maintenance_requests_of(org_id)),
    )?;
    let page = services.store.maintenance().list(org_id, &filter, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, MaintenanceRequestView>(&services.cursors, page))
}

/// Report a maintenance request. A Tenant reports only for a unit they rent; an
/// `emergency` also publishes `maintenance.emergency` at once.
#[utoipa::path(post, path = "/api/v1/operations/maintenance-requests", operation_id = "createMaintenanceRequest", tag = "maintenance",
    request_body = RequestInput,
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<MaintenanceRequestView>, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "No such property or unit (or, for a Tenant, not a unit they rent)", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<RequestInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceCreate, Some(Scope::WriteMaintenance))?;
    let body = body.accept()?;
    let request = create_request(&services, &principal, &body.value).await?;
    Ok(created_response(MaintenanceRequestView::from(&request), request.version, &location(&request)))
}

/// Get a maintenance request.
#[utoipa::path(get, path = "/api/v1/operations/maintenance-requests/{request_id}", operation_id = "getMaintenanceRequest", tag = "maintenance",
    params(("request_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:maintenance"])),
    responses(
        (status = 200, description = "The request", body = SuccessEnvelope<MaintenanceRequestView>, headers(("ETag" = String))),
        (status = 404, description = "No such request (or not the caller's to see)", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceRead, Some(Scope::ReadMaintenance))?;
    let request = load(&services, &principal, &path.request_id).await?;
    Ok(request_response(&request, StatusCode::OK))
}

/// Replace a request's writable fields and optionally move its status.
#[utoipa::path(put, path = "/api/v1/operations/maintenance-requests/{request_id}", operation_id = "replaceMaintenanceRequest", tag = "maintenance",
    request_body = RequestReplace,
    params(("request_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<MaintenanceRequestView>, headers(("ETag" = String))),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 409, description = "The status cannot move there from where it is", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    IfMatch(precondition): IfMatch,
    body: Json<RequestReplace>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceUpdate, Some(Scope::WriteMaintenance))?;
    update(&services, &principal, &path.request_id, &precondition, |current| {
        let (fields, status) = body.get()?.value.validate()?;
        let status = status.unwrap_or(current.status);
        if status != current.status && !current.status.can_become(status) {
            return Err(Refused::Transition(current.status, status).into());
        }
        let next = current.revised(time_format::now(), |r| {
            r.fields = fields;
            r.status = status;
        });
        Ok((next, None))
    })
    .await
}

/// Delete a request and its timeline.
#[utoipa::path(delete, path = "/api/v1/operations/maintenance-requests/{request_id}", operation_id = "deleteMaintenanceRequest", tag = "maintenance",
    params(("request_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceDelete, None)?;
    let exhausted = "The maintenance request is being changed concurrently; retry";
    let (services, principal) = (&services, &principal);
    write_current(
        &precondition,
        Contention { resource: "maintenance request", exhausted },
        || load(services, principal, &path.request_id),
        |current| async move {
            match services.store.maintenance().delete(&current, current.version).await? {
                RequestWritten::Done => Ok(Attempt::Done(StatusCode::NO_CONTENT.into_response())),
                RequestWritten::VersionMismatch(_) => Ok(Attempt::LostRace),
                RequestWritten::Missing => Err(Refused::RequestMissing.into()),
            }
        },
    )
    .await
}

/// Assign a request to the user who will fix it; publishes `maintenance.assigned`. An
/// `open` or `on_hold` request becomes `assigned`; one in progress keeps its status.
#[utoipa::path(post, path = "/api/v1/operations/maintenance-requests/{request_id}/assign", operation_id = "assignMaintenanceRequest", tag = "maintenance",
    request_body = AssignInput,
    params(("request_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 200, description = "Assigned", body = SuccessEnvelope<MaintenanceRequestView>, headers(("ETag" = String))),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 409, description = "The request is completed or cancelled", body = ErrorEnvelope),
        (status = 422, description = "Invalid assignee", body = ErrorEnvelope),
    ))]
pub async fn assign(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    IfMatch(precondition): IfMatch,
    body: Json<AssignInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceUpdate, Some(Scope::WriteMaintenance))?;
    update(&services, &principal, &path.request_id, &precondition, |current| {
        let (assignee, note) = body.get()?.value.validate()?;
        if current.status.is_final() {
            return Err(Refused::Closed(current.status).into());
        }
        let next = current.revised(time_format::now(), |r| {
            r.assignee_id = Some(assignee);
            if r.status.can_become(Status::Assigned) {
                r.status = Status::Assigned;
            }
        });
        Ok((next, note))
    })
    .await
}

/// Mark a request completed; publishes `maintenance.completed`.
#[utoipa::path(post, path = "/api/v1/operations/maintenance-requests/{request_id}/complete", operation_id = "completeMaintenanceRequest", tag = "maintenance",
    request_body = CompleteInput,
    params(("request_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 200, description = "Completed", body = SuccessEnvelope<MaintenanceRequestView>, headers(("ETag" = String))),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 409, description = "Only an `assigned` or `in_progress` request completes", body = ErrorEnvelope),
    ))]
pub async fn complete(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    IfMatch(precondition): IfMatch,
    body: Json<CompleteInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceUpdate, Some(Scope::WriteMaintenance))?;
    update(&services, &principal, &path.request_id, &precondition, |current| {
        let resolution = body.get()?.value.validate()?;
        if !current.status.can_become(Status::Completed) {
            return Err(Refused::Transition(current.status, Status::Completed).into());
        }
        let next = current.revised(time_format::now(), |r| r.status = Status::Completed);
        Ok((next, resolution))
    })
    .await
}

/// The request's timeline, oldest first: its creation, status changes, assignments and
/// comments, each with who and when.
#[utoipa::path(get, path = "/api/v1/operations/maintenance-requests/{request_id}/updates", operation_id = "listMaintenanceUpdates", tag = "maintenance",
    params(("request_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:maintenance"])),
    responses(
        (status = 200, description = "A page of the timeline", body = SuccessEnvelope<Vec<UpdateView>>),
        (status = 404, description = "No such request", body = ErrorEnvelope),
    ))]
pub async fn timeline(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let (request, listing) = request_page(
        &services,
        &principal,
        &path.request_id,
        &params,
        "maintenance-updates",
        keys::maintenance_updates_of,
    )
    .await?;
    let page = services
        .store
        .maintenance()
        .timeline(&principal.org_id, &request.id, listing.start.clone(), listing.size)
        .await?;
    Ok(listing.respond::<_, UpdateView>(&services.cursors, page))
}

/// Comment on a request's timeline.
#[utoipa::path(post, path = "/api/v1/operations/maintenance-requests/{request_id}/updates", operation_id = "commentMaintenanceRequest", tag = "maintenance",
    request_body = CommentInput, params(("request_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 201, description = "The comment", body = SuccessEnvelope<UpdateView>),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 422, description = "Empty or too long", body = ErrorEnvelope),
    ))]
pub async fn comment(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    body: Json<CommentInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceCreate, Some(Scope::WriteMaintenance))?;
    let request = load(&services, &principal, &path.request_id).await?;
    let text = body.accept()?.value.validate()?;
    let mut entry = RequestUpdate::new(&request, UpdateKind::Comment, &actor(&principal));
    entry.at = time_format::now();
    entry.comment = Some(text);
    if !services.store.maintenance().comment(&entry).await? {
        return Err(Refused::RequestMissing.into());
    }
    Ok(ApiResponse::ok(UpdateView::from(&entry)).with_status(StatusCode::CREATED).into_response())
}
