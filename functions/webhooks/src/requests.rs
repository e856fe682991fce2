//! The bodies the subscriptions API accepts, and their validation.

use serde::Deserialize;
use shared::auth::{Principal, Scope};
use shared::domain::Problems;
use shared::domain::ids::PropertyId;
use shared::store::webhooks::SubscriptionStatus;
use utoipa::ToSchema;

use crate::guard::AddressGuard;

const MAX_URL: usize = 2048;
const MAX_LIST: usize = 50;

/// A subscription as `POST` creates it and `PUT` replaces it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where deliveries go: `https` (plain `http` only where the local configuration
    /// allows it); its host must resolve to public addresses.
    #[schema(example = "https://hooks.example.com/doorstep")]
    pub url: String,
    /// Event types (`property.created`), every type of a resource (`maintenance.*`), or `*`.
    #[schema(example = json!(["property.*", "tenant.created"]))]
    pub events: Vec<String>,
    /// Only events about these properties (default: every property).
    #[serde(default)]
    pub property_ids: Vec<String>,
    /// `*.updated` events only when one of these fields changed (default: every update).
    #[serde(default)]
    pub changed_fields: Vec<String>,
    pub description: Option<String>,
}

/// A partial change of a subscription; `status: active` re-enables a disabled one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub property_ids: Option<Vec<String>>,
    pub changed_fields: Option<Vec<String>>,
    pub description: Option<String>,
    pub status: Option<SubscriptionStatus>,
}

/// Which logged events `POST .../replay` sends again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    /// RFC 3339: events logged at or after this time (the log keeps 30 days).
    pub since: String,
    /// RFC 3339: events logged before this time (default: now).
    pub until: Option<String>,
}

/// Whether an event-type pattern is well formed.
fn valid_pattern(pattern: &str) -> bool {
    let (name, wildcard) = match pattern.strip_suffix('*') {
        Some(prefix) if prefix.is_empty() || prefix.ends_with('.') => (prefix, true),
        Some(_) => return false,
        None => (pattern, false),
    };
    name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        && !name.starts_with('.')
        && !name.contains("..")
        && (wildcard || (!name.is_empty() && !name.ends_with('.') && name.contains('.')))
}

/// Checks the fields a subscription's deliveries depend on.
pub async fn check(
    problems: &mut Problems,
    guard: &AddressGuard,
    url: &str,
    events: &[String],
    property_ids: &[String],
    changed_fields: &[String],
) {
    match url::Url::parse(url) {
        _ if url.len() > MAX_URL => problems.add("url", "Use at most 2048 characters"),
        Ok(parsed) => {
            if let Err(refusal) = guard.check(&parsed).await {
                problems.add("url", refusal.to_string());
            }
        }
        Err(_) => problems.add("url", "Use an absolute https URL"),
    }
    if events.is_empty() || events.len() > MAX_LIST {
        problems.add("events", "List 1 to 50 event types");
    }
    for (i, pattern) in events.iter().enumerate() {
        if !valid_pattern(pattern) {
            problems.add(
                format!("events[{i}]"),
                "Use an event type such as property.created, a wildcard such as maintenance.*, or *",
            );
        }
    }
    if property_ids.len() > MAX_LIST {
        problems.add("property_ids", "List at most 50 properties");
    }
    for (i, id) in property_ids.iter().enumerate() {
        if PropertyId::parse(id).is_none() {
            problems.add(format!("property_ids[{i}]"), "Use a property id (prop_...)");
        }
    }
    if changed_fields.len() > MAX_LIST {
        problems.add("changed_fields", "List at most 50 fields");
    }
    for (i, field) in changed_fields.iter().enumerate() {
        let valid =
            !field.is_empty() && field.len() <= 64 && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            problems.add(format!("changed_fields[{i}]"), "Use a field name such as name or status");
        }
    }
}

/// The description, trimmed and checked.
pub fn description(problems: &mut Problems, value: Option<&str>) -> Option<String> {
    value.map(|v| problems.text("description", v, 0, 500)).filter(|v| !v.is_empty())
}

/// The read scope an OAuth app needs to receive a resource's events.
fn read_scope(resource: &str) -> Option<Scope> {
    match resource {
        "property" | "unit" => Some(Scope::ReadProperties),
        "tenant" | "lease" => Some(Scope::ReadRenters),
        "invoice" | "payment" => Some(Scope::ReadPayments),
        "maintenance" => Some(Scope::ReadMaintenance),
        _ => None,
    }
}

/// For an OAuth app: the first pattern naming events its scopes could not read (`*`
/// needs every read scope). Other callers may subscribe to anything.
pub fn unreadable_pattern<'a>(principal: &Principal, events: &'a [String]) -> Option<&'a str> {
    let granted = principal.scopes.as_ref()?;
    let readable = |resource: &str| read_scope(resource).is_some_and(|s| granted.contains(&s));
    events
        .iter()
        .find(|pattern| {
            if pattern.as_str() == "*" {
                !["property", "unit", "tenant", "lease", "invoice", "payment", "maintenance"].into_iter().all(readable)
            } else {
                !readable(shared::events::resource_of(pattern))
            }
        })
        .map(String::as_str)
}
