//! Who sees which maintenance requests. A Tenant sees the requests they reported; a
//! user whose only operational role is `MaintenanceStaff` sees the requests assigned to
//! them; everyone else with `maintenance:read` sees the organization's. A request out of
//! reach answers 404, as a foreign id does.

use shared::auth::Principal;
use shared::auth::permissions::Role;
use shared::auth::principal::Actor;
use shared::auth::tenancy::Reach;
use shared::domain::ids::TenantId;
use shared::domain::maintenance::MaintenanceRequest;
use shared::store::maintenance::RequestFilter;

/// Roles that see every request of the organization.
const WHOLE_ORGANIZATION: [Role; 4] =
    [Role::SuperAdmin, Role::OrganizationOwner, Role::PropertyManager, Role::PropertyOwner];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sees {
    All,
    /// The requests this tenant reported; `None` when the token links no tenant profile.
    Reported(Option<TenantId>),
    /// The requests assigned to this user.
    Assigned(String),
}

impl Sees {
    pub fn of(principal: &Principal) -> Self {
        if let Reach::Tenant(own) = Reach::of(principal) {
            return Sees::Reported(own);
        }
        match &principal.actor {
            Actor::User { user_id, roles, .. }
                if roles.contains(&Role::MaintenanceStaff) && !roles.iter().any(|r| WHOLE_ORGANIZATION.contains(r)) =>
            {
                Sees::Assigned(user_id.clone())
            }
            _ => Sees::All,
        }
    }

    pub fn covers(&self, request: &MaintenanceRequest) -> bool {
        match self {
            Sees::All => true,
            Sees::Reported(own) => own.as_ref().is_some_and(|id| request.tenant_id.as_deref() == Some(id.as_str())),
            Sees::Assigned(user) => request.assignee_id.as_deref() == Some(user.as_str()),
        }
    }

    /// Narrows a listing's filter to what the caller sees; `None` when nothing can match.
    pub fn narrow(&self, mut filter: RequestFilter) -> Option<RequestFilter> {
        match self {
            Sees::All => Some(filter),
            Sees::Reported(None) => None,
            Sees::Reported(Some(own)) => {
                if filter.tenant_id.as_ref().is_some_and(|asked| asked != own.as_str()) {
                    return None;
                }
                filter.tenant_id = Some(own.to_string());
                Some(filter)
            }
            Sees::Assigned(user) => {
                if filter.assignee_id.as_ref().is_some_and(|asked| asked != user) {
                    return None;
                }
                filter.assignee_id = Some(user.clone());
                Some(filter)
            }
        }
    }
}

/// Who is acting, as the timeline records it: `user:<id>` or `key:<id>`.
pub fn actor(principal: &Principal) -> String {
    match &principal.actor {
        Actor::User { user_id, .. } => format!("user:{user_id}"),
        Actor::ApiKey { key_id } => format!("key:{key_id}"),
    }
}
