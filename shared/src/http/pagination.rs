//! Cursor pagination: `page_size` plus an opaque, tamper-evident `cursor` that wraps
//! DynamoDB's `LastEvaluatedKey` and is bound to the organization and the query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::http::body::hex;
use crate::secrets::{self, OnFirstUse, SecretError};
/// Where a page ends is the store's notion; cursors only wrap it.
pub use crate::store::page::PageKey;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Validates `page_size` (1..=100, default 20).
pub fn page_size(requested: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(default),
        Some(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
        Some(_) => Err(ApiError::BadRequest(format!("page_size must be between 1 and {MAX_PAGE_SIZE}"))),
    }
}

/// What a cursor is bound to: a cursor minted for one organization and query is
/// refused for any other.
#[derive(Debug, Clone)]
pub struct CursorScope {
    pub org_id: String,
    /// A canonical description of the query (index, filters, sort).
    pub query: String,
}

impl CursorScope {
    fn digest(&self) -> String {
        let hash = Sha256::digest(format!("{}\n{}", self.org_id, self.query).as_bytes());
        hex(&hash[..16])
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Scope digest.
    s: String,
    /// The key to continue from.
    k: PageKey,
}

/// The cursor secret's document.
#[derive(Deserialize)]
struct CursorKeySecret {
    hmac_key: String,
}

/// The shortest `hmac_key` the cursor secret may hold.
pub const MIN_CURSOR_KEY_LEN: usize = 32;

/// Signs and verifies cursors with an HMAC-SHA256 key from Secrets Manager, read on the
/// first request ([`CursorCodec::ready`], which `conventions::apply` awaits before any
/// handler runs).
#[derive(Clone)]
pub struct CursorCodec {
    key: OnFirstUse<std::sync::Arc<[u8]>>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl CursorCodec {
    /// A key known up front (tests, tools).
    pub fn new(key: &[u8]) -> Self {
        Self { key: OnFirstUse::ready(key.into()) }
    }

    /// `{"hmac_key": "..."}` (at least [`MIN_CURSOR_KEY_LEN`] characters) from the secret
    /// `secret_id`, read on first use.
    pub fn on_first_use(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Self {
        let key = OnFirstUse::new(client, secret_id, |raw, id| {
            let secret: CursorKeySecret = secrets::json(&raw, id)?;
            if secret.hmac_key.len() < MIN_CURSOR_KEY_LEN {
                return Err(SecretError::WeakKey { id: id.to_owned(), min: MIN_CURSOR_KEY_LEN });
            }
            Ok(secret.hmac_key.as_bytes().into())
        });
        Self { key }
    }

    /// Reads the key if no request has yet.
    pub async fn ready(&self) -> Result<(), ApiError> {
        self.key.get().await.map(|_| ())
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // Every request passes `ready` before a handler can ask for a cursor.
        let key = self.key.loaded().expect("the cursor key is read before any handler runs");
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(payload);
        mac
    }

    pub fn encode(&self, scope: &CursorScope, key: PageKey) -> String {
        let payload = serde_json::to_vec(&Payload { s: scope.digest(), k: key }).unwrap_or_default();
        let tag = self.mac(&payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Verifies a cursor; anything forged, truncated or foreign is a 400.
    pub fn decode(&self, token: &str, scope: &CursorScope) -> Result<PageKey, ApiError> {
        let invalid = || ApiError::BadRequest("The cursor is invalid for this query".into());
        let (payload, tag) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        self.mac(&payload).verify_slice(&tag).map_err(|_| invalid())?;
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.s != scope.digest() {
            return Err(invalid());
        }
        Ok(payload.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(org: &str, query: &str) -> CursorScope {
        CursorScope { org_id: org.into(), query: query.into() }
    }

    #[test]
    fn cursor_round_trips_only_in_its_scope() {
        let codec = CursorCodec::new(b"test-key");
        let key = PageKey::from([("PK".to_owned(), "ORG#a".to_owned()), ("SK".to_owned(), "P#1".to_owned())]);
        let token = codec.encode(&scope("org_a", "q"), key.clone());
        assert_eq!(codec.decode(&token, &scope("org_a", "q")).unwrap(), key);
        assert!(codec.decode(&token, &scope("org_b", "q")).is_err());
        assert!(codec.decode(&token, &scope("org_a", "other")).is_err());
        assert!(CursorCodec::new(b"other-key").decode(&token, &scope("org_a", "q")).is_err());
    }

    #[test]
    fn tampered_cursor_is_rejected() {
        let codec = CursorCodec::new(b"test-key");
        let token = codec.encode(&scope("org_a", "q"), PageKey::new());
        let (payload, tag) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"s":"x","k":{}}"#);
        assert!(codec.decode(&format!("{forged_payload}.{tag}"), &scope("org_a", "q")).is_err());
        assert!(codec.decode(payload, &scope("org_a", "q")).is_err());
        assert!(codec.decode("not a cursor", &scope("org_a", "q")).is_err());
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None, 20).unwrap(), 20);
        assert_eq!(page_size(Some(100), 20).unwrap(), 100);
        assert!(page_size(Some(0), 20).is_err());
        assert!(page_size(Some(101), 20).is_err());
    }
}
