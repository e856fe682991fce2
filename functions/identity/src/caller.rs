//! Who is calling, as identity's credential routes need to know it, and the pages of
//! the caller's organization's listings.

use axum::response::Response;
use serde::Serialize;
use shared::auth::{Actor, Principal};
use shared::http::listing::{PageParams, page_response, resume_key};
use shared::http::pagination::{self, CursorScope, DEFAULT_PAGE_SIZE, PageKey};
use shared::store::keys;
use shared::store::page::Page;
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

/// A page request of one of the caller's organization's listings: its size, where it
/// starts, and what its cursors are bound to.
pub struct OwnListing {
    pub size: usize,
    pub start: Option<PageKey>,
    scope: CursorScope,
}

impl OwnListing {
    /// Checks the size and verifies the cursor against the caller's organization and
    /// `listing` (which names the collection and, where it matters, the user).
    pub fn resolve(
        services: &Services,
        principal: &Principal,
        listing: &str,
        params: &PageParams,
    ) -> Result<Self, ApiError> {
        let size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
        let scope = CursorScope { org_id: principal.org_id.clone(), query: listing.to_owned() };
        // Defence in depth: a verified cursor always points into the caller's partition.
        let own_partition = keys::org(&principal.org_id);
        let start = resume_key(&services.cursors, &scope, params.cursor.as_deref(), |key| {
            key.get(keys::PK).is_some_and(|pk| *pk == own_partition)
        })?;
        Ok(Self { size, start, scope })
    }

    /// The page in the envelope, each item shown as its view `V`.
    pub fn respond<T, V>(&self, services: &Services, page: Page<T>) -> Response
    where
        V: Serialize + for<'a> From<&'a T>,
    {
        page_response::<T, V>(&services.cursors, &self.scope, page, self.size)
    }
}
