//! Key builders for the single table. Every tenant-owned partition key starts with
//! `ORG#<org_id>`, so a request can only build keys inside its own organization.

use time::OffsetDateTime;

use crate::time_format;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// The TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// Names the kind of item (`property`, `tombstone`, ...).
pub const ENTITY: &str = "entity";

pub const PROPERTY_PREFIX: &str = "PROPERTY#";

/// `ORG#<org_id>`: the organization's own partition.
pub fn org(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

/// `ORG#<org_id>#<COLLECTION>`: the partition of a GSI that lists one collection.
pub fn collection(org_id: &str, name: &str) -> String {
    format!("ORG#{org_id}#{name}")
}

pub fn property(id: &str) -> String {
    format!("{PROPERTY_PREFIX}{id}")
}

/// `TOMBSTONE#<ENTITY>#<id>`: marks a deletion for delta syncs, until its TTL.
pub fn tombstone(entity: &str, id: &str) -> String {
    format!("TOMBSTONE#{entity}#{id}")
}

/// Case-insensitive name order, ties broken by id.
pub fn by_name(name: &str, id: &str) -> String {
    format!("{}#{id}", name.to_lowercase())
}

/// Time order of the last change, ties broken by id.
pub fn by_updated(at: OffsetDateTime, id: &str) -> String {
    format!("{}#{id}", time_format::format(at))
}

pub fn api_key(key_id: &str) -> String {
    format!("APIKEY#{key_id}")
}

pub fn idempotency(scope: &str, key: &str) -> String {
    format!("IDEMPOTENCY#{scope}#{key}")
}

/// `ORG#<org_id>#RATELIMIT#<credential>`: the rate-limit counters of one credential
/// (`user:<id>`, `app:<client_id>`, `key:<id>`).
pub fn rate_limit_credential(org_id: &str, credential: &str) -> String {
    format!("ORG#{org_id}#RATELIMIT#{credential}")
}

/// `RATELIMIT#IP#<address>`: counters of requests that carry no credential.
pub fn rate_limit_ip(address: &str) -> String {
    format!("RATELIMIT#IP#{address}")
}

/// `WINDOW#<unix seconds>`: one fixed window of a rate-limit bucket.
pub fn rate_limit_window(window_start: i64) -> String {
    format!("WINDOW#{window_start}")
}

pub const UNIT_PREFIX: &str = "UNIT#";
pub const TENANT_PREFIX: &str = "TENANT#";
pub const LEASE_PREFIX: &str = "LEASE#";

/// `UNIT#<prop_id>#<unit_id>`: units sit under their property, so one property's
/// units and all of an organization's units are each one `begins_with` query.
pub fn unit(property_id: &str, unit_id: &str) -> String {
    format!("{UNIT_PREFIX}{property_id}#{unit_id}")
}

/// `UNIT#<prop_id>#`: the prefix of one property's units.
pub fn units_of(property_id: &str) -> String {
    format!("{UNIT_PREFIX}{property_id}#")
}

/// `UNITNO#<prop_id>#<lower(unit_number)>`: claims a unit number within a property.
pub fn unit_number(property_id: &str, number: &str) -> String {
    format!("UNITNO#{property_id}#{}", number.to_lowercase())
}

pub fn tenant(tenant_id: &str) -> String {
    format!("{TENANT_PREFIX}{tenant_id}")
}

/// `ORG#<org>#PROPERTY#<prop_id>#TENANTS`: the GSI1 partition of one property's tenants.
pub fn tenants_of(org_id: &str, property_id: &str) -> String {
    format!("ORG#{org_id}#PROPERTY#{property_id}#TENANTS")
}

pub fn lease(lease_id: &str) -> String {
    format!("{LEASE_PREFIX}{lease_id}")
}

pub const SCREENING_PREFIX: &str = "SCREENING#";

/// `SCREENING#<scr_id>`: a screening ordered through the SmartMove API.
pub fn screening(screening_id: &str) -> String {
    format!("{SCREENING_PREFIX}{screening_id}")
}

/// `SMPOSTBACK#<scr_id>#`: the prefix of one screening's received postbacks.
pub fn postbacks_of(screening_id: &str) -> String {
    format!("SMPOSTBACK#{screening_id}#")
}

pub const MAINTENANCE_PREFIX: &str = "MAINT#";

/// `MAINT#<mr_id>`: a maintenance request.
pub fn maintenance_request(request_id: &str) -> String {
    format!("{MAINTENANCE_PREFIX}{request_id}")
}

/// `MAINTUPDATE#<mr_id>#`: the prefix of one request's timeline entries.
pub fn maintenance_updates_of(request_id: &str) -> String {
    format!("MAINTUPDATE#{request_id}#")
}

/// `MAINTATTACH#<mr_id>#`: the prefix of one request's attachments.
pub fn maintenance_attachments_of(request_id: &str) -> String {
    format!("MAINTATTACH#{request_id}#")
}

/// `ORG#<org>#MAINTENANCE`: the GSI1 partition of the organization's requests, by last change.
pub fn maintenance_requests_of(org_id: &str) -> String {
    collection(org_id, "MAINTENANCE")
}

/// `WORKORDER#<wo_id>`: a work order.
pub fn work_order(work_order_id: &str) -> String {
    format!("WORKORDER#{work_order_id}")
}

/// `ORG#<org>#WORKORDERS`: the GSI1 partition of the organization's work orders, by last change.
pub fn work_orders_of(org_id: &str) -> String {
    collection(org_id, "WORKORDERS")
}

pub const VENDOR_PREFIX: &str = "VENDOR#";

/// `VENDOR#<ven_id>`: a vendor.
pub fn vendor(vendor_id: &str) -> String {
    format!("{VENDOR_PREFIX}{vendor_id}")
}

pub const INVOICE_PREFIX: &str = "INVOICE#";
pub const PAYMENT_PREFIX: &str = "PAYMENT#";

/// `LEDGER#<lease_id>`: a lease's balance, written with each of its ledger entries.
pub fn lease_balance(lease_id: &str) -> String {
    format!("LEDGER#{lease_id}")
}

/// `LEDGERENTRY#<lease_id>#<le_id>`: one entry of a lease's ledger, in posting order.
pub fn ledger_entry(lease_id: &str, entry_id: &str) -> String {
    format!("{}{entry_id}", ledger_entries_of(lease_id))
}

/// `LEDGERENTRY#<lease_id>#`: the prefix of a lease's ledger entries.
pub fn ledger_entries_of(lease_id: &str) -> String {
    format!("LEDGERENTRY#{lease_id}#")
}

/// `INVOICE#<inv_id>`: an invoice.
pub fn invoice(invoice_id: &str) -> String {
    format!("{INVOICE_PREFIX}{invoice_id}")
}

/// `PAYMENT#<pay_id>`: a payment.
pub fn payment(payment_id: &str) -> String {
    format!("{PAYMENT_PREFIX}{payment_id}")
}

pub const PAYMENT_METHOD_PREFIX: &str = "PAYMETHOD#";

/// `PAYMETHOD#<pm_id>`: a saved payment method.
pub fn payment_method(method_id: &str) -> String {
    format!("{PAYMENT_METHOD_PREFIX}{method_id}")
}

/// `STRIPEINTENT#<pi_id>`: the partition and sort key of the payment a Stripe payment
/// intent was recorded as.
pub fn stripe_intent(intent_id: &str) -> String {
    format!("STRIPEINTENT#{intent_id}")
}

/// `STRIPEEVENT#<evt_id>`: the partition and sort key of a received Stripe event, so
/// that each event id is handled once whichever organization it turns out to concern.
pub fn stripe_event(event_id: &str) -> String {
    format!("STRIPEEVENT#{event_id}")
}
