//! Register, login, refresh and logout: sessions of RS256 access tokens and rotating,
//! single-use refresh tokens grouped in families.

use shared::http::access::SourceIp;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::Role;
use shared::auth::jwt::Claims;
use shared::domain::{Plan, Problems};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::{ApiError, time_format};
use utoipa::ToSchema;

use crate::IdentityState;
use crate::accounts::model::{self, Organization, User, UserStatus};
use crate::accounts::opaque::{self, TokenKind};
use crate::accounts::passwords;
use crate::accounts::store::{AccountStore, Rotation, Session, TokenRecord};
use crate::accounts::views::{LoginResult, MfaChallenge, OrganizationView, RegisterResponse, TokenResponse, UserView};

/// The one answer to every failed sign-in, whatever the reason.
pub const LOGIN_FAILED: &str = "Invalid email or password";
const REFRESH_FAILED: &str = "Invalid or expired refresh token";
/// Ids no account ever gets (ids are ULIDs of the present time).
const NO_SUCH_ORG: &str = "org_00000000000000000000000000";
const NO_SUCH_USER: &str = "user_00000000000000000000000000";
/// How long an MFA challenge stays valid.
pub const MFA_CHALLENGE_SECONDS: i64 = 300;

pub fn now_seconds() -> i64 {
    time_format::now().unix_timestamp()
}

fn now_millis() -> i64 {
    i64::try_from(time_format::now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Reserves a sign-in attempt (a password or a second factor) on the account before it
/// is checked, within the configured lockout; `None` when refused (locked, at the limit,
/// or no such user).
pub async fn reserve_attempt(
    state: &IdentityState,
    org_id: &str,
    user_id: &str,
    now: i64,
) -> Result<Option<User>, ApiError> {
    let settings = &state.settings;
    let store = AccountStore::new(&state.services.store);
    let stale_after = now - settings.lockout_seconds();
    Ok(store.reserve_attempt(org_id, user_id, settings.max_failed_logins, now, stale_after).await?)
}

/// Keeps a reserved attempt that failed as a failure; the one that reached the limit
/// locks the account for the configured time.
pub async fn count_failure(state: &IdentityState, user: &User, now: i64) -> Result<(), ApiError> {
    let settings = &state.settings;
    let lock_until = now + settings.lockout_seconds();
    let store = AccountStore::new(&state.services.store);
    store.lock_if_exhausted(&user.org_id, &user.id, user.failed_logins, settings.max_failed_logins, lock_until).await?;
    Ok(())
}

/// Signs an access token for `user` with the platform API's claims plus the plan.
pub async fn access_token(state: &IdentityState, user: &User, plan: Plan) -> Result<String, ApiError> {
    let now = now_seconds();
    let ttl = i64::try_from(state.settings.access_token_ttl.as_secs()).unwrap_or(900);
    let claims = Claims {
        sub: user.id.clone(),
        email: Some(user.email.clone()),
        org_id: user.org_id.clone(),
        org_roles: user.roles.iter().map(|r| r.name().to_owned()).collect(),
        permissions: user.effective_permissions(),
        tenant_profile_id: user.tenant_profile_id.clone(),
        jti: ulid::Ulid::generate().to_string(),
        iat: now,
        exp: now + ttl,
        aud: state.services.config.jwt_audience.clone(),
        iss: state.services.config.jwt_issuer.clone(),
        scope: None,
        client_id: None,
        plan: Some(plan),
    };
    state.signer.get().await?.sign(&claims).map_err(ApiError::internal)
}

/// Starts a session for a signed-in user: a new refresh-token family and an access token.
pub async fn start_session(
    state: &IdentityState,
    user: &User,
    plan: Plan,
    clear_failures: bool,
) -> Result<TokenResponse, ApiError> {
    let refresh = opaque::issue(TokenKind::Refresh, &user.org_id)?;
    let expires_at = now_seconds() + i64::try_from(state.settings.refresh_token_ttl.as_secs()).unwrap_or(0);
    let session = Session {
        family_id: shared::domain::ids::new("ses"),
        org_id: user.org_id.clone(),
        user_id: user.id.clone(),
        created_at: now_millis(),
        revoked_at: None,
        expires_at,
    };
    let record = TokenRecord {
        digest: refresh.digest,
        org_id: user.org_id.clone(),
        user_id: user.id.clone(),
        family_id: Some(session.family_id.clone()),
        expires_at,
        rotated_at: None,
        attempts: 0,
    };
    AccountStore::new(&state.services.store).start_session(&session, &record, clear_failures).await?;
    Ok(TokenResponse {
        access_token: access_token(state, user, plan).await?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token: refresh.token,
        user: UserView::from(user),
    })
}

/// `POST /register` body. The plan is server-owned (it sets the rate-limit tier): a new
/// organization starts on `standard`, and a body naming `plan` is refused like any
/// unknown field (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "owner@example.com")]
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub organization_name: String,
}

/// Register an organization and its owner.
#[utoipa::path(post, path = "/api/v1/identity/register", operation_id = "register", tag = "identity",
    request_body = RegisterRequest, security(()),
    responses(
        (status = 201, description = "Organization, owner and a session", body = SuccessEnvelope<RegisterResponse>,
            headers(("Location" = String))),
        (status = 409, description = "The email is already registered", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn register(State(state): State<IdentityState>, body: Json<RegisterRequest>) -> Result<Response, ApiError> {
    let input = body.accept()?.value;
    let mut problems = Problems::new();
    let model::AccountFields { email, first_name, last_name } =
        model::check_new_account(&mut problems, &input.email, &input.password, &input.first_name, &input.last_name);
    let org_name = problems.text("organization_name", &input.organization_name, 1, 200);
    problems.into_result()?;
    let Some(email) = email else { return Err(ApiError::invalid_field("email", "must be an email address")) };

    let now = time_format::now();
    let org = Organization {
        id: shared::domain::ids::new("org"),
        name: org_name,
        plan: Plan::default(),
        owner_count: 1,
        created_at: now,
        updated_at: now,
    };
    let password_hash = passwords::hash(input.password).await?;
    let owner = User::new_account(
        org.id.clone(),
        email,
        first_name,
        last_name,
        vec![Role::OrganizationOwner],
        password_hash,
        now,
    );
    Result::from(AccountStore::new(&state.services.store).create_organization(&org, &owner).await?)?;
    crate::accounts::recovery::request_email_verification(&state, &owner).await?;
    let session = start_session(&state, &owner, org.plan, false).await?;
    let response = RegisterResponse {
        user: session.user,
        organization: OrganizationView::from(&org),
        access_token: session.access_token,
        token_type: session.token_type,
        expires_in: session.expires_in,
        refresh_token: session.refresh_token,
    };
    Ok(ApiResponse::created(response, &format!("/api/v1/identity/users/{}", owner.id)).no_store().into_response())
}

/// `POST /login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Sign in with email and password.
///
/// A wrong password, an unknown email and a locked account all answer the same 401.
/// Users with MFA get an `mfa_token` to complete at `/api/v1/identity/mfa/verify`.
#[utoipa::path(post, path = "/api/v1/identity/login", operation_id = "login", tag = "identity",
    request_body = LoginRequest, security(()),
    responses(
        (status = 200, description = "Tokens, or an MFA challenge", body = SuccessEnvelope<LoginResult>),
        (status = 401, description = "Invalid email or password", body = ErrorEnvelope),
        (status = 422, description = "Missing fields", body = ErrorEnvelope),
        (status = 429, description = "Too many failed sign-ins from this address", body = ErrorEnvelope,
            headers(("Retry-After" = u64))),
    ))]
pub async fn login(
    State(state): State<IdentityState>,
    SourceIp(ip): SourceIp,
    body: Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let LoginRequest { email, password } = body.value;
    let (user, org) = check_password(&state, &ip, &email, password).await?;
    if user.mfa_enabled {
        let challenge = issue_mfa_challenge(&state, &user).await?;
        return Ok(ApiResponse::ok(LoginResult::MfaRequired(challenge)).no_store().into_response());
    }
    let tokens = start_session(&state, &user, org.plan, true).await?;
    Ok(ApiResponse::ok(LoginResult::Tokens(Box::new(tokens))).no_store().into_response())
}

/// Checks an email and password from `ip`, with the source-IP throttle and the account
/// lockout: every sign-in form goes through here. Any failure is the same 401 (or a 429
/// once the address has failed too often).
///
/// The attempt is reserved on the address, then on the account, before the password is
/// checked, so concurrent guesses get no more checks than the limits allow. On success
/// the address's reservation is given back; the account's stays counted until the
/// caller starts a session (which clears the count) or issues an MFA challenge (which
/// gives it back).
pub async fn check_password(
    state: &IdentityState,
    ip: &str,
    email: &str,
    password: String,
) -> Result<(User, Organization), ApiError> {
    if password.chars().count() > model::MAX_PASSWORD_CHARS {
        return Err(ApiError::AuthenticationFailed(LOGIN_FAILED));
    }
    let store = AccountStore::new(&state.services.store);
    let settings = &state.settings;
    let now = now_seconds();
    let window = i64::try_from(settings.ip_window.as_secs()).unwrap_or(900).max(1);
    let window_now = state.services.rate_limiter.now();
    let window_start = window_now - window_now.rem_euclid(window);
    let email = model::parse_email(email).ok();

    let (reserved, claim) = tokio::join!(
        store.reserve_ip_attempt(ip, window_start, window_start + window, settings.ip_max_failures),
        async {
            match &email {
                Some(email) => store.email_claim(email).await,
                None => Ok(None),
            }
        }
    );
    if !reserved? {
        let retry_after = u64::try_from(window_start + window - window_now).unwrap_or(1).max(1);
        return Err(ApiError::RateLimited { retry_after });
    }
    // An unknown email reserves on a placeholder that cannot exist, so both cases make
    // the same round trips before the (equally slow) password check.
    let (org_id, user_id) =
        claim?.map_or_else(|| (NO_SUCH_ORG.to_owned(), NO_SUCH_USER.to_owned()), |c| (c.org_id, c.user_id));
    let (user, org) = tokio::join!(reserve_attempt(state, &org_id, &user_id, now), store.get_organization(&org_id));
    let (user, org) = (user?, org?);
    let password_ok = passwords::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match (user, org) {
        (Some(user), Some(org)) if password_ok && user.status == UserStatus::Active => {
            store.release_ip_attempt(ip, window_start).await?;
            Ok((user, org))
        }
        (user, _) => {
            match user {
                Some(user) if !password_ok => count_failure(state, &user, now).await?,
                // A disabled account's right password is no guess: give the attempt back.
                Some(user) => store.release_attempt(&user.org_id, &user.id).await?,
                None => {}
            }
            tracing::info!(source_ip = %ip, "sign-in refused");
            Err(ApiError::AuthenticationFailed(LOGIN_FAILED))
        }
    }
}

/// A short-lived, single-use MFA challenge for a user whose password was right. It
/// replaces any earlier one, and gives back the attempt reserved for the password: the
/// password was no failure, but it does not clear the count either, so a new challenge
/// brings no fresh guesses at the code.
pub async fn issue_mfa_challenge(state: &IdentityState, user: &User) -> Result<MfaChallenge, ApiError> {
    let challenge = opaque::issue(TokenKind::MfaChallenge, &user.org_id)?;
    let record = TokenRecord {
        digest: challenge.digest,
        org_id: user.org_id.clone(),
        user_id: user.id.clone(),
        family_id: None,
        expires_at: now_seconds() + MFA_CHALLENGE_SECONDS,
        rotated_at: None,
        attempts: 0,
    };
    let store = AccountStore::new(&state.services.store);
    let (issued, released) =
        tokio::join!(store.start_mfa_challenge(&record), store.release_attempt(&user.org_id, &user.id));
    issued?;
    released?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: challenge.token,
        expires_in: u64::try_from(MFA_CHALLENGE_SECONDS).unwrap_or(300),
    })
}

/// `POST /refresh` and `POST /logout` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new access token and a new refresh token.
///
/// Each refresh token works once. Presenting one that was already exchanged revokes its
/// whole session, so a stolen token is useless once either party has used it.
#[utoipa::path(post, path = "/api/v1/identity/refresh", operation_id = "refresh", tag = "identity",
    request_body = RefreshRequest, security(()),
    responses(
        (status = 200, description = "New tokens", body = SuccessEnvelope<TokenResponse>),
        (status = 401, description = "Invalid, expired, reused or revoked refresh token", body = ErrorEnvelope),
    ))]
pub async fn refresh(State(state): State<IdentityState>, body: Json<RefreshRequest>) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let invalid = || ApiError::AuthenticationFailed(REFRESH_FAILED);
    let (org_id, digest) = opaque::parse(TokenKind::Refresh, &body.value.refresh_token).ok_or_else(invalid)?;
    let store = AccountStore::new(&state.services.store);
    let now = now_seconds();
    let old = store.get_token(TokenKind::Refresh, &org_id, &digest).await?.ok_or_else(invalid)?;
    let family_id = old.family_id.clone().ok_or_else(invalid)?;
    if old.rotated_at.is_some() {
        // A replay: whoever holds the newer token may be an attacker, or the victim.
        store.revoke_session(&org_id, &family_id, now).await?;
        tracing::warn!(session = %family_id, "refresh token reused; session revoked");
        return Err(invalid());
    }
    if old.expires_at <= now {
        return Err(invalid());
    }
    let (session, user, org) = tokio::join!(
        store.get_session(&org_id, &family_id),
        store.get_user(&org_id, &old.user_id),
        store.get_organization(&org_id),
    );
    let (Some(session), Some(user), Some(org)) = (session?, user?, org?) else { return Err(invalid()) };
    let revoked_by_user = user.sessions_valid_after.is_some_and(|after| session.created_at <= after);
    if session.revoked_at.is_some() || session.expires_at <= now || revoked_by_user || user.status != UserStatus::Active
    {
        return Err(invalid());
    }
    let next = opaque::issue(TokenKind::Refresh, &org_id)?;
    let record = TokenRecord {
        digest: next.digest,
        org_id: org_id.clone(),
        user_id: user.id.clone(),
        family_id: Some(family_id.clone()),
        expires_at: session.expires_at,
        rotated_at: None,
        attempts: 0,
    };
    match store.rotate_refresh(&old, &record, now).await? {
        Rotation::Done => {}
        Rotation::Reused => {
            store.revoke_session(&org_id, &family_id, now).await?;
            tracing::warn!(session = %family_id, "refresh token reused concurrently; session revoked");
            return Err(invalid());
        }
        Rotation::Revoked => return Err(invalid()),
    }
    let tokens = TokenResponse {
        access_token: access_token(&state, &user, org.plan).await?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token: next.token,
        user: UserView::from(&user),
    };
    Ok(ApiResponse::ok(tokens).no_store().into_response())
}

/// Sign out: revoke the session of a refresh token. Answers 204 whether or not the token
/// was still valid, so that signing out twice is harmless.
#[utoipa::path(post, path = "/api/v1/identity/logout", operation_id = "logout", tag = "identity",
    request_body = RefreshRequest, security(()),
    responses((status = 204, description = "The session is revoked")))]
pub async fn logout(State(state): State<IdentityState>, body: Json<RefreshRequest>) -> Result<Response, ApiError> {
    let body = body.accept()?;
    if let Some((org_id, digest)) = opaque::parse(TokenKind::Refresh, &body.value.refresh_token) {
        let store = AccountStore::new(&state.services.store);
        if let Some(family_id) = store.get_token(TokenKind::Refresh, &org_id, &digest).await?.and_then(|t| t.family_id)
        {
            store.revoke_session(&org_id, &family_id, now_seconds()).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
