//! TOTP multi-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
//! clock skew). A code's time step is accepted once per user. Turning MFA on or off needs
//! the current password; turning it on issues one-time recovery codes.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::ApiError;
use shared::auth::{Actor, Principal};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use totp_rs::{Builder, Secret, Totp};
use utoipa::ToSchema;

use crate::IdentityState;
use crate::accounts::model::{Organization, User, UserStatus};
use crate::accounts::opaque::{self, TokenKind};
use crate::accounts::passwords;
use crate::accounts::sessions::{count_failure, now_seconds, reserve_attempt, start_session};
use crate::accounts::store::{AccountStore, UserChange};
use crate::accounts::views::{LoginResult, TokenResponse};

/// The issuer shown in authenticator apps.
const ISSUER: &str = "Doorstep";
/// Code checks one MFA challenge allows, each reserved before the code is looked at.
const MAX_CHALLENGE_ATTEMPTS: u32 = 5;
const CHALLENGE_FAILED: &str = "Invalid or expired MFA challenge or code";
const REAUTHENTICATION_FAILED: &str = "The password is wrong, or the account is locked for a while";
/// Recovery codes issued when MFA is turned on.
const RECOVERY_CODES: usize = 10;

fn totp(secret_base32: &str, email: &str) -> Result<Totp, ApiError> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|e| ApiError::internal(e.to_string()))?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(email.replace(':', ""))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The time step a code matches, if it is valid now and newer than the last accepted one.
fn accepted_step(user: &User, secret: &str, code: &str) -> Result<Option<u64>, ApiError> {
    let step = totp(secret, &user.email)?.check_current(code.trim());
    Ok(step.filter(|step| user.mfa_last_step.is_none_or(|last| *step > last)))
}

fn user_id(principal: &Principal) -> Result<&str, ApiError> {
    match &principal.actor {
        Actor::User { user_id, .. } if principal.scopes.is_none() => Ok(user_id),
        _ => Err(ApiError::InsufficientPermissions("Only a signed-in user can manage their MFA".into())),
    }
}

/// A new TOTP secret for an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaSetup {
    /// Base32; shown once.
    pub secret: String,
    /// `otpauth://totp/...` for a QR code.
    pub otpauth_uri: String,
}

/// The current password, asked again before MFA is turned on or off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaPasswordRequest {
    pub password: String,
}

/// Checks the signed-in user's password again. The check is an attempt like a sign-in:
/// reserved on the account first, and a wrong password counts toward the lockout.
async fn reauthenticate(state: &IdentityState, principal: &Principal, password: String) -> Result<User, ApiError> {
    let refused = || ApiError::InsufficientPermissions(REAUTHENTICATION_FAILED.into());
    let id = user_id(principal)?;
    let now = now_seconds();
    if password.chars().count() > crate::accounts::model::MAX_PASSWORD_CHARS {
        return Err(refused());
    }
    let Some(user) = reserve_attempt(state, &principal.org_id, id, now).await? else { return Err(refused()) };
    if !passwords::verify(password, Some(user.password_hash.clone())).await? {
        count_failure(state, &user, now).await?;
        return Err(refused());
    }
    AccountStore::new(&state.services.store).release_attempt(&user.org_id, &user.id).await?;
    if user.status != UserStatus::Active {
        return Err(refused());
    }
    Ok(user)
}

/// Start enabling MFA (with the current password): returns a TOTP secret; confirm it
/// with a code at `mfa/verify`.
#[utoipa::path(post, path = "/api/v1/identity/mfa/setup", operation_id = "setupMfa", tag = "identity",
    request_body = MfaPasswordRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "A new TOTP secret", body = SuccessEnvelope<MfaSetup>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Wrong password or locked account, or not a user's own token", body = ErrorEnvelope),
        (status = 409, description = "MFA is already enabled", body = ErrorEnvelope),
        (status = 422, description = "No password", body = ErrorEnvelope),
    ))]
pub async fn setup(
    State(state): State<IdentityState>,
    principal: Principal,
    body: Json<MfaPasswordRequest>,
) -> Result<Response, ApiError> {
    user_id(&principal)?;
    let body = body.accept()?;
    let user = reauthenticate(&state, &principal, body.value.password).await?;
    if user.mfa_enabled {
        return Err(ApiError::Conflict("MFA is already enabled".into()));
    }
    let secret = Secret::from(opaque::random_bytes::<20>()?).to_base32();
    let uri = totp(&secret, &user.email)?.to_url().map_err(|e| ApiError::internal(e.to_string()))?;
    if !AccountStore::new(&state.services.store).set_pending_mfa(&user, &secret).await? {
        return Err(ApiError::NotFound("User"));
    }
    Ok(ApiResponse::ok(MfaSetup { secret, otpauth_uri: uri }).no_store().into_response())
}

/// Turn MFA off (with the current password): the TOTP secret and the recovery codes are
/// discarded, and sign-in needs the password only.
#[utoipa::path(post, path = "/api/v1/identity/mfa/disable", operation_id = "disableMfa", tag = "identity",
    request_body = MfaPasswordRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "`{mfa_enabled: false}`", body = SuccessEnvelope<MfaEnabled>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Wrong password or locked account, or not a user's own token", body = ErrorEnvelope),
        (status = 422, description = "No password", body = ErrorEnvelope),
    ))]
pub async fn disable(
    State(state): State<IdentityState>,
    principal: Principal,
    body: Json<MfaPasswordRequest>,
) -> Result<Response, ApiError> {
    user_id(&principal)?;
    let body = body.accept()?;
    let user = reauthenticate(&state, &principal, body.value.password).await?;
    if !AccountStore::new(&state.services.store).disable_mfa(&user).await? {
        return Err(ApiError::NotFound("User"));
    }
    tracing::info!(user_id = %user.id, "MFA turned off");
    Ok(ApiResponse::ok(MfaEnabled { mfa_enabled: false, recovery_codes: None }).into_response())
}

/// New recovery codes: what the user is shown (16 base32 characters in groups of four,
/// 80 random bits each) and the digests that are stored.
fn new_recovery_codes() -> Result<(Vec<String>, Vec<String>), ApiError> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut digests = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = Secret::from(opaque::random_bytes::<10>()?).to_base32().to_lowercase();
        let groups: Vec<&str> = (0..raw.len()).step_by(4).map(|i| &raw[i..(i + 4).min(raw.len())]).collect();
        digests.push(opaque::digest(&raw));
        shown.push(groups.join("-"));
    }
    Ok((shown, digests))
}

/// The digest of what was typed as a recovery code (any case, hyphens and spaces
/// ignored), or `None` when it looks like a TOTP code.
fn recovery_digest(code: &str) -> Option<String> {
    let normalized: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase();
    (normalized.len() == 16 && normalized.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| opaque::digest(&normalized))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaVerifyRequest {
    /// The 6-digit code from the authenticator app; at sign-in, a recovery code also works
    /// (once).
    pub code: String,
    /// From a sign-in that answered `mfa_required`; without it, confirms `mfa/setup`
    /// for the signed-in user.
    #[serde(default)]
    pub mfa_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaEnabled {
    pub mfa_enabled: bool,
    /// When MFA is turned on: ten one-time codes, each usable once in place of a TOTP
    /// code. Shown only now; only their digests are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Complete an MFA sign-in (`{mfa_token, code}` → tokens) or confirm MFA setup
/// (`{code}`, signed in).
#[utoipa::path(post, path = "/api/v1/identity/mfa/verify", operation_id = "verifyMfa", tag = "identity",
    request_body = MfaVerifyRequest, security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Tokens (sign-in) or `{mfa_enabled: true}` (setup)", body = SuccessEnvelope<LoginResult>),
        (status = 400, description = "No MFA setup to confirm, or a wrong code", body = ErrorEnvelope),
        (status = 401, description = "Invalid or expired challenge or code", body = ErrorEnvelope),
    ))]
pub async fn verify(
    State(state): State<IdentityState>,
    principal: Option<Principal>,
    body: Json<MfaVerifyRequest>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let MfaVerifyRequest { code, mfa_token } = body.value;
    match mfa_token {
        Some(token) => complete_sign_in(&state, &token, &code).await,
        None => {
            let principal = principal
                .ok_or(ApiError::AuthenticationFailed("Send an mfa_token, or sign in to confirm MFA setup"))?;
            confirm_setup(&state, &principal, &code).await
        }
    }
}

async fn complete_sign_in(state: &IdentityState, token: &str, code: &str) -> Result<Response, ApiError> {
    let (user, org) = check_challenge(state, token, code).await?;
    let tokens: TokenResponse = start_session(state, &user, org.plan, true).await?;
    Ok(ApiResponse::ok(LoginResult::Tokens(Box::new(tokens))).no_store().into_response())
}

/// Redeems an MFA challenge with a TOTP code or an unused recovery code: every sign-in
/// form's second step. Each check is reserved on the challenge and on the account before
/// the code is looked at; a wrong code counts toward the account lockout; only the
/// user's latest challenge works. Any failure is the same 401. The account's reserved
/// attempt stays counted until the caller starts a session, which clears the count.
pub async fn check_challenge(state: &IdentityState, token: &str, code: &str) -> Result<(User, Organization), ApiError> {
    let invalid = || ApiError::AuthenticationFailed(CHALLENGE_FAILED);
    let (org_id, digest) = opaque::parse(TokenKind::MfaChallenge, token).ok_or_else(invalid)?;
    let store = AccountStore::new(&state.services.store);
    let now = now_seconds();
    let challenge = store.get_token(TokenKind::MfaChallenge, &org_id, &digest).await?.ok_or_else(invalid)?;
    // Both the challenge's attempt and the account's are taken before the code is looked
    // at, so concurrent guesses get no more checks than the limits allow.
    if !store.reserve_challenge_attempt(&challenge, MAX_CHALLENGE_ATTEMPTS, now).await? {
        return Err(invalid());
    }
    let (user, org) =
        tokio::join!(reserve_attempt(state, &org_id, &challenge.user_id, now), store.get_organization(&org_id));
    let (Some(user), Some(org)) = (user?, org?) else { return Err(invalid()) };
    let outstanding = user.mfa_challenge.as_deref() == Some(challenge.digest.as_str());
    let secret = user.mfa_secret.clone().filter(|_| user.mfa_enabled && user.status == UserStatus::Active);
    let change = match (secret, recovery_digest(code)) {
        (Some(_), Some(digest)) if outstanding && user.mfa_recovery_codes.contains(&digest) => {
            Some(UserChange::MfaRecovery(digest))
        }
        (Some(secret), None) if outstanding => accepted_step(&user, &secret, code)?.map(UserChange::MfaStep),
        _ => None,
    };
    let Some(change) = change else {
        count_failure(state, &user, now).await?;
        tracing::info!("MFA code refused");
        return Err(invalid());
    };
    if !store.consume_token(TokenKind::MfaChallenge, &challenge, change, now).await? {
        return Err(invalid());
    }
    Ok((user, org))
}

async fn confirm_setup(state: &IdentityState, principal: &Principal, code: &str) -> Result<Response, ApiError> {
    let store = AccountStore::new(&state.services.store);
    let user = store.get_user(&principal.org_id, user_id(principal)?).await?.ok_or(ApiError::NotFound("User"))?;
    let Some(pending) = user.mfa_pending_secret.clone() else {
        return Err(ApiError::BadRequest("There is no MFA setup to confirm; call mfa/setup first".into()));
    };
    let Some(step) = accepted_step(&user, &pending, code)? else {
        return Err(ApiError::BadRequest("The code does not match; check the authenticator app's clock".into()));
    };
    let (recovery_codes, digests) = new_recovery_codes()?;
    if !store.confirm_mfa(&user, &pending, step, digests).await? {
        return Err(ApiError::Conflict("MFA setup changed meanwhile; start again".into()));
    }
    let enabled = MfaEnabled { mfa_enabled: true, recovery_codes: Some(recovery_codes) };
    Ok(ApiResponse::ok(enabled).no_store().into_response())
}
