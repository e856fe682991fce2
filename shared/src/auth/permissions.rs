//! Roles and permissions (seed 001), completed where the seed is thin.
//!
//! Permissions are `resource:action` strings; `*` is a wildcard on either side.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The organization roles of seed 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Role {
    SuperAdmin,
    OrganizationOwner,
    PropertyManager,
    PropertyOwner,
    Tenant,
    MaintenanceStaff,
    SecurityStaff,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::SuperAdmin,
        Role::OrganizationOwner,
        Role::PropertyManager,
        Role::PropertyOwner,
        Role::Tenant,
        Role::MaintenanceStaff,
        Role::SecurityStaff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::SuperAdmin => "SuperAdmin",
            Role::OrganizationOwner => "OrganizationOwner",
            Role::PropertyManager => "PropertyManager",
            Role::PropertyOwner => "PropertyOwner",
            Role::Tenant => "Tenant",
            Role::MaintenanceStaff => "MaintenanceStaff",
            Role::SecurityStaff => "SecurityStaff",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// The permissions a role grants. The seed's lists come first; the rest completes
    /// them for resources the seed's matrix leaves out.
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Role::SuperAdmin => &["*"],
            Role::OrganizationOwner => &[
                "org:*",
                "property:*",
                "user:*",
                "unit:*",
                "tenant:*",
                "lease:*",
                "financial:*",
                "invoice:*",
                "payment:*",
                "maintenance:*",
                "workorder:*",
                "screening:*",
                "role:read",
                "apikey:*",
                "oauth_app:*",
                "webhook:*",
                "rentroll:*",
                "analytics:read",
                // The organization's event log (GET /api/v1/events).
                "event:read",
            ],
            Role::PropertyManager => &[
                "property:read",
                "property:update",
                "tenant:*",
                "unit:*",
                "lease:*",
                "financial:read",
                "invoice:*",
                "payment:read",
                // Records payments received offline, and can onboard tenants (whose
                // role includes payment:create) without holding more than it grants.
                "payment:create",
                "maintenance:*",
                "workorder:*",
                "screening:*",
                "rentroll:read",
                "analytics:read",
                "user:read",
                "role:read",
                "event:read",
            ],
            Role::PropertyOwner => &[
                "property:read",
                "financial:read",
                "unit:read",
                "lease:read",
                "tenant:read",
                "invoice:read",
                "payment:read",
                "maintenance:read",
                "analytics:read",
                "event:read",
            ],
            Role::Tenant => &[
                "unit:read",
                "maintenance:create",
                "payment:create",
                "lease:read",
                "tenant:read",
                "invoice:read",
                "payment:read",
                "maintenance:read",
            ],
            Role::MaintenanceStaff => &["workorder:*", "maintenance:*", "property:read", "unit:read"],
            Role::SecurityStaff => &["visitor:*", "security:*", "property:read", "unit:read"],
        }
    }
}

/// Whether a granted permission covers a required one (`property:*` covers `property:read`).
pub fn covers(granted: &str, required: &str) -> bool {
    if granted == "*" || granted == required {
        return true;
    }
    let (Some((g_res, g_act)), Some((r_res, r_act))) = (granted.split_once(':'), required.split_once(':')) else {
        return false;
    };
    (g_res == "*" || g_res == r_res) && (g_act == "*" || g_act == r_act)
}

/// The effective permissions of a credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(Vec<String>);

impl PermissionSet {
    /// The union of what the roles grant and any permissions listed explicitly.
    pub fn from_roles(roles: &[Role], explicit: &[String]) -> Self {
        let mut all: Vec<String> = roles
            .iter()
            .flat_map(|role| role.permissions().iter().map(|p| (*p).to_owned()))
            .chain(explicit.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        Self(all)
    }

    pub fn allows(&self, required: &str) -> bool {
        self.0.iter().any(|granted| covers(granted, required))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_actions_and_resources() {
        assert!(covers("*", "property:delete"));
        assert!(covers("property:*", "property:read"));
        assert!(covers("*:read", "unit:read"));
        assert!(!covers("property:read", "property:update"));
        assert!(!covers("property:*", "unit:read"));
        assert!(!covers("property", "property:read"));
    }

    #[test]
    fn seed_roles_grant_what_the_seed_says() {
        let manager = PermissionSet::from_roles(&[Role::PropertyManager], &[]);
        assert!(manager.allows("property:read"));
        assert!(manager.allows("property:update"));
        assert!(manager.allows("tenant:delete"));
        assert!(!manager.allows("property:create"));
        assert!(!manager.allows("property:delete"));
        let owner = PermissionSet::from_roles(&[Role::OrganizationOwner], &[]);
        assert!(owner.allows("property:delete"));
        let tenant = PermissionSet::from_roles(&[Role::Tenant], &[]);
        assert!(!tenant.allows("property:read"));
        assert!(PermissionSet::from_roles(&[Role::SuperAdmin], &[]).allows("anything:at_all"));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
    }
}
