//! Signing-key rotation. The JWKS holds the new and the previous public key, so a token
//! signed just before a rotation keeps working until it expires, and warm functions
//! accept the new key as soon as it is published. The shared stack's secrets are never
//! rotated here (tests run in parallel): the two-key JWKS is built in the test, exactly
//! as `stack.py rotate-keys` builds it, or published to a secret of the test's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::{TestApp, app, claims, new_org};
use http::StatusCode;
use serde_json::{Value, json};
use shared::Services;
use shared::auth::Authenticator;
use shared::auth::jwks::{Jwks, MAX_KEY_AGE};
use shared::auth::jwt::{JwtSigner, JwtVerifier, SigningKeySecret};
use shared::rate_limit::Clock;

fn previous_key() -> (SigningKeySecret, Value) {
    let path = format!("{}/fixtures/previous-signing-key.json", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&raw).unwrap();
    (serde_json::from_value(doc.clone()).unwrap(), doc["jwk"].clone())
}

/// Services whose verifier trusts `jwks` (what a cold start after the rotation loads).
fn with_jwks(services: &Services, jwks: &Value) -> Services {
    let config = &services.config;
    let verifier = JwtVerifier::from_jwks(&jwks.to_string(), &config.jwt_audience, &config.jwt_issuer).unwrap();
    Services { authenticator: Authenticator::new(Jwks::fixed(verifier), services.store.clone()), ..services.clone() }
}

#[tokio::test]
async fn tokens_of_the_previous_key_verify_until_they_expire() {
    let app = app().await;
    let org = new_org();
    let config = &app.services.config;
    let current_jwks: Value = serde_json::from_str(
        &shared::secrets::read_string(&app.services.aws.secrets, &config.jwt_public_keys_secret_id).await.unwrap(),
    )
    .unwrap();
    let (previous_secret, previous_jwk) = previous_key();
    let previous = JwtSigner::new(&previous_secret).unwrap();

    // After rotation: the stack's key is the new one, the fixture key the previous one
    let mut keys = current_jwks["keys"].as_array().unwrap().clone();
    keys.push(previous_jwk);
    let rotated = properties::router(with_jwks(&app.services, &json!({ "keys": keys })));
    let new_only = properties::router(with_jwks(&app.services, &current_jwks));

    let old_token = previous.sign(&claims(config, &org, &["OrganizationOwner"])).unwrap();
    let new_token = app.token(&org, &["OrganizationOwner"]);
    let mut expired = claims(config, &org, &["OrganizationOwner"]);
    expired.iat -= 3600;
    expired.exp = expired.iat + 900;
    let old_expired = previous.sign(&expired).unwrap();

    let call = |router: axum::Router, token: String| async move {
        let request = http::Request::get("/api/v1/properties")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        doorstep_tests::TestResponse::read(tower::ServiceExt::oneshot(router, request).await.unwrap()).await
    };
    // Both keys verify during the overlap
    assert_eq!(call(rotated.clone(), old_token.clone()).await.status, StatusCode::OK);
    assert_eq!(call(rotated.clone(), new_token.clone()).await.status, StatusCode::OK);
    // An expired token of the previous key is refused as expired
    let response = call(rotated, old_expired).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "TOKEN_EXPIRED");
    // Once the previous key leaves the JWKS (next rotation), its tokens stop verifying
    let response = call(new_only, old_token).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn a_foreign_key_claiming_a_known_kid_is_refused() {
    let app = app().await;
    let (previous_secret, _) = previous_key();
    // Signed with a key the JWKS does not hold, under the kid of one it does
    let impostor = JwtSigner::new(&SigningKeySecret { kid: app.signer.kid().to_owned(), ..previous_secret }).unwrap();
    let token = impostor.sign(&claims(&app.services.config, &new_org(), &["OrganizationOwner"])).unwrap();
    let response = app.get("/api/v1/properties", &token).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "AUTHENTICATION_FAILED");

    // And a token with no kid at all
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = None;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(app.signing_key.private_key_pem.as_bytes()).unwrap();
    let kidless = jsonwebtoken::encode(&header, &claims(&app.services.config, &new_org(), &["Tenant"]), &key).unwrap();
    assert_eq!(app.get("/api/v1/properties", &kidless).await.status, StatusCode::UNAUTHORIZED);
}

/// The stack's public key, published under `kid`.
fn jwk_as(stack_jwks: &Value, kid: &str) -> Value {
    let mut key = stack_jwks["keys"][0].clone();
    key["kid"] = Value::String(kid.to_owned());
    key
}

/// A JWKS secret of the test's own, holding the stack's public key under each of some
/// kids, as rotation publishes it.
struct PublishedKeys<'a> {
    app: &'a TestApp,
    stack_jwks: Value,
    secret_id: String,
    /// Makes the test's kids unique.
    suffix: String,
}

impl<'a> PublishedKeys<'a> {
    /// Publishes `kids` (each suffixed) and answers a `Jwks` that loaded them, as a warm
    /// function holds it.
    async fn publish(app: &'a TestApp, kids: &[&str]) -> (Self, Jwks) {
        let (config, secrets) = (&app.services.config, &app.services.aws.secrets);
        let raw = shared::secrets::read_string(secrets, &config.jwt_public_keys_secret_id).await.unwrap();
        let suffix = ulid::Ulid::generate().to_string().to_lowercase();
        let keys = Self {
            app,
            stack_jwks: serde_json::from_str(&raw).unwrap(),
            secret_id: format!("doorstep/test/jwks-{suffix}"),
            suffix,
        };
        let published = keys.document(kids);
        secrets.create_secret().name(&keys.secret_id).secret_string(&published).send().await.unwrap();
        let verifier = JwtVerifier::from_jwks(&published, &config.jwt_audience, &config.jwt_issuer).unwrap();
        let jwks =
            Jwks::refreshing(verifier, secrets.clone(), &keys.secret_id, &config.jwt_audience, &config.jwt_issuer);
        (keys, jwks)
    }

    fn kid(&self, kid: &str) -> String {
        format!("{kid}-{}", self.suffix)
    }

    fn document(&self, kids: &[&str]) -> String {
        json!({"keys": kids.iter().map(|kid| jwk_as(&self.stack_jwks, &self.kid(kid))).collect::<Vec<_>>()}).to_string()
    }

    /// Replaces the published keys with `kids`.
    async fn republish(&self, kids: &[&str]) {
        let secrets = &self.app.services.aws.secrets;
        secrets.put_secret_value().secret_id(&self.secret_id).secret_string(self.document(kids)).send().await.unwrap();
    }

    /// A token for `user` signed with the stack's key under `kid`.
    fn sign(&self, kid: &str, user: &shared::auth::jwt::Claims) -> String {
        let key = SigningKeySecret { kid: self.kid(kid), ..self.app.signing_key.clone() };
        JwtSigner::new(&key).expect("signing key").sign(user).unwrap()
    }
}

#[tokio::test]
async fn a_new_signing_key_is_accepted_by_warm_functions_once_published() {
    let app = app().await;
    // Given a function that loaded a JWKS with only the old key...
    let (keys, jwks) = PublishedKeys::publish(&app, &["old"]).await;
    let user = claims(&app.services.config, &new_org(), &["PropertyManager"]);
    let old_token = keys.sign("old", &user);
    assert_eq!(jwks.verify(&old_token).await.unwrap().sub, user.sub);

    // ...when rotation publishes the new key next to the previous one...
    keys.republish(&["new", "old"]).await;

    // ...then tokens of the new key verify without a cold start, and the old ones still do.
    let new_token = keys.sign("new", &user);
    assert_eq!(jwks.verify(&new_token).await.unwrap().sub, user.sub);
    assert_eq!(jwks.verify(&old_token).await.unwrap().sub, user.sub);

    // A kid nobody published stays a 401, and does not trigger another read for a minute.
    let refused = jwks.verify(&keys.sign("stranger", &user)).await.unwrap_err();
    assert_eq!(refused.code(), "AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn a_signing_key_withdrawn_from_the_jwks_stops_verifying_on_warm_functions_within_five_minutes() {
    let app = app().await;
    // Given a warm function that loaded a JWKS with both keys, on a hand-set clock...
    let (keys, jwks) = PublishedKeys::publish(&app, &["kept", "compromised"]).await;
    let seconds = Arc::new(AtomicI64::new(1_900_000_000));
    let jwks = jwks.with_clock(Clock::Manual(seconds.clone()));
    let user = claims(&app.services.config, &new_org(), &["PropertyManager"]);
    let (kept, compromised) = (keys.sign("kept", &user), keys.sign("compromised", &user));
    assert!(jwks.verify(&compromised).await.is_ok());

    // ...when the compromised key is withdrawn from the JWKS...
    keys.republish(&["kept"]).await;

    // ...then its tokens verify for at most MAX_KEY_AGE more, and not after it.
    let key_age = i64::try_from(MAX_KEY_AGE.as_secs()).unwrap();
    seconds.fetch_add(key_age - 1, Ordering::SeqCst);
    assert!(jwks.verify(&compromised).await.is_ok(), "the keys are read lazily, once they are due");
    seconds.fetch_add(1, Ordering::SeqCst);
    let refused = jwks.verify(&compromised).await.unwrap_err();
    assert_eq!(refused.code(), "AUTHENTICATION_FAILED");
    assert_eq!(jwks.verify(&kept).await.unwrap().sub, user.sub);
}
