//! Password reset, email verification and MFA, with the events a mail sender receives.

use doorstep_tests::app;
use http::StatusCode;
use serde_json::json;
use totp_rs::{Builder, Secret};

use crate::identity_support::{Inbox, PASSWORD, login, new_email, new_ip, post_from, refresh, register, tokens};

#[tokio::test]
async fn password_reset_is_mailed_single_use_and_ends_sessions() {
    let app = app().await;
    let email = new_email("forgetful");
    let inbox = Inbox::for_email(&app, &email).await;
    let registered = register(&app, &email).await;
    let (_, old_refresh) = tokens(&app, &email, PASSWORD).await;

    // Unknown and known addresses get the same answer
    let unknown =
        post_from(&app, "/api/v1/identity/forgot-password", &json!({"email": new_email("ghost")}), &new_ip()).await;
    let known = post_from(&app, "/api/v1/identity/forgot-password", &json!({"email": email}), &new_ip()).await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(unknown.body["data"], known.body["data"]);

    // The event carries what a mail sender needs
    let detail = inbox.detail(identity::PASSWORD_RESET_REQUESTED).await;
    assert_eq!(detail["user_id"], registered["user"]["id"]);
    assert_eq!(detail["email"], email.as_str());
    let token = detail["token"].as_str().unwrap().to_owned();
    // ... and only the bus saw it: the organization's event log holds no trace of it
    let access = registered["access_token"].as_str().unwrap();
    let log = app.get("/api/v1/events?page_size=100", access).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    assert!(!log.body.to_string().contains(&token));
    assert!(
        log.body["data"].as_array().unwrap().iter().all(|e| !e["event"].as_str().unwrap().starts_with("identity."))
    );

    let new_password = "a brand new passphrase";
    let body = json!({"token": token, "new_password": new_password});
    let reset = post_from(&app, "/api/v1/identity/reset-password", &body, &new_ip()).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);

    // Single use
    let again = post_from(&app, "/api/v1/identity/reset-password", &body, &new_ip()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    // The old password is gone, the new one works, and older sessions are revoked
    assert_eq!(login(&app, &email, PASSWORD, &new_ip()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, &email, new_password, &new_ip()).await.status, StatusCode::OK);
    assert_eq!(refresh(&app, &old_refresh).await.status, StatusCode::UNAUTHORIZED);

    let forged = json!({"token": "dpr_01JD3M00000000000000000001_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "new_password": new_password});
    assert_eq!(
        post_from(&app, "/api/v1/identity/reset-password", &forged, &new_ip()).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn email_verification_token_from_registration_verifies_once() {
    let app = app().await;
    let email = new_email("verify");
    let inbox = Inbox::for_email(&app, &email).await;
    let registered = register(&app, &email).await;
    assert_eq!(registered["user"]["email_verified"], false);

    let detail = inbox.detail(identity::EMAIL_VERIFICATION_REQUESTED).await;
    assert_eq!(detail["user_id"], registered["user"]["id"]);
    let body = json!({"token": detail["token"]});
    let verified = post_from(&app, "/api/v1/identity/verify-email", &body, &new_ip()).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["data"]["email_verified"], true);
    assert_eq!(
        post_from(&app, "/api/v1/identity/verify-email", &body, &new_ip()).await.status,
        StatusCode::BAD_REQUEST
    );

    let access = registered["access_token"].as_str().unwrap();
    let me = app.get(&format!("/api/v1/identity/users/{}", registered["user"]["id"].as_str().unwrap()), access).await;
    assert_eq!(me.body["data"]["email_verified"], true);
}

#[tokio::test]
async fn mfa_setup_then_login_needs_a_code() {
    let app = app().await;
    let email = new_email("mfa");
    let registered = register(&app, &email).await;
    let access = registered["access_token"].as_str().unwrap();

    let setup = app.post("/api/v1/identity/mfa/setup", access, &json!({"password": PASSWORD})).await;
    assert_eq!(setup.status, StatusCode::OK, "{:?}", setup.body);
    let secret = setup.body["data"]["secret"].as_str().unwrap();
    assert!(setup.body["data"]["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let totp = Builder::new().with_secret(Secret::try_from_base32(secret).unwrap()).build().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp().cast_unsigned();

    let wrong = app.post("/api/v1/identity/mfa/verify", access, &json!({"code": "000000"})).await;
    let right_code = totp.generate(now).to_string();
    let wrong = if right_code == "000000" { None } else { Some(wrong) };
    if let Some(wrong) = wrong {
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    }
    let confirmed = app.post("/api/v1/identity/mfa/verify", access, &json!({"code": right_code})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["data"]["mfa_enabled"], true);

    // Sign-in now stops at a challenge
    let challenged = login(&app, &email, PASSWORD, &new_ip()).await;
    assert_eq!(challenged.status, StatusCode::OK);
    assert_eq!(challenged.body["data"]["mfa_required"], true);
    assert!(challenged.body["data"].get("access_token").is_none());
    let mfa_token = challenged.body["data"]["mfa_token"].as_str().unwrap();

    // The code already used for setup is not accepted again; the next step's code is
    let replay =
        post_from(&app, "/api/v1/identity/mfa/verify", &json!({"mfa_token": mfa_token, "code": right_code}), &new_ip())
            .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    let next_code = totp.generate(now + 30).to_string();
    let body = json!({"mfa_token": mfa_token, "code": next_code});
    let completed = post_from(&app, "/api/v1/identity/mfa/verify", &body, &new_ip()).await;
    assert_eq!(completed.status, StatusCode::OK, "{:?}", completed.body);
    let token = completed.body["data"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/properties", token).await.status, StatusCode::OK);
    // The challenge is single-use
    assert_eq!(post_from(&app, "/api/v1/identity/mfa/verify", &body, &new_ip()).await.status, StatusCode::UNAUTHORIZED);
}

/// Asks for a password reset and returns the token mailed for it.
async fn requested_reset_token(app: &doorstep_tests::TestApp, inbox: &Inbox, email: &str) -> String {
    let asked = post_from(app, "/api/v1/identity/forgot-password", &json!({"email": email}), &new_ip()).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    inbox.detail(identity::PASSWORD_RESET_REQUESTED).await["token"].as_str().unwrap().to_owned()
}

async fn reset_with(app: &doorstep_tests::TestApp, token: &str, password: &str) -> StatusCode {
    let body = json!({"token": token, "new_password": password});
    post_from(app, "/api/v1/identity/reset-password", &body, &new_ip()).await.status
}

#[tokio::test]
async fn older_reset_tokens_end_at_a_reset_or_a_newer_request() {
    let app = app().await;
    let email = new_email("two-resets");
    let inbox = Inbox::for_email(&app, &email).await;
    register(&app, &email).await;
    inbox.detail(identity::EMAIL_VERIFICATION_REQUESTED).await;

    // Given two reset requests, one after the other
    let older = requested_reset_token(&app, &inbox, &email).await;
    let newer = requested_reset_token(&app, &inbox, &email).await;
    let latest = requested_reset_token(&app, &inbox, &email).await;

    // Then a newer request ended the older tokens
    assert_eq!(reset_with(&app, &older, "an older token's password").await, StatusCode::BAD_REQUEST);
    // and a reset ends every other token
    assert_eq!(reset_with(&app, &latest, "the latest token's password").await, StatusCode::OK);
    assert_eq!(reset_with(&app, &newer, "a newer token's password").await, StatusCode::BAD_REQUEST);
    assert_eq!(login(&app, &email, "the latest token's password", &new_ip()).await.status, StatusCode::OK);
}
