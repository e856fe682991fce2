//! The bodies `/api/v1/properties/{property_id}/tenants` accepts, and how each becomes
//! a tenant's validated fields.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::patch::{Patch, overlay_optional, overlay_required};
use shared::domain::tenant::{TenantFields, is_e164, is_email};
use utoipa::ToSchema;

/// The body of `POST` and `PUT`. Unknown and server-owned fields are rejected with 422.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    /// Full name, 1 to 200 characters.
    pub name: String,
    pub email: String,
    /// E.164: `+` then up to 15 digits.
    #[serde(default)]
    pub phone: Option<String>,
    /// The linked user account, if the tenant signs in.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The body of `PATCH`: only the fields named change; `null` clears `phone` or `user_id`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_id: Patch<String>,
}

impl TenantInput {
    pub fn validate(&self) -> Result<TenantFields, Problems> {
        let mut p = Problems::new();
        let name = p.text("name", &self.name, 1, 200);
        let email = self.email.trim().to_owned();
        if !is_email(&email) {
            p.add("email", "must be a valid email address");
        }
        let phone = self.phone.as_ref().map(|raw| {
            let phone: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
            if !is_e164(&phone) {
                p.add("phone", "must be an E.164 number such as +15550123456");
            }
            phone
        });
        let user_id = self.user_id.as_ref().map(|raw| p.text("user_id", raw, 1, 100));
        p.into_result()?;
        Ok(TenantFields { name, email, phone, user_id })
    }
}

impl TenantPatch {
    pub fn apply(self, current: &TenantFields) -> Result<TenantFields, Problems> {
        let mut p = Problems::new();
        let mut input = TenantInput {
            name: current.name.clone(),
            email: current.email.clone(),
            phone: current.phone.clone(),
            user_id: current.user_id.clone(),
        };
        overlay_required(&mut p, "name", &mut input.name, self.name);
        overlay_required(&mut p, "email", &mut input.email, self.email);
        overlay_optional(&mut input.phone, self.phone);
        overlay_optional(&mut input.user_id, self.user_id);
        p.into_result()?;
        input.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_to_e164() {
        let input = TenantInput {
            name: "John Smith".into(),
            email: "john.smith@example.com".into(),
            phone: Some("+1 (555) 012-3456".into()),
            user_id: None,
        };
        assert_eq!(input.validate().unwrap().phone.as_deref(), Some("+15550123456"));
    }
}
