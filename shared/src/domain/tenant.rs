//! Tenants: the people who rent units of a property.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ids::{PropertyId, TenantId};
use crate::time_format;

/// A stored tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub org_id: String,
    pub property_id: String,
    #[serde(flatten)]
    pub fields: TenantFields,
    /// Every lease naming this tenant, oldest first; kept by the leases function.
    #[serde(default)]
    pub lease_ids: Vec<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The client-writable fields of a tenant, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantFields {
    pub name: String,
    pub email: String,
    /// E.164, e.g. `+15550123456`.
    pub phone: Option<String>,
    /// The user account (with the `Tenant` role) that signs in as this tenant; its JWT
    /// carries this tenant's id as `tenant_profile_id`.
    pub user_id: Option<String>,
}

impl Tenant {
    pub fn new(org_id: &str, property_id: &PropertyId, fields: TenantFields, now: OffsetDateTime) -> Self {
        Self::with_id(TenantId::generate(), org_id, property_id, fields, now)
    }

    /// A tenant with a given id (demo data links a demo user to a fixed id).
    pub fn with_id(
        id: TenantId,
        org_id: &str,
        property_id: &PropertyId,
        fields: TenantFields,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: id.into(),
            org_id: org_id.to_owned(),
            property_id: property_id.to_string(),
            fields,
            lease_ids: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    pub fn revised(&self, fields: TenantFields, now: OffsetDateTime) -> Self {
        Self { fields, updated_at: now, version: self.version + 1, ..self.clone() }
    }
}

/// A plausible email: one `@`, a dotted domain, no spaces, at most 254 characters.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else { return false };
    value.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// E.164: `+`, a non-zero digit, then 1 to 14 more digits.
pub fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else { return false };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones() {
        assert!(is_email("john.smith@example.com"));
        assert!(!is_email("john smith@example.com"));
        assert!(!is_email("john@localhost"));
        assert!(is_e164("+15550123456"));
        assert!(!is_e164("5550123"));
        assert!(!is_e164("+0123"));
    }
}
