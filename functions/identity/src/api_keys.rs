//! API keys for service-to-service calls: `/api/v1/identity/api-keys[/{api_key_id}]`.
//!
//! The full key (`dsk_<org>_<key>_<secret>`) is shown once, at creation; only a SHA-256
//! of the secret is stored. A key is bound to the creator's organization and to
//! permissions the creator holds, and carries the organization's plan.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Permission, Principal, api_key};
use shared::domain::validation::Problems;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::PageParams;
use shared::http::query::{Path, Query};
use shared::store::api_keys::ApiKeyRecord;
use shared::{ApiError, Services, time_format};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::caller::{actor_id, own_listing};
use crate::oauth::credentials::random_secret;

const MAX_PERMISSIONS: usize = 50;
/// How many secret characters the visible prefix shows.
const PREFIX_SECRET_CHARS: usize = 4;

fn location(id: &str) -> String {
    format!("/api/v1/identity/api-keys/{id}")
}

/// `POST /api/v1/identity/api-keys`. Unknown fields are a 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// 1 to 100 characters.
    #[schema(example = "Nightly accounting export")]
    pub name: String,
    /// `resource:action` permissions (wildcards allowed), each one the caller holds.
    #[schema(example = json!(["property:read", "tenant:read"]))]
    pub permissions: Vec<String>,
    /// RFC 3339; the key stops working then. Absent: no expiry.
    pub expires_at: Option<String>,
}

/// An API key as listings show it: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(example = "key_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub name: String,
    /// The start of the key, to tell keys apart.
    pub prefix: String,
    pub permissions: Vec<String>,
    /// Rate-limit tier, the organization's plan when the key was made.
    pub plan: shared::domain::Plan,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// Updated at most once a minute.
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
}

impl ApiKeyView {
    fn new(record: &ApiKeyRecord, now: OffsetDateTime) -> Self {
        let status = if record.revoked_at.is_some() {
            "revoked"
        } else if !record.is_usable(now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            prefix: record.prefix.clone(),
            permissions: record.permissions.clone(),
            plan: record.plan,
            created_at: time_format::format(record.created_at),
            expires_at: record.valid_until.map(time_format::format),
            last_used_at: record.last_used_at.map(time_format::format),
            revoked_at: record.revoked_at.map(time_format::format),
            status,
        }
    }
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(record: &ApiKeyRecord) -> Self {
        Self::new(record, time_format::now())
    }
}

/// The answer to a create: the key itself, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// Send as `X-API-Key`. It cannot be shown again.
    #[schema(example = "dsk_01JD3M00000000000000000001_01JD3V6Q4W8Y2K5N7P9R1T3V5X_q8...")]
    pub key: String,
}

/// A permission string: `*`, or `resource:action` where each side is lower-case letters
/// and underscores, or `*`.
fn is_permission(raw: &str) -> bool {
    let part = |s: &str| {
        s == "*" || (!s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    };
    raw == "*" || raw.split_once(':').is_some_and(|(resource, action)| part(resource) && part(action))
}

struct ValidKey {
    name: String,
    permissions: Vec<String>,
    valid_until: Option<OffsetDateTime>,
}

fn validate(input: &ApiKeyInput, principal: &Principal, now: OffsetDateTime) -> Result<ValidKey, ApiError> {
    let mut problems = Problems::new();
    let name = problems.text("name", &input.name, 1, 100);
    if input.permissions.is_empty() {
        problems.add("permissions", "must name at least one permission");
    } else if input.permissions.len() > MAX_PERMISSIONS {
        problems.add("permissions", format!("must name at most {MAX_PERMISSIONS} permissions"));
    }
    for (i, permission) in input.permissions.iter().enumerate() {
        if !is_permission(permission) {
            problems.add(format!("permissions[{i}]"), "must be `resource:action` (lower case, `*` as a wildcard)");
        }
    }
    let valid_until = match input.expires_at.as_deref() {
        None => None,
        Some(raw) => match time_format::parse(raw) {
            Some(at) if at > now => Some(at),
            Some(_) => {
                problems.add("expires_at", "must be in the future");
                None
            }
            None => {
                problems.add("expires_at", "must be an RFC 3339 timestamp");
                None
            }
        },
    };
    problems.into_result()?;
    // A caller can hand on only what it holds: `property:*` needs `property:*` (or `*`).
    if let Some(missing) = input.permissions.iter().find(|p| !principal.permissions.includes(p)) {
        return Err(ApiError::InsufficientPermissions(format!(
            "You cannot grant permission {missing}: you do not hold it"
        )));
    }
    let mut permissions = input.permissions.clone();
    permissions.sort();
    permissions.dedup();
    Ok(ValidKey { name, permissions, valid_until })
}

/// Create an API key. The key is in the response only; store it safely.
#[utoipa::path(post, path = "/api/v1/identity/api-keys", operation_id = "createApiKey", tag = "api-keys",
    request_body = ApiKeyInput,
    description = "Creates a key bound to the caller's organization and plan, with permissions the caller holds. \
        The full key is returned once; only its SHA-256 digest is stored. `Idempotency-Key` is not honoured here: \
        replaying the response would mean storing the secret.",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created; `key` is shown only now", body = SuccessEnvelope<CreatedApiKey>, headers(("Location" = String))),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks apikey:create, or asks for a permission the caller does not hold", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<ApiKeyInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ApiKeyCreate, None)?;
    let body = body.accept()?;
    let now = time_format::now();
    let valid = validate(&body.value, &principal, now)?;
    let id = shared::domain::ids::new("key");
    let secret = random_secret()?;
    let key = api_key::format(&principal.org_id, &id, &secret);
    let prefix = key[..key.len() - secret.len() + PREFIX_SECRET_CHARS].to_owned();
    let record = ApiKeyRecord {
        id: id.clone(),
        org_id: principal.org_id.clone(),
        name: valid.name,
        secret_hash: api_key::digest(&secret),
        permissions: valid.permissions,
        plan: principal.plan,
        created_at: now,
        revoked_at: None,
        valid_until: valid.valid_until,
        prefix,
        created_by: Some(actor_id(&principal)),
        last_used_at: None,
    };
    services.store.api_keys().insert(&record).await?;
    tracing::info!(key_id = %id, "API key created");
    let created = CreatedApiKey { view: ApiKeyView::new(&record, now), key };
    // The body holds a secret: no cache may keep it.
    Ok(ApiResponse::created(created, &location(&id)).no_store().into_response())
}

/// List the organization's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/identity/api-keys", operation_id = "listApiKeys", tag = "api-keys", params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of keys, oldest first, revoked ones included", body = SuccessEnvelope<Vec<ApiKeyView>>),
        (status = 400, description = "Invalid page_size or cursor", body = ErrorEnvelope),
        (status = 403, description = "Lacks apikey:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ApiKeyRead, None)?;
    let listing = own_listing(&services, &principal, "api_keys", &params)?;
    let page = services.store.api_keys().list(&principal.org_id, listing.start.clone(), listing.size).await?;
    Ok(listing.respond::<_, ApiKeyView>(&services.cursors, page))
}

/// Get an API key (never its secret).
#[utoipa::path(get, path = "/api/v1/identity/api-keys/{api_key_id}", operation_id = "getApiKey", tag = "api-keys",
    params(("api_key_id" = String, Path, description = "Key id (`key_...`)")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The key", body = SuccessEnvelope<ApiKeyView>),
        (status = 404, description = "No such key in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ApiKeyRead, None)?;
    let record = services.store.api_keys().get(&principal.org_id, &id).await?.ok_or(ApiError::NotFound("API key"))?;
    Ok(ApiResponse::ok(ApiKeyView::new(&record, time_format::now())).into_response())
}

/// Revoke an API key: it stops authenticating at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/v1/identity/api-keys/{api_key_id}", operation_id = "revokeApiKey", tag = "api-keys",
    params(("api_key_id" = String, Path, description = "Key id (`key_...`)")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Lacks apikey:delete", body = ErrorEnvelope),
        (status = 404, description = "No such key in this organization", body = ErrorEnvelope),
    ))]
pub async fn revoke(
    State(services): State<Services>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::ApiKeyDelete, None)?;
    if !services.store.api_keys().revoke(&principal.org_id, &id, time_format::now()).await? {
        return Err(ApiError::NotFound("API key"));
    }
    tracing::info!(key_id = %id, "API key revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_strings() {
        for good in ["*", "property:read", "property:*", "*:read", "oauth_app:create"] {
            assert!(is_permission(good), "{good}");
        }
        for bad in ["", "property", "Property:read", "property:read:extra", "property: read", ":read", "prop-erty:read"]
        {
            assert!(!is_permission(bad), "{bad}");
        }
    }
}
