//! The authenticated caller of a request, and the extractor that produces it.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::auth::api_key::{self, API_KEY_HEADER};
use crate::auth::jwks::Jwks;
use crate::auth::permissions::{Permission, PermissionSet, Role};
use crate::auth::scope::Scope;
use crate::domain::Plan;
use crate::error::ApiError;
use crate::store::Store;

/// Lets a SuperAdmin act inside another organization.
pub const ORGANIZATION_HEADER: &str = "x-organization-id";

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    User { user_id: String, email: Option<String>, roles: Vec<Role>, tenant_profile_id: Option<String> },
    ApiKey { key_id: String },
}

/// An authenticated caller, always bound to exactly one organization.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org_id: String,
    pub actor: Actor,
    pub permissions: PermissionSet,
    /// OAuth access tokens only: the scopes the user granted the app.
    pub scopes: Option<Vec<Scope>>,
    pub client_id: Option<String>,
    /// The organization's plan, as the credential carries it; sets the rate-limit tier.
    pub plan: Plan,
}

impl Principal {
    /// Requires a permission and, for OAuth tokens, the route's scope. A route with no
    /// scope is closed to OAuth apps.
    pub fn authorize(&self, permission: Permission, scope: Option<Scope>) -> Result<(), ApiError> {
        if let Some(granted) = &self.scopes {
            let scoped = scope.is_some_and(|s| granted.contains(&s));
            if !scoped {
                let needed =
                    scope.map_or("a scope this app cannot request".to_owned(), |s| format!("scope {}", s.name()));
                return Err(ApiError::InsufficientPermissions(format!("This request needs {needed}")));
            }
        }
        if !self.permissions.allows(permission) {
            return Err(ApiError::InsufficientPermissions(format!("This request needs permission {permission}")));
        }
        Ok(())
    }

    pub fn has_role(&self, role: Role) -> bool {
        matches!(&self.actor, Actor::User { roles, .. } if roles.contains(&role))
    }

    /// A user's own session token: neither an API key nor an OAuth app's access token
    /// (which carries `scope` and `client_id`).
    pub fn is_user_session(&self) -> bool {
        matches!(self.actor, Actor::User { .. }) && self.scopes.is_none() && self.client_id.is_none()
    }
}

/// Verifies credentials. Built once per cold start.
#[derive(Debug, Clone)]
pub struct Authenticator {
    jwt: Arc<Jwks>,
    store: Store,
}

impl Authenticator {
    pub fn new(jwt: Jwks, store: Store) -> Self {
        Self { jwt: Arc::new(jwt), store }
    }

    /// Authenticates from request headers: `Authorization: Bearer` or `X-API-Key`.
    /// `Ok(None)` when the request carries neither; other `Authorization` schemes (such as
    /// `Basic` client authentication at the OAuth token endpoint) are left to the route.
    /// Reads the JWT public keys if no request has yet.
    pub async fn ready(&self) -> Result<(), ApiError> {
        self.jwt.ready().await.map(|_| ())
    }

    pub async fn authenticate(&self, headers: &axum::http::HeaderMap) -> Result<Option<Principal>, ApiError> {
        if let Some(token) = bearer_token(headers)? {
            let principal = self.verify_token(token).await?;
            return with_org_override(principal, headers).map(Some);
        }
        if let Some(value) = headers.get(API_KEY_HEADER) {
            let raw = value.to_str().map_err(|_| ApiError::AuthenticationFailed("Invalid API key"))?;
            let principal = self.verify_api_key(raw.trim()).await?;
            return with_org_override(principal, headers).map(Some);
        }
        Ok(None)
    }

    async fn verify_token(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self.jwt.verify(token).await?;
        let roles: Vec<Role> = claims.org_roles.iter().filter_map(|r| Role::parse(r)).collect();
        let permissions = PermissionSet::from_roles(&roles, &claims.permissions);
        let scopes = claims.scope.as_deref().map(Scope::parse_list);
        Ok(Principal {
            org_id: claims.org_id,
            actor: Actor::User {
                user_id: claims.sub,
                email: claims.email,
                roles,
                tenant_profile_id: claims.tenant_profile_id,
            },
            permissions,
            scopes,
            client_id: claims.client_id,
            plan: claims.plan.unwrap_or_default(),
        })
    }

    async fn verify_api_key(&self, raw: &str) -> Result<Principal, ApiError> {
        let invalid = ApiError::AuthenticationFailed("Invalid API key");
        let presented = api_key::parse(raw).ok_or(invalid)?;
        let record = self
            .store
            .api_keys()
            .get(&presented.org_id, &presented.key_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::AuthenticationFailed("Invalid API key"))?;
        let matches: bool = api_key::digest(presented.secret).as_bytes().ct_eq(record.secret_hash.as_bytes()).into();
        let now = crate::time_format::now();
        if !matches || !record.is_usable(now) {
            return Err(ApiError::AuthenticationFailed("Invalid API key"));
        }
        if record.last_use_is_stale(now) {
            self.note_api_key_use(&record.org_id, &record.id, now).await;
        }
        Ok(Principal {
            org_id: record.org_id,
            actor: Actor::ApiKey { key_id: record.id },
            permissions: PermissionSet::from_roles(&[], &record.permissions),
            scopes: None,
            client_id: None,
            plan: record.plan,
        })
    }
}

impl Authenticator {
    /// Records `last_used_at`. The request waits for the write, so a Lambda freeze can't
    /// lose it, but only when the stored value is stale: the conditional update writes at
    /// most once per key per `LAST_USED_RESOLUTION`, however many requests race. A failure
    /// is logged and never fails the request.
    async fn note_api_key_use(&self, org_id: &str, key_id: &str, now: time::OffsetDateTime) {
        if let Err(err) = self.store.api_keys().touch_last_used(org_id, key_id, now).await {
            tracing::warn!(key_id = %key_id, error = %err, "could not record the API key's last use");
        }
    }
}

/// The token of an `Authorization: Bearer` header; `None` for no header or another scheme.
fn bearer_token(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::AuthenticationFailed("Invalid Authorization header"))?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::AuthenticationFailed("The Bearer token is empty"));
    }
    Ok(Some(token))
}

/// Only a SuperAdmin's own session token may name another organization. Anyone else
/// naming one that is not their own is refused rather than silently ignored, and so is
/// a SuperAdmin's API key or an OAuth app acting for a SuperAdmin: those credentials are
/// handed to programs, and must stay inside the organization they were issued in.
fn with_org_override(mut principal: Principal, headers: &axum::http::HeaderMap) -> Result<Principal, ApiError> {
    let Some(value) = headers.get(ORGANIZATION_HEADER) else {
        return Ok(principal);
    };
    let org_id = value.to_str().map_err(|_| ApiError::BadRequest("Invalid X-Organization-ID".into()))?;
    if org_id == principal.org_id {
        return Ok(principal);
    }
    if !principal.has_role(Role::SuperAdmin) {
        return Err(ApiError::InsufficientPermissions("Only a SuperAdmin may set X-Organization-ID".into()));
    }
    if !principal.is_user_session() {
        return Err(ApiError::InsufficientPermissions(
            "X-Organization-ID is honoured only on a SuperAdmin's own session token, not on an API key or an OAuth app's token".into(),
        ));
    }
    if !crate::domain::ids::is_valid(org_id, "org") {
        return Err(ApiError::BadRequest("Invalid X-Organization-ID".into()));
    }
    principal.org_id = org_id.to_owned();
    Ok(principal)
}

/// The principal that the access middleware (`shared::http::access`) authenticated.
/// A route that takes `Principal` requires a credential; `Option<Principal>` allows none.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::AuthenticationFailed("Authentication required: send a Bearer token or an X-API-Key"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
