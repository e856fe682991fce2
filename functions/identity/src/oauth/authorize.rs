//! The authorization endpoint, `GET /oauth/authorize` (RFC 6749 §4.1.1, PKCE RFC 7636).
//!
//! A browser without a bearer token gets the hosted sign-in and consent page
//! (`oauth::hosted`). A signed-in user's client (bearer JWT) asks twice: without
//! `consent` the answer is 200 JSON describing what the app asks for; with
//! `consent=approve` (or `deny`) it is the 302 back to the app. Until the client and
//! its redirect URI are known to be valid, errors are 400, never a redirect.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Principal, Scope};
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::query::Query;
use shared::{ApiError, time_format};
use utoipa::{IntoParams, ToSchema};

use crate::IdentityState;
use crate::caller::signed_in_user;
use crate::oauth::credentials::{self, Kind};
use crate::oauth::repository::{AuthorizationCode, Grantor, OAuthApp, OAuthRepository};
use crate::oauth::{hosted, redirect, scopes};

/// How long a code can be exchanged (RFC 6749 recommends at most 10 minutes).
pub const CODE_LIFETIME: time::Duration = time::Duration::minutes(10);
const MAX_STATE_LEN: usize = 1024;

/// Query of `GET /oauth/authorize`. Unrecognised parameters are ignored (RFC 6749 §3.1).
#[derive(Debug, Default, Clone, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    /// Must equal one of the app's registered redirect URIs exactly.
    pub redirect_uri: Option<String>,
    /// `code`.
    pub response_type: Option<String>,
    /// Space-separated integration API scopes, a subset of the app's.
    pub scope: Option<String>,
    /// Returned unchanged on the redirect; up to 1024 characters.
    pub state: Option<String>,
    /// PKCE: `BASE64URL(SHA256(code_verifier))`, 43 characters.
    pub code_challenge: Option<String>,
    /// `S256` (required).
    pub code_challenge_method: Option<String>,
    /// Absent: describe the request for consent. `approve` or `deny`: redirect to the app.
    pub consent: Option<String>,
}

/// A scope and what it lets the app do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    #[schema(example = "read:properties")]
    pub scope: &'static str,
    #[schema(example = "View properties and units")]
    pub description: &'static str,
}

/// What a consent screen shows before the user approves or denies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRequest {
    pub client_id: String,
    pub app_name: String,
    pub app_description: String,
    pub redirect_uri: String,
    pub scopes: Vec<ScopeView>,
    pub state: Option<String>,
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// A 302 to `location`, never cached.
fn found(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location).map_err(ApiError::internal)?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A PKCE S256 challenge: 43 base64url characters (a SHA-256).
fn is_s256_challenge(raw: &str) -> bool {
    raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An authorization request whose every parameter checked out.
pub struct ValidRequest {
    pub app: OAuthApp,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: String,
    pub scopes: Vec<Scope>,
}

/// What checking an authorization request found, once its client and redirect URI are valid.
pub enum Checked {
    Valid(Box<ValidRequest>),
    /// The request is wrong in a way the app must hear about: the error redirect's `Location`.
    BackToApp(String),
}

/// `redirect_uri` (already validated) with `params` added.
fn back_to_app(redirect_uri: &str, params: &[(&str, &str)]) -> Result<String, ApiError> {
    redirect::with_params(redirect_uri, params).ok_or_else(|| ApiError::internal("stored redirect URI does not parse"))
}

/// An error redirect's `Location` (RFC 6749 §4.1.2.1).
fn refusal(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Result<String, ApiError> {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    back_to_app(redirect_uri, &params)
}

/// Checks an authorization request. Unknown clients and unregistered redirect URIs are a
/// 400 `Err` (never a redirect); any other problem is a [`Checked::BackToApp`].
pub async fn check(state: &IdentityState, params: &AuthorizeParams) -> Result<Checked, ApiError> {
    let client_id = params.client_id.as_deref().ok_or_else(|| bad("client_id is required"))?;
    let unknown_client = || bad("Unknown client_id");
    let owner = credentials::parse(Kind::ClientId, client_id).ok_or_else(unknown_client)?;
    let repo = OAuthRepository::new(&state.services.store);
    let app = repo.get_app(&owner.org_id, client_id).await?.ok_or_else(unknown_client)?;
    let redirect_uri = params.redirect_uri.as_deref().ok_or_else(|| bad("redirect_uri is required"))?;
    if !app.redirect_uris.iter().any(|registered| registered == redirect_uri) {
        return Err(bad("redirect_uri is not registered for this client"));
    }

    // From here on, errors go back to the app.
    let app_state = params.state.as_deref();
    if app_state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        let location = refusal(redirect_uri, "invalid_request", "state is longer than 1024 characters", None)?;
        return Ok(Checked::BackToApp(location));
    }
    let fail =
        |error: &str, description: &str| refusal(redirect_uri, error, description, app_state).map(Checked::BackToApp);
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is required"),
        Some(_) => return fail("unsupported_response_type", "Only response_type=code is supported"),
    }
    let Some(challenge) = params.code_challenge.as_deref() else {
        return fail("invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256");
    };
    if params.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if !is_s256_challenge(challenge) {
        return fail("invalid_request", "code_challenge must be 43 base64url characters");
    }
    let requested = match scopes::parse_list(params.scope.as_deref().unwrap_or("")) {
        Ok(requested) if requested.is_empty() => return fail("invalid_scope", "scope is required"),
        Ok(requested) => requested,
        Err(_) => return fail("invalid_scope", "scope names an unknown scope"),
    };
    if requested.iter().any(|s| !app.scopes.iter().any(|a| a == s.name())) {
        return fail("invalid_scope", "scope asks for more than this app may request");
    }
    Ok(Checked::Valid(Box::new(ValidRequest {
        redirect_uri: redirect_uri.to_owned(),
        state: params.state.clone(),
        challenge: challenge.to_owned(),
        scopes: requested,
        app,
    })))
}

impl ValidRequest {
    /// The scopes asked for and what each lets the app do.
    pub fn scope_views(&self) -> Vec<ScopeView> {
        self.scopes.iter().map(|s: &Scope| ScopeView { scope: s.name(), description: s.description() }).collect()
    }

    /// The `Location` that tells the app the user said no.
    pub fn denied(&self) -> Result<String, ApiError> {
        self.refusal("access_denied", "The user denied the request")
    }

    /// The `Location` of an error redirect for this request.
    pub fn refusal(&self, error: &str, description: &str) -> Result<String, ApiError> {
        refusal(&self.redirect_uri, error, description, self.state.as_deref())
    }

    /// Records the user's consent, issues a code, and returns the `Location` that hands
    /// it (with `state`) to the app.
    pub async fn approve(&self, state: &IdentityState, grantor: Grantor) -> Result<String, ApiError> {
        let repo = OAuthRepository::new(&state.services.store);
        let now = time_format::now();
        let scope_names = scopes::names(&self.scopes);
        let (app, org_id) = (&self.app, grantor.org_id.clone());
        let grant = repo.approve(&org_id, &grantor.user_id, &app.client_id, &app.name, &scope_names, now).await?;
        let code_id = shared::domain::ids::new(Kind::AuthorizationCode.id_prefix());
        let secret = credentials::random_secret()?;
        let code = credentials::format(Kind::AuthorizationCode, &org_id, &code_id, Some(&secret))
            .ok_or_else(|| ApiError::internal("organization id is not an org ULID"))?;
        let record = AuthorizationCode {
            id: code_id,
            secret_hash: shared::auth::api_key::digest(&secret),
            client_id: app.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.challenge.clone(),
            grantor,
            scopes: scope_names,
            grant_id: grant.grant_id,
            created_at: now,
            expires_at: (now + CODE_LIFETIME).unix_timestamp(),
            used_at: None,
        };
        repo.insert_code(&record).await?;
        tracing::info!(client_id = %app.client_id, "authorization code issued");
        let mut to = vec![("code", code.as_str())];
        if let Some(s) = self.state.as_deref() {
            to.push(("state", s));
        }
        back_to_app(&self.redirect_uri, &to)
    }
}

/// Ask a signed-in user to authorize an app.
#[utoipa::path(get, path = "/oauth/authorize", operation_id = "authorize", tag = "oauth", params(AuthorizeParams),
    description = "OAuth 2.0 authorization endpoint (authorization code with PKCE S256). \
        A browser without a bearer token (`Accept: text/html`) gets Doorstep's sign-in and consent page (see \
        `POST /oauth/authorize`). A signed-in user's client (bearer JWT) drives it as an API: \
        without `consent`, answers 200 with what the app asks for, for the client to show; with `consent=approve` \
        redirects to `redirect_uri?code=...&state=...` (the code is single use, valid 10 minutes); with `consent=deny` \
        redirects with `error=access_denied`. Once the client and redirect URI are valid, other errors are redirects \
        with `error` per RFC 6749 §4.1.2.1; before that they are 400 (JSON, or an HTML page) and nothing redirects.",
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "What the app asks for (JSON), or the sign-in or consent page (HTML)",
            content((SuccessEnvelope<ConsentRequest> = "application/json"), (String = "text/html"))),
        (status = 302, description = "Back to the app with `code` and `state`, or with `error`"),
        (status = 400, description = "Unknown client or unregistered redirect URI: no redirect", body = ErrorEnvelope),
        (status = 401, description = "Not signed in, and not a browser", body = ErrorEnvelope),
        (status = 403, description = "An API key or an app's token cannot authorize apps", body = ErrorEnvelope),
    ))]
pub async fn authorize(
    State(state): State<IdentityState>,
    principal: Option<Principal>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Result<Response, ApiError> {
    let Some(principal) = principal else {
        if hosted::is_browser(&headers) {
            return Ok(hosted::page(&state, &headers, &params).await);
        }
        return Err(ApiError::AuthenticationFailed("Sign in first: send the user's Bearer token"));
    };
    let user = signed_in_user(&principal)?;
    let request = match check(&state, &params).await? {
        Checked::Valid(request) => request,
        Checked::BackToApp(location) => return found(&location),
    };

    match params.consent.as_deref() {
        None => {
            let consent = ConsentRequest {
                client_id: request.app.client_id.clone(),
                app_name: request.app.name.clone(),
                app_description: request.app.description.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scope_views(),
                state: params.state.clone(),
            };
            let mut response = ApiResponse::ok(consent).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Some("deny") => found(&request.denied()?),
        Some("approve") => {
            let grantor = Grantor {
                user_id: user.user_id.to_owned(),
                org_id: principal.org_id.clone(),
                email: user.email.map(str::to_owned),
                roles: user.roles.clone(),
                tenant_profile_id: user.tenant_profile_id.map(str::to_owned),
                plan: principal.plan,
            };
            found(&request.approve(&state, grantor).await?)
        }
        Some(_) => found(&request.refusal("invalid_request", "consent must be approve or deny")?),
    }
}
