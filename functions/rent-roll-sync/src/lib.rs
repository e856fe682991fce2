//! The daily rent-roll push to RentSync (the RentSync rent-roll guide): for each
//! organization with the sync enabled, its active properties with their active units, in
//! the organization's payload format, as snapshots or deltas, one POST per property or
//! one batch (split by size); retries on a persisted schedule. Its HTTP routes: the
//! settings (`/api/v1/integrations/rentsync[/properties/{property_id}]`) and the pull
//! feed (`/api/v1/rent-roll/feed`).

pub mod auth;
pub mod batch;
pub mod checkpoint;
mod delivery;
pub mod delta;
pub mod fanout;
pub mod feed;
pub mod mits;
pub mod payload;
mod refusals;
pub mod requests;
pub mod runs;
mod settings;
pub mod signing;
pub mod views;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::FromRef;
use shared::Services;
use shared::domain::unit::Unit;
use shared::store::rent_roll::{
    DELIVERY_RETENTION, DeliveryMode, RentRollDelivery, RentRollDeliveryStatus, RentSyncSettings,
};
use shared::store::{Store, StoreError};
use shared::time_format;
use time::OffsetDateTime;

pub use checkpoint::SYNC_COMPLETED;
pub use delivery::{
    DELIVERY_FAILED, MAX_ATTEMPTS, Outcome, RENT_ROLL_SOURCE, RETRY_SCHEDULE, SYNC_ID_HEADER, partner_unit_errors,
};
pub use fanout::{FanOut, Synced, WorkMessage, WorkQueue};
pub use payload::SyncRun;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
pub use webhooks::AddressGuard;

/// Where RentSync endpoints may be and where credentials are kept. Read once at cold start.
#[derive(Debug, Clone)]
pub struct RentSyncConfig {
    /// Which endpoint and token URLs settings and deliveries may use.
    pub guard: AddressGuard,
    /// Each organization's credential is the secret `<prefix><organization id>`; the
    /// function's policy allows only this prefix.
    pub secret_prefix: String,
}

impl RentSyncConfig {
    /// `RENTSYNC_SECRET_PREFIX` (`doorstep/<stage>/rentsync/`);
    /// `RENTSYNC_ALLOW_PRIVATE_URLS=true` allows `http` and private addresses (the local
    /// stack and its sandbox only).
    pub fn from_env() -> Self {
        let allow = std::env::var("RENTSYNC_ALLOW_PRIVATE_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let secret_prefix =
            std::env::var("RENTSYNC_SECRET_PREFIX").unwrap_or_else(|_| "doorstep/local/rentsync/".to_owned());
        Self { guard: AddressGuard::new(allow), secret_prefix }
    }

    /// The secret that holds an organization's credential.
    pub fn secret_id(&self, org_id: &str) -> String {
        format!("{}{org_id}", self.secret_prefix)
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct RentSyncState {
    pub services: Services,
    pub config: RentSyncConfig,
    /// Starts on-demand runs and sends redrives at once.
    pub syncer: Syncer,
}

impl FromRef<RentSyncState> for Services {
    fn from_ref(state: &RentSyncState) -> Self {
        state.services.clone()
    }
}

#[derive(OpenApi)]
#[openapi(tags(
    (name = "integrations", description = "Partner integrations: the rent-roll push to RentSync"),
    (name = "rent-roll", description = "The rent-roll sync's runs, each property's delivery and redrives; the rent roll as a pull feed (the RentSync guide's payloads and MITS 4.1 ILS XML)")
))]
struct RentSyncApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<RentSyncState> {
    OpenApiRouter::with_openapi(RentSyncApi::openapi())
        .routes(routes!(settings::read, settings::replace))
        .routes(routes!(settings::read_property, settings::replace_property, settings::delete_property))
        .routes(routes!(feed::feed))
        .routes(routes!(runs::list, runs::create))
        .routes(routes!(runs::read))
        .routes(routes!(runs::redrive))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services, config: RentSyncConfig, syncer: Syncer) -> Router {
    let (api, _) = api().with_state(RentSyncState { services: services.clone(), config, syncer }).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// The largest body one delivery sends, whatever `max_body_bytes` allows: the body, the
/// changes it makes once delivered (about as large) and RentSync's unit-level errors must
/// fit in the delivery's item (DynamoDB's 400 KB).
pub const MAX_STORED_BODY_BYTES: u64 = 128 * 1024;
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
    /// Bodies whose identical payload this sync had already started.
    pub already_sent: usize,
    /// Properties left out of a delta because nothing changed since the last delivery.
    pub unchanged: usize,
}

impl SyncSummary {
    fn add(&mut self, synced: Synced) {
        match synced {
            Synced::Already => self.already_sent += 1,
            Synced::Sent(deliveries) => {
                self.started += deliveries.len();
                deliveries.iter().for_each(|delivery| self.count(delivery));
            }
            Synced::Skipped => self.unchanged += 1,
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

/// Runs syncs and retries. Built once per cold start, so OAuth tokens outlive an invocation.
#[derive(Debug, Clone)]
pub struct Syncer {
    store: Store,
    secrets: aws_sdk_secretsmanager::Client,
    http: reqwest::Client,
    guard: AddressGuard,
    tokens: auth::TokenCache,
    queue: Option<WorkQueue>,
}

impl Syncer {
    /// `timeout` bounds each POST, connection included; endpoints as
    /// [`RentSyncConfig::from_env`] allows.
    pub fn new(services: &Services, timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_guard(services, timeout, RentSyncConfig::from_env().guard)
    }

    /// Like [`Syncer::new`], reaching only what `guard` allows.
    pub fn with_guard(services: &Services, timeout: Duration, guard: AddressGuard) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(guard.clone()))
            .user_agent(concat!("Doorstep/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (store, secrets) = (services.store.clone(), services.aws.secrets.clone());
        Ok(Self { store, secrets, http, guard, tokens: auth::TokenCache::default(), queue: None })
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

    /// Starts and attempts one delivery per part, answering each part's properties and
    /// its delivery after the first attempt. A part this sync already started is not sent
    /// again; one that another worker is sending now makes this copy of the work come
    /// back later (`SyncError::InFlight`).
    pub(crate) async fn deliver(
        &self,
        settings: &RentSyncSettings,
        parts: Vec<batch::Part>,
        run: &SyncRun,
        now: OffsetDateTime,
    ) -> Result<Vec<(Vec<String>, RentRollDelivery)>, SyncError> {
        let split = settings.delivery == DeliveryMode::Batch || parts.len() > 1;
        let mut deliveries = Vec::with_capacity(parts.len());
        for (index, part) in parts.into_iter().enumerate() {
            let part_number = split.then(|| u32::try_from(index + 1).unwrap_or(u32::MAX));
            let property_ids = part.property_ids.clone();
            let delivery = new_delivery(settings, part, part_number, run, now);
            let store = self.store.rent_roll();
            let delivery = if store.start_delivery(&delivery).await? {
                self.attempt(settings, delivery, now).await?
            } else {
                match store.delivery(&delivery.organization_id, &delivery.delivery_id).await? {
                    Some(started) if started.attempts.is_empty() && !fanout::abandoned(&started, now) => {
                        return Err(SyncError::InFlight(started.delivery_id));
                    }
                    // Started by a worker that stopped before its first POST.
                    Some(started) if started.attempts.is_empty() => self.attempt(settings, started, now).await?,
                    Some(started) => started,
                    None => delivery,
                }
            };
            deliveries.push((property_ids, delivery));
        }
        Ok(deliveries)
    }

    /// The parts `rolls` are sent in under `settings`.
    pub(crate) fn parts(settings: &RentSyncSettings, rolls: &[delta::PropertyRoll], run: &SyncRun) -> Vec<batch::Part> {
        let bound = settings.max_body_bytes.min(MAX_STORED_BODY_BYTES);
        batch::parts(rolls, settings.format, settings.delivery, bound, run)
    }

    /// Sends every delivery whose next attempt is due, and moves its property's
    /// checkpoint; a delivery whose organization has since disabled the sync (or whose
    /// property is now excluded) ends as failed.
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        for mut delivery in self.store.rent_roll().due(now, DUE_BATCH).await? {
            let settings = match self.store.rent_roll().settings(&delivery.organization_id).await? {
                Some(settings) if settings.enabled => self.for_property(&settings, &delivery.property_id).await?,
                _ => None,
            };
            match settings {
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

/// A property's listed units (those with `active: true`), read a page at a time.
pub async fn listed_units(store: &Store, org_id: &str, property_id: &str) -> Result<Vec<Unit>, StoreError> {
    let mut units = Vec::new();
    let mut start = None;
    loop {
        let page = store.units().list(org_id, property_id, start, PAGE).await?;
        units.extend(page.items.into_iter().filter(|unit| unit.fields.active));
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(units),
        }
    }
}

/// What a scheduled event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The daily sync, identified by the event's time.
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

/// The `property_id` of a batch delivery, which carries several properties.
pub const BATCH_PROPERTY_ID: &str = "batch";

fn new_delivery(
    settings: &RentSyncSettings,
    part: batch::Part,
    part_number: Option<u32>,
    run: &SyncRun,
    now: OffsetDateTime,
) -> RentRollDelivery {
    let at = time_format::format(now);
    let property_id = match (settings.delivery, part.property_ids.first()) {
        (DeliveryMode::PerProperty, Some(id)) => id.clone(),
        _ => BATCH_PROPERTY_ID.to_owned(),
    };
    let rendered = part.rendered;
    RentRollDelivery {
        delivery_id: RentRollDelivery::id_for(&run.sync_id, &property_id, &rendered.hash),
        organization_id: settings.organization_id.clone(),
        property_id,
        sync_id: run.sync_id.clone(),
        payload_hash: rendered.hash,
        bytes: rendered.body.len() as u64,
        body: rendered.body,
        unit_count: rendered.unit_count,
        status: RentRollDeliveryStatus::Pending,
        attempts: Vec::new(),
        next_attempt_at: None,
        failure: None,
        part: part_number,
        changes: part.changes,
        unit_errors: Vec::new(),
        created_at: at.clone(),
        updated_at: at,
        expires_at: (now + DELIVERY_RETENTION).unix_timestamp(),
    }
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
