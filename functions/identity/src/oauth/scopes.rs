//! OAuth scopes as requests carry them, and what each one lets an app do on its own.
//!
//! A user's token needs both the route's scope and the user's permission. An app that
//! acts for itself (`client_credentials`) has no user, so its permissions come from
//! this map, limited to what the person who registered it held.

use shared::auth::{Permission, Scope};

/// The permissions a scope stands for when an app acts in its own organization.
pub fn permissions(scope: Scope) -> &'static [Permission] {
    match scope {
        Scope::ReadProperties => &[Permission::PropertyRead, Permission::UnitRead],
        Scope::ReadRenters => &[Permission::TenantRead, Permission::LeaseRead],
        Scope::ReadPayments => &[Permission::PaymentRead, Permission::InvoiceRead],
        Scope::ReadMaintenance => &[Permission::MaintenanceRead],
        Scope::WriteMaintenance => &[Permission::MaintenanceCreate, Permission::MaintenanceUpdate],
        Scope::WriteMessages => &[Permission::MessageCreate],
        Scope::ReadAnalytics => &[Permission::AnalyticsRead],
    }
}

/// Parses a space-separated scope list (RFC 6749 §3.3), keeping the canonical order and
/// dropping repeats. `Err` names the first scope that is not one of the integration API's.
pub fn parse_list(raw: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for name in raw.split(' ').filter(|s| !s.is_empty()) {
        let scope = Scope::parse(name).ok_or_else(|| name.chars().take(64).collect::<String>())?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.sort_by_key(|s| Scope::ALL.iter().position(|a| a == s));
    Ok(scopes)
}

/// Parses scope names from a JSON list, as [`parse_list`].
pub fn parse_names(names: &[String]) -> Result<Vec<Scope>, String> {
    parse_list(&names.join(" "))
}

/// `read:properties read:renters`: the wire form.
pub fn join(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(" ")
}

/// Scope names, for stored records and JSON.
pub fn names(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|s| s.name().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_canonically() {
        let scopes = parse_list("read:payments  read:properties read:payments").unwrap();
        assert_eq!(scopes, vec![Scope::ReadProperties, Scope::ReadPayments]);
        assert_eq!(join(&scopes), "read:properties read:payments");
        assert_eq!(parse_list("read:properties admin").unwrap_err(), "admin");
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn every_scope_maps_to_permissions() {
        for scope in Scope::ALL {
            assert!(!permissions(scope).is_empty(), "{}", scope.name());
        }
    }
}
