//! The daily rent-roll push to RentSync (the RentSync rent-roll guide): for each
//! organization with the sync enabled, one POST per active property with its active
//! units, in the organization's payload format, fanned out over a work queue with a
//! checkpoint per property; retries on a persisted schedule; the run log API
//! (`/api/v1/rent-roll/syncs`).

pub mod checkpoint;
mod delivery;
pub mod fanout;
pub mod payload;
pub mod runs;
pub mod signing;

use std::time::{Duration, Instant};

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use shared::Services;
use shared::domain::unit::Unit;
use shared::store::rent_roll::{DELIVERY_RETENTION, RentRollDelivery, RentRollDeliveryStatus, RentSyncSettings};
use shared::store::{Store, StoreError};
use shared::time_format;
use time::OffsetDateTime;

pub use checkpoint::SYNC_COMPLETED;
pub use delivery::{DELIVERY_FAILED, MAX_ATTEMPTS, Outcome, RENT_ROLL_SOURCE, RETRY_SCHEDULE, SYNC_ID_HEADER};
pub use fanout::{FanOut, Synced, WorkMessage, WorkQueue};
pub use payload::SyncRun;

/// Units read per `Query`, and organizations and properties per page.
pub(crate) const PAGE: usize = 100;
/// Due retries taken per tick of the retry schedule.
const DUE_BATCH: usize = 100;
/// The retry schedule's event name in template.yaml, which its rule's name contains
/// (`<stack>-RentRollSyncFunctionRentRollRetries-<suffix>` in AWS); any other scheduled
/// event is the daily sync.
pub const RETRY_SCHEDULE_NAME: &str = "RentRollRetries";

/// Why an invocation failed; the schedule's next tick (or EventBridge's retry of the
/// daily event) takes the work up again.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the invocation is not a scheduled event")]
    NotScheduled,
    #[error("the work queue is not configured ({})", fanout::QUEUE_URL_VAR)]
    NoQueue,
    #[error("the work queue: {0}")]
    Queue(String),
    #[error("delivery {0} is being sent by another worker")]
    InFlight(String),
    #[error("a work message or checkpoint is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncSummary {
    /// Deliveries started (one per property whose payload was not sent in this sync yet).
    pub started: usize,
    pub delivered: usize,
    pub pending: usize,
    pub failed: usize,
    /// Properties whose identical payload this sync had already started.
    pub already_sent: usize,
}

impl SyncSummary {
    fn add(&mut self, synced: Synced) {
        match synced {
            Synced::Already => self.already_sent += 1,
            Synced::Sent(delivery) => {
                self.started += 1;
                self.count(&delivery);
            }
            Synced::Unavailable => self.failed += 1,
        }
    }

    fn count(&mut self, delivery: &RentRollDelivery) {
        match delivery.status {
            RentRollDeliveryStatus::Delivered => self.delivered += 1,
            RentRollDeliveryStatus::Pending => self.pending += 1,
            RentRollDeliveryStatus::Failed => self.failed += 1,
        }
    }
}

/// Runs syncs and retries. Built once per cold start.
#[derive(Debug, Clone)]
pub struct Syncer {
    store: Store,
    secrets: aws_sdk_secretsmanager::Client,
    http: reqwest::Client,
    queue: Option<WorkQueue>,
}

impl Syncer {
    /// `timeout` bounds each POST, connection included.
    pub fn new(services: &Services, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Doorstep/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { store: services.store.clone(), secrets: services.aws.secrets.clone(), http, queue: None })
    }

    /// Sends work (the coordinator's and on-demand runs') to `queue`.
    pub fn with_queue(mut self, queue: Option<WorkQueue>) -> Self {
        self.queue = queue;
        self
    }

    /// An invocation other than an HTTP request: an SQS batch of work messages is
    /// answered with its `batchItemFailures`; the retry schedule's tick sends the due
    /// retries; the daily schedule's event fans out the sync identified by the event's
    /// time, so a redelivered event is the same sync and sends nothing twice.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<serde_json::Value, SyncError> {
        if payload.get("Records").is_some() {
            return Ok(self.work(&payload, now).await);
        }
        match Job::of(&payload, now)? {
            Job::Retries => Ok(serde_json::json!({ "retries": self.run_due(now).await? })),
            Job::Sync(run) => Ok(serde_json::json!({ "sync": self.fan_out(&run, now).await? })),
        }
    }

    /// The property's active units, read a page at a time.
    pub(crate) async fn active_units(&self, org_id: &str, property_id: &str) -> Result<Vec<Unit>, StoreError> {
        let mut units = Vec::new();
        let mut start = None;
        loop {
            let page = self.store.units().list(org_id, property_id, start, PAGE).await?;
            units.extend(page.items.into_iter().filter(|unit| unit.fields.active));
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(units),
            }
        }
    }

    /// Sends every delivery whose next attempt is due; a delivery whose organization
    /// has since disabled the sync ends as failed.
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        for mut delivery in self.store.rent_roll().due(now, DUE_BATCH).await? {
            match self.store.rent_roll().settings(&delivery.organization_id).await?.filter(|s| s.enabled) {
                Some(settings) => {
                    let began = Instant::now();
                    let delivery = self.attempt(&settings, delivery, now).await?;
                    self.settle(&delivery, began.elapsed(), now).await?;
                    summary.count(&delivery);
                }
                None => {
                    self.fail(&mut delivery, "sync_disabled", now).await?;
                    self.settle(&delivery, Duration::ZERO, now).await?;
                    summary.failed += 1;
                }
            }
        }
        Ok(summary)
    }
}

/// What a scheduled event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The daily sync, identified by the event's time: fanned out.
    Sync(SyncRun),
    /// A tick of the retry schedule.
    Retries,
}

impl Job {
    /// The job of an EventBridge scheduled event; `now` stands in for a missing `time`.
    pub fn of(payload: &serde_json::Value, now: OffsetDateTime) -> Result<Self, SyncError> {
        if payload.get("detail-type").and_then(|t| t.as_str()) != Some("Scheduled Event") {
            return Err(SyncError::NotScheduled);
        }
        let rules = payload["resources"].as_array().map(Vec::as_slice).unwrap_or_default();
        let rule_name = |arn: &serde_json::Value| arn.as_str().and_then(|a| a.rsplit('/').next()).map(str::to_owned);
        if rules.iter().filter_map(rule_name).any(|name| name.contains(RETRY_SCHEDULE_NAME)) {
            return Ok(Self::Retries);
        }
        let at = payload["time"].as_str().and_then(time_format::parse).unwrap_or(now);
        Ok(Self::Sync(SyncRun::at(at)))
    }
}

pub(crate) fn new_delivery(
    settings: &RentSyncSettings,
    property_id: &str,
    run: &SyncRun,
    rendered: payload::RenderedBody,
    now: OffsetDateTime,
) -> RentRollDelivery {
    let at = time_format::format(now);
    RentRollDelivery {
        delivery_id: RentRollDelivery::id_for(&run.sync_id, property_id, &rendered.hash),
        organization_id: settings.organization_id.clone(),
        property_id: property_id.to_owned(),
        sync_id: run.sync_id.clone(),
        payload_hash: rendered.hash,
        bytes: rendered.body.len() as u64,
        body: rendered.body,
        unit_count: rendered.unit_count,
        status: RentRollDeliveryStatus::Pending,
        attempts: Vec::new(),
        next_attempt_at: None,
        failure: None,
        created_at: at.clone(),
        updated_at: at,
        expires_at: (now + DELIVERY_RETENTION).unix_timestamp(),
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct RentRollState {
    pub services: Services,
    /// Starts on-demand runs and sends redrives at once.
    pub syncer: Syncer,
}

impl axum::extract::FromRef<RentRollState> for Services {
    fn from_ref(state: &RentRollState) -> Self {
        state.services.clone()
    }
}

#[derive(OpenApi)]
#[openapi(tags((name = "rent-roll", description = "The rent-roll sync to RentSync: its runs, each property's delivery, redrives")))]
struct RentRollApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<RentRollState> {
    OpenApiRouter::with_openapi(RentRollApi::openapi())
        .routes(routes!(runs::list, runs::create))
        .routes(routes!(runs::read))
        .routes(routes!(runs::redrive))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services, syncer: Syncer) -> Router {
    let (api, _) = api().with_state(RentRollState { services: services.clone(), syncer }).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../../events/rent-roll-sync/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_daily_event_is_the_sync_of_its_time_and_the_retry_tick_sends_retries() {
        let now = datetime!(2026-11-22 2:00:07 UTC);
        let daily = Job::of(&fixture("daily-schedule.json"), now).unwrap();
        assert_eq!(daily, Job::Sync(SyncRun::at(datetime!(2026-11-22 2:00 UTC))));
        assert_eq!(Job::of(&fixture("retry-schedule.json"), now).unwrap(), Job::Retries);
        // The local trigger runner names the rule doorstep-<stack>-<function>-<event>.
        let mut local = fixture("retry-schedule.json");
        local["resources"] = serde_json::json!([
            "arn:aws:events:us-east-1:123456789012:rule/doorstep-dev-rent-roll-sync-RentRollRetries"
        ]);
        assert_eq!(Job::of(&local, now).unwrap(), Job::Retries);
        assert!(matches!(
            Job::of(&serde_json::json!({"source": "doorstep.domain"}), now),
            Err(SyncError::NotScheduled)
        ));
    }
}
