//! Signing-key rotation as warm functions see it: the JWKS secret gains the new public key,
//! and a token signed with it verifies at once, while tokens of the previous key keep
//! verifying until they expire.

use doorstep_tests::{app, claims, new_org};
use serde_json::Value;
use shared::auth::jwks::Jwks;
use shared::auth::jwt::{JwtSigner, JwtVerifier, SigningKeySecret};

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
