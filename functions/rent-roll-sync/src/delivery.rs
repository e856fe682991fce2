//! Sending one property's rent roll to RentSync, per the RentSync guide §6 (headers) and
//! §7 (errors and retries). Retries are persisted on the retry index and sent by the
//! retry schedule, never by waiting inside an invocation.

use std::time::Duration;

use http::StatusCode;
use shared::store::events::OutboxMessage;
use shared::store::rent_roll::{
    AuthMode, OAuthClient, PartnerUnitError, RentRollAttempt, RentRollDelivery, RentRollDeliveryStatus,
    RentSyncSettings,
};
use shared::time_format;
use time::OffsetDateTime;

use crate::auth::{self, TokenError};
use crate::{SyncError, Syncer};

/// The waits after the 1st, 2nd, 3rd and 4th failed attempt (the guide's §7); the 5th
/// failure is final.
pub const RETRY_SCHEDULE: [Duration; 4] =
    [Duration::from_secs(60), Duration::from_secs(2 * 60), Duration::from_secs(5 * 60), Duration::from_secs(10 * 60)];
/// At most this many POSTs per delivery (the guide's §7).
pub const MAX_ATTEMPTS: usize = RETRY_SCHEDULE.len() + 1;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The header that carries the sync id unless the settings name another (the guide's §6).
pub const SYNC_ID_HEADER: &str = "X-Aigent-Sync-ID";
/// The `source` of the events the sync publishes.
pub const RENT_ROLL_SOURCE: &str = "doorstep.rentroll";
/// The event announcing a delivery that failed for good.
pub const DELIVERY_FAILED: &str = "rentroll.delivery_failed";

/// The longest answer body read for unit-level errors.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The most unit-level errors kept of one answer, and the longest message.
const MAX_UNIT_ERRORS: usize = 100;
const MAX_ERROR_TEXT: usize = 500;

/// The unit-level validation errors a RentSync answer lists (the guide's §8.8 asks
/// whether it returns them, without a shape): a JSON object whose `errors`,
/// `unit_errors` or `validation_errors` is a list of objects with a `message` (or
/// `error`) and optionally `unit_id` (string or number) and `field`. Anything else
/// lists none.
pub fn partner_unit_errors(body: &[u8]) -> Vec<PartnerUnitError> {
    fn text(value: Option<&serde_json::Value>) -> Option<String> {
        let text = match value? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(text.chars().take(MAX_ERROR_TEXT).collect())
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let Some(list) =
        ["errors", "unit_errors", "validation_errors"].iter().find_map(|k| value.get(k).and_then(|v| v.as_array()))
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|error| {
            let message = text(error.get("message").or_else(|| error.get("error")))?;
            Some(PartnerUnitError { unit_id: text(error.get("unit_id")), field: text(error.get("field")), message })
        })
        .take(MAX_UNIT_ERRORS)
        .collect()
}

/// What one POST came to, classified per the guide's §7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// 400 (and any other 4xx that is not about auth, the endpoint or rate): the
    /// payload is refused; retrying would not help.
    Rejected,
    /// 401/403: the credentials are refused.
    Unauthorized,
    /// 404: the endpoint is wrong.
    EndpointNotFound,
    /// The endpoint (or the OAuth token URL) is not one deliveries may reach: not https, or
    /// a private, loopback, link-local or metadata address.
    EndpointRefused,
    /// 429, 408, 5xx, a timeout or no connection: try again, no sooner than `not_before`.
    Transient {
        not_before: Option<Duration>,
    },
}

impl Outcome {
    /// The outcome of an answer with `status`.
    pub fn of_status(status: u16, not_before: Option<Duration>) -> Self {
        match status {
            200..=299 => Self::Delivered,
            401 | 403 => Self::Unauthorized,
            404 => Self::EndpointNotFound,
            408 | 429 | 500..=599 => Self::Transient { not_before },
            _ => Self::Rejected,
        }
    }

    /// Why a delivery ended with this outcome (`rentroll.delivery_failed`'s `reason`).
    fn failure(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Rejected => "payload_rejected",
            Self::Unauthorized => "authentication_failed",
            Self::EndpointNotFound => "endpoint_not_found",
            Self::EndpointRefused => "endpoint_refused",
            Self::Transient { .. } => "retries_exhausted",
        }
    }
}

/// When the attempt after `attempts` failed ones is due: the schedule's wait, or later if
/// RentSync asked for it; `None` once no attempt is left.
pub fn next_attempt(attempts: usize, not_before: Option<Duration>) -> Option<Duration> {
    let wait = *RETRY_SCHEDULE.get(attempts.checked_sub(1)?)?;
    Some(not_before.map_or(wait, |asked| wait.max(asked.min(MAX_RETRY_AFTER))))
}

impl Syncer {
    /// One POST of `delivery` with the organization's current settings, recorded; then
    /// schedules the next attempt or ends the delivery (announcing a failure).
    pub async fn attempt(
        &self,
        settings: &RentSyncSettings,
        mut delivery: RentRollDelivery,
        now: OffsetDateTime,
    ) -> Result<RentRollDelivery, SyncError> {
        let (attempt, outcome, unit_errors) = self.post(settings, &delivery, now).await;
        delivery.attempts.push(attempt);
        delivery.unit_errors = unit_errors;
        delivery.updated_at = time_format::format(now);
        let next = match &outcome {
            Outcome::Transient { not_before } => next_attempt(delivery.attempts.len(), *not_before),
            _ => None,
        };
        match (&outcome, next) {
            (Outcome::Delivered, _) => {
                // RentSync now holds the units it accepted; those it listed errors for
                // are sent again next time.
                let refused: std::collections::BTreeSet<&str> =
                    delivery.unit_errors.iter().filter_map(|e| e.unit_id.as_deref()).collect();
                let accepted: Vec<_> =
                    delivery.changes.iter().filter(|c| !refused.contains(c.unit_id())).cloned().collect();
                self.store.rent_roll().apply_sent(&delivery.organization_id, &accepted).await?;
                delivery.status = RentRollDeliveryStatus::Delivered;
                delivery.next_attempt_at = None;
                self.store.rent_roll().save_delivery(&delivery).await?;
            }
            (_, Some(wait)) => {
                delivery.status = RentRollDeliveryStatus::Pending;
                delivery.next_attempt_at = Some(time_format::format(now + wait));
                self.store.rent_roll().save_delivery(&delivery).await?;
            }
            (failed, None) => self.fail(&mut delivery, failed.failure(), now).await?,
        }
        tracing::info!(
            delivery_id = %delivery.delivery_id,
            status = ?delivery.status,
            attempts = delivery.attempts.len(),
            partner_status = ?delivery.attempts.last().and_then(|a| a.partner_status),
            unit_errors = delivery.unit_errors.len(),
            "rent roll delivery attempted"
        );
        Ok(delivery)
    }

    /// Ends a delivery and announces `rentroll.delivery_failed` through the outbox, in
    /// the same write, for the organization's alerts.
    pub(crate) async fn fail(
        &self,
        delivery: &mut RentRollDelivery,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), SyncError> {
        delivery.status = RentRollDeliveryStatus::Failed;
        delivery.next_attempt_at = None;
        delivery.failure = Some(reason.to_owned());
        delivery.updated_at = time_format::format(now);
        let detail = serde_json::json!({
            "organization_id": delivery.organization_id,
            "property_id": delivery.property_id,
            "delivery_id": delivery.delivery_id,
            "sync_id": delivery.sync_id,
            "reason": reason,
            "attempts": delivery.attempts.len(),
            "partner_status": delivery.attempts.last().and_then(|a| a.partner_status),
            "failed_at": time_format::format(now),
        });
        let announcement =
            OutboxMessage::new(&delivery.organization_id, RENT_ROLL_SOURCE, DELIVERY_FAILED, detail.to_string());
        self.store.rent_roll().save_failed_delivery(delivery, &announcement, now).await?;
        tracing::warn!(delivery_id = %delivery.delivery_id, reason, "rent roll delivery failed");
        Ok(())
    }

    /// The POST itself, with the credential read from Secrets Manager now (never stored).
    /// With OAuth, a 401 makes it fetch a new token and POST once more.
    async fn post(
        &self,
        settings: &RentSyncSettings,
        delivery: &RentRollDelivery,
        now: OffsetDateTime,
    ) -> (RentRollAttempt, Outcome, Vec<PartnerUnitError>) {
        let mut attempt = RentRollAttempt { attempted_at: time_format::format(now), partner_status: None, error: None };
        if let Err(refusal) = self.guard_endpoint(&settings.endpoint_url).await {
            attempt.error = Some(refusal);
            return (attempt, Outcome::EndpointRefused, Vec::new());
        }
        let key = match shared::secrets::read_string(&self.secrets, &settings.secret_id).await {
            Ok(key) => key,
            Err(err) => {
                // The error names the secret id, never its value.
                attempt.error = Some(err.to_string());
                return (attempt, Outcome::Transient { not_before: None }, Vec::new());
            }
        };
        let oauth = match (settings.auth, &settings.oauth) {
            (AuthMode::OAuth2ClientCredentials, Some(client)) => Some(client),
            (AuthMode::OAuth2ClientCredentials, None) => {
                attempt.error = Some("The OAuth 2.0 client is not configured".into());
                return (attempt, Outcome::Unauthorized, Vec::new());
            }
            _ => None,
        };
        let mut refetched = false;
        loop {
            let credential = match oauth {
                Some(client) => match self.oauth_token(client, &key, now).await {
                    Ok(token) => token,
                    Err((error, outcome)) => {
                        attempt.error = Some(error);
                        return (attempt, outcome, Vec::new());
                    }
                },
                None => key.clone(),
            };
            let request = self
                .http
                .post(&settings.endpoint_url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(sync_id_header(settings), &delivery.sync_id)
                .body(delivery.body.clone());
            let request = auth::authenticate(request, settings.auth, &credential, &delivery.body, now);
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if let (Some(client), StatusCode::UNAUTHORIZED, false) = (oauth, status, refetched) {
                        self.tokens.forget(client, &key);
                        refetched = true;
                        continue;
                    }
                    attempt.partner_status = Some(status.as_u16());
                    let asked = shared::http::retry_after::requested_wait(status, response.headers(), now);
                    let outcome = Outcome::of_status(status.as_u16(), asked);
                    // 2xx and 4xx answers may list unit-level errors (the guide's §8.8).
                    let unit_errors = if status.is_success() || status.is_client_error() {
                        read_bounded(response).await.map(|body| partner_unit_errors(&body)).unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    return (attempt, outcome, unit_errors);
                }
                Err(err) => {
                    attempt.error = Some(if err.is_timeout() { "Timed out" } else { "Could not connect" }.into());
                    return (attempt, Outcome::Transient { not_before: None }, Vec::new());
                }
            }
        }
    }

    /// The access token for `client`, or why the delivery cannot have one.
    async fn oauth_token(
        &self,
        client: &OAuthClient,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<String, (String, Outcome)> {
        if let Err(refusal) = self.guard_endpoint(&client.token_url).await {
            return Err((refusal, Outcome::EndpointRefused));
        }
        self.tokens.token(&self.http, client, secret, now).await.map_err(|err| match err {
            TokenError::Refused(status) => {
                (format!("The token URL refused the client ({status})"), Outcome::Unauthorized)
            }
            TokenError::Unavailable(why) => (why, Outcome::Transient { not_before: None }),
        })
    }

    /// Refuses a URL the configuration does not allow deliveries to reach (checked again
    /// at every connection by the client's resolver).
    async fn guard_endpoint(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|_| "The endpoint URL is not an absolute URL".to_owned())?;
        self.guard.check(&parsed).await.map_err(|refusal| refusal.to_string())
    }
}

/// The header that carries the sync id: the settings' name, or the guide's.
pub fn sync_id_header(settings: &RentSyncSettings) -> &str {
    settings.sync_id_header.as_deref().unwrap_or(SYNC_ID_HEADER)
}

/// The answer's body, up to [`MAX_ANSWER_BYTES`]; `None` when it is longer or unreadable.
async fn read_bounded(mut response: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_level_errors_are_read_from_the_answer() {
        let body = br#"{"status":"partial","errors":[
            {"unit_id":"unit_1","field":"base_rent","message":"must be positive"},
            {"unit_id":12346,"error":"unknown unit"},
            {"field":"x"}]}"#;
        let errors = partner_unit_errors(body);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].unit_id.as_deref(), Some("unit_1"));
        assert_eq!(errors[0].field.as_deref(), Some("base_rent"));
        assert_eq!(errors[0].message, "must be positive");
        assert_eq!((errors[1].unit_id.as_deref(), errors[1].field.as_deref()), (Some("12346"), None));
        assert!(partner_unit_errors(b"OK").is_empty());
        assert!(partner_unit_errors(br#"{"errors":"none"}"#).is_empty());
    }

    #[test]
    fn statuses_are_classified_as_the_guide_says() {
        assert_eq!(Outcome::of_status(200, None), Outcome::Delivered);
        assert_eq!(Outcome::of_status(202, None), Outcome::Delivered);
        assert_eq!(Outcome::of_status(400, None), Outcome::Rejected);
        assert_eq!(Outcome::of_status(422, None), Outcome::Rejected);
        assert_eq!(Outcome::of_status(401, None), Outcome::Unauthorized);
        assert_eq!(Outcome::of_status(403, None), Outcome::Unauthorized);
        assert_eq!(Outcome::of_status(404, None), Outcome::EndpointNotFound);
        let asked = Some(Duration::from_secs(30));
        assert_eq!(Outcome::of_status(429, asked), Outcome::Transient { not_before: asked });
        for status in [500, 502, 503, 504] {
            assert_eq!(Outcome::of_status(status, None), Outcome::Transient { not_before: None });
        }
    }

    #[test]
    fn retries_wait_one_two_five_ten_minutes_then_stop_at_five_attempts() {
        let waits: Vec<_> = (1..=MAX_ATTEMPTS).map(|failed| next_attempt(failed, None)).collect();
        let minutes = |m: u64| Some(Duration::from_secs(m * 60));
        assert_eq!(waits, vec![minutes(1), minutes(2), minutes(5), minutes(10), None]);
    }

    #[test]
    fn retry_after_puts_off_the_next_attempt_but_never_brings_it_forward() {
        assert_eq!(next_attempt(1, Some(Duration::from_secs(300))), Some(Duration::from_secs(300)));
        assert_eq!(next_attempt(1, Some(Duration::from_secs(5))), Some(Duration::from_secs(60)));
        assert_eq!(next_attempt(1, Some(Duration::from_secs(86_400))), Some(MAX_RETRY_AFTER));
    }
}
