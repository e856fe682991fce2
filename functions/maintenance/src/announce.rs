//! Events about a request that are not a change of its item: `maintenance.assigned`,
//! `maintenance.completed` and `maintenance.emergency` go on the bus as outbox messages
//! written in the same transaction as the change they announce. (`maintenance.created`,
//! `.updated` and `.deleted` come from the table's stream.)

use aws_sdk_dynamodb::types::TransactWriteItem;
use shared::domain::ids;
use shared::domain::maintenance::{MaintenanceRequest, Priority, Status};
use shared::events::{DOMAIN_SOURCE, DomainEvent};
use shared::store::events::OutboxMessage;
use shared::{ApiError, Services, time_format};

use crate::views::MaintenanceRequestView;

/// An unpublished message outlives this many seconds only if the bus keeps refusing it.
const OUTBOX_SECONDS: i64 = 86_400;

fn message(services: &Services, request: &MaintenanceRequest, event: &str) -> Result<TransactWriteItem, ApiError> {
    let mut data = serde_json::to_value(MaintenanceRequestView::from(request)).map_err(ApiError::internal)?;
    if let Some(fields) = data.as_object_mut() {
        fields.insert("maintenance_id".into(), request.id.clone().into());
        fields.insert("organization_id".into(), request.org_id.clone().into());
    }
    let event = DomainEvent {
        event_id: ids::new("evt"),
        event: event.to_owned(),
        timestamp: time_format::format(request.updated_at),
        organization_id: request.org_id.clone(),
        data,
        changed_fields: None,
    };
    let message = OutboxMessage {
        event_id: event.event_id.clone(),
        organization_id: request.org_id.clone(),
        source: DOMAIN_SOURCE.to_owned(),
        detail_type: event.event.clone(),
        detail: serde_json::to_string(&event).map_err(ApiError::internal)?,
    };
    let expires_at = request.updated_at.unix_timestamp() + OUTBOX_SECONDS;
    Ok(message.put(&services.store, expires_at)?)
}

/// The messages a change from `before` (none for a new request) to `after` announces.
pub fn messages(
    services: &Services,
    before: Option<&MaintenanceRequest>,
    after: &MaintenanceRequest,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let mut out = Vec::new();
    let was = |check: &dyn Fn(&MaintenanceRequest) -> bool| before.is_some_and(check);
    if after.fields.priority == Priority::Emergency && !was(&|b| b.fields.priority == Priority::Emergency) {
        out.push(message(services, after, "maintenance.emergency")?);
    }
    if after.assignee_id.is_some() && !was(&|b| b.assignee_id == after.assignee_id) {
        out.push(message(services, after, "maintenance.assigned")?);
    }
    if after.status == Status::Completed && !was(&|b| b.status == Status::Completed) {
        out.push(message(services, after, "maintenance.completed")?);
    }
    Ok(out)
}
