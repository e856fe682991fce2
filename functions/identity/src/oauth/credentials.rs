//! The opaque credentials identity hands out: client ids and secrets, authorization
//! codes and refresh tokens, plus the random secrets inside API keys.
//!
//! Client ids, codes and refresh tokens carry their organization and id in the clear
//! (`<kind>_<org ulid>_<id ulid>[_<secret>]`), so the endpoints that receive them without
//! any other credential find the record with one `GetItem` inside that organization's
//! partition. Only a SHA-256 of each secret is stored: the secrets are 256 random bits,
//! so a slow hash would add nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::ApiError;
use subtle::ConstantTimeEq;

/// 256 random bits, base64url without padding (43 characters).
pub fn random_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares a presented secret with a stored digest in constant time.
pub fn secret_matches(presented: &str, stored_digest: &str) -> bool {
    shared::auth::api_key::digest(presented).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

/// What a credential string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `dsc_<org>_<app>`: an OAuth client id (no secret part).
    ClientId,
    /// `dsa_<org>_<code>_<secret>`: an authorization code, bound to the user's organization.
    AuthorizationCode,
    /// `dsr_<org>_<token>_<secret>`: a refresh token, bound to the user's organization.
    RefreshToken,
}

impl Kind {
    fn wire_prefix(self) -> &'static str {
        match self {
            Kind::ClientId => "dsc",
            Kind::AuthorizationCode => "dsa",
            Kind::RefreshToken => "dsr",
        }
    }

    /// The prefix of the stored id (`<prefix>_<ulid>`).
    pub fn id_prefix(self) -> &'static str {
        match self {
            Kind::ClientId => "app",
            Kind::AuthorizationCode => "code",
            Kind::RefreshToken => "rt",
        }
    }
}

/// A parsed credential string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub org_id: String,
    /// `<id prefix>_<ulid>`.
    pub id: String,
    /// Empty for client ids.
    pub secret: String,
}

fn ulid_part(id: &str, prefix: &str) -> Option<String> {
    let rest = id.strip_prefix(prefix)?.strip_prefix('_')?;
    shared::domain::ids::is_valid(id, prefix).then(|| rest.to_owned())
}

/// Formats a credential: `<kind>_<org ulid>_<id ulid>` and, when given, `_<secret>`.
pub fn format(kind: Kind, org_id: &str, id: &str, secret: Option<&str>) -> Option<String> {
    let org = ulid_part(org_id, "org")?;
    let id = ulid_part(id, kind.id_prefix())?;
    Some(match secret {
        Some(secret) => format!("{}_{org}_{id}_{secret}", kind.wire_prefix()),
        None => format!("{}_{org}_{id}", kind.wire_prefix()),
    })
}

/// Parses a credential of `kind`; anything malformed is `None`.
pub fn parse(kind: Kind, raw: &str) -> Option<Presented> {
    let with_secret = kind != Kind::ClientId;
    let mut parts = raw.splitn(if with_secret { 4 } else { 3 }, '_');
    let (prefix, org, id) = (parts.next()?, parts.next()?, parts.next()?);
    let secret = if with_secret { parts.next()? } else { "" };
    let org_id = format!("org_{org}");
    let id = format!("{}_{id}", kind.id_prefix());
    let well_formed = prefix == kind.wire_prefix()
        && shared::domain::ids::is_valid(&org_id, "org")
        && shared::domain::ids::is_valid(&id, kind.id_prefix())
        && (!with_secret || (secret.len() >= 32 && secret.len() <= 128));
    well_formed.then(|| Presented { org_id, id, secret: secret.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_only_for_their_kind() {
        let org = shared::domain::ids::new("org");
        let code = shared::domain::ids::new("code");
        let secret = random_secret().unwrap();
        assert_eq!(secret.len(), 43);
        let raw = format(Kind::AuthorizationCode, &org, &code, Some(&secret)).unwrap();
        assert!(raw.starts_with("dsa_"));
        let parsed = parse(Kind::AuthorizationCode, &raw).unwrap();
        assert_eq!(parsed, Presented { org_id: org.clone(), id: code, secret });
        assert!(parse(Kind::RefreshToken, &raw).is_none());
        assert!(parse(Kind::AuthorizationCode, "dsa_x_y_z").is_none());

        let app = shared::domain::ids::new("app");
        let client_id = format(Kind::ClientId, &org, &app, None).unwrap();
        assert_eq!(parse(Kind::ClientId, &client_id).unwrap().id, app);
        assert!(parse(Kind::ClientId, &format!("{client_id}_extra")).is_none());
        assert!(format(Kind::ClientId, "not-an-org", &app, None).is_none());
    }

    #[test]
    fn secrets_match_their_digest_only() {
        let digest = shared::auth::api_key::digest("right");
        assert!(secret_matches("right", &digest));
        assert!(!secret_matches("wrong", &digest));
    }
}
