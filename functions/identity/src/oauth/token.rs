//! The token endpoint, `POST /oauth/token` (RFC 6749 §3.2, §4.1.3, §4.4, §6; PKCE RFC 7636).
//!
//! Requests are `application/x-www-form-urlencoded`; answers and errors are RFC 6749's
//! own JSON (`{"error", "error_description"}`), not Doorstep's envelope, because standard
//! OAuth client libraries parse exactly that.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::auth::jwt::Claims;
use shared::auth::permissions::PermissionSet;
use shared::auth::{Permission, Scope};
use shared::http::envelope::forbid_caching;
use shared::{ApiError, time_format};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::IdentityState;
use crate::accounts::model::UserStatus;
use crate::accounts::store::AccountStore;
use crate::oauth::credentials::{self, Kind};
use crate::oauth::repository::{Grantor, OAuthApp, OAuthRepository, Redeemed, RefreshToken};
use crate::oauth::scopes;

/// How long a refresh token lives; each rotation issues a new one for as long again.
pub const REFRESH_TOKEN_LIFETIME: time::Duration = time::Duration::days(30);
const MAX_BODY_BYTES: usize = 16 * 1024;

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type` or `invalid_scope`.
    #[schema(example = "invalid_grant")]
    pub error: &'static str,
    pub error_description: String,
    /// Client authentication used HTTP Basic: answer with a `WWW-Authenticate` challenge.
    #[serde(skip)]
    basic: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { error, error_description: description.into(), basic: false }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

/// What the token endpoint can fail with: an OAuth error, or an internal failure
/// (answered in the envelope with a 5xx, cause logged only).
#[derive(Debug)]
pub enum TokenError {
    OAuth(OAuthError),
    Api(ApiError),
}

impl From<OAuthError> for TokenError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<shared::store::StoreError> for TokenError {
    fn from(e: shared::store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::OAuth(error) => {
                let status =
                    if error.error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
                tracing::info!(error = error.error, status = status.as_u16(), "token request rejected");
                let basic = error.basic;
                let mut response = (status, axum::Json(error)).into_response();
                forbid_caching(response.headers_mut());
                if basic {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="doorstep""#));
                }
                response
            }
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// An RS256 JWT carrying `scope` and `client_id`.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: each refresh returns a new one. Absent for `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// The form fields of a token request (documentation; the handler reads the raw form).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    grant_type: String,
    /// authorization_code: the code from the redirect.
    code: Option<String>,
    /// authorization_code: the same redirect URI the code was issued for.
    redirect_uri: Option<String>,
    /// authorization_code: the PKCE verifier (43 to 128 characters).
    code_verifier: Option<String>,
    /// refresh_token: the refresh token.
    refresh_token: Option<String>,
    /// refresh_token, client_credentials: narrow the scopes (space-separated).
    scope: Option<String>,
    /// When not using HTTP Basic.
    client_id: Option<String>,
    /// When not using HTTP Basic.
    client_secret: Option<String>,
}

/// Reads the form; a parameter given twice is refused (RFC 6749 §3.2).
async fn read_form(request: Request) -> Result<(HeaderMap, HashMap<String, String>), OAuthError> {
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("The body must be application/x-www-form-urlencoded"));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| OAuthError::invalid_request("The body is larger than 16 KiB"))?;
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(&bytes) {
        if value.is_empty() {
            continue; // RFC 6749 §3.1: a parameter without a value is treated as omitted.
        }
        if form.insert(name.clone().into_owned(), value.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(format!("{name} is given more than once")));
        }
    }
    Ok((parts.headers, form))
}

/// `client_id`/`client_secret` from HTTP Basic (RFC 6749 §2.3.1: each form-encoded).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || OAuthError { basic: true, ..OAuthError::new("invalid_client", "Malformed Basic credentials") };
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// Authenticates the client (HTTP Basic, or `client_id`/`client_secret` in the form).
async fn authenticate_client(
    state: &IdentityState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<OAuthApp, TokenError> {
    let basic = basic_credentials(headers)?;
    let via_basic = basic.is_some();
    let (client_id, secret) = match basic {
        Some(_) if form.contains_key("client_secret") => {
            return Err(OAuthError::invalid_request("Use one client authentication method, not two").into());
        }
        Some((id, _)) if form.get("client_id").is_some_and(|body_id| *body_id != id) => {
            return Err(OAuthError::invalid_request("client_id differs from the Basic credentials").into());
        }
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                let mut error = OAuthError::new("invalid_client", "Client authentication is required");
                error.basic = true;
                return Err(error.into());
            }
        },
    };
    let invalid = || {
        let mut error = OAuthError::new("invalid_client", "Client authentication failed");
        error.basic = via_basic;
        TokenError::OAuth(error)
    };
    let owner = credentials::parse(Kind::ClientId, &client_id).ok_or_else(invalid)?;
    let app =
        OAuthRepository::new(&state.services.store).get_app(&owner.org_id, &client_id).await?.ok_or_else(invalid)?;
    if !credentials::secret_matches(&secret, &app.secret_hash) {
        return Err(invalid());
    }
    Ok(app)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_code_verifier(raw: &str) -> bool {
    (43..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name).map(String::as_str).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// Signs an access token for `sub` in `org_id`.
async fn access_token(
    state: &IdentityState,
    grantor: &Grantor,
    permissions: Vec<String>,
    client_id: &str,
    granted: &[Scope],
    now: OffsetDateTime,
) -> Result<(String, u64), ApiError> {
    let ttl = state.settings.access_token_ttl.as_secs();
    let config = &state.services.config;
    let claims = Claims {
        sub: grantor.user_id.clone(),
        email: grantor.email.clone(),
        org_id: grantor.org_id.clone(),
        org_roles: grantor.roles.clone(),
        permissions,
        tenant_profile_id: grantor.tenant_profile_id.clone(),
        jti: ulid::Ulid::generate().to_string(),
        iat: now.unix_timestamp(),
        exp: now.unix_timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        aud: config.jwt_audience.clone(),
        iss: config.jwt_issuer.clone(),
        scope: Some(scopes::join(granted)),
        client_id: Some(client_id.to_owned()),
        plan: Some(grantor.plan),
    };
    let token = state.signer.get().await?.sign(&claims).map_err(ApiError::internal)?;
    Ok((token, ttl))
}

/// A new refresh token record and its wire form.
fn next_refresh_token(
    family_id: &str,
    client_id: &str,
    grantor: &Grantor,
    scopes: &[String],
    grant_id: &str,
    authorized_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(RefreshToken, String), ApiError> {
    let id = shared::domain::ids::new(Kind::RefreshToken.id_prefix());
    let secret = credentials::random_secret()?;
    let wire = credentials::format(Kind::RefreshToken, &grantor.org_id, &id, Some(&secret))
        .ok_or_else(|| ApiError::internal("organization id is not an org ULID"))?;
    let record = RefreshToken {
        id,
        secret_hash: shared::auth::api_key::digest(&secret),
        family_id: family_id.to_owned(),
        client_id: client_id.to_owned(),
        grantor: grantor.clone(),
        scopes: scopes.to_vec(),
        grant_id: grant_id.to_owned(),
        created_at: now,
        authorized_at: Some(authorized_at),
        expires_at: (now + REFRESH_TOKEN_LIFETIME).unix_timestamp(),
        used_at: None,
    };
    Ok((record, wire))
}

fn issued(body: TokenResponse) -> Response {
    let mut response = axum::Json(body).into_response();
    forbid_caching(response.headers_mut());
    response
}

/// Parses stored scope names (written by this crate, so always known).
fn stored_scopes(names: &[String]) -> Vec<Scope> {
    scopes::parse_names(names).unwrap_or_default()
}

/// The grantor as the user stands now, with the granted scopes they still hold: every
/// permission a scope stands for must be theirs. Refused when the user is gone or
/// disabled, when they ended their sessions (a password reset) after `authorized_at`,
/// or when they hold none of the scopes any more.
async fn current_grantor(
    state: &IdentityState,
    grantor: &Grantor,
    granted: &[String],
    authorized_at: OffsetDateTime,
) -> Result<(Grantor, Vec<Scope>), TokenError> {
    let invalid = |why: &str| TokenError::OAuth(OAuthError::invalid_grant(why.to_owned()));
    let store = AccountStore::new(&state.services.store);
    let (user, org) =
        tokio::join!(store.get_user(&grantor.org_id, &grantor.user_id), store.get_organization(&grantor.org_id));
    let (Some(user), Some(org)) = (user?, org?) else { return Err(invalid("The user no longer exists")) };
    if user.status != UserStatus::Active {
        return Err(invalid("The user is disabled"));
    }
    let authorized_ms = i64::try_from(authorized_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if user.sessions_valid_after.is_some_and(|after| after >= authorized_ms) {
        return Err(invalid("The user signed out everywhere since the authorization"));
    }
    let holds = PermissionSet::from_roles(&user.roles, &user.permissions);
    let held: Vec<Scope> = stored_scopes(granted)
        .into_iter()
        .filter(|scope| scopes::permissions(*scope).iter().all(|p| holds.allows(*p)))
        .collect();
    if held.is_empty() {
        return Err(invalid("The user no longer holds any of the granted scopes"));
    }
    Ok((Grantor::of(&user, &org), held))
}

/// Revokes the refresh tokens descended from a replayed code or token.
async fn revoke_family(
    repo: &OAuthRepository<'_>,
    org_id: &str,
    family_id: &str,
    now: OffsetDateTime,
) -> Result<(), TokenError> {
    repo.revoke_family(org_id, family_id, now, (now + REFRESH_TOKEN_LIFETIME).unix_timestamp()).await?;
    tracing::warn!(family_id = %family_id, "a code or refresh token was replayed; its token family is revoked");
    Ok(())
}

async fn exchange_code(
    state: &IdentityState,
    app: &OAuthApp,
    form: &HashMap<String, String>,
) -> Result<Response, TokenError> {
    let raw = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let verifier = required(form, "code_verifier")?;
    let invalid = |why: &str| TokenError::OAuth(OAuthError::invalid_grant(why.to_owned()));
    let presented = credentials::parse(Kind::AuthorizationCode, raw).ok_or_else(|| invalid("The code is invalid"))?;
    let repo = OAuthRepository::new(&state.services.store);
    let code = repo
        .get_code(&presented.org_id, &presented.id)
        .await?
        .filter(|code| credentials::secret_matches(&presented.secret, &code.secret_hash))
        .ok_or_else(|| invalid("The code is invalid"))?;
    if code.client_id != app.client_id {
        return Err(invalid("The code was issued to another client"));
    }
    let now = time_format::now();
    if code.used_at.is_some() {
        revoke_family(&repo, &code.grantor.org_id, &code.id, now).await?;
        return Err(invalid("The code was already used; tokens issued from it are revoked"));
    }
    if code.expires_at <= now.unix_timestamp() {
        return Err(invalid("The code has expired"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(invalid("redirect_uri does not match the authorization request"));
    }
    if !is_code_verifier(verifier) || !pkce_matches(verifier, &code.code_challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    let (grantor, granted) = current_grantor(state, &code.grantor, &code.scopes, code.created_at).await?;
    let (refresh, refresh_wire) =
        next_refresh_token(&code.id, &app.client_id, &grantor, &code.scopes, &code.grant_id, code.created_at, now)?;
    match repo.redeem_code(&code, &refresh, now).await? {
        Redeemed::Done => {}
        Redeemed::AlreadyUsed => {
            revoke_family(&repo, &code.grantor.org_id, &code.id, now).await?;
            return Err(invalid("The code was already used; tokens issued from it are revoked"));
        }
        Redeemed::Revoked => return Err(invalid("The authorization was revoked")),
    }
    let (access, expires_in) = access_token(state, &grantor, Vec::new(), &app.client_id, &granted, now).await?;
    tracing::info!(client_id = %app.client_id, "authorization code exchanged");
    Ok(issued(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_wire),
        scope: scopes::join(&granted),
    }))
}

/// Requested scopes (optional) as a subset of `allowed`; absent means all of them.
fn narrowed(form: &HashMap<String, String>, allowed: &[Scope]) -> Result<Vec<Scope>, OAuthError> {
    let Some(raw) = form.get("scope") else { return Ok(allowed.to_vec()) };
    let requested =
        scopes::parse_list(raw).map_err(|_| OAuthError::new("invalid_scope", "scope names an unknown scope"))?;
    if requested.is_empty() || requested.iter().any(|s| !allowed.contains(s)) {
        return Err(OAuthError::new("invalid_scope", "scope asks for more than was granted"));
    }
    Ok(requested)
}

async fn refresh(
    state: &IdentityState,
    app: &OAuthApp,
    form: &HashMap<String, String>,
) -> Result<Response, TokenError> {
    let raw = required(form, "refresh_token")?;
    let invalid = |why: &str| TokenError::OAuth(OAuthError::invalid_grant(why.to_owned()));
    let presented =
        credentials::parse(Kind::RefreshToken, raw).ok_or_else(|| invalid("The refresh token is invalid"))?;
    let repo = OAuthRepository::new(&state.services.store);
    let used = repo
        .get_refresh_token(&presented.org_id, &presented.id)
        .await?
        .filter(|token| credentials::secret_matches(&presented.secret, &token.secret_hash))
        .ok_or_else(|| invalid("The refresh token is invalid"))?;
    if used.client_id != app.client_id {
        return Err(invalid("The refresh token was issued to another client"));
    }
    let now = time_format::now();
    if used.used_at.is_some() {
        revoke_family(&repo, &used.grantor.org_id, &used.family_id, now).await?;
        return Err(invalid("The refresh token was already used; its family is revoked"));
    }
    if used.expires_at <= now.unix_timestamp() {
        return Err(invalid("The refresh token has expired"));
    }
    let authorized_at = used.authorized_at.unwrap_or(used.created_at);
    let (grantor, held) = current_grantor(state, &used.grantor, &used.scopes, authorized_at).await?;
    let granted = narrowed(form, &held)?;
    let (next, next_wire) = next_refresh_token(
        &used.family_id,
        &app.client_id,
        &grantor,
        &used.scopes,
        &used.grant_id,
        authorized_at,
        now,
    )?;
    match repo.rotate(&used, &next, now).await? {
        Redeemed::Done => {}
        Redeemed::AlreadyUsed => {
            revoke_family(&repo, &used.grantor.org_id, &used.family_id, now).await?;
            return Err(invalid("The refresh token was already used; its family is revoked"));
        }
        Redeemed::Revoked => return Err(invalid("The authorization was revoked")),
    }
    let (access, expires_in) = access_token(state, &grantor, Vec::new(), &app.client_id, &granted, now).await?;
    Ok(issued(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(next_wire),
        scope: scopes::join(&granted),
    }))
}

/// The app acting for itself in its own organization (RFC 6749 §4.4): `sub` is the
/// client id, permissions are those stored at registration, no refresh token.
async fn client_credentials(
    state: &IdentityState,
    app: &OAuthApp,
    form: &HashMap<String, String>,
) -> Result<Response, TokenError> {
    let granted = narrowed(form, &stored_scopes(&app.scopes))?;
    let permissions: Vec<String> = app
        .client_permissions
        .iter()
        .filter(|p| Permission::parse(p).is_some_and(|p| granted.iter().any(|s| scopes::permissions(*s).contains(&p))))
        .cloned()
        .collect();
    let app_itself = Grantor {
        user_id: app.client_id.clone(),
        org_id: app.org_id.clone(),
        email: None,
        roles: Vec::new(),
        tenant_profile_id: None,
        plan: app.plan,
    };
    let now = time_format::now();
    let (access, expires_in) = access_token(state, &app_itself, permissions, &app.client_id, &granted, now).await?;
    Ok(issued(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        scope: scopes::join(&granted),
    }))
}

/// Exchange a code, rotate a refresh token, or authenticate an app for itself.
#[utoipa::path(post, path = "/oauth/token", operation_id = "token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    description = "OAuth 2.0 token endpoint (RFC 6749). Client authentication: HTTP Basic, or `client_id` and \
        `client_secret` in the form. Grants: `authorization_code` (with `code`, `redirect_uri`, `code_verifier`), \
        `refresh_token` (rotating: each refresh token works once; presenting a used one revokes every token of its \
        chain), `client_credentials` (the app in its own organization, with its registered scopes). \
        Deliberate exception to the envelope: answers and errors use RFC 6749's JSON (`{\"error\", \"error_description\"}`) \
        so that standard OAuth clients work; only internal failures (5xx) use the error envelope.",
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = TokenResponse),
        (status = 400, description = "RFC 6749 §5.2 error: invalid_request, invalid_grant, invalid_scope, unsupported_grant_type", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
    ))]
pub async fn token(State(state): State<IdentityState>, request: Request) -> Result<Response, TokenError> {
    let (headers, form) = read_form(request).await?;
    let grant_type = required(&form, "grant_type")?.to_owned();
    let app = authenticate_client(&state, &headers, &form).await?;
    match grant_type.as_str() {
        "authorization_code" => exchange_code(&state, &app, &form).await,
        "refresh_token" => refresh(&state, &app, &form).await,
        "client_credentials" => client_credentials(&state, &app, &form).await,
        _ => Err(OAuthError::new(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_code_verifier(verifier));
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!is_code_verifier("short"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("dsc_a%3Ab:s%2Bcret");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {encoded}")).unwrap());
        assert_eq!(basic_credentials(&headers).unwrap(), Some(("dsc_a:b".to_owned(), "s+cret".to_owned())));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers).unwrap_err().error, "invalid_client");
    }
}
