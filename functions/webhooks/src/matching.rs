//! Which subscriptions an event goes to, and the body they receive.

use shared::events::DomainEvent;
use shared::store::webhooks::{Subscription, SubscriptionStatus};

/// The event type of a subscription's test delivery.
pub const PING: &str = "webhook.ping";

/// Whether an event type matches a pattern: exact, `resource.*`, or `*`.
pub fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// Whether the subscription wants the event: same organization, active, a matching
/// type, the property filter, and for updates the changed-fields filter.
pub fn wants(subscription: &Subscription, event: &DomainEvent) -> bool {
    if subscription.organization_id != event.organization_id
        || subscription.status != SubscriptionStatus::Active
        || event.event == PING
    {
        return false;
    }
    if !subscription.events.iter().any(|pattern| type_matches(pattern, &event.event)) {
        return false;
    }
    if !subscription.property_ids.is_empty() {
        let property = event.data.get("property_id").and_then(|v| v.as_str());
        if !property.is_some_and(|p| subscription.property_ids.iter().any(|id| id == p)) {
            return false;
        }
    }
    if !subscription.changed_fields.is_empty() && event.event.ends_with(".updated") {
        let changed = event.changed_fields.as_deref().unwrap_or_default();
        if !changed.iter().any(|field| subscription.changed_fields.contains(field)) {
            return false;
        }
    }
    true
}

/// The body a subscription receives: the platform API's webhook payload (`event`,
/// `timestamp`, `data`, `webhook_id`) plus `event_id`, `organization_id` and, for
/// updates, `changed_fields`.
pub fn body(event: &DomainEvent, webhook_id: &str) -> String {
    let mut body = serde_json::json!({
        "event": event.event,
        "timestamp": event.timestamp,
        "data": event.data,
        "webhook_id": webhook_id,
        "event_id": event.event_id,
        "organization_id": event.organization_id,
    });
    if let Some(changed) = &event.changed_fields {
        body["changed_fields"] = serde_json::json!(changed);
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_a_resource_or_everything() {
        assert!(type_matches("maintenance.*", "maintenance.completed"));
        assert!(!type_matches("maintenance.*", "property.created"));
        assert!(type_matches("*", "tenant.deleted"));
        assert!(type_matches("property.created", "property.created"));
        assert!(!type_matches("property.created", "property.updated"));
    }
}
