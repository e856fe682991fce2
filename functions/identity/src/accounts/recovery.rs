//! Password reset and email verification: single-use, expiring tokens delivered by a
//! mail sender that listens for `identity.*_requested` events on the bus. The event is
//! an outbox message written with the token's digest in one transaction, so a token is
//! never stored without its mail (or mailed without being stored); the events relay
//! publishes it to the bus only, never into the organization's event log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::domain::Problems;
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::store::events::OutboxMessage;
use shared::{ApiError, time_format};
use utoipa::ToSchema;

use crate::IdentityState;
use crate::accounts::model::{self, User, UserStatus};
use crate::accounts::opaque::{self, TokenKind};
use crate::accounts::passwords;
use crate::accounts::sessions::now_seconds;
use crate::accounts::store::{AccountStore, TokenRecord, UserChange};

/// The `source` of identity's events.
pub const EVENT_SOURCE: &str = "doorstep.identity";
pub const PASSWORD_RESET_REQUESTED: &str = "identity.password_reset_requested";
pub const EMAIL_VERIFICATION_REQUESTED: &str = "identity.email_verification_requested";
const RESET_TOKEN_SECONDS: i64 = 3600;
const VERIFICATION_TOKEN_SECONDS: i64 = 7 * 24 * 3600;
/// How long the outbox keeps a message the relay could not publish yet: it carries a
/// token, so it is kept no longer than a reset token lives.
const OUTBOX_SECONDS: i64 = 3600;
const RESET_FAILED: &str = "The reset token is invalid, expired or already used";
const VERIFY_FAILED: &str = "The verification token is invalid, expired or already used";

/// The detail of a `*_requested` event: what a mail sender needs to write the message.
#[derive(Debug, Serialize)]
struct TokenMail<'a> {
    user_id: &'a str,
    organization_id: &'a str,
    email: &'a str,
    first_name: &'a str,
    /// The one-time token to put in the link.
    token: &'a str,
    expires_at: String,
}

/// Issues a one-time token for `user`: stores its digest together with the outbox
/// message that carries the token to the mail sender.
async fn issue_and_mail(
    state: &IdentityState,
    user: &User,
    kind: TokenKind,
    lifetime: i64,
    detail_type: &str,
) -> Result<(), ApiError> {
    let store = AccountStore::new(&state.services.store);
    let issued = opaque::issue(kind, &user.org_id)?;
    let now = now_seconds();
    let expires_at = now + lifetime;
    let record = TokenRecord {
        digest: issued.digest,
        org_id: user.org_id.clone(),
        user_id: user.id.clone(),
        family_id: None,
        expires_at,
        rotated_at: None,
        attempts: 0,
    };
    let expires = time::OffsetDateTime::from_unix_timestamp(expires_at).map_err(ApiError::internal)?;
    let detail = TokenMail {
        user_id: &user.id,
        organization_id: &user.org_id,
        email: &user.email,
        first_name: &user.first_name,
        token: &issued.token,
        expires_at: time_format::format(expires),
    };
    let detail = serde_json::to_string(&detail).map_err(ApiError::internal)?;
    let message = OutboxMessage::new(&user.org_id, EVENT_SOURCE, detail_type, detail)
        .put(&state.services.store, now + OUTBOX_SECONDS.min(lifetime))?;
    store.put_token_with_message(kind, &record, message).await?;
    Ok(())
}

/// Publishes `identity.email_verification_requested` for a new user.
pub async fn request_email_verification(state: &IdentityState, user: &User) -> Result<(), ApiError> {
    issue_and_mail(state, user, TokenKind::EmailVerification, VERIFICATION_TOKEN_SECONDS, EMAIL_VERIFICATION_REQUESTED)
        .await
}

/// A plain confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

/// Ask for a password reset. Always 202, whether or not the address is registered.
#[utoipa::path(post, path = "/api/v1/identity/forgot-password", operation_id = "forgotPassword", tag = "identity",
    request_body = ForgotPasswordRequest, security(()),
    responses((status = 202, description = "If the address is registered, a reset token is on its way", body = SuccessEnvelope<Message>)))]
pub async fn forgot_password(
    State(state): State<IdentityState>,
    body: Json<ForgotPasswordRequest>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    if let Ok(email) = model::parse_email(&body.value.email) {
        let store = AccountStore::new(&state.services.store);
        if let Some(claim) = store.email_claim(&email).await? {
            let user = store.get_user(&claim.org_id, &claim.user_id).await?;
            if let Some(user) = user.filter(|u| u.status == UserStatus::Active) {
                issue_and_mail(&state, &user, TokenKind::PasswordReset, RESET_TOKEN_SECONDS, PASSWORD_RESET_REQUESTED)
                    .await?;
            }
        }
    }
    let message = Message { message: "If the address is registered, a password reset message is on its way" };
    Ok(ApiResponse::ok(message).with_status(StatusCode::ACCEPTED).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: String,
    /// 10 to 128 characters.
    pub new_password: String,
}

/// Set a new password with a reset token. The token works once; every session of the
/// user is revoked.
#[utoipa::path(post, path = "/api/v1/identity/reset-password", operation_id = "resetPassword", tag = "identity",
    request_body = ResetPasswordRequest, security(()),
    responses(
        (status = 200, description = "Password changed", body = SuccessEnvelope<Message>),
        (status = 400, description = "Invalid, expired or used token", body = ErrorEnvelope),
        (status = 422, description = "Password too short or too long", body = ErrorEnvelope),
    ))]
pub async fn reset_password(
    State(state): State<IdentityState>,
    body: Json<ResetPasswordRequest>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let ResetPasswordRequest { token, new_password } = body.value;
    let mut problems = Problems::new();
    model::check_password(&mut problems, "new_password", &new_password);
    problems.into_result()?;
    let invalid = || ApiError::BadRequest(RESET_FAILED.into());
    let (org_id, digest) = opaque::parse(TokenKind::PasswordReset, &token).ok_or_else(invalid)?;
    let store = AccountStore::new(&state.services.store);
    let record = store.get_token(TokenKind::PasswordReset, &org_id, &digest).await?.ok_or_else(invalid)?;
    let now = now_seconds();
    if record.expires_at <= now {
        return Err(invalid());
    }
    let password_hash = passwords::hash(new_password).await?;
    let at = i64::try_from(time_format::now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let change = UserChange::PasswordReset { password_hash, at };
    if !store.consume_token(TokenKind::PasswordReset, &record, change, now).await? {
        return Err(invalid());
    }
    crate::oauth::end_user_grants(&state.services.store, &record.org_id, &record.user_id).await?;
    Ok(ApiResponse::ok(Message { message: "Password changed; sign in again" }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailVerified {
    pub email_verified: bool,
}

/// Confirm an email address with the token from `identity.email_verification_requested`.
#[utoipa::path(post, path = "/api/v1/identity/verify-email", operation_id = "verifyEmail", tag = "identity",
    request_body = VerifyEmailRequest, security(()),
    responses(
        (status = 200, description = "The address is verified", body = SuccessEnvelope<EmailVerified>),
        (status = 400, description = "Invalid, expired or used token", body = ErrorEnvelope),
    ))]
pub async fn verify_email(
    State(state): State<IdentityState>,
    body: Json<VerifyEmailRequest>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let invalid = || ApiError::BadRequest(VERIFY_FAILED.into());
    let (org_id, digest) = opaque::parse(TokenKind::EmailVerification, &body.value.token).ok_or_else(invalid)?;
    let store = AccountStore::new(&state.services.store);
    let record = store.get_token(TokenKind::EmailVerification, &org_id, &digest).await?.ok_or_else(invalid)?;
    let now = now_seconds();
    if record.expires_at <= now
        || !store.consume_token(TokenKind::EmailVerification, &record, UserChange::EmailVerified, now).await?
    {
        return Err(invalid());
    }
    Ok(ApiResponse::ok(EmailVerified { email_verified: true }).into_response())
}
