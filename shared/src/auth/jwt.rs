//! RS256 access tokens with a `kid`, verified against a JWKS.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The audience every Doorstep token carries (the platform API).
pub const DEFAULT_AUDIENCE: &str = "PropertyManagement";
/// Clock skew tolerated on `exp`/`nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 5;

/// The platform API's claims, plus `scope`/`client_id` on OAuth access tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub org_id: String,
    #[serde(default)]
    pub org_roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_profile_id: Option<String>,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub aud: String,
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The organization's plan when the token was issued; it sets the rate-limit tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::domain::Plan>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JWKS is not valid JSON: {0}")]
    Jwks(#[from] serde_json::Error),
    #[error("JWK {kid:?} is not a usable RSA key: {source}")]
    Jwk { kid: Option<String>, source: jsonwebtoken::errors::Error },
    #[error("JWKS has a key without a kid")]
    MissingKid,
    #[error("signing key is not a valid RSA private key PEM: {0}")]
    SigningKey(jsonwebtoken::errors::Error),
}

/// Verifies access tokens: RS256 only, known `kid`, audience, issuer, expiry.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("kids", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl JwtVerifier {
    /// Builds a verifier from a JWKS document (`{"keys": [...]}`).
    pub fn from_jwks(jwks: &str, audience: &str, issuer: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(jwks)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone().ok_or(KeyError::MissingKid)?;
            let key = DecodingKey::from_jwk(jwk).map_err(|source| KeyError::Jwk { kid: Some(kid.clone()), source })?;
            keys.insert(kid, key);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Ok(Self { keys, validation })
    }

    /// Whether the key set holds `kid`.
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies a compact JWS. Every failure is a 401; expiry says so.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = ApiError::AuthenticationFailed("Invalid access token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid)?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::AuthenticationFailed("Invalid access token"));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(ApiError::AuthenticationFailed("Invalid access token"))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation).map(|data| data.claims).map_err(|err| {
            match err.kind() {
                ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                _ => ApiError::AuthenticationFailed("Invalid access token"),
            }
        })
    }
}

/// Signs access tokens with the current private key (identity, dev tooling and tests).
#[derive(Clone)]
pub struct JwtSigner {
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The signing-key secret: `{"kid": "...", "private_key_pem": "..."}`.
#[derive(Clone, Deserialize)]
pub struct SigningKeySecret {
    pub kid: String,
    pub private_key_pem: String,
}

impl JwtSigner {
    pub fn new(secret: &SigningKeySecret) -> Result<Self, KeyError> {
        let key = EncodingKey::from_rsa_pem(secret.private_key_pem.as_bytes()).map_err(KeyError::SigningKey)?;
        Ok(Self { kid: secret.kid.clone(), key })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}
