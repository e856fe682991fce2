//! Roles and permissions of the platform API, completed where its matrix is thin.
//!
//! A route requires a [`Permission`]. Credentials carry grants as `resource:action`
//! strings (tokens, API keys, the published matrix), where `*` is a wildcard on either side.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A permission a request can require; `resource:action` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    PropertyRead,
    PropertyCreate,
    PropertyUpdate,
    PropertyDelete,
    UnitRead,
    UnitCreate,
    UnitUpdate,
    UnitDelete,
    TenantRead,
    TenantCreate,
    TenantUpdate,
    TenantDelete,
    LeaseRead,
    LeaseCreate,
    LeaseUpdate,
    UserRead,
    UserCreate,
    UserUpdate,
    UserDelete,
    RoleRead,
    ApiKeyRead,
    ApiKeyCreate,
    ApiKeyDelete,
    OAuthAppRead,
    OAuthAppCreate,
    OAuthAppDelete,
    FinancialRead,
    InvoiceRead,
    InvoiceCreate,
    InvoiceUpdate,
    PaymentRead,
    PaymentCreate,
    MaintenanceRead,
    MaintenanceCreate,
    MaintenanceUpdate,
    MaintenanceDelete,
    WorkOrderRead,
    WorkOrderCreate,
    WorkOrderUpdate,
    WorkOrderDelete,
    MessageCreate,
    AnalyticsRead,
    RentRollRead,
    RentRollRun,
    EventRead,
    ScreeningRead,
    ScreeningCreate,
    ScreeningUpdate,
    WebhookRead,
    WebhookManage,
    RentRunManage,
    IntegrationRead,
    IntegrationWrite,
}

impl Permission {
    pub const ALL: [Permission; 53] = [
        Permission::PropertyRead,
        Permission::PropertyCreate,
        Permission::PropertyUpdate,
        Permission::PropertyDelete,
        Permission::UnitRead,
        Permission::UnitCreate,
        Permission::UnitUpdate,
        Permission::UnitDelete,
        Permission::TenantRead,
        Permission::TenantCreate,
        Permission::TenantUpdate,
        Permission::TenantDelete,
        Permission::LeaseRead,
        Permission::LeaseCreate,
        Permission::LeaseUpdate,
        Permission::UserRead,
        Permission::UserCreate,
        Permission::UserUpdate,
        Permission::UserDelete,
        Permission::RoleRead,
        Permission::ApiKeyRead,
        Permission::ApiKeyCreate,
        Permission::ApiKeyDelete,
        Permission::OAuthAppRead,
        Permission::OAuthAppCreate,
        Permission::OAuthAppDelete,
        Permission::FinancialRead,
        Permission::InvoiceRead,
        Permission::InvoiceCreate,
        Permission::InvoiceUpdate,
        Permission::PaymentRead,
        Permission::PaymentCreate,
        Permission::MaintenanceRead,
        Permission::MaintenanceCreate,
        Permission::MaintenanceUpdate,
        Permission::MaintenanceDelete,
        Permission::WorkOrderRead,
        Permission::WorkOrderCreate,
        Permission::WorkOrderUpdate,
        Permission::WorkOrderDelete,
        Permission::MessageCreate,
        Permission::AnalyticsRead,
        Permission::RentRollRead,
        Permission::RentRollRun,
        Permission::EventRead,
        Permission::ScreeningRead,
        Permission::ScreeningCreate,
        Permission::ScreeningUpdate,
        Permission::WebhookRead,
        Permission::WebhookManage,
        Permission::RentRunManage,
        Permission::IntegrationRead,
        Permission::IntegrationWrite,
    ];

    /// The `resource:action` form that tokens, API keys and the matrix carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::PropertyRead => "property:read",
            Permission::PropertyCreate => "property:create",
            Permission::PropertyUpdate => "property:update",
            Permission::PropertyDelete => "property:delete",
            Permission::UnitRead => "unit:read",
            Permission::UnitCreate => "unit:create",
            Permission::UnitUpdate => "unit:update",
            Permission::UnitDelete => "unit:delete",
            Permission::TenantRead => "tenant:read",
            Permission::TenantCreate => "tenant:create",
            Permission::TenantUpdate => "tenant:update",
            Permission::TenantDelete => "tenant:delete",
            Permission::LeaseRead => "lease:read",
            Permission::LeaseCreate => "lease:create",
            Permission::LeaseUpdate => "lease:update",
            Permission::UserRead => "user:read",
            Permission::UserCreate => "user:create",
            Permission::UserUpdate => "user:update",
            Permission::UserDelete => "user:delete",
            Permission::RoleRead => "role:read",
            Permission::ApiKeyRead => "apikey:read",
            Permission::ApiKeyCreate => "apikey:create",
            Permission::ApiKeyDelete => "apikey:delete",
            Permission::OAuthAppRead => "oauth_app:read",
            Permission::OAuthAppCreate => "oauth_app:create",
            Permission::OAuthAppDelete => "oauth_app:delete",
            Permission::FinancialRead => "financial:read",
            Permission::InvoiceRead => "invoice:read",
            Permission::InvoiceCreate => "invoice:create",
            Permission::InvoiceUpdate => "invoice:update",
            Permission::PaymentRead => "payment:read",
            Permission::PaymentCreate => "payment:create",
            Permission::MaintenanceRead => "maintenance:read",
            Permission::MaintenanceCreate => "maintenance:create",
            Permission::MaintenanceUpdate => "maintenance:update",
            Permission::MaintenanceDelete => "maintenance:delete",
            Permission::WorkOrderRead => "workorder:read",
            Permission::WorkOrderCreate => "workorder:create",
            Permission::WorkOrderUpdate => "workorder:update",
            Permission::WorkOrderDelete => "workorder:delete",
            Permission::MessageCreate => "message:create",
            Permission::AnalyticsRead => "analytics:read",
            Permission::RentRollRead => "rentroll:read",
            Permission::RentRollRun => "rentroll:run",
            Permission::EventRead => "event:read",
            Permission::ScreeningRead => "screening:read",
            Permission::ScreeningCreate => "screening:create",
            Permission::ScreeningUpdate => "screening:update",
            Permission::WebhookRead => "webhook:read",
            Permission::WebhookManage => "webhook:manage",
            Permission::RentRunManage => "rentrun:manage",
            Permission::IntegrationRead => "integration:read",
            Permission::IntegrationWrite => "integration:write",
        }
    }

    /// The permission a `resource:action` string names; `None` for wildcards and unknowns.
    pub fn parse(wire: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == wire)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The organization roles of the platform API.
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

    /// The permissions a role grants. The platform API's lists come first; the rest
    /// completes them for resources its matrix leaves out.
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
                // Rent runs and late-fee policies (POST|GET /api/v1/financial/rent-runs).
                "rentrun:*",
                // Partner integrations' settings (RentSync).
                "integration:*",
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
                "rentrun:*",
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

    /// The permissions in their wire form, sorted, without repeats.
    pub fn into_names(self) -> Vec<String> {
        self.0
    }

    /// Whether the set holds `required`, directly or through a wildcard.
    pub fn allows(&self, required: Permission) -> bool {
        self.includes(required.as_str())
    }

    /// Whether the set covers a grant in its wire form (`property:*` needs `property:*`
    /// or `*`): nobody hands on more than they hold.
    pub fn includes(&self, grant: &str) -> bool {
        self.0.iter().any(|granted| covers(granted, grant))
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
        assert!(manager.allows(Permission::PropertyRead));
        assert!(manager.allows(Permission::PropertyUpdate));
        assert!(manager.allows(Permission::TenantDelete));
        assert!(!manager.allows(Permission::PropertyCreate));
        assert!(!manager.allows(Permission::PropertyDelete));
        let owner = PermissionSet::from_roles(&[Role::OrganizationOwner], &[]);
        assert!(owner.allows(Permission::PropertyDelete));
        let tenant = PermissionSet::from_roles(&[Role::Tenant], &[]);
        assert!(!tenant.allows(Permission::PropertyRead));
        assert!(PermissionSet::from_roles(&[Role::SuperAdmin], &[]).includes("anything:at_all"));
    }

    #[test]
    fn permissions_round_trip_through_their_wire_form() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Some(permission));
            assert_eq!(permission.to_string(), permission.as_str());
        }
        assert_eq!(Permission::parse("property:*"), None);
    }

    #[test]
    fn every_role_grant_is_a_permission_or_a_wildcard() {
        for role in Role::ALL {
            for grant in role.permissions() {
                let wildcard = *grant == "*" || grant.ends_with(":*");
                assert!(wildcard || Permission::parse(grant).is_some(), "{}: {grant}", role.name());
            }
        }
    }

    #[test]
    fn explicit_grants_are_honoured_with_their_wildcards() {
        let key = PermissionSet::from_roles(&[], &["unit:*".to_owned(), "property:read".to_owned()]);
        assert!(key.allows(Permission::UnitDelete));
        assert!(key.allows(Permission::PropertyRead));
        assert!(!key.allows(Permission::PropertyUpdate));
        assert!(key.includes("unit:*"));
        assert!(!key.includes("property:*"));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
    }
}
