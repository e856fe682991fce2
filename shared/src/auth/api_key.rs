//! API keys for service-to-service calls: `dsk_<org>_<key>_<secret>`.
//!
//! The organization and key ids are in the clear so the key can be found with one
//! `GetItem` inside its organization's partition; only a SHA-256 of the secret is
//! stored (the secret is 256 random bits, so a slow hash adds nothing).

use sha2::{Digest, Sha256};

use crate::http::body::hex;

pub const API_KEY_HEADER: &str = "x-api-key";
const PREFIX: &str = "dsk";

/// A presented API key, split into its parts.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub org_id: String,
    pub key_id: String,
    pub secret: &'a str,
}

/// Splits `dsk_<org ulid>_<key ulid>_<secret>`; anything else is `None`.
pub fn parse(raw: &str) -> Option<PresentedKey<'_>> {
    let mut parts = raw.splitn(4, '_');
    let (prefix, org, key, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ulid_like = |s: &str| s.len() == 26 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if prefix != PREFIX || !ulid_like(org) || !ulid_like(key) || secret.len() < 32 {
        return None;
    }
    Some(PresentedKey { org_id: format!("org_{org}"), key_id: format!("key_{key}"), secret })
}

/// Formats a full key from its parts (shown once at creation).
pub fn format(org_id: &str, key_id: &str, secret: &str) -> String {
    let org = org_id.trim_start_matches("org_");
    let key = key_id.trim_start_matches("key_");
    format!("{PREFIX}_{org}_{key}_{secret}")
}

/// The stored digest of a secret.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_keys() {
        let org = "01JD0000000000000000000000";
        let key = "01JD0000000000000000000001";
        let secret = "s".repeat(43);
        let raw = format(&format!("org_{org}"), &format!("key_{key}"), &secret);
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.org_id, format!("org_{org}"));
        assert_eq!(parsed.key_id, format!("key_{key}"));
        assert_eq!(parsed.secret, secret);
        assert!(parse("dsk_short_x_y").is_none());
        assert!(parse(&raw.replace("dsk_", "abc_")).is_none());
        assert!(parse(&format!("dsk_{org}_{key}_tooshort")).is_none());
    }
}
