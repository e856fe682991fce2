//! Opaque one-time and refresh tokens: `<kind>_<org ulid>_<256 random bits, base64url>`.
//!
//! The organization is readable so the token's item is found inside its organization's
//! partition with one `GetItem`; only the SHA-256 of the whole token is stored (it is
//! 256 random bits, so a slow hash adds nothing).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use shared::ApiError;
use shared::http::body::hex;

/// What a token is for; its prefix keeps a token of one kind from being used as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Refresh,
    PasswordReset,
    EmailVerification,
    MfaChallenge,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Refresh => "drt",
            TokenKind::PasswordReset => "dpr",
            TokenKind::EmailVerification => "dev",
            TokenKind::MfaChallenge => "dmf",
        }
    }

    /// Names the kind in sort keys.
    pub fn key_name(self) -> &'static str {
        match self {
            TokenKind::Refresh => "REFRESH",
            TokenKind::PasswordReset => "RESET",
            TokenKind::EmailVerification => "VERIFY",
            TokenKind::MfaChallenge => "MFA",
        }
    }
}

/// A token as handed to the client (shown once) and the digest that is stored.
pub struct Issued {
    pub token: String,
    pub digest: String,
}

/// 256 bits from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(bytes)
}

pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new token of `kind` for `org_id`.
pub fn issue(kind: TokenKind, org_id: &str) -> Result<Issued, ApiError> {
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let org = org_id.trim_start_matches("org_");
    let token = format!("{}_{org}_{secret}", kind.prefix());
    Ok(Issued { digest: digest(&token), token })
}

/// The organization and digest of a presented token of `kind`; `None` when malformed.
pub fn parse(kind: TokenKind, raw: &str) -> Option<(String, String)> {
    let raw = raw.trim();
    let mut parts = raw.splitn(3, '_');
    let (prefix, org, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let org_id = format!("org_{org}");
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if prefix != kind.prefix() || !shared::domain::ids::is_valid(&org_id, "org") || !secret_ok {
        return None;
    }
    Some((org_id, digest(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_as_their_kind() {
        let org = shared::domain::ids::new("org");
        let issued = issue(TokenKind::Refresh, &org).unwrap();
        assert_eq!(parse(TokenKind::Refresh, &issued.token), Some((org.clone(), issued.digest.clone())));
        assert_eq!(parse(TokenKind::PasswordReset, &issued.token), None);
        assert_eq!(parse(TokenKind::Refresh, "drt_nope_x"), None);
        assert_ne!(issue(TokenKind::Refresh, &org).unwrap().token, issued.token);
    }
}
