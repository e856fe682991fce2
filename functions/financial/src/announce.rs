//! Events that are not a change of one item: `invoice.sent`, `invoice.paid`,
//! `payment.received` and `payment.refunded` go on the bus as outbox messages written in
//! the same transaction as the ledger change they announce. (`invoice.created|updated`
//! and `payment.created|updated` come from the table's stream.)

use serde::Serialize;
use shared::domain::ids;
use shared::events::{DOMAIN_SOURCE, DomainEvent};
use shared::store::events::OutboxMessage;
use shared::{ApiError, time_format};
use time::OffsetDateTime;

/// The message announcing `event` about the resource shown as `view` (with `<resource>_id`
/// and `organization_id` added, as the relay's events have them), at `at`.
pub fn message<V: Serialize>(
    org_id: &str,
    event: &str,
    resource: &str,
    view: &V,
    at: OffsetDateTime,
) -> Result<OutboxMessage, ApiError> {
    let mut data = serde_json::to_value(view).map_err(ApiError::internal)?;
    if let Some(fields) = data.as_object_mut() {
        let id = fields.get("id").cloned().unwrap_or_default();
        fields.insert(format!("{resource}_id"), id);
        fields.insert("organization_id".into(), org_id.into());
    }
    let event = DomainEvent {
        event_id: ids::new("evt"),
        event: event.to_owned(),
        timestamp: time_format::format(at),
        organization_id: org_id.to_owned(),
        data,
        changed_fields: None,
    };
    Ok(OutboxMessage {
        event_id: event.event_id.clone(),
        organization_id: org_id.to_owned(),
        source: DOMAIN_SOURCE.to_owned(),
        detail_type: event.event.clone(),
        detail: serde_json::to_string(&event).map_err(ApiError::internal)?,
    })
}
