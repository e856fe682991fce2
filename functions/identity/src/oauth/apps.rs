//! OAuth app registration: `/api/v1/identity/oauth/apps[/{client_id}]`.
//!
//! An app belongs to the organization that registers it; users of any organization may
//! then authorize it. The client secret is shown once and stored as a SHA-256 digest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Permission, Principal, Scope};
use shared::domain::validation::Problems;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::PageParams;
use shared::http::query::{Path, Query};
use shared::{ApiError, Services, time_format};
use utoipa::ToSchema;

use crate::caller::{actor_id, own_listing};
use crate::oauth::credentials::{self, Kind};
use crate::oauth::repository::{OAuthApp, OAuthRepository};
use crate::oauth::{redirect, scopes};

const MAX_REDIRECT_URIS: usize = 10;
/// Client secrets start with this, so secret scanners can spot a leaked one.
const CLIENT_SECRET_PREFIX: &str = "dss_";

fn location(client_id: &str) -> String {
    format!("/api/v1/identity/oauth/apps/{client_id}")
}

/// `POST /api/v1/identity/oauth/apps`. Unknown fields are a 422.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    /// Shown to users on the consent screen; 1 to 100 characters.
    #[schema(example = "Rent Reminder Pro")]
    pub name: String,
    /// Shown to users on the consent screen; up to 1000 characters.
    #[serde(default)]
    pub description: String,
    /// 1 to 10 absolute `https` URIs (`http` only for localhost), without fragments.
    /// `/oauth/authorize` requires an exact match with one of them.
    #[schema(example = json!(["https://app.example.com/oauth/callback"]))]
    pub redirect_uris: Vec<String>,
    /// The scopes the app may ask for (default: all seven of the integration API). With
    /// `client_credentials` the app holds them in this organization, limited to the
    /// permissions the registering caller holds.
    pub scopes: Option<Vec<String>>,
}

/// A registered app, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    #[schema(example = "dsc_01JD3M00000000000000000001_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// What the app may do in this organization with `client_credentials`.
    pub client_permissions: Vec<String>,
    pub created_at: String,
}

impl From<&OAuthApp> for AppView {
    fn from(app: &OAuthApp) -> Self {
        Self {
            client_id: app.client_id.clone(),
            name: app.name.clone(),
            description: app.description.clone(),
            redirect_uris: app.redirect_uris.clone(),
            scopes: app.scopes.clone(),
            client_permissions: app.client_permissions.clone(),
            created_at: time_format::format(app.created_at),
        }
    }
}

/// The answer to a registration: the client secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: AppView,
    /// Authenticates the app at `/oauth/token`. It cannot be shown again.
    pub client_secret: String,
}

struct ValidApp {
    name: String,
    description: String,
    redirect_uris: Vec<String>,
    scopes: Vec<Scope>,
}

fn validate(input: &AppInput) -> Result<ValidApp, ApiError> {
    let mut problems = Problems::new();
    let name = problems.text("name", &input.name, 1, 100);
    let description = problems.text("description", &input.description, 0, 1000);
    if input.redirect_uris.is_empty() {
        problems.add("redirect_uris", "must list at least one redirect URI");
    } else if input.redirect_uris.len() > MAX_REDIRECT_URIS {
        problems.add("redirect_uris", format!("must list at most {MAX_REDIRECT_URIS} redirect URIs"));
    }
    let mut redirect_uris: Vec<String> = Vec::new();
    for (i, uri) in input.redirect_uris.iter().enumerate() {
        match redirect::validate(uri) {
            Err(message) => problems.add(format!("redirect_uris[{i}]"), message),
            Ok(()) if redirect_uris.contains(uri) => problems.add(format!("redirect_uris[{i}]"), "is listed twice"),
            Ok(()) => redirect_uris.push(uri.clone()),
        }
    }
    let scopes = match &input.scopes {
        None => Scope::ALL.to_vec(),
        Some(names) => match scopes::parse_names(names) {
            Ok(parsed) if parsed.is_empty() => {
                problems.add("scopes", "must name at least one scope");
                Vec::new()
            }
            Ok(parsed) => parsed,
            Err(unknown) => {
                problems.add("scopes", format!("{unknown} is not a scope"));
                Vec::new()
            }
        },
    };
    problems.into_result()?;
    Ok(ValidApp { name, description, redirect_uris, scopes })
}

/// Register an OAuth app. The client secret is in the response only.
#[utoipa::path(post, path = "/api/v1/identity/oauth/apps", operation_id = "createOAuthApp", tag = "oauth",
    request_body = AppInput,
    description = "Registers an app owned by the caller's organization. `client_secret` is returned once and stored \
        only as a SHA-256 digest. `Idempotency-Key` is not honoured here: replaying the response would mean storing the secret.",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Registered", body = SuccessEnvelope<CreatedApp>, headers(("Location" = String))),
        (status = 403, description = "Lacks oauth_app:create", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields (redirect URIs must be https without fragments)", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    principal: Principal,
    body: Json<AppInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppCreate, None)?;
    let body = body.accept()?;
    let valid = validate(&body.value)?;
    let app_id = shared::domain::ids::new("app");
    let client_id = credentials::format(Kind::ClientId, &principal.org_id, &app_id, None)
        .ok_or_else(|| ApiError::BadRequest("This organization id cannot own OAuth apps".into()))?;
    let client_secret = format!("{CLIENT_SECRET_PREFIX}{}", credentials::random_secret()?);
    // The app acting for itself may do only what its registrant may do.
    let mut client_permissions: Vec<String> = valid
        .scopes
        .iter()
        .flat_map(|s| scopes::permissions(*s).iter())
        .filter(|p| principal.permissions.allows(**p))
        .map(|p| p.as_str().to_owned())
        .collect();
    client_permissions.dedup();
    let app = OAuthApp {
        client_id: client_id.clone(),
        org_id: principal.org_id.clone(),
        name: valid.name,
        description: valid.description,
        redirect_uris: valid.redirect_uris,
        scopes: scopes::names(&valid.scopes),
        client_permissions,
        secret_hash: shared::auth::api_key::digest(&client_secret),
        plan: principal.plan,
        created_by: actor_id(&principal),
        created_at: time_format::now(),
    };
    OAuthRepository::new(&services.store).insert_app(&app).await?;
    tracing::info!(client_id = %client_id, "OAuth app registered");
    let created = CreatedApp { app: AppView::from(&app), client_secret };
    // The body holds a secret: no cache may keep it.
    Ok(ApiResponse::created(created, &location(&client_id)).no_store().into_response())
}

/// List the organization's OAuth apps.
#[utoipa::path(get, path = "/api/v1/identity/oauth/apps", operation_id = "listOAuthApps", tag = "oauth", params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of apps, oldest first", body = SuccessEnvelope<Vec<AppView>>),
        (status = 400, description = "Invalid page_size or cursor", body = ErrorEnvelope),
        (status = 403, description = "Lacks oauth_app:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppRead, None)?;
    let listing = own_listing(&services, &principal, "oauth_apps", &params)?;
    let page =
        OAuthRepository::new(&services.store).list_apps(&principal.org_id, listing.start.clone(), listing.size).await?;
    Ok(listing.respond::<_, AppView>(&services.cursors, page))
}

/// The app's id inside the caller's organization; any other organization's is not found.
fn own_client_id(principal: &Principal, client_id: &str) -> Result<(), ApiError> {
    let owner = credentials::parse(Kind::ClientId, client_id).map(|parsed| parsed.org_id);
    if owner.as_deref() == Some(principal.org_id.as_str()) { Ok(()) } else { Err(ApiError::NotFound("OAuth app")) }
}

/// Get an OAuth app (never its secret).
#[utoipa::path(get, path = "/api/v1/identity/oauth/apps/{client_id}", operation_id = "getOAuthApp", tag = "oauth",
    params(("client_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The app", body = SuccessEnvelope<AppView>),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(services): State<Services>,
    principal: Principal,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppRead, None)?;
    own_client_id(&principal, &client_id)?;
    let app = OAuthRepository::new(&services.store)
        .get_app(&principal.org_id, &client_id)
        .await?
        .ok_or(ApiError::NotFound("OAuth app"))?;
    Ok(ApiResponse::ok(AppView::from(&app)).into_response())
}

/// Delete an OAuth app. Its refresh tokens stop working at once (the client can no
/// longer authenticate); access tokens already issued expire within their lifetime.
#[utoipa::path(delete, path = "/api/v1/identity/oauth/apps/{client_id}", operation_id = "deleteOAuthApp", tag = "oauth",
    params(("client_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks oauth_app:delete", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(services): State<Services>,
    principal: Principal,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::OAuthAppDelete, None)?;
    own_client_id(&principal, &client_id)?;
    if !OAuthRepository::new(&services.store).delete_app(&principal.org_id, &client_id).await? {
        return Err(ApiError::NotFound("OAuth app"));
    }
    tracing::info!(client_id = %client_id, "OAuth app deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
