//! Cursor pagination for identity's listings (users, API keys, OAuth apps, authorizations).

use serde::Deserialize;
use shared::auth::Principal;
use shared::http::envelope::Pagination;
use shared::http::pagination::{self, CursorScope, DEFAULT_PAGE_SIZE, PageKey};
use shared::store::keys;
use shared::{ApiError, Services};
use utoipa::IntoParams;

/// `page_size` and `cursor`; any other parameter is a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request: its size, where it starts, and what its cursors are bound to.
pub struct PageRequest {
    pub size: usize,
    pub start: Option<PageKey>,
    scope: CursorScope,
}

impl PageParams {
    /// Checks the size and verifies the cursor against the caller's organization and
    /// `listing` (which names the collection and, where it matters, the user).
    pub fn resolve(&self, services: &Services, principal: &Principal, listing: &str) -> Result<PageRequest, ApiError> {
        let size = pagination::page_size(self.page_size, DEFAULT_PAGE_SIZE)?;
        let scope = CursorScope { org_id: principal.org_id.clone(), query: listing.to_owned() };
        let start = self.cursor.as_deref().map(|c| services.cursors.decode(c, &scope)).transpose()?;
        // Defence in depth: a verified cursor always points into the caller's partition.
        if start.as_ref().is_some_and(|key| key.get(keys::PK).is_none_or(|pk| *pk != keys::org(&principal.org_id))) {
            return Err(ApiError::BadRequest("The cursor is invalid for this query".into()));
        }
        Ok(PageRequest { size, start, scope })
    }
}

impl PageRequest {
    /// `meta.pagination` for a page that ended at `next`.
    pub fn pagination(&self, services: &Services, next: Option<PageKey>) -> Pagination {
        let next_cursor = next.map(|key| services.cursors.encode(&self.scope, key));
        Pagination { page_size: self.size, has_next: next_cursor.is_some(), next_cursor }
    }
}
