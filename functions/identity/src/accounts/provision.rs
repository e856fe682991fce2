//! Creating accounts outside a request: the demo organization that local tooling seeds.

use shared::ApiError;
use shared::auth::Role;
use shared::domain::Plan;
use shared::time_format;

use crate::IdentityState;
use crate::accounts::model::{self, Organization, User};
use crate::accounts::passwords;
use crate::accounts::store::{AccountStore, Created, Registered};

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub roles: &'a [Role],
    pub tenant_profile_id: Option<&'a str>,
}

/// What [`ensure_account`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Provisioned {
    Created,
    AlreadyPresent,
}

fn organization_changed() -> ApiError {
    ApiError::Conflict("the organization changed meanwhile; retry".into())
}

/// Creates the account unless its email is already registered. When the organization
/// does not exist yet, it is created with this account as its owner, so the first
/// account of a new organization must be an owner. The email counts as verified.
pub async fn ensure_account(
    state: &IdentityState,
    org_id: &str,
    org_name: &str,
    plan: Plan,
    account: &NewAccount<'_>,
) -> Result<Provisioned, ApiError> {
    let store = AccountStore::new(&state.services.store);
    let email = model::parse_email(account.email).map_err(|m| ApiError::invalid_field("email", m))?;
    if store.email_claim(&email).await?.is_some() {
        return Ok(Provisioned::AlreadyPresent);
    }
    let now = time_format::now();
    let password_hash = passwords::hash(account.password.to_owned()).await?;
    let user = User {
        tenant_profile_id: account.tenant_profile_id.map(str::to_owned),
        email_verified: true,
        ..User::new_account(
            org_id.to_owned(),
            email,
            account.first_name.to_owned(),
            account.last_name.to_owned(),
            account.roles.to_vec(),
            password_hash,
            now,
        )
    };
    if store.get_organization(org_id).await?.is_some() {
        return match store.create_user(&user).await? {
            Created::Done => Ok(Provisioned::Created),
            Created::EmailTaken => Ok(Provisioned::AlreadyPresent),
            Created::OrganizationMissing => Err(organization_changed()),
        };
    }
    if !user.counts_as_owner() {
        return Err(ApiError::BadRequest("the first account of an organization must be an owner".into()));
    }
    let org = Organization {
        id: org_id.to_owned(),
        name: org_name.to_owned(),
        plan,
        owner_count: 1,
        created_at: now,
        updated_at: now,
    };
    match store.create_organization(&org, &user).await? {
        Registered::Done => Ok(Provisioned::Created),
        Registered::EmailTaken => Ok(Provisioned::AlreadyPresent),
        Registered::OrganizationExists => Err(organization_changed()),
    }
}
