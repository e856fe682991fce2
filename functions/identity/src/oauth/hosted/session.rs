//! The browser's session on the hosted authorization page.
//!
//! The cookie holds 256 random bits and is short-lived, `HttpOnly`, `Secure`,
//! `SameSite=Lax` and scoped to `/oauth/authorize`; it is never a bearer token. Only its
//! SHA-256 is stored, and only once the browser has signed in. Every form's CSRF token
//! is derived from the cookie's secret, so it is bound to the session and worthless
//! without the cookie, which scripts cannot read.
//!
//! | item | PK | SK | TTL |
//! |---|---|---|---|
//! | signed-in browser session | `AUTHORIZESESSION#<sha256 of the cookie>` | `SESSION` | 10 minutes |

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::store::requests::{entity_item, put_if_new};
use shared::store::transactions::{TransactItem, transact, unexpected_cancellation};
use shared::store::{Store, StoreError};
use shared::{ApiError, time_format};
use subtle::ConstantTimeEq;

use crate::accounts::model::User;
use crate::accounts::opaque;
use crate::accounts::store::AccountStore;

const COOKIE_NAME: &str = "doorstep_authorize";
/// How long a sign-in form stays usable, and how long a sign-in lasts.
pub const LIFETIME_SECONDS: i64 = 600;
const SESSION_SK: &str = "SESSION";

fn session_pk(digest: &str) -> String {
    format!("AUTHORIZESESSION#{digest}")
}

/// The browser's cookie: the session's secret.
pub struct BrowserCookie {
    secret: String,
    /// Made for this response: it must be sent with `Set-Cookie`.
    pub fresh: bool,
}

impl BrowserCookie {
    /// The cookie the browser sent, if it is well formed.
    pub fn sent(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value)
            .filter(|value| {
                value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(|value| Self { secret: value.to_owned(), fresh: false })
    }

    /// A new session secret.
    pub fn new() -> Result<Self, ApiError> {
        Ok(Self { secret: URL_SAFE_NO_PAD.encode(opaque::random_bytes::<32>()?), fresh: true })
    }

    /// The CSRF token of this session's forms.
    pub fn csrf_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(format!("csrf\0{}", self.secret).as_bytes()))
    }

    /// Whether a form's CSRF token is this session's (in constant time).
    pub fn accepts(&self, token: &str) -> bool {
        self.csrf_token().as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// The `Set-Cookie` value.
    pub fn header(&self) -> Result<HeaderValue, ApiError> {
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={}; Path=/oauth/authorize; Max-Age={LIFETIME_SECONDS}; HttpOnly; Secure; SameSite=Lax",
            self.secret
        ))
        .map_err(ApiError::internal)
    }

    fn key(&self) -> String {
        session_pk(&opaque::digest(&self.secret))
    }
}

/// A browser signed in on the authorization page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserSession {
    pub org_id: String,
    pub user_id: String,
    /// Epoch milliseconds, compared with the user's `sessions_valid_after`.
    pub created_at: i64,
    /// Epoch seconds (the table's TTL attribute).
    pub expires_at: i64,
}

impl BrowserSession {
    pub fn for_user(user: &User) -> Self {
        let now = time_format::now();
        Self {
            org_id: user.org_id.clone(),
            user_id: user.id.clone(),
            created_at: i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
            expires_at: now.unix_timestamp() + LIFETIME_SECONDS,
        }
    }

    /// Still usable for `user`: not expired, and not ended by a password reset.
    pub fn holds_for(&self, user: &User) -> bool {
        self.expires_at > time_format::now().unix_timestamp()
            && user.sessions_valid_after.is_none_or(|after| self.created_at > after)
    }
}

/// Stores a signed-in session under `cookie` and, after a sign-in that overcame earlier
/// failures, clears the user's failure counter in the same transaction.
pub async fn sign_in(
    store: &Store,
    cookie: &BrowserCookie,
    session: &BrowserSession,
    clear_failures: bool,
) -> Result<(), StoreError> {
    let item = entity_item(session, cookie.key(), SESSION_SK.to_owned(), "authorize_session")?;
    let mut items = vec![put_if_new(store, item)?.transact_item()?];
    if clear_failures {
        items.push(AccountStore::new(store).clear_failures(&session.org_id, &session.user_id)?);
    }
    match transact(store, items).await? {
        None => Ok(()),
        Some(_) => Err(unexpected_cancellation("browser session conflicted (user deleted meanwhile or id collision)")),
    }
}

/// The signed-in session of `cookie`, if any.
pub async fn find(store: &Store, cookie: &BrowserCookie) -> Result<Option<BrowserSession>, StoreError> {
    store.get_consistent(cookie.key(), SESSION_SK.to_owned()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_bound_to_the_cookie() {
        let (one, other) = (BrowserCookie::new().unwrap(), BrowserCookie::new().unwrap());
        assert!(one.accepts(&one.csrf_token()));
        assert!(!one.accepts(&other.csrf_token()));
        assert!(!one.accepts(""));
    }

    #[test]
    fn only_a_well_formed_cookie_is_read() {
        let cookie = BrowserCookie::new().unwrap();
        let mut headers = HeaderMap::new();
        let sent = format!("other=1; {COOKIE_NAME}={}", cookie.secret);
        headers.insert(header::COOKIE, HeaderValue::from_str(&sent).unwrap());
        assert_eq!(BrowserCookie::sent(&headers).map(|c| c.secret), Some(cookie.secret));
        headers.insert(header::COOKIE, HeaderValue::from_static("doorstep_authorize=short"));
        assert!(BrowserCookie::sent(&headers).is_none());
    }
}
