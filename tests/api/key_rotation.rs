//! Signing-key rotation. The JWKS holds the new and the previous public key, so a token
//! signed just before a rotation keeps working until it expires, and warm functions
//! accept the new key as soon as it is published. The shared stack's secrets are never
//! rotated here (tests run in parallel): the two-key JWKS is built in the test, exactly
//! as `stack.py rotate-keys` builds it, or published to a secret of the test's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::{app, claims, new_org};
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

#[tokio::test]
async fn a_new_signing_key_is_accepted_by_warm_functions_once_published() {
    let app = app().await;
    let config = &app.services.config;
    let secrets = &app.services.aws.secrets;
    let stack_jwks: Value =
        serde_json::from_str(&shared::secrets::read_string(secrets, &config.jwt_public_keys_secret_id).await.unwrap())
            .unwrap();
    let suffix = ulid::Ulid::generate().to_string().to_lowercase();
    let (old_kid, new_kid) = (format!("old-{suffix}"), format!("new-{suffix}"));
    let signer = |kid: &str| {
        JwtSigner::new(&SigningKeySecret { kid: kid.to_owned(), ..app.signing_key.clone() }).expect("signing key")
    };

    // Given a function that loaded a JWKS with only the old key...
    let published = serde_json::json!({"keys": [jwk_as(&stack_jwks, &old_kid)]}).to_string();
    let secret_id = format!("doorstep/test/jwks-{suffix}");
    secrets.create_secret().name(&secret_id).secret_string(&published).send().await.unwrap();
    let verifier = JwtVerifier::from_jwks(&published, &config.jwt_audience, &config.jwt_issuer).unwrap();
    let jwks = Jwks::refreshing(verifier, secrets.clone(), &secret_id, &config.jwt_audience, &config.jwt_issuer);
    let user = claims(config, &new_org(), &["PropertyManager"]);
    let old_token = signer(&old_kid).sign(&user).unwrap();
    assert_eq!(jwks.verify(&old_token).await.unwrap().sub, user.sub);

    // ...when rotation publishes the new key next to the previous one...
    let rotated = serde_json::json!({"keys": [jwk_as(&stack_jwks, &new_kid), jwk_as(&stack_jwks, &old_kid)]});
    secrets.put_secret_value().secret_id(&secret_id).secret_string(rotated.to_string()).send().await.unwrap();

    // ...then tokens of the new key verify without a cold start, and the old ones still do.
    let new_token = signer(&new_kid).sign(&user).unwrap();
    assert_eq!(jwks.verify(&new_token).await.unwrap().sub, user.sub);
    assert_eq!(jwks.verify(&old_token).await.unwrap().sub, user.sub);

    // A kid nobody published stays a 401, and does not trigger another read for a minute.
    let stranger = signer(&format!("stranger-{suffix}")).sign(&user).unwrap();
    let refused = jwks.verify(&stranger).await.unwrap_err();
    assert_eq!(refused.code(), "AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn a_signing_key_withdrawn_from_the_jwks_stops_verifying_on_warm_functions_within_five_minutes() {
    let app = app().await;
    let config = &app.services.config;
    let secrets = &app.services.aws.secrets;
    let stack_jwks: Value =
        serde_json::from_str(&shared::secrets::read_string(secrets, &config.jwt_public_keys_secret_id).await.unwrap())
            .unwrap();
    let suffix = ulid::Ulid::generate().to_string().to_lowercase();
    let (kept_kid, compromised_kid) = (format!("kept-{suffix}"), format!("compromised-{suffix}"));
    let signer = |kid: &str| {
        JwtSigner::new(&SigningKeySecret { kid: kid.to_owned(), ..app.signing_key.clone() }).expect("signing key")
    };

    // Given a warm function that loaded a JWKS with both keys, on a hand-set clock...
    let published =
        json!({"keys": [jwk_as(&stack_jwks, &kept_kid), jwk_as(&stack_jwks, &compromised_kid)]}).to_string();
    let secret_id = format!("doorstep/test/jwks-{suffix}");
    secrets.create_secret().name(&secret_id).secret_string(&published).send().await.unwrap();
    let seconds = Arc::new(AtomicI64::new(1_900_000_000));
    let verifier = JwtVerifier::from_jwks(&published, &config.jwt_audience, &config.jwt_issuer).unwrap();
    let jwks = Jwks::refreshing(verifier, secrets.clone(), &secret_id, &config.jwt_audience, &config.jwt_issuer)
        .with_clock(Clock::Manual(seconds.clone()));
    let user = claims(config, &new_org(), &["PropertyManager"]);
    let (kept, compromised) = (signer(&kept_kid).sign(&user).unwrap(), signer(&compromised_kid).sign(&user).unwrap());
    assert!(jwks.verify(&compromised).await.is_ok());

    // ...when the compromised key is withdrawn from the JWKS...
    let withdrawn = json!({"keys": [jwk_as(&stack_jwks, &kept_kid)]});
    secrets.put_secret_value().secret_id(&secret_id).secret_string(withdrawn.to_string()).send().await.unwrap();

    // ...then its tokens verify for at most MAX_KEY_AGE more, and not after it.
    let key_age = i64::try_from(MAX_KEY_AGE.as_secs()).unwrap();
    seconds.fetch_add(key_age - 1, Ordering::SeqCst);
    assert!(jwks.verify(&compromised).await.is_ok(), "the keys are read lazily, once they are due");
    seconds.fetch_add(1, Ordering::SeqCst);
    let refused = jwks.verify(&compromised).await.unwrap_err();
    assert_eq!(refused.code(), "AUTHENTICATION_FAILED");
    assert_eq!(jwks.verify(&kept).await.unwrap().sub, user.sub);
}
