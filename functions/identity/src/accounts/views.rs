//! What the identity routes answer with. No view carries a password hash or a TOTP secret.

use serde::Serialize;
use shared::ApiError;
use shared::auth::Role;
use shared::domain::Plan;
use shared::http::optimistic::Attempt;
use shared::time_format;
use utoipa::ToSchema;

use crate::accounts::model::{Organization, User, UserStatus};
use crate::accounts::store::{Created, Registered, Written};

fn email_taken() -> ApiError {
    ApiError::Conflict("This email is already registered".into())
}

/// What a registration's outcome tells the caller.
impl From<Registered> for Result<(), ApiError> {
    fn from(outcome: Registered) -> Self {
        match outcome {
            Registered::Done => Ok(()),
            Registered::EmailTaken => Err(email_taken()),
            Registered::OrganizationExists => Err(ApiError::internal("new organization id collided")),
        }
    }
}

/// What adding a user to the caller's organization tells the caller.
impl From<Created> for Result<(), ApiError> {
    fn from(outcome: Created) -> Self {
        match outcome {
            Created::Done => Ok(()),
            Created::EmailTaken => Err(email_taken()),
            Created::OrganizationMissing => Err(ApiError::NotFound("Organization")),
        }
    }
}

/// What a write to a user tells the caller; a lost race is for the write loop to retry.
impl TryFrom<Written> for Attempt<()> {
    type Error = ApiError;

    fn try_from(outcome: Written) -> Result<Self, ApiError> {
        match outcome {
            Written::Done => Ok(Attempt::Done(())),
            Written::VersionMismatch => Ok(Attempt::LostRace),
            Written::Missing => Err(ApiError::NotFound("User")),
            Written::LastOwner => {
                Err(ApiError::Conflict("The organization's last owner cannot be removed, disabled or demoted".into()))
            }
        }
    }
}

/// A user as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<Role>,
    /// Permissions granted on top of the roles'.
    pub permissions: Vec<String>,
    /// Links a Tenant-role user to their tenant record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_profile_id: Option<String>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            organization_id: user.org_id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            roles: user.roles.clone(),
            permissions: user.permissions.clone(),
            tenant_profile_id: user.tenant_profile_id.clone(),
            status: user.status,
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            version: user.version,
            created_at: time_format::format(user.created_at),
            updated_at: time_format::format(user.updated_at),
        }
    }
}

/// An organization as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub created_at: String,
}

impl From<&Organization> for OrganizationView {
    fn from(org: &Organization) -> Self {
        Self {
            id: org.id.clone(),
            name: org.name.clone(),
            plan: org.plan,
            created_at: time_format::format(org.created_at),
        }
    }
}

/// A signed-in session: a short-lived access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// RS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque, single-use: exchange it at `/api/v1/identity/refresh`.
    pub refresh_token: String,
    pub user: UserView,
}

/// The answer to a sign-in of a user with MFA: complete it at `/api/v1/identity/mfa/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Short-lived and single-use.
    pub mfa_token: String,
    /// Seconds until the challenge expires.
    pub expires_in: u64,
}

/// A sign-in answer: tokens, or an MFA challenge.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResult {
    Tokens(Box<TokenResponse>),
    MfaRequired(MfaChallenge),
}

/// The answer to a registration: the new organization, its owner, and a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user: UserView,
    pub organization: OrganizationView,
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}
