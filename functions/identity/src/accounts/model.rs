//! Organizations and users as stored, and the validation of what clients send.

use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::domain::{Plan, Problems};
use shared::time_format;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password: bounds the hashing work a request can ask for.
pub const MAX_PASSWORD_CHARS: usize = 128;
const MAX_EMAIL_CHARS: usize = 254;

/// An organization: the tenant boundary of every other item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// How many users hold `OrganizationOwner`; writes keep it at one or more.
    pub owner_count: u32,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Disabled,
}

/// A user as stored. Secrets (password hash, TOTP secrets) never leave the function:
/// responses use [`crate::accounts::views::UserView`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org_id: String,
    /// Lower-cased; unique across the whole system.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<Role>,
    /// Permissions granted on top of the roles'.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_profile_id: Option<String>,
    #[serde(default)]
    pub status: UserStatus,
    #[serde(default)]
    pub email_verified: bool,
    pub password_hash: String,
    #[serde(default)]
    pub mfa_enabled: bool,
    /// Base32 TOTP secret once MFA is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_secret: Option<String>,
    /// Base32 TOTP secret between `mfa/setup` and its confirming `mfa/verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_pending_secret: Option<String>,
    /// The last TOTP time step accepted, so a code is never accepted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_last_step: Option<u64>,
    /// SHA-256 digests of the unused recovery codes issued when MFA was enabled (a string
    /// set in the table); each works once in place of a TOTP code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mfa_recovery_codes: Vec<String>,
    /// Digest of the one password reset token that works: each request's replaces the
    /// last, and a reset removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_token: Option<String>,
    /// Digest of the one outstanding MFA challenge: each sign-in's replaces the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_challenge: Option<String>,
    #[serde(default)]
    pub failed_logins: u32,
    /// Epoch seconds until which sign-in is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// Epoch seconds: sessions started at or before this are revoked (password reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_valid_after: Option<i64>,
    pub version: u64,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).field("org_id", &self.org_id).finish_non_exhaustive()
    }
}

impl shared::http::optimistic::Versioned for User {
    fn version(&self) -> u64 {
        self.version
    }
}

impl User {
    /// A new, active account with a fresh id, as every way of creating one starts it:
    /// no extra permissions, no tenant profile, email not yet verified, no MFA, no
    /// failed sign-ins, version 1. Callers change what differs (struct update syntax).
    pub fn new_account(
        org_id: String,
        email: String,
        first_name: String,
        last_name: String,
        roles: Vec<Role>,
        password_hash: String,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: shared::domain::ids::new("user"),
            org_id,
            email,
            first_name,
            last_name,
            roles,
            permissions: Vec::new(),
            tenant_profile_id: None,
            status: UserStatus::Active,
            email_verified: false,
            password_hash,
            mfa_enabled: false,
            mfa_secret: None,
            mfa_pending_secret: None,
            mfa_last_step: None,
            mfa_challenge: None,
            mfa_recovery_codes: Vec::new(),
            reset_token: None,
            failed_logins: 0,
            locked_until: None,
            sessions_valid_after: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the user counts toward the organization's owner counter: an active owner.
    pub fn counts_as_owner(&self) -> bool {
        self.has_role(Role::OrganizationOwner) && self.status == UserStatus::Active
    }

    /// Every permission the user's roles and explicit grants give, sorted and unique.
    pub fn effective_permissions(&self) -> Vec<String> {
        shared::auth::permissions::PermissionSet::from_roles(&self.roles, &self.permissions).into_names()
    }
}

/// Normalizes and checks an email address (syntax only; ownership is proven by
/// `verify-email`).
pub fn parse_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err("must be at most 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must be an email address");
    };
    let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@');
    let domain_ok = plain(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if !plain(local) || !domain_ok {
        return Err("must be an email address");
    }
    Ok(email)
}

/// Checks a new password's length (the only rule NIST SP 800-63B asks for).
pub fn check_password(problems: &mut Problems, field: &str, password: &str) {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        problems.add(field, format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    } else if chars > MAX_PASSWORD_CHARS {
        problems.add(field, format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
}

/// The email and names of a new account, as [`check_new_account`] found them.
pub struct AccountFields {
    /// `None` when the email is invalid (a problem is recorded).
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
}

/// Checks what every new account gives (email, password, first and last name) by the
/// same rules at self-registration and when an administrator creates a user. Problems
/// go into `problems`, in field order.
pub fn check_new_account(
    problems: &mut Problems,
    email: &str,
    password: &str,
    first_name: &str,
    last_name: &str,
) -> AccountFields {
    let email = problems.check("email", parse_email(email));
    check_password(problems, "password", password);
    let first_name = problems.text("first_name", first_name, 1, 100);
    let last_name = problems.text("last_name", last_name, 1, 100);
    AccountFields { email, first_name, last_name }
}

/// Checks explicit permission strings: `resource:action` with `*` wildcards.
pub fn check_permissions(problems: &mut Problems, field: &str, permissions: &[String]) {
    let valid = |p: &str| {
        p == "*"
            || p.split_once(':').is_some_and(|(res, act)| {
                let part = |s: &str| {
                    !s.is_empty()
                        && s.len() <= 64
                        && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'*')
                };
                part(res) && part(act)
            })
    };
    for (i, permission) in permissions.iter().enumerate() {
        if !valid(permission) {
            problems.add(format!("{field}[{i}]"), "must be resource:action, e.g. property:read");
        }
    }
    if permissions.len() > 100 {
        problems.add(field, "must hold at most 100 permissions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(parse_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a nn@example.com", "ann@ex..com", "a@b@c.com"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions_must_look_like_resource_action() {
        let mut problems = Problems::new();
        check_permissions(&mut problems, "permissions", &["property:read".into(), "*".into(), "unit:*".into()]);
        assert!(problems.into_result().is_ok());
        let mut problems = Problems::new();
        check_permissions(&mut problems, "permissions", &["Property".into()]);
        assert!(problems.into_result().is_err());
    }
}
