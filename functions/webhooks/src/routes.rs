//! `/api/v1/webhooks` handlers: extract → validate → store → response.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::Problems;
use shared::domain::ids;
use shared::events::DomainEvent;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::{PageParams, PageRequest};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::{Path, Query};
use shared::store::events::EventQuery;
use shared::store::keys;
use shared::store::webhooks::{DeliveryStatus, SigningSecret, Subscription, SubscriptionStatus};
use shared::{ApiError, time_format};
use time::OffsetDateTime;

use crate::refusals::Refused;
use crate::requests::{self, ReplayInput, WebhookInput, WebhookPatch};
use crate::views::{DeliveryView, ScheduledView, WebhookView, WebhookWithSecretView};
use crate::{WebhooksState, matching, signing};

/// How long a rotated-out secret keeps signing.
const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);
/// The most events one replay scans.
const REPLAY_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct WebhookPath {
    webhook_id: String,
}

#[derive(Debug, Deserialize)]
pub struct DeliveryPath {
    webhook_id: String,
    delivery_id: String,
}

/// Requires a webhook permission. OAuth apps may manage subscriptions too; what they
/// may subscribe to is limited by their read scopes (see `requests::unreadable_pattern`).
fn authorize(principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    if !principal.permissions.allows(permission) {
        return Err(ApiError::InsufficientPermissions(format!("This request needs permission {permission}")));
    }
    Ok(())
}

fn check_scopes(principal: &Principal, events: &[String]) -> Result<(), ApiError> {
    match requests::unreadable_pattern(principal, events) {
        Some(pattern) => Err(ApiError::InsufficientPermissions(format!(
            "This app's scopes cannot read the events {pattern:.64} names"
        ))),
        None => Ok(()),
    }
}

async fn load(state: &WebhooksState, principal: &Principal, webhook_id: &str) -> Result<Subscription, ApiError> {
    if !ids::is_valid(webhook_id, "whk") {
        return Err(Refused::WebhookMissing.into());
    }
    let found = state.services.store.webhooks().get(&principal.org_id, webhook_id).await?;
    Ok(found.filter(|s| visible(principal, s)).ok_or(Refused::WebhookMissing)?)
}

/// An OAuth app sees and changes only the subscriptions whose events its scopes could
/// read, as if the others were not there; other callers see every subscription.
fn visible(principal: &Principal, subscription: &Subscription) -> bool {
    requests::unreadable_pattern(principal, &subscription.events).is_none()
}

fn location(subscription: &Subscription) -> String {
    format!("/api/v1/webhooks/{}", subscription.webhook_id)
}

/// List the organization's webhook subscriptions, oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks", operation_id = "listWebhooks", tag = "webhooks", params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of subscriptions (secrets are never listed)", body = SuccessEnvelope<Vec<WebhookView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 403, description = "Lacks webhook:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<WebhooksState>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookRead)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let cursor = params.cursor.as_deref();
    let listing = PageRequest::resume(&state.services.cursors, org_id, "webhooks".into(), page_size, cursor, |key| {
        key.get(keys::PK) == Some(&keys::org(org_id)) && key.get(keys::SK).is_some_and(|sk| sk.starts_with("WEBHOOK#"))
    })?;
    let mut page = state.services.store.webhooks().page(org_id, listing.start.clone(), page_size).await?;
    page.items.retain(|s| visible(&principal, s));
    Ok(listing.respond::<_, WebhookView>(&state.services.cursors, page))
}

/// Subscribe a URL to events. The answer holds the signing secret, shown only this once.
#[utoipa::path(post, path = "/api/v1/webhooks", operation_id = "createWebhook", tag = "webhooks",
    request_body = WebhookInput,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Subscribed", body = SuccessEnvelope<WebhookWithSecretView>, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = ErrorEnvelope),
        (status = 403, description = "Lacks webhook:manage, or an app's scopes cannot read these events", body = ErrorEnvelope),
        (status = 422, description = "Invalid field, such as a URL that is not https or resolves to a private address", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<WebhooksState>,
    principal: Principal,
    body: Json<WebhookInput>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let input = body.accept()?.value;
    check_scopes(&principal, &input.events)?;
    let mut problems = Problems::new();
    requests::check(
        &mut problems,
        &state.settings.guard,
        &input.url,
        &input.events,
        &input.property_ids,
        &input.changed_fields,
    )
    .await;
    let description = requests::description(&mut problems, input.description.as_deref());
    problems.into_result()?;
    let secret = signing::new_secret().map_err(|e| ApiError::internal(e.to_string()))?;
    let now = time_format::format(time_format::now());
    let subscription = Subscription {
        webhook_id: ids::new("whk"),
        organization_id: principal.org_id.clone(),
        url: input.url,
        events: input.events,
        property_ids: input.property_ids,
        changed_fields: input.changed_fields,
        description,
        status: SubscriptionStatus::Active,
        disabled_reason: None,
        secrets: vec![SigningSecret { secret: secret.clone(), retires_at: None }],
        failing_since: None,
        created_at: now.clone(),
        updated_at: now,
    };
    state.services.store.webhooks().create(&subscription).await?;
    let view = WebhookWithSecretView { webhook: WebhookView::from(&subscription), secret };
    Ok(ApiResponse::created(view, &location(&subscription)).into_response())
}

/// One subscription.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}", operation_id = "getWebhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The subscription", body = SuccessEnvelope<WebhookView>),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookRead)?;
    let subscription = load(&state, &principal, &path.webhook_id).await?;
    Ok(ApiResponse::ok(WebhookView::from(&subscription)).into_response())
}

async fn store_change(state: &WebhooksState, mut subscription: Subscription) -> Result<Response, ApiError> {
    subscription.updated_at = time_format::format(time_format::now());
    if !state.services.store.webhooks().save(&subscription).await? {
        return Err(Refused::WebhookMissing.into());
    }
    Ok(ApiResponse::ok(WebhookView::from(&subscription)).into_response())
}

/// Replace a subscription's URL, events and filters (its secret stays).
#[utoipa::path(put, path = "/api/v1/webhooks/{webhook_id}", operation_id = "replaceWebhook", tag = "webhooks",
    request_body = WebhookInput, params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<WebhookView>),
        (status = 403, description = "Lacks webhook:manage, or an app's scopes cannot read these events", body = ErrorEnvelope),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
        (status = 422, description = "Invalid field", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
    body: Json<WebhookInput>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let mut subscription = load(&state, &principal, &path.webhook_id).await?;
    let input = body.accept()?.value;
    check_scopes(&principal, &input.events)?;
    let mut problems = Problems::new();
    requests::check(
        &mut problems,
        &state.settings.guard,
        &input.url,
        &input.events,
        &input.property_ids,
        &input.changed_fields,
    )
    .await;
    let description = requests::description(&mut problems, input.description.as_deref());
    problems.into_result()?;
    subscription.url = input.url;
    subscription.events = input.events;
    subscription.property_ids = input.property_ids;
    subscription.changed_fields = input.changed_fields;
    subscription.description = description;
    store_change(&state, subscription).await
}

/// Change some of a subscription's fields; `status: active` re-enables a disabled one.
#[utoipa::path(patch, path = "/api/v1/webhooks/{webhook_id}", operation_id = "patchWebhook", tag = "webhooks",
    request_body = WebhookPatch, params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = SuccessEnvelope<WebhookView>),
        (status = 403, description = "Lacks webhook:manage, or an app's scopes cannot read these events", body = ErrorEnvelope),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
        (status = 422, description = "Invalid field", body = ErrorEnvelope),
    ))]
pub async fn patch(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
    body: Json<WebhookPatch>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let mut s = load(&state, &principal, &path.webhook_id).await?;
    let patch = body.accept()?.value;
    let mut problems = Problems::new();
    if let Some(url) = patch.url {
        s.url = url;
    }
    if let Some(events) = patch.events {
        check_scopes(&principal, &events)?;
        s.events = events;
    }
    if let Some(ids) = patch.property_ids {
        s.property_ids = ids;
    }
    if let Some(fields) = patch.changed_fields {
        s.changed_fields = fields;
    }
    if patch.description.is_some() {
        s.description = requests::description(&mut problems, patch.description.as_deref());
    }
    requests::check(&mut problems, &state.settings.guard, &s.url, &s.events, &s.property_ids, &s.changed_fields).await;
    problems.into_result()?;
    match patch.status {
        Some(SubscriptionStatus::Active) => {
            s.status = SubscriptionStatus::Active;
            s.disabled_reason = None;
            s.failing_since = None;
        }
        Some(SubscriptionStatus::Disabled) if s.status == SubscriptionStatus::Active => {
            s.status = SubscriptionStatus::Disabled;
            s.disabled_reason = Some("Disabled through the API".into());
        }
        _ => {}
    }
    store_change(&state, s).await
}

/// Delete a subscription. Deliveries still waiting for a retry end as failed.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook_id}", operation_id = "deleteWebhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    if principal.scopes.is_some() {
        load(&state, &principal, &path.webhook_id).await?;
    }
    if !ids::is_valid(&path.webhook_id, "whk")
        || !state.services.store.webhooks().delete(&principal.org_id, &path.webhook_id).await?
    {
        return Err(Refused::WebhookMissing.into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Send a `webhook.ping` to the subscription now; the answer is the delivery with its attempt.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/test", operation_id = "testWebhook", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Sent; the delivery shows the endpoint's answer, and failures are retried", body = SuccessEnvelope<DeliveryView>),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
        (status = 409, description = "The subscription is disabled", body = ErrorEnvelope),
    ))]
pub async fn test(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let subscription = load(&state, &principal, &path.webhook_id).await?;
    if subscription.status != SubscriptionStatus::Active {
        return Err(Refused::Disabled.into());
    }
    let now = time_format::now();
    let ping = DomainEvent {
        event_id: ids::new("evt"),
        event: matching::PING.into(),
        timestamp: time_format::format(now),
        organization_id: principal.org_id.clone(),
        data: serde_json::json!({ "webhook_id": subscription.webhook_id, "organization_id": principal.org_id }),
        changed_fields: None,
    };
    let delivery = crate::new_delivery(&subscription, &ping, now);
    state.services.store.webhooks().start_delivery(&delivery).await?;
    let delivery = state.deliverer.attempt(&subscription, delivery, now).await?;
    Ok(ApiResponse::ok(DeliveryView::from(&delivery)).into_response())
}

/// Issue a new signing secret. The previous one keeps signing for 24 hours, so
/// deliveries carry both signatures until receivers have the new one.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "webhooks",
    params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The new secret, shown only this once", body = SuccessEnvelope<WebhookWithSecretView>),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
    ))]
pub async fn rotate_secret(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let mut subscription = load(&state, &principal, &path.webhook_id).await?;
    let now = time_format::now();
    let retires_at = (now + ROTATION_OVERLAP).unix_timestamp();
    let secret = signing::new_secret().map_err(|e| ApiError::internal(e.to_string()))?;
    let mut secrets = vec![SigningSecret { secret: secret.clone(), retires_at: None }];
    for old in subscription.secrets.drain(..) {
        match old.retires_at {
            None => secrets.push(SigningSecret { retires_at: Some(retires_at), ..old }),
            Some(at) if at > now.unix_timestamp() => secrets.push(old),
            Some(_) => {}
        }
    }
    subscription.secrets = secrets;
    subscription.updated_at = time_format::format(now);
    if !state.services.store.webhooks().save(&subscription).await? {
        return Err(Refused::WebhookMissing.into());
    }
    Ok(ApiResponse::ok(WebhookWithSecretView { webhook: WebhookView::from(&subscription), secret }).into_response())
}

/// A subscription's deliveries, newest first: status, attempts, latency, the answer's
/// status and first bytes.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook_id}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks",
    params(("webhook_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = SuccessEnvelope<Vec<DeliveryView>>),
        (status = 400, description = "Invalid parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
    ))]
pub async fn deliveries(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookRead)?;
    let subscription = load(&state, &principal, &path.webhook_id).await?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let org_id = &principal.org_id;
    let query = format!("webhook-deliveries|{}", subscription.webhook_id);
    let partition = keys::collection(org_id, &format!("WEBHOOK#{}", subscription.webhook_id));
    let listing =
        PageRequest::resume(&state.services.cursors, org_id, query, page_size, params.cursor.as_deref(), |key| {
            key.get(keys::PK) == Some(&partition)
        })?;
    let start = listing.start.clone();
    let page = state.services.store.webhooks().deliveries(org_id, &subscription.webhook_id, start, page_size).await?;
    Ok(listing.respond::<_, DeliveryView>(&state.services.cursors, page))
}

/// Send a delivery again now, with the same `webhook-id`; failures start a new round of retries.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliverWebhook", tag = "webhooks",
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Sent; the delivery shows the new attempt", body = SuccessEnvelope<DeliveryView>),
        (status = 404, description = "No such subscription or delivery", body = ErrorEnvelope),
        (status = 409, description = "The subscription is disabled", body = ErrorEnvelope),
    ))]
pub async fn redeliver(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<DeliveryPath>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let subscription = load(&state, &principal, &path.webhook_id).await?;
    if subscription.status != SubscriptionStatus::Active {
        return Err(Refused::Disabled.into());
    }
    let found = if ids::is_valid(&path.delivery_id, "dlv") {
        state.services.store.webhooks().delivery(&principal.org_id, &subscription.webhook_id, &path.delivery_id).await?
    } else {
        None
    };
    let mut delivery = found.ok_or(Refused::DeliveryMissing)?;
    delivery.round_attempts = 0;
    delivery.status = DeliveryStatus::Pending;
    delivery.next_attempt_at = None;
    let delivery = state.deliverer.attempt(&subscription, delivery, time_format::now()).await?;
    Ok(ApiResponse::ok(DeliveryView::from(&delivery)).into_response())
}

/// Send again every logged event in a time window that the subscription wants. The
/// deliveries are scheduled at once and sent by the retry schedule (within a minute),
/// each with its event's `webhook-id`.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook_id}/replay", operation_id = "replayWebhook", tag = "webhooks",
    request_body = ReplayInput, params(("webhook_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "Scheduled", body = SuccessEnvelope<ScheduledView>),
        (status = 404, description = "No such subscription in this organization", body = ErrorEnvelope),
        (status = 409, description = "The subscription is disabled", body = ErrorEnvelope),
        (status = 422, description = "Invalid window", body = ErrorEnvelope),
    ))]
pub async fn replay(
    State(state): State<WebhooksState>,
    principal: Principal,
    Path(path): Path<WebhookPath>,
    body: Json<ReplayInput>,
) -> Result<Response, ApiError> {
    authorize(&principal, Permission::WebhookManage)?;
    let subscription = load(&state, &principal, &path.webhook_id).await?;
    let input = body.accept()?.value;
    if subscription.status != SubscriptionStatus::Active {
        return Err(Refused::Disabled.into());
    }
    let now = time_format::now();
    let since = time_format::parse(&input.since)
        .ok_or_else(|| ApiError::invalid_field("since", "Use an RFC 3339 timestamp"))?;
    let until = match input.until.as_deref() {
        Some(raw) => {
            time_format::parse(raw).ok_or_else(|| ApiError::invalid_field("until", "Use an RFC 3339 timestamp"))?
        }
        None => now,
    };
    if until <= since {
        return Err(ApiError::invalid_field("until", "Use a time after since"));
    }
    let scheduled = schedule_replay(&state, &subscription, since, until, now).await?;
    Ok(ApiResponse::ok(scheduled).with_status(StatusCode::ACCEPTED).into_response())
}

async fn schedule_replay(
    state: &WebhooksState,
    subscription: &Subscription,
    since: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<ScheduledView, ApiError> {
    let log = state.services.store.event_log();
    let webhooks = state.services.store.webhooks();
    let query = EventQuery { types: None, since: Some(since) };
    let mut start = None;
    let mut scanned = 0;
    let mut delivery_ids = Vec::new();
    let due = time_format::format(now);
    'pages: loop {
        let page = log.page(&subscription.organization_id, &query, start, 100).await?;
        for logged in &page.items {
            let Some(logged_at) = logged.position.split('#').next().and_then(time_format::parse) else {
                continue;
            };
            if logged_at >= until || scanned >= REPLAY_LIMIT {
                break 'pages;
            }
            scanned += 1;
            if !matching::wants(subscription, &logged.event) {
                continue;
            }
            let mut delivery = crate::new_delivery(subscription, &logged.event, now);
            if let Some(existing) = webhooks
                .delivery(&subscription.organization_id, &subscription.webhook_id, &delivery.delivery_id)
                .await?
            {
                delivery.attempts = existing.attempts;
                delivery.created_at = existing.created_at;
            }
            delivery.next_attempt_at = Some(due.clone());
            webhooks.save_delivery(&delivery).await?;
            delivery_ids.push(delivery.delivery_id);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    Ok(ScheduledView { delivery_ids, events_scanned: Some(scanned) })
}
