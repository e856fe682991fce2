//! Who is calling, as identity's credential routes need to know it, and the pages of
//! the caller's organization's listings.

use shared::auth::{Actor, Principal};
use shared::http::listing::{PageParams, PageRequest};
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::{ApiError, Services};

/// The id recorded as the creator of a credential: the user's, or the API key's.
pub fn actor_id(principal: &Principal) -> String {
    match &principal.actor {
        Actor::User { user_id, .. } => user_id.clone(),
        Actor::ApiKey { key_id } => key_id.clone(),
    }
}

/// A signed-in user acting for themselves: a user's bearer JWT, not an API key and not
/// an OAuth app's token (an app must not authorize other apps or manage consents).
pub struct SignedInUser<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
    pub roles: Vec<String>,
    pub tenant_profile_id: Option<&'a str>,
}

pub fn signed_in_user(principal: &Principal) -> Result<SignedInUser<'_>, ApiError> {
    match &principal.actor {
        Actor::User { user_id, email, roles, tenant_profile_id }
            if principal.client_id.is_none() && principal.scopes.is_none() =>
        {
            Ok(SignedInUser {
                user_id,
                email: email.as_deref(),
                roles: roles.iter().map(|r| r.name().to_owned()).collect(),
                tenant_profile_id: tenant_profile_id.as_deref(),
            })
        }
        _ => Err(ApiError::InsufficientPermissions(
            "Only a signed-in user can do this: an API key or an app's token cannot".into(),
        )),
    }
}

/// A page of one of the caller's organization's listings: the size checked, and the
/// cursor verified against the organization and `listing` (which names the collection
/// and, where it matters, the user).
pub fn own_listing(
    services: &Services,
    principal: &Principal,
    listing: &str,
    params: &PageParams,
) -> Result<PageRequest, ApiError> {
    let size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let (cursors, cursor) = (&services.cursors, params.cursor.as_deref());
    PageRequest::in_organization(cursors, &principal.org_id, listing.to_owned(), size, cursor)
}
