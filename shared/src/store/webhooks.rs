//! Webhook subscriptions, their deliveries, and the index of deliveries waiting for a retry.
//!
//! | item | PK | SK | GSI1 (waiting only) |
//! |---|---|---|---|
//! | subscription | `ORG#<org>` | `WEBHOOK#<webhook_id>` | – |
//! | delivery | `ORG#<org>#WEBHOOK#<webhook_id>` | `DELIVERY#<delivery_id>` | `WEBHOOKS#RETRY` / `<next_attempt_at>#<delivery_id>` |

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::http::pagination::PageKey;
use crate::store::events::OutboxMessage;
use crate::store::keys::{PK, SK};
use crate::store::page::Page;
use crate::store::requests::{due_on_retry_index, entity_item, on_retry_index, query_page};
use crate::store::transactions::{build_err, transact_if_first};
use crate::store::{Store, StoreError, keys, s, update_if};
use crate::time_format;

const SUBSCRIPTION_ENTITY: &str = "webhook";
const DELIVERY_ENTITY: &str = "webhook_delivery";
const SUBSCRIPTION_PREFIX: &str = "WEBHOOK#";
const DELIVERY_PREFIX: &str = "DELIVERY#";
const RETRY_PARTITION: &str = "WEBHOOKS#RETRY";
/// An unpublished `webhook.disabled` outlives this many seconds only if the bus keeps refusing it.
const ANNOUNCEMENT_SECONDS: i64 = 86_400;
/// How long a delivery's record is kept.
pub const DELIVERY_RETENTION: time::Duration = time::Duration::days(30);

fn subscription_sk(webhook_id: &str) -> String {
    format!("{SUBSCRIPTION_PREFIX}{webhook_id}")
}

fn deliveries_pk(org_id: &str, webhook_id: &str) -> String {
    keys::collection(org_id, &subscription_sk(webhook_id))
}

fn delivery_sk(delivery_id: &str) -> String {
    format!("{DELIVERY_PREFIX}{delivery_id}")
}

/// A secret that signs deliveries: `whsec_<base64>`. Secret material: never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    pub secret: String,
    /// Unix seconds after which a rotated-out secret stops signing; `None` for the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires_at: Option<i64>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecret").field("secret", &"<redacted>").field("retires_at", &self.retires_at).finish()
    }
}

/// Whether a subscription receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Disabled,
}

/// A webhook subscription of an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub webhook_id: String,
    pub organization_id: String,
    pub url: String,
    /// Event types or wildcards (`maintenance.*`, `*`).
    pub events: Vec<String>,
    /// Only events about these properties (empty: every property).
    #[serde(default)]
    pub property_ids: Vec<String>,
    /// `*.updated` events only when one of these fields changed (empty: every update).
    #[serde(default)]
    pub changed_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The current secret first; rotated-out secrets until they retire.
    pub secrets: Vec<SigningSecret>,
    /// When deliveries started failing without a success since (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a delivery has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not answered with a 2xx yet; another attempt is scheduled.
    Pending,
    Succeeded,
    /// No attempt is left (retries exhausted, the endpoint answered 410, or the
    /// subscription is disabled or gone).
    Failed,
}

/// One POST of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// RFC 3339.
    pub attempted_at: String,
    /// The HTTP status the endpoint answered; absent when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    pub latency_ms: u64,
    /// The first bytes of the answer's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// Why there was no answer (timeout, refused address, connection error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event on its way to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivery_id: String,
    pub webhook_id: String,
    pub organization_id: String,
    /// The `webhook-id` header: stable across retries.
    pub event_id: String,
    pub event: String,
    /// The signed body, exactly as sent.
    pub body: String,
    pub status: DeliveryStatus,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// Attempts since the last (re)start: indexes the retry schedule.
    #[serde(default)]
    pub round_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: i64,
}

/// Subscriptions and deliveries.
pub struct WebhookRepository<'a> {
    store: &'a Store,
}

impl Store {
    pub fn webhooks(&self) -> WebhookRepository<'_> {
        WebhookRepository { store: self }
    }
}

impl WebhookRepository<'_> {
    /// Stores a new subscription (`attribute_not_exists`).
    pub async fn create(&self, subscription: &Subscription) -> Result<(), StoreError> {
        self.store.put_new(self.subscription_item(subscription)?).await
    }

    fn subscription_item(&self, subscription: &Subscription) -> Result<crate::store::Item, StoreError> {
        entity_item(
            subscription,
            keys::org(&subscription.organization_id),
            subscription_sk(&subscription.webhook_id),
            SUBSCRIPTION_ENTITY,
        )
    }

    /// Replaces a subscription that still exists; `false` when it is gone.
    pub async fn save(&self, subscription: &Subscription) -> Result<bool, StoreError> {
        self.put_on_condition(self.subscription_item(subscription)?, "attribute_exists(PK)").await
    }

    /// One conditional `PutItem`; `false` when the condition failed.
    async fn put_on_condition(&self, item: crate::store::Item, condition: &str) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::error::SdkError;
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let result = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::dynamo("PutItem", err)),
        }
    }

    /// One subscription of the organization (consistent read).
    pub async fn get(&self, org_id: &str, webhook_id: &str) -> Result<Option<Subscription>, StoreError> {
        self.store.get_consistent(keys::org(org_id), subscription_sk(webhook_id)).await
    }

    /// One page of the organization's subscriptions, oldest first.
    pub async fn page(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Subscription>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), SUBSCRIPTION_PREFIX, start, limit).await
    }

    /// Every subscription of the organization: one `Query` per 100.
    pub async fn all(&self, org_id: &str) -> Result<Vec<Subscription>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self.page(org_id, start, 100).await?;
            found.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Deletes a subscription; `false` when there was none.
    pub async fn delete(&self, org_id: &str, webhook_id: &str) -> Result<bool, StoreError> {
        self.store.delete_existing(keys::org(org_id), subscription_sk(webhook_id)).await
    }

    /// Disables a subscription that is still active, writing its `announcement`
    /// (`webhook.disabled`, for the relay to put on the bus) in the same transaction;
    /// `false` when it was not active (already disabled, or gone), so it is announced once.
    pub async fn disable(
        &self,
        org_id: &str,
        webhook_id: &str,
        reason: &str,
        now: OffsetDateTime,
        announcement: &OutboxMessage,
    ) -> Result<bool, StoreError> {
        let update = self
            .store
            .update_in_transaction(keys::org(org_id), subscription_sk(webhook_id))
            .update_expression("SET #status = :disabled, disabled_reason = :reason, updated_at = :now")
            .condition_expression("attribute_exists(PK) AND #status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":disabled", s("disabled"))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", s(time_format::format(now)))
            .build()
            .map_err(build_err)?;
        let expires_at = now.unix_timestamp() + ANNOUNCEMENT_SECONDS;
        let items =
            vec![TransactWriteItem::builder().update(update).build(), announcement.put(self.store, expires_at)?];
        transact_if_first(self.store, items, "webhook.disabled announcement id collision").await
    }

    /// Records that a delivery failed: sets `failing_since` unless it is set. Returns
    /// when failures began.
    pub async fn mark_failing(
        &self,
        org_id: &str,
        webhook_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), subscription_sk(webhook_id))
            .update_expression("SET failing_since = if_not_exists(failing_since, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", s(time_format::format(now)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        let output = update_if(request).await?;
        Ok(output.and_then(|o| o.attributes).and_then(|a| a.get("failing_since").and_then(|v| v.as_s().ok()).cloned()))
    }

    /// Records a success: clears `failing_since`.
    pub async fn mark_healthy(&self, org_id: &str, webhook_id: &str) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), subscription_sk(webhook_id))
            .update_expression("REMOVE failing_since")
            .condition_expression("attribute_exists(PK) AND attribute_exists(failing_since)");
        update_if(request).await?;
        Ok(())
    }

    /// Starts a delivery unless one with its id exists (a redelivered bus event);
    /// `false` when it existed.
    pub async fn start_delivery(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        self.put_on_condition(self.delivery_item(delivery)?, "attribute_not_exists(PK)").await
    }

    /// Stores a delivery as it is now; on the retry index while an attempt is due.
    pub async fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(self.delivery_item(delivery)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    fn delivery_item(&self, delivery: &Delivery) -> Result<crate::store::Item, StoreError> {
        let mut item = entity_item(
            delivery,
            deliveries_pk(&delivery.organization_id, &delivery.webhook_id),
            delivery_sk(&delivery.delivery_id),
            DELIVERY_ENTITY,
        )?;
        if let (DeliveryStatus::Pending, Some(next)) = (delivery.status, &delivery.next_attempt_at) {
            on_retry_index(&mut item, RETRY_PARTITION, next, &delivery.delivery_id);
        }
        Ok(item)
    }

    /// One delivery of a subscription (consistent read).
    pub async fn delivery(
        &self,
        org_id: &str,
        webhook_id: &str,
        delivery_id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.store.get_consistent(deliveries_pk(org_id, webhook_id), delivery_sk(delivery_id)).await
    }

    /// One page of a subscription's deliveries, newest first.
    pub async fn deliveries(
        &self,
        org_id: &str,
        webhook_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Delivery>, StoreError> {
        let request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(deliveries_pk(org_id, webhook_id)))
            .expression_attribute_values(":prefix", s(DELIVERY_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        query_page(request, start, limit, &[PK, SK])
            .await?
            .try_map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
    }

    /// Deliveries whose next attempt is due at `now`, oldest first, up to `limit`: one
    /// `Query` of GSI1.
    pub async fn due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        due_on_retry_index(self.store, RETRY_PARTITION, now, limit).await
    }
}
