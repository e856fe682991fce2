//! What a change of the table means: an entity event (`property.created`, ...), an
//! outbox message for the bus, or nothing.
//!
//! | entity | INSERT | MODIFY | REMOVE |
//! |---|---|---|---|
//! | `property`, `unit`, `tenant`, `lease` | `<entity>.created` | `<entity>.updated`, only when a public field changed | `<entity>.deleted` |
//! | `maintenance_request` | `maintenance.created` | `maintenance.updated`, as above | `maintenance.deleted` |
//! | `work_order` | `workorder.created` | `workorder.updated`, as above | `workorder.deleted` |
//! | `vendor` | `vendor.created` | `vendor.updated`, as above (a rating is bookkeeping) | `vendor.deleted` |
//! | `invoice`, `payment` | `<entity>.created` | `<entity>.updated`, as above (a payment or a refund moves an invoice's `status`, `amount_paid` and `amount_due`) | `invoice.deleted` (a draft or an unpaid invoice) |
//! | `outbox` | a message for the bus | – | – (deleted once published, or expired) |
//! | anything else (claims, tombstones, tokens, the log itself, ...) | – | – | – |
//!
//! `data` is the resource as the API shows it (the function crates' own views), plus
//! `<resource>_id` and `organization_id`. An update's `changed_fields` lists the public
//! fields whose shown value changed, leaving out what is not a change of the resource
//! itself: `id`, `created_at`, `updated_at`, `version`, and the bookkeeping other writes
//! keep on the item (a property's unit and occupancy counters, a unit's bookings as its
//! `occupied` flag, a tenant's `lease_ids`). So booking a lease is one `lease.created`,
//! not also a unit, a property and a tenant update.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared::domain::invoice::Invoice;
use shared::domain::lease::Lease;
use shared::domain::maintenance::MaintenanceRequest;
use shared::domain::payment::Payment;
use shared::domain::property::Property;
use shared::domain::tenant::Tenant;
use shared::domain::unit::Unit;
use shared::domain::vendor::Vendor;
use shared::domain::work_order::WorkOrder;
use shared::events::DomainEvent;
use shared::store::events::OutboxMessage;
use shared::time_format;

/// A change the relay acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Derived {
    Event(DomainEvent),
    Message(OutboxMessage),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The decoding error itself is left out: it may quote a value (an email, a
    /// one-time token), and logs never carry those.
    #[error("stream record {event_id}: {entity} image does not match its model")]
    Image { event_id: String, entity: String },
    #[error("stream record {0} has no image to read")]
    NoImage(String),
}

/// Fields that are never a change of their own, for every entity.
const ALWAYS_IGNORED: [&str; 4] = ["id", "created_at", "updated_at", "version"];

/// An image shown as the API shows it: the organization and the view's fields.
type Shown = Result<(String, Map<String, Value>), serde_dynamo::Error>;

/// How one entity is shown and which of its shown fields are bookkeeping.
struct Shape {
    resource: &'static str,
    ignored: &'static [&'static str],
    show: fn(serde_dynamo::Item) -> Shown,
}

fn show<M, V>(
    image: serde_dynamo::Item,
    org: fn(&M) -> &str,
) -> Result<(String, Map<String, Value>), serde_dynamo::Error>
where
    M: DeserializeOwned,
    V: Serialize + for<'a> From<&'a M>,
{
    let model: M = serde_dynamo::from_item(image)?;
    let Value::Object(fields) = serde_json::to_value(V::from(&model)).unwrap_or_default() else {
        return Ok((org(&model).to_owned(), Map::new()));
    };
    Ok((org(&model).to_owned(), fields))
}

fn shape(entity: &str) -> Option<Shape> {
    Some(match entity {
        "property" => Shape {
            resource: "property",
            ignored: &["unit_count", "occupied_unit_count", "occupancy_rate"],
            show: |i| show::<Property, properties::views::PropertyView>(i, |m| &m.org_id),
        },
        "unit" => Shape {
            resource: "unit",
            ignored: &["occupied"],
            show: |i| show::<Unit, units::views::UnitView>(i, |m| &m.org_id),
        },
        "tenant" => Shape {
            resource: "tenant",
            ignored: &["lease_ids"],
            show: |i| show::<Tenant, tenants::views::TenantView>(i, |m| &m.org_id),
        },
        "lease" => Shape {
            resource: "lease",
            ignored: &[],
            show: |i| show::<Lease, leases::views::LeaseView>(i, |m| &m.org_id),
        },
        "maintenance_request" => Shape {
            resource: "maintenance",
            ignored: &[],
            show: |i| show::<MaintenanceRequest, maintenance::views::MaintenanceRequestView>(i, |m| &m.org_id),
        },
        "work_order" => Shape {
            resource: "workorder",
            ignored: &[],
            show: |i| show::<WorkOrder, maintenance::views::WorkOrderView>(i, |m| &m.org_id),
        },
        "vendor" => Shape {
            resource: "vendor",
            // Derived from the insurance expiry and today, not a change of the vendor.
            ignored: &["insured"],
            show: |i| show::<Vendor, maintenance::views::VendorView>(i, |m| &m.org_id),
        },
        "invoice" => Shape {
            resource: "invoice",
            ignored: &[],
            show: |i| show::<Invoice, financial::views::InvoiceView>(i, |m| &m.org_id),
        },
        "payment" => Shape {
            resource: "payment",
            ignored: &[],
            show: |i| show::<Payment, financial::views::PaymentView>(i, |m| &m.org_id),
        },
        _ => return None,
    })
}

fn entity_of(image: &serde_dynamo::Item) -> Option<&str> {
    match image.get("entity") {
        Some(serde_dynamo::AttributeValue::S(entity)) => Some(entity),
        _ => None,
    }
}

/// `evt_<ULID>` of a stream record: its creation time (milliseconds) and 80 bits of the
/// SHA-256 of its `eventID`, so a redelivered record gets the same id, and ids sort by
/// the time of the change.
pub fn event_id(record: &EventRecord) -> String {
    let millis = u64::try_from(record.change.approximate_creation_date_time.timestamp_millis()).unwrap_or(0);
    let digest = Sha256::digest(record.event_id.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    format!("evt_{}", ulid::Ulid::from_parts(millis, u128::from_be_bytes(random)))
}

/// Public fields whose shown value differs, in the view's order.
fn changed_fields(before: &Map<String, Value>, after: &Map<String, Value>, ignored: &[&str]) -> Vec<String> {
    after
        .iter()
        .filter(|(name, _)| !ALWAYS_IGNORED.contains(&name.as_str()) && !ignored.contains(&name.as_str()))
        .filter(|(name, value)| before.get(name.as_str()) != Some(value))
        .map(|(name, _)| name.clone())
        .collect()
}

/// What `record` means; `Ok(None)` for changes that announce nothing.
pub fn derive(record: &EventRecord) -> Result<Option<Derived>, DecodeError> {
    let change = &record.change;
    let image = if record.event_name == "REMOVE" { &change.old_image } else { &change.new_image };
    let Some(entity) = entity_of(image) else {
        return Ok(None);
    };
    let decode = |entity: &str, _: serde_dynamo::Error| DecodeError::Image {
        event_id: record.event_id.clone(),
        entity: entity.to_owned(),
    };
    if entity == "outbox" {
        if record.event_name != "INSERT" {
            return Ok(None);
        }
        return OutboxMessage::from_item(image.clone()).map(|m| Some(Derived::Message(m))).map_err(|e| match e {
            shared::store::StoreError::Shape(source) => decode("outbox", source),
            _ => DecodeError::NoImage(record.event_id.clone()),
        });
    }
    let Some(shape) = shape(entity) else {
        return Ok(None);
    };
    let (org_id, mut data) = (shape.show)(image.clone()).map_err(|e| decode(entity, e))?;
    let (action, changed) = match record.event_name.as_str() {
        "INSERT" => ("created", None),
        "REMOVE" => ("deleted", None),
        "MODIFY" => {
            if change.old_image.is_empty() {
                return Err(DecodeError::NoImage(record.event_id.clone()));
            }
            let (_, before) = (shape.show)(change.old_image.clone()).map_err(|e| decode(entity, e))?;
            let changed = changed_fields(&before, &data, shape.ignored);
            if changed.is_empty() {
                return Ok(None);
            }
            ("updated", Some(changed))
        }
        _ => return Ok(None),
    };
    let id = data.get("id").cloned().unwrap_or(Value::Null);
    data.insert(format!("{}_id", shape.resource), id);
    data.insert("organization_id".into(), Value::String(org_id.clone()));
    let timestamp = match (action, data.get("updated_at")) {
        ("deleted", _) | (_, None) => record_time(record),
        (_, Some(updated_at)) => updated_at.as_str().map_or_else(|| record_time(record), str::to_owned),
    };
    Ok(Some(Derived::Event(DomainEvent {
        event_id: event_id(record),
        event: format!("{}.{action}", shape.resource),
        timestamp,
        organization_id: org_id,
        data: Value::Object(data),
        changed_fields: changed,
    })))
}

/// The record's creation time, in the API's timestamp format.
fn record_time(record: &EventRecord) -> String {
    let nanos = record.change.approximate_creation_date_time.timestamp_nanos_opt().unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map(time_format::format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::dynamodb::Event;
    use serde_json::json;

    use super::*;

    /// The relay fixture: a property created, counted (a unit added), renamed and deleted,
    /// with an idempotency record in between.
    fn fixture() -> Vec<EventRecord> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/events-relay/stream-batch.json");
        let text = std::fs::read_to_string(path)
            .expect("fixture")
            .replace("__ORG_ID__", "org_01JD3M00000000000000000001")
            .replace("__PROPERTY_ID__", "prop_01JD3M00000000000000000001")
            .replace("__EVENT_ID__", "e");
        serde_json::from_str::<Event>(&text).expect("a stream batch").records
    }

    fn event(derived: Option<Derived>) -> DomainEvent {
        match derived {
            Some(Derived::Event(event)) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn a_property_lifecycle_becomes_three_events() {
        let records = fixture();
        let derived: Vec<Option<Derived>> = records.iter().map(|r| derive(r).expect("decodes")).collect();
        let [created, idempotency, counted, renamed, deleted] = <[_; 5]>::try_from(derived).unwrap();
        let created = event(created);
        assert_eq!(created.event, "property.created");
        assert_eq!(created.data["property_id"], "prop_01JD3M00000000000000000001");
        assert_eq!(created.data["organization_id"], "org_01JD3M00000000000000000001");
        assert_eq!(created.data["name"], "Sunset Apartments");
        assert_eq!(created.data["total_value"], json!(1_200_000.0));
        assert_eq!(created.timestamp, "2026-11-22T12:00:00.000000Z");
        assert_eq!(idempotency, None, "not an entity");
        assert_eq!(counted, None, "a unit count is bookkeeping, not a change");
        let renamed = event(renamed);
        assert_eq!(
            (renamed.event.as_str(), renamed.changed_fields),
            ("property.updated", Some(vec!["name".to_owned()]))
        );
        let deleted = event(deleted);
        assert_eq!(deleted.event, "property.deleted");
        assert_eq!(deleted.data["name"], "Sunset Towers", "a deletion shows the last state");
    }

    #[test]
    fn event_ids_are_deterministic_and_ordered_by_record_time() {
        let records = fixture();
        assert_eq!(event_id(&records[0]), event_id(&records[0].clone()));
        assert_ne!(event_id(&records[0]), event_id(&records[1]));
        assert!(event_id(&records[0]) < event_id(&records[2]));
        assert!(shared::domain::ids::is_valid(&event_id(&records[0]), "evt"));
    }

    #[test]
    fn outbox_inserts_are_messages_and_their_removal_is_nothing() {
        let mut record = fixture().remove(1);
        let message =
            OutboxMessage::new("org_01JD3M00000000000000000001", "doorstep.identity", "identity.x", "{}".into());
        let image: serde_dynamo::Item = serde_dynamo::to_item(&message).unwrap();
        let mut image: std::collections::HashMap<String, serde_dynamo::AttributeValue> = image.into();
        image.insert("entity".into(), serde_dynamo::AttributeValue::S("outbox".into()));
        record.change.new_image = image.clone().into();
        assert_eq!(derive(&record).unwrap(), Some(Derived::Message(message)));
        record.event_name = "REMOVE".into();
        record.change.old_image = image.into();
        record.change.new_image = serde_dynamo::Item::default();
        assert_eq!(derive(&record).unwrap(), None);
    }
}
