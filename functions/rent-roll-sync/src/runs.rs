//! The run log (`/api/v1/rent-roll/syncs`): start a sync on demand, list the runs, show
//! one run with each property's figures, and redrive a delivery that failed for good.
//! Every route reads and writes the caller's organization only.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Permission, Principal};
use shared::domain::ids::PropertyId;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, Pagination, SuccessEnvelope};
use shared::http::listing::{PageParams, PageRequest};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::store::keys;
use shared::store::rent_roll::{
    PropertyCheckpoint, PropertySyncStatus, RentRollDeliveryStatus, SyncRunRecord, SyncTrigger,
};
use shared::{ApiError, time_format};
use utoipa::ToSchema;

use crate::{RentSyncState, SyncError};

// ------------------------------------------------------------------ requests

/// What `POST /api/v1/rent-roll/syncs` syncs.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// One property of the organization; absent for every active property.
    #[schema(example = "prop_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub property_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SyncPath {
    sync_id: String,
}

#[derive(Debug, Deserialize)]
pub struct DeliveryPath {
    sync_id: String,
    delivery_id: String,
}

// ------------------------------------------------------------------ refusals

/// What run log requests can be refused for, and the one place each becomes an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    SyncMissing,
    DeliveryMissing,
    PropertyMissing,
    NotEnabled,
    /// Another run of the organization started in the same second (the sync id's resolution).
    SameSecond,
    NotFailed,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::SyncMissing => ApiError::NotFound("Sync"),
            Refused::DeliveryMissing => ApiError::NotFound("Delivery"),
            Refused::PropertyMissing => ApiError::NotFound("Property"),
            Refused::NotEnabled => ApiError::Conflict("The RentSync sync is not enabled for this organization".into()),
            Refused::SameSecond => {
                ApiError::Conflict("A sync of this organization started this second; try again".into())
            }
            Refused::NotFailed => ApiError::Conflict("Only a delivery that failed for good can be redriven".into()),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(err: SyncError) -> Self {
        match err {
            SyncError::Store(err) => err.into(),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

// ------------------------------------------------------------------ views

/// One run of the sync for the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunView {
    #[schema(example = "sync-2026-11-22-02-00-00")]
    pub sync_id: String,
    pub trigger: SyncTrigger,
    /// The one property an on-demand run syncs.
    pub property_id: Option<String>,
    /// `running` until every property has had its first attempt, then `completed`.
    #[schema(example = "completed")]
    pub status: &'static str,
    /// The payloads' `sync_timestamp`.
    pub sync_timestamp: String,
    /// Properties queued so far.
    pub property_count: u32,
    /// Properties whose first attempt is over.
    pub finished: u32,
    pub delivered: u32,
    pub failed: u32,
    /// Properties whose delivery waits for a retry.
    pub retrying: u32,
    pub started_at: String,
    pub completed_at: Option<String>,
}

impl From<&SyncRunRecord> for SyncRunView {
    fn from(run: &SyncRunRecord) -> Self {
        Self {
            sync_id: run.sync_id.clone(),
            trigger: run.trigger,
            property_id: run.property_id.clone(),
            status: if run.completed_at.is_some() { "completed" } else { "running" },
            sync_timestamp: run.sync_timestamp.clone(),
            property_count: run.properties,
            finished: run.finished,
            delivered: run.delivered,
            failed: run.failed,
            retrying: run.retrying,
            started_at: run.started_at.clone(),
            completed_at: run.completed_at.clone(),
        }
    }
}

/// One property of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertySyncView {
    pub property_id: String,
    /// Absent when nothing was sent (`error_class` says why).
    pub delivery_id: Option<String>,
    pub status: PropertySyncStatus,
    pub attempts: u32,
    /// Why the last attempt failed: `rejected`, `unauthorized`, `endpoint_not_found`,
    /// `rate_limited`, `server_error`, `timeout`, `connection`, `secret_unreadable`,
    /// `sync_disabled`, `property_gone`, `property_inactive`.
    pub error_class: Option<String>,
    /// The status RentSync last answered.
    pub partner_status: Option<u16>,
    /// The payload's size.
    pub bytes: u64,
    pub unit_count: u32,
    /// Reading, rendering and the last POST, in milliseconds.
    pub duration_ms: u64,
    pub updated_at: String,
}

impl From<&PropertyCheckpoint> for PropertySyncView {
    fn from(c: &PropertyCheckpoint) -> Self {
        Self {
            property_id: c.property_id.clone(),
            delivery_id: c.delivery_id.clone(),
            status: c.status,
            attempts: c.attempts,
            error_class: c.error_class.clone(),
            partner_status: c.partner_status,
            bytes: c.bytes,
            unit_count: c.unit_count,
            duration_ms: c.duration_ms,
            updated_at: c.updated_at.clone(),
        }
    }
}

/// A run with a page of its properties (`meta.pagination` pages the properties).
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncDetailView {
    #[serde(flatten)]
    pub run: SyncRunView,
    pub properties: Vec<PropertySyncView>,
}

// ------------------------------------------------------------------ handlers

/// Start a sync of the organization now (one property, or every active one). The run is
/// queued: follow it with `GET /api/v1/rent-roll/syncs/{sync_id}`.
#[utoipa::path(post, path = "/api/v1/rent-roll/syncs", operation_id = "startRentRollSync", tag = "rent-roll",
    request_body = SyncInput,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "Started; the properties are on their way", body = SuccessEnvelope<SyncRunView>),
        (status = 403, description = "Missing permission rentroll:run", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization", body = ErrorEnvelope),
        (status = 409, description = "The sync is not enabled, or another run started this second", body = ErrorEnvelope),
        (status = 422, description = "Invalid body", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<RentSyncState>,
    principal: Principal,
    body: Json<SyncInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRollRun, None)?;
    let input = body.accept()?.value;
    let org_id = &principal.org_id;
    let store = &state.services.store;
    if let Some(property_id) = &input.property_id {
        let id = PropertyId::parse(property_id).ok_or(Refused::PropertyMissing)?;
        store.properties().get(org_id, &id).await?.ok_or(Refused::PropertyMissing)?;
    }
    if !store.rent_roll().settings(org_id).await?.is_some_and(|s| s.enabled) {
        return Err(Refused::NotEnabled.into());
    }
    let now = time_format::now();
    let run = state.syncer.start_on_demand(org_id, input.property_id.as_deref(), now).await?;
    let run = run.ok_or(Refused::SameSecond)?;
    Ok(ApiResponse::ok(SyncRunView::from(&run)).with_status(StatusCode::ACCEPTED).into_response())
}

/// The organization's runs, newest first.
#[utoipa::path(get, path = "/api/v1/rent-roll/syncs", operation_id = "listRentRollSyncs", tag = "rent-roll",
    params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of runs", body = SuccessEnvelope<Vec<SyncRunView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 403, description = "Missing permission rentroll:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<RentSyncState>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRollRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let cursors = &state.services.cursors;
    let listing = resume(cursors, org_id, "rent-roll-syncs".into(), page_size, params.cursor.as_deref(), "SYNC#")?;
    let page = state.services.store.rent_roll().runs(org_id, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<_, SyncRunView>(cursors, page))
}

/// One run: its counts, and a page of its properties with each one's status, attempts,
/// last error class, RentSync's status code, payload bytes, unit count and duration.
#[utoipa::path(get, path = "/api/v1/rent-roll/syncs/{sync_id}", operation_id = "readRentRollSync", tag = "rent-roll",
    params(("sync_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The run and a page of its properties", body = SuccessEnvelope<SyncDetailView>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 403, description = "Missing permission rentroll:read", body = ErrorEnvelope),
        (status = 404, description = "No such run in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(state): State<RentSyncState>,
    principal: Principal,
    Path(path): Path<SyncPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRollRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let store = state.services.store.rent_roll();
    let run = store.run(org_id, &path.sync_id).await?.ok_or(Refused::SyncMissing)?;
    let cursors = &state.services.cursors;
    let prefix = format!("SYNCPROP#{}#", run.sync_id);
    let query = format!("rent-roll-sync|{}", run.sync_id);
    let listing = resume(cursors, org_id, query, page_size, params.cursor.as_deref(), &prefix)?;
    let page = store.checkpoints(org_id, &run.sync_id, listing.start.clone(), page_size).await?;
    let next_cursor = page.next.map(|key| listing.cursor(cursors, key));
    let pagination = Pagination { page_size, has_next: next_cursor.is_some(), next_cursor };
    let view = SyncDetailView {
        run: SyncRunView::from(&run),
        properties: page.items.iter().map(PropertySyncView::from).collect(),
    };
    Ok(ApiResponse::page(view, pagination).into_response())
}

/// Send a delivery that failed for good once more, now, with its sync id and payload;
/// the run's counts follow its outcome.
#[utoipa::path(post, path = "/api/v1/rent-roll/syncs/{sync_id}/deliveries/{delivery_id}/redrive", operation_id = "redriveRentRollDelivery", tag = "rent-roll",
    params(("sync_id" = String, Path), ("delivery_id" = String, Path, description = "As the run shows it (`#` encoded as `%23`)")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Sent; the property's figures after the attempt", body = SuccessEnvelope<PropertySyncView>),
        (status = 403, description = "Missing permission rentroll:run", body = ErrorEnvelope),
        (status = 404, description = "No such run or delivery in this organization", body = ErrorEnvelope),
        (status = 409, description = "The delivery has not failed, or the sync is not enabled", body = ErrorEnvelope),
    ))]
pub async fn redrive(
    State(state): State<RentSyncState>,
    principal: Principal,
    Path(path): Path<DeliveryPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RentRollRun, None)?;
    let org_id = &principal.org_id;
    let store = state.services.store.rent_roll();
    store.run(org_id, &path.sync_id).await?.ok_or(Refused::SyncMissing)?;
    let delivery = store.delivery(org_id, &path.delivery_id).await?;
    let mut delivery = delivery.filter(|d| d.sync_id == path.sync_id).ok_or(Refused::DeliveryMissing)?;
    if delivery.status != RentRollDeliveryStatus::Failed {
        return Err(Refused::NotFailed.into());
    }
    let settings = store.settings(org_id).await?.filter(|s| s.enabled).ok_or(Refused::NotEnabled)?;
    let now = time_format::now();
    let began = Instant::now();
    state.syncer.reopen(&delivery, now).await?;
    delivery.status = RentRollDeliveryStatus::Pending;
    delivery.failure = None;
    let delivery = state.syncer.attempt(&settings, delivery, now).await?;
    state.syncer.settle(&delivery, began.elapsed(), now).await?;
    let checkpoint = store.checkpoint(org_id, &delivery.sync_id, &delivery.property_id).await?;
    let checkpoint = checkpoint.unwrap_or_else(|| crate::checkpoint::of(&delivery, began.elapsed(), now));
    Ok(ApiResponse::ok(PropertySyncView::from(&checkpoint)).into_response())
}

/// A listing of the organization's rent-roll partition under `prefix`, from `cursor`.
fn resume(
    cursors: &shared::http::pagination::CursorCodec,
    org_id: &str,
    query: String,
    size: usize,
    cursor: Option<&str>,
    prefix: &str,
) -> Result<PageRequest, ApiError> {
    let partition = keys::collection(org_id, "RENTSYNC");
    PageRequest::resume(cursors, org_id, query, size, cursor, |key| {
        key.get(keys::PK) == Some(&partition) && key.get(keys::SK).is_some_and(|sk| sk.starts_with(prefix))
    })
}
