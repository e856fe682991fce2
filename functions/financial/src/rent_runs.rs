//! `POST|GET /api/v1/financial/rent-runs[/{run_id}]`: run the rent job for one day of
//! the caller's organization, and the runs so far (scheduled ones included); and
//! `GET|PUT /api/v1/financial/late-fee-policies/{property_id}`, the late fees it charges.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::calendar;
use shared::domain::ids::{PropertyId, RentRunId};
use shared::domain::late_fee::LateFeePolicy;
use shared::domain::rent_run::{RentRun, RentRunTrigger};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, Pagination, SuccessEnvelope};
use shared::http::listing::{PageParams, PageRequest};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::http::resource::versioned_response;
use shared::{ApiError, Services, time_format};
use time::{Date, OffsetDateTime};

use crate::refusals::Refused;
use crate::rent_job::RentJob;
use crate::requests::{LateFeePolicyInput, RentRunInput};
use crate::views::{LateFeePolicyView, RentRunView};

#[derive(Debug, Deserialize)]
pub struct RunPath {
    run_id: String,
}

#[derive(Debug, Deserialize)]
pub struct PolicyPath {
    property_id: String,
}

/// The views of `runs`: a requested run is finished when its record says so, a
/// scheduled one when its day's run is, across organizations (one batched read).
async fn views(services: &Services, runs: &[RentRun]) -> Result<Vec<RentRunView>, ApiError> {
    let days: Vec<Date> = runs
        .iter()
        .filter(|r| r.trigger == RentRunTrigger::Scheduled)
        .map(|r| r.date)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let scheduled = services.store.rent_runs().scheduled_days(&days).await?;
    let finished_at = |run: &RentRun| -> Option<OffsetDateTime> {
        match run.trigger {
            RentRunTrigger::Requested => run.finished_at,
            RentRunTrigger::Scheduled => scheduled.get(&run.date).and_then(|d| d.finished_at),
        }
    };
    Ok(runs.iter().map(|r| RentRunView::new(r, finished_at(r))).collect())
}

/// Run the rent job for one day of the caller's organization: each current lease due
/// that day is issued its rent invoice for the day's month (once per lease and month,
/// however often it runs), and each rent invoice unpaid past its property's grace days
/// is charged its late fee (once). Answers what the run did.
#[utoipa::path(post, path = "/api/v1/financial/rent-runs", operation_id = "createRentRun", tag = "financial",
    request_body = RentRunInput,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "The run, finished", body = SuccessEnvelope<RentRunView>, headers(("Location" = String))),
        (status = 403, description = "Lacks rentrun:manage", body = ErrorEnvelope),
        (status = 422, description = "Invalid date, or more than 31 days ahead", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<RentRunInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRunManage, None)?;
    let body = body.accept()?;
    let day = body.value.validate(calendar::today())?;
    let run = RentJob::new(&services).run_for_organization(&principal.org_id, day).await?;
    let location = format!("/api/v1/financial/rent-runs/{}", run.id);
    Ok(ApiResponse::created(RentRunView::new(&run, run.finished_at), &location).into_response())
}

/// List the organization's rent runs, newest first: the ones asked for and the daily
/// schedule's (those that charged something in the organization).
#[utoipa::path(get, path = "/api/v1/financial/rent-runs", operation_id = "listRentRuns", tag = "financial",
    params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of runs", body = SuccessEnvelope<Vec<RentRunView>>),
        (status = 400, description = "Invalid cursor", body = ErrorEnvelope),
        (status = 403, description = "Lacks rentrun:manage", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRunManage, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let listing = PageRequest::in_organization(
        &services.cursors,
        org_id,
        "rent-runs".to_owned(),
        page_size,
        params.cursor.as_deref(),
    )?;
    let page = services.store.rent_runs().runs(org_id, listing.start.clone(), page_size).await?;
    let items = views(&services, &page.items).await?;
    let next_cursor = page.next.map(|key| listing.cursor(&services.cursors, key));
    let pagination = Pagination { page_size, has_next: next_cursor.is_some(), next_cursor };
    Ok(ApiResponse::page(items, pagination).into_response())
}

/// Get one of the organization's rent runs.
#[utoipa::path(get, path = "/api/v1/financial/rent-runs/{run_id}", operation_id = "getRentRun", tag = "financial",
    params(("run_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run", body = SuccessEnvelope<RentRunView>),
        (status = 403, description = "Lacks rentrun:manage", body = ErrorEnvelope),
        (status = 404, description = "No such run in the organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<RunPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRunManage, None)?;
    let run_id = RentRunId::parse(&path.run_id).ok_or(Refused::RentRunMissing)?;
    let run =
        services.store.rent_runs().run(&principal.org_id, run_id.as_str()).await?.ok_or(Refused::RentRunMissing)?;
    let view = views(&services, std::slice::from_ref(&run)).await?.pop().ok_or(Refused::RentRunMissing)?;
    Ok(ApiResponse::ok(view).into_response())
}

/// The property `raw` names, if it is the organization's.
async fn property_id(services: &Services, principal: &Principal, raw: &str) -> Result<PropertyId, ApiError> {
    let id = PropertyId::parse(raw).ok_or(Refused::PropertyMissing)?;
    services.store.properties().get(&principal.org_id, &id).await?.ok_or(Refused::PropertyMissing)?;
    Ok(id)
}

/// Get a property's late-fee policy.
#[utoipa::path(get, path = "/api/v1/financial/late-fee-policies/{property_id}", operation_id = "getLateFeePolicy", tag = "financial",
    params(("property_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The policy", body = SuccessEnvelope<LateFeePolicyView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks rentrun:manage", body = ErrorEnvelope),
        (status = 404, description = "No such property, or it has no policy (no late fees)", body = ErrorEnvelope),
    ))]
pub async fn read_policy(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PolicyPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRunManage, None)?;
    let id = PropertyId::parse(&path.property_id).ok_or(Refused::PropertyMissing)?;
    let policy =
        services.store.rent_runs().policy(&principal.org_id, id.as_str()).await?.ok_or(Refused::PolicyMissing)?;
    Ok(versioned_response(LateFeePolicyView::from(&policy), policy.version, StatusCode::OK))
}

/// Set a property's late-fee policy: after `grace_days` past the due date, a rent
/// invoice still unpaid is charged one fee, flat or a percentage of the rent still owed,
/// at most `max_amount`. Applies from the next rent run on.
#[utoipa::path(put, path = "/api/v1/financial/late-fee-policies/{property_id}", operation_id = "putLateFeePolicy", tag = "financial",
    params(("property_id" = String, Path)),
    request_body = LateFeePolicyInput,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The policy", body = SuccessEnvelope<LateFeePolicyView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks rentrun:manage", body = ErrorEnvelope),
        (status = 404, description = "No such property", body = ErrorEnvelope),
        (status = 422, description = "Invalid policy", body = ErrorEnvelope),
    ))]
pub async fn put_policy(
    State(services): State<Services>,
    principal: Principal,
    Path(path): Path<PolicyPath>,
    body: Json<LateFeePolicyInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRunManage, None)?;
    let id = property_id(&services, &principal, &path.property_id).await?;
    let terms = body.accept()?.value.validate()?;
    let runs = services.store.rent_runs();
    let version = runs.policy(&principal.org_id, id.as_str()).await?.map_or(0, |p| p.version) + 1;
    let policy = LateFeePolicy {
        org_id: principal.org_id.clone(),
        property_id: id.into(),
        grace_days: terms.grace_days,
        fee: terms.fee,
        max_amount: terms.max_amount,
        updated_at: time_format::now(),
        version,
    };
    runs.put_policy(&policy).await?;
    Ok(versioned_response(LateFeePolicyView::from(&policy), policy.version, StatusCode::OK))
}
