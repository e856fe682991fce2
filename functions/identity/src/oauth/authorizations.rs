//! The apps a user has authorized: `/api/v1/identity/oauth/authorizations[/{client_id}]`;
//! and every app any of the organization's users authorized, for its administrators:
//! `/api/v1/identity/oauth/organization/authorizations[/{client_id}]`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::auth::{Permission, Principal};
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::PageParams;
use shared::http::query::{Path, Query};
use shared::store::page::Page;
use shared::{ApiError, Services, time_format};
use utoipa::ToSchema;

use crate::caller::{own_listing, signed_in_user};
use crate::oauth::credentials::{self, Kind};
use crate::oauth::repository::{Grant, OAuthRepository};

/// An app the user authorized, and what they allowed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationView {
    pub client_id: String,
    /// The user who authorized it.
    pub user_id: String,
    pub app_name: String,
    /// Every scope the user approved for the app.
    pub scopes: Vec<String>,
    /// First approval.
    pub created_at: String,
    /// Latest approval.
    pub updated_at: String,
}

impl From<&Grant> for AuthorizationView {
    fn from(grant: &Grant) -> Self {
        let mut scopes = grant.scopes.clone();
        scopes.sort();
        Self {
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            app_name: grant.app_name.clone(),
            scopes,
            created_at: time_format::format(grant.created_at),
            updated_at: time_format::format(grant.updated_at),
        }
    }
}

/// List the apps the calling user has authorized.
#[utoipa::path(get, path = "/api/v1/identity/oauth/authorizations", operation_id = "listOAuthAuthorizations", tag = "oauth",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the user's authorizations (apps deleted since are left out, so a page may be short)", body = SuccessEnvelope<Vec<AuthorizationView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a user's own token (an API key or an app's token)", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let user = signed_in_user(&principal)?;
    let listing = own_listing(&services, &principal, &format!("oauth_grants|{}", user.user_id), &params)?;
    let repo = OAuthRepository::new(&services.store);
    let page = repo.list_grants(&principal.org_id, user.user_id, listing.start.clone(), listing.size).await?;
    let page = without_deleted_apps(&repo, page).await?;
    Ok(listing.respond::<_, AuthorizationView>(&services.cursors, page))
}

/// Leaves out the grants of deleted apps: they are inert (the app can no longer
/// authenticate), so they are not shown.
async fn without_deleted_apps(repo: &OAuthRepository<'_>, mut page: Page<Grant>) -> Result<Page<Grant>, ApiError> {
    let client_ids: Vec<String> = page.items.iter().map(|g| g.client_id.clone()).collect();
    let live = repo.existing_apps(&client_ids).await?;
    page.items.retain(|g| live.contains(&g.client_id));
    Ok(page)
}

/// List every app authorized by any user of the caller's organization (wherever the app
/// is registered), one item per user and app.
#[utoipa::path(get, path = "/api/v1/identity/oauth/organization/authorizations",
    operation_id = "listOrganizationOAuthAuthorizations", tag = "oauth", params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the organization's authorizations, oldest user first (apps deleted since are left out, so a page may be short)", body = SuccessEnvelope<Vec<AuthorizationView>>),
        (status = 400, description = "Invalid cursor or page size", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Lacks oauth_app:read", body = ErrorEnvelope),
    ))]
pub async fn list_organization(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppRead, None)?;
    let listing = own_listing(&services, &principal, "oauth_grants", &params)?;
    let repo = OAuthRepository::new(&services.store);
    let page = repo.list_organization_grants(&principal.org_id, listing.start.clone(), listing.size).await?;
    let page = without_deleted_apps(&repo, page).await?;
    Ok(listing.respond::<_, AuthorizationView>(&services.cursors, page))
}

/// Revoke an app's access to the caller's organization: every grant any user gave it
/// ends, so its refresh tokens and unexchanged codes stop working at once (access tokens
/// expire within their lifetime). Users may authorize it again.
#[utoipa::path(delete, path = "/api/v1/identity/oauth/organization/authorizations/{client_id}",
    operation_id = "revokeOrganizationOAuthAuthorization", tag = "oauth",
    params(("client_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Every grant of the app in the organization is revoked"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Lacks oauth_app:delete", body = ErrorEnvelope),
        (status = 404, description = "No user of the organization has authorized this app", body = ErrorEnvelope),
    ))]
pub async fn revoke_organization(
    State(services): State<Services>,
    principal: Principal,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppDelete, None)?;
    if credentials::parse(Kind::ClientId, &client_id).is_none() {
        return Err(ApiError::NotFound("Authorization"));
    }
    let ended = OAuthRepository::new(&services.store).revoke_app_grants(&principal.org_id, &client_id).await?;
    if ended == 0 {
        return Err(ApiError::NotFound("Authorization"));
    }
    tracing::info!(client_id = %client_id, grants = ended, "OAuth app's access to the organization revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Revoke an app's access to the calling user's account: its refresh tokens and any
/// unexchanged codes stop working at once; access tokens expire within their lifetime.
#[utoipa::path(delete, path = "/api/v1/identity/oauth/authorizations/{client_id}", operation_id = "revokeOAuthAuthorization", tag = "oauth",
    params(("client_id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "The user has not authorized this app", body = ErrorEnvelope),
    ))]
pub async fn revoke(
    State(services): State<Services>,
    principal: Principal,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = signed_in_user(&principal)?;
    if credentials::parse(Kind::ClientId, &client_id).is_none()
        || !OAuthRepository::new(&services.store).revoke_grant(&principal.org_id, user.user_id, &client_id).await?
    {
        return Err(ApiError::NotFound("Authorization"));
    }
    tracing::info!(client_id = %client_id, "OAuth authorization revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
