//! How far a caller reaches inside its organization. A user whose only role is
//! `Tenant` sees their own tenancy only: their tenant record, their leases and the
//! units those leases are on. Anything else answers 404, as a foreign id does.

use crate::auth::permissions::Role;
use crate::auth::principal::{Actor, Principal};
use crate::domain::ids::TenantId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The whole organization (subject to permissions).
    Organization,
    /// Only the tenancy of this tenant profile; `None` when the token links no profile
    /// (or none that is a tenant id), which reaches nothing.
    Tenant(Option<TenantId>),
}

impl Reach {
    pub fn of(principal: &Principal) -> Self {
        match &principal.actor {
            Actor::User { roles, tenant_profile_id, .. }
                if !roles.is_empty() && roles.iter().all(|r| *r == Role::Tenant) =>
            {
                Reach::Tenant(tenant_profile_id.as_deref().and_then(TenantId::parse))
            }
            _ => Reach::Organization,
        }
    }

    /// Whether this reach covers the tenant record `tenant_id`.
    pub fn covers_tenant(&self, tenant_id: &str) -> bool {
        match self {
            Reach::Organization => true,
            Reach::Tenant(own) => own.as_ref().is_some_and(|own| own.as_str() == tenant_id),
        }
    }
}
