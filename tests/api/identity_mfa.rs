//! MFA against guessing: challenges, attempts and the account lockout.

use doorstep_tests::{TestApp, app};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

use crate::identity_support::{PASSWORD, login, new_email, new_ip, post_from, register};

/// Registers an owner and turns MFA on; returns the registration and the authenticator.
async fn owner_with_mfa(app: &TestApp, email: &str) -> (Value, Totp) {
    let (registered, totp, _) = owner_with_recovery_codes(app, email).await;
    (registered, totp)
}

/// Registers an owner and turns MFA on; also returns the recovery codes shown then.
async fn owner_with_recovery_codes(app: &TestApp, email: &str) -> (Value, Totp, Vec<String>) {
    let registered = register(app, email).await;
    let access = registered["access_token"].as_str().unwrap();
    let setup = app.post("/api/v1/identity/mfa/setup", access, &json!({"password": PASSWORD})).await;
    assert_eq!(setup.status, StatusCode::OK, "{:?}", setup.body);
    let secret = setup.body["data"]["secret"].as_str().unwrap();
    let totp = Builder::new().with_secret(Secret::try_from_base32(secret).unwrap()).build().unwrap();
    let code = totp.generate(now()).to_string();
    let confirmed = app.post("/api/v1/identity/mfa/verify", access, &json!({"code": code})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let codes = confirmed.body["data"]["recovery_codes"]
        .as_array()
        .map(|codes| codes.iter().map(|c| c.as_str().unwrap().to_owned()).collect::<Vec<_>>());
    (registered, totp, codes.unwrap_or_default())
}

fn now() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp().cast_unsigned()
}

/// A code that the authenticator shows at none of the accepted steps.
fn wrong_code(totp: &Totp) -> String {
    let t = now();
    let valid: Vec<String> = [t - 30, t, t + 30, t + 60].iter().map(|s| totp.generate(*s).to_string()).collect();
    (0..).map(|i| format!("{:06}", 123_457 + i)).find(|c| !valid.contains(c)).unwrap()
}

async fn challenge(app: &TestApp, email: &str) -> String {
    let challenged = login(app, email, PASSWORD, &new_ip()).await;
    assert_eq!(challenged.status, StatusCode::OK, "{:?}", challenged.body);
    assert_eq!(challenged.body["data"]["mfa_required"], true);
    challenged.body["data"]["mfa_token"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, mfa_token: &str, code: &str) -> StatusCode {
    post_from(app, "/api/v1/identity/mfa/verify", &json!({"mfa_token": mfa_token, "code": code}), &new_ip())
        .await
        .status
}

#[tokio::test]
async fn mfa_codes_cannot_be_brute_forced_concurrently() {
    let app = app().await;
    let email = new_email("mfa-brute");
    let (registered, totp) = owner_with_mfa(&app, &email).await;
    let mfa_token = challenge(&app, &email).await;

    // When twenty wrong codes arrive at once on one challenge
    let wrong = wrong_code(&totp);
    let answers = futures::future::join_all((0..20).map(|_| verify(&app, &mfa_token, &wrong))).await;
    assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{answers:?}");

    // Then only the challenge's five attempts were evaluated: each reserved before its check
    let org_id = registered["organization"]["id"].as_str().unwrap();
    let digest = shared::http::body::hex(&Sha256::digest(mfa_token.as_bytes()));
    let stored = app.services.store.get_item_consistent(format!("ORG#{org_id}"), format!("TOKEN#MFA#{digest}")).await;
    let attempts: Option<u32> = shared::store::number_attr(stored.unwrap().as_ref(), "attempts");
    assert_eq!(attempts, Some(5), "attempts reserved on the challenge");
    // and the wrong codes counted toward the account lockout: the right code and even the
    // right password are refused now
    assert_eq!(verify(&app, &mfa_token, &totp.generate(now() + 30).to_string()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, &email, PASSWORD, &new_ip()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn mfa_challenges_are_capped_per_user() {
    let app = app().await;
    let email = new_email("mfa-cap");
    let (_, totp) = owner_with_mfa(&app, &email).await;

    // Given two sign-ins with the right password
    let first = challenge(&app, &email).await;
    let second = challenge(&app, &email).await;

    // Then only the newest challenge is outstanding: the older one accepts no code
    let code = totp.generate(now() + 30).to_string();
    assert_eq!(verify(&app, &first, &code).await, StatusCode::UNAUTHORIZED);
    assert_eq!(verify(&app, &second, &code).await, StatusCode::OK);
}

#[tokio::test]
async fn mfa_changes_need_the_password_and_recovery_codes_work_once() {
    let app = app().await;
    let email = new_email("mfa-life");
    let registered = register(&app, &email).await;
    let access = registered["access_token"].as_str().unwrap();

    // A stolen access token alone cannot turn MFA on
    let no_password = app.post("/api/v1/identity/mfa/setup", access, &json!({})).await;
    assert_eq!(no_password.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", no_password.body);
    let wrong = app.post("/api/v1/identity/mfa/setup", access, &json!({"password": "not the password"})).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{:?}", wrong.body);

    // With the password it can; confirming shows ten one-time recovery codes, once
    let (registered, _, codes) = owner_with_recovery_codes(&app, &new_email("mfa-life")).await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(codes.iter().all(|c| c.len() >= 16));
    let email = registered["user"]["email"].as_str().unwrap().to_owned();
    let access = registered["access_token"].as_str().unwrap();

    // A recovery code stands in for a TOTP code, once
    let first = challenge(&app, &email).await;
    assert_eq!(verify(&app, &first, &codes[0]).await, StatusCode::OK);
    let second = challenge(&app, &email).await;
    assert_eq!(verify(&app, &second, &codes[0]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(verify(&app, &second, &codes[1].to_uppercase()).await, StatusCode::OK);

    // Turning MFA off needs the password too, then sign-in needs no code
    let route = "/api/v1/identity/mfa/disable";
    assert_eq!(app.post(route, access, &json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.post(route, access, &json!({"password": "wrong password!"})).await.status, StatusCode::FORBIDDEN);
    let disabled = app.post(route, access, &json!({"password": PASSWORD})).await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
    assert_eq!(disabled.body["data"]["mfa_enabled"], false);
    let signed_in = login(&app, &email, PASSWORD, &new_ip()).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert!(signed_in.body["data"]["access_token"].is_string(), "{:?}", signed_in.body);
}
