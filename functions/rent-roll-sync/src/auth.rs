//! How a POST proves it comes from Doorstep (the RentSync guide §5): the key as a header,
//! an HMAC signature, a static `Authorization` value, or an OAuth 2.0 access token from
//! the client credentials grant, cached until it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::store::rent_roll::{AuthMode, OAuthClient};
use time::OffsetDateTime;

use crate::signing;

/// A token is used no later than this before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// How long a token lives when the token endpoint does not say (`expires_in`).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Access tokens by client (token URL, client id, scope and a hash of the secret), shared
/// by every delivery of the warm function.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    tokens: Arc<Mutex<HashMap<String, CachedToken>>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    access_token: String,
    expires_at: OffsetDateTime,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token endpoint refused the client's credentials (400 `invalid_client`, 401, 403).
    Refused(u16),
    /// Any other failure: try again later.
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

fn cache_key(client: &OAuthClient, secret: &str) -> String {
    let mut hash = Sha256::new();
    for part in [client.token_url.as_str(), client.client_id.as_str(), client.scope.as_deref().unwrap_or(""), secret] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    shared::http::body::hex(&hash.finalize())
}

impl TokenCache {
    fn cached(&self, key: &str, now: OffsetDateTime) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.get(key).filter(|t| t.expires_at > now).map(|t| t.access_token.clone())
    }

    fn remember(&self, key: String, token: CachedToken) {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, token);
    }

    /// Forgets the client's token (RentSync refused it).
    pub fn forget(&self, client: &OAuthClient, secret: &str) {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&cache_key(client, secret));
    }

    /// The client's access token: the cached one while it lives, else a new one from the
    /// token URL (client id and secret in HTTP Basic auth, per RFC 6749 §2.3.1).
    pub async fn token(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<String, TokenError> {
        let key = cache_key(client, secret);
        if let Some(token) = self.cached(&key, now) {
            return Ok(token);
        }
        // Built before the request: the serializer is not `Send`, so it must not live
        // across the await.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = &client.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let response = http
            .post(&client.token_url)
            .basic_auth(&client.client_id, Some(secret))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| {
                TokenError::Unavailable(
                    if e.is_timeout() { "Token request timed out" } else { "Token URL unreachable" }.into(),
                )
            })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            400 | 401 | 403 => return Err(TokenError::Refused(status)),
            _ => return Err(TokenError::Unavailable(format!("Token URL answered {status}"))),
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|_| TokenError::Unavailable("Token URL answered without an access_token".into()))?;
        let lifetime = body.expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let expires_at = now + lifetime.saturating_sub(EXPIRY_MARGIN);
        self.remember(key, CachedToken { access_token: body.access_token.clone(), expires_at });
        Ok(body.access_token)
    }
}

/// `request` with the auth headers of `mode`: `credential` is the key (API key, bearer,
/// HMAC), the header value (static token) or the access token (OAuth).
pub fn authenticate(
    request: reqwest::RequestBuilder,
    mode: AuthMode,
    credential: &str,
    body: &str,
    now: OffsetDateTime,
) -> reqwest::RequestBuilder {
    match mode {
        AuthMode::ApiKey => request.header("X-API-Key", credential),
        AuthMode::Bearer | AuthMode::OAuth2ClientCredentials => request.bearer_auth(credential),
        AuthMode::StaticToken => request.header(http::header::AUTHORIZATION, credential),
        AuthMode::Hmac => {
            let timestamp = now.unix_timestamp();
            request
                .header(signing::TIMESTAMP_HEADER, timestamp.to_string())
                .header(signing::SIGNATURE_HEADER, signing::signature(credential, timestamp, body))
        }
    }
}
