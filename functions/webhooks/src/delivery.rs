//! Delivering events: one POST per subscription, signed, with a 15-second timeout and
//! a capped read of the answer; retries persisted on the retry index and sent by the
//! retry schedule, never by waiting inside an invocation.

use std::time::{Duration, Instant};

use futures::StreamExt;
use shared::events::{DOMAIN_SOURCE, DomainEvent};
use shared::store::events::OutboxMessage;
use shared::store::webhooks::{
    Attempt, DELIVERY_RETENTION, Delivery, DeliveryStatus, Subscription, SubscriptionStatus,
};
use shared::store::{Store, StoreError};
use shared::{Services, time_format};
use time::OffsetDateTime;

use crate::{Settings, matching, signing};

/// The waits after the 1st, 2nd, ... failed attempt (the Standard Webhooks example
/// schedule): about three days in all, then the delivery fails.
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];
/// A subscription failing every attempt for this long is disabled.
pub const DISABLE_AFTER: time::Duration = time::Duration::days(5);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How much of an answer is read and kept.
pub const RESPONSE_CAP: usize = 1024;
/// Deliveries sent at once by one invocation.
const CONCURRENCY: usize = 32;
/// Due retries taken per schedule tick.
const DUE_BATCH: usize = 200;
/// The `source` of the events webhooks publish (`webhook.disabled`).
pub const WEBHOOKS_SOURCE: &str = "doorstep.webhooks";

/// Sends deliveries. Built once per cold start.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    http: reqwest::Client,
}

/// What one POST came to.
enum Outcome {
    Delivered,
    /// 410: the endpoint is gone; disable the subscription.
    Gone,
    /// Try again, no sooner than this (from `Retry-After`).
    Failed {
        not_before: Option<Duration>,
    },
}

impl Deliverer {
    pub fn new(services: &Services, settings: Settings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(settings.guard.clone()))
            .user_agent("Doorstep-Webhooks/1.0")
            .build()?;
        Ok(Self { store: services.store.clone(), http })
    }

    /// An invocation: a domain event from the bus rule, or a scheduled tick that sends
    /// the due retries. Answers a summary.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        if payload.get("source").and_then(|s| s.as_str()) == Some(DOMAIN_SOURCE) {
            let event: DomainEvent = serde_json::from_value(payload["detail"].clone())?;
            let started = self.on_event(&event, now).await?;
            return Ok(serde_json::json!({ "deliveries": started }));
        }
        let sent = self.run_due(now).await?;
        Ok(serde_json::json!({ "retries": sent }))
    }

    /// Starts a delivery of the event to each subscription of its organization that
    /// wants it, and makes the first attempts concurrently. A redelivered bus event
    /// finds its deliveries started and sends nothing again.
    pub async fn on_event(&self, event: &DomainEvent, now: OffsetDateTime) -> Result<usize, StoreError> {
        let subscriptions = self.store.webhooks().all(&event.organization_id).await?;
        let wanted: Vec<&Subscription> = subscriptions.iter().filter(|s| matching::wants(s, event)).collect();
        let results: Vec<Result<bool, StoreError>> = futures::stream::iter(wanted)
            .map(|subscription| async move {
                let delivery = new_delivery(subscription, event, now);
                if !self.store.webhooks().start_delivery(&delivery).await? {
                    return Ok(false);
                }
                self.attempt(subscription, delivery, now).await?;
                Ok(true)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut started = 0;
        for result in results {
            started += usize::from(result?);
        }
        Ok(started)
    }

    /// Sends every delivery whose next attempt is due, concurrently.
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        let due = self.store.webhooks().due(now, DUE_BATCH).await?;
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(due)
            .map(|delivery| async move {
                let subscription = self.store.webhooks().get(&delivery.organization_id, &delivery.webhook_id).await?;
                match subscription {
                    Some(s) if s.status == SubscriptionStatus::Active => {
                        self.attempt(&s, delivery, now).await.map(|_| ())
                    }
                    _ => self.give_up(delivery, now).await,
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut sent = 0;
        for result in results {
            result?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Ends a delivery whose subscription is gone or disabled.
    async fn give_up(&self, mut delivery: Delivery, now: OffsetDateTime) -> Result<(), StoreError> {
        delivery.status = DeliveryStatus::Failed;
        delivery.next_attempt_at = None;
        delivery.updated_at = time_format::format(now);
        self.store.webhooks().save_delivery(&delivery).await
    }

    /// One POST of a delivery, recorded; schedules the next attempt or ends it.
    pub async fn attempt(
        &self,
        subscription: &Subscription,
        mut delivery: Delivery,
        now: OffsetDateTime,
    ) -> Result<Delivery, StoreError> {
        let (attempt, outcome) = self.post(subscription, &delivery, now).await;
        delivery.attempts.push(attempt);
        delivery.round_attempts += 1;
        delivery.updated_at = time_format::format(now);
        let webhooks = self.store.webhooks();
        match outcome {
            Outcome::Delivered => {
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
                webhooks.mark_healthy(&subscription.organization_id, &subscription.webhook_id).await?;
            }
            Outcome::Gone => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                self.disable(subscription, "The endpoint answered 410 Gone", now).await?;
            }
            Outcome::Failed { not_before } => {
                let index = usize::try_from(delivery.round_attempts).unwrap_or(usize::MAX) - 1;
                match RETRY_SCHEDULE.get(index) {
                    Some(wait) => {
                        delivery.status = DeliveryStatus::Pending;
                        delivery.next_attempt_at = Some(time_format::format(now + retry_delay(*wait, not_before)));
                    }
                    None => {
                        delivery.status = DeliveryStatus::Failed;
                        delivery.next_attempt_at = None;
                    }
                }
                let since = webhooks.mark_failing(&subscription.organization_id, &subscription.webhook_id, now).await?;
                let failing_too_long =
                    since.as_deref().and_then(time_format::parse).is_some_and(|since| now - since >= DISABLE_AFTER);
                if failing_too_long {
                    delivery.status = DeliveryStatus::Failed;
                    delivery.next_attempt_at = None;
                    self.disable(subscription, "Every delivery failed for 5 days", now).await?;
                }
            }
        }
        webhooks.save_delivery(&delivery).await?;
        Ok(delivery)
    }

    /// Disables the subscription and, the first time, announces `webhook.disabled` on the
    /// bus (through the outbox, so the announcement is never lost) for the organization's
    /// notifications.
    async fn disable(&self, subscription: &Subscription, reason: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let detail = serde_json::json!({
            "webhook_id": subscription.webhook_id,
            "organization_id": subscription.organization_id,
            "url": subscription.url,
            "reason": reason,
            "disabled_at": time_format::format(now),
        });
        let announcement =
            OutboxMessage::new(&subscription.organization_id, WEBHOOKS_SOURCE, "webhook.disabled", detail.to_string());
        let webhooks = self.store.webhooks();
        let (org_id, webhook_id) = (&subscription.organization_id, &subscription.webhook_id);
        if webhooks.disable(org_id, webhook_id, reason, now, &announcement).await? {
            tracing::warn!(webhook_id = %subscription.webhook_id, reason, "webhook subscription disabled");
        }
        Ok(())
    }

    /// The POST itself: signed now, read up to [`RESPONSE_CAP`] bytes.
    async fn post(&self, subscription: &Subscription, delivery: &Delivery, now: OffsetDateTime) -> (Attempt, Outcome) {
        let started = Instant::now();
        let mut attempt = Attempt {
            attempted_at: time_format::format(now),
            response_status: None,
            latency_ms: 0,
            response_body: None,
            error: None,
        };
        let headers =
            match signing::headers(&subscription.secrets, &delivery.event_id, now.unix_timestamp(), &delivery.body) {
                Ok(headers) => headers,
                Err(_) => {
                    attempt.error = Some("The subscription's secret is invalid".into());
                    return (attempt, Outcome::Failed { not_before: None });
                }
            };
        let mut request = self
            .http
            .post(&subscription.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(delivery.body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                attempt.latency_ms = elapsed_ms(started);
                attempt.error = Some(describe(&err));
                return (attempt, Outcome::Failed { not_before: None });
            }
        };
        let status = response.status();
        let retry_after = shared::http::retry_after::requested_wait(status, response.headers(), now);
        let body = read_capped(response).await;
        attempt.latency_ms = elapsed_ms(started);
        attempt.response_status = Some(status.as_u16());
        attempt.response_body = (!body.is_empty()).then_some(body);
        let outcome = if status.is_success() {
            Outcome::Delivered
        } else if status == http::StatusCode::GONE {
            Outcome::Gone
        } else {
            Outcome::Failed { not_before: retry_after }
        };
        (attempt, outcome)
    }
}

/// A new delivery of `event` to `subscription`: its id is the event's, with `dlv_`.
pub fn new_delivery(subscription: &Subscription, event: &DomainEvent, now: OffsetDateTime) -> Delivery {
    let suffix = event.event_id.strip_prefix("evt_").unwrap_or(&event.event_id);
    let at = time_format::format(now);
    Delivery {
        delivery_id: format!("dlv_{suffix}"),
        webhook_id: subscription.webhook_id.clone(),
        organization_id: subscription.organization_id.clone(),
        event_id: event.event_id.clone(),
        event: event.event.clone(),
        body: matching::body(event, &subscription.webhook_id),
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        round_attempts: 0,
        next_attempt_at: None,
        created_at: at.clone(),
        updated_at: at,
        expires_at: (now + DELIVERY_RETENTION).unix_timestamp(),
    }
}

/// The wait before the next try: the schedule's `wait` with jitter, but never sooner than
/// the endpoint's `Retry-After` (capped at [`MAX_RETRY_AFTER`]).
fn retry_delay(wait: Duration, not_before: Option<Duration>) -> time::Duration {
    let scheduled = jitter(wait);
    let asked =
        not_before.map(|after| after.min(MAX_RETRY_AFTER)).and_then(|after| time::Duration::try_from(after).ok());
    asked.map_or(scheduled, |asked| scheduled.max(asked))
}

/// `wait` plus or minus up to 10%.
fn jitter(wait: Duration) -> time::Duration {
    let spread = wait.as_millis() / 10;
    let random = u128::from(getrandom::u32().unwrap_or(0));
    let offset = if spread == 0 { 0 } else { random % (2 * spread + 1) };
    let millis = (wait.as_millis() + offset).saturating_sub(spread);
    time::Duration::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// The first [`RESPONSE_CAP`] bytes of the body, as text.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < RESPONSE_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(RESPONSE_CAP);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "Timed out".into()
    } else if err.is_connect() {
        // The resolver's refusal of a private address lands here too.
        let mut source: Option<&dyn std::error::Error> = Some(err);
        let mut text = "Could not connect".to_owned();
        while let Some(cause) = source {
            if cause.to_string().contains("private, loopback") {
                text = cause.to_string();
            }
            source = cause.source();
        }
        text
    } else {
        "The request failed".into()
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let wait = jitter(Duration::from_secs(300)).whole_milliseconds();
            assert!((270_000..=330_000).contains(&wait), "{wait}");
        }
    }

    #[test]
    fn the_schedule_spans_about_three_days() {
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(3 * 86_400) && total < Duration::from_secs(4 * 86_400), "{total:?}");
    }
}
