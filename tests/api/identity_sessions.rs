//! Register, login, refresh and logout through the gateway, as clients use them.

use axum::body::Body;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use doorstep_tests::{TestResponse, app, app_with_rate_limits};
use http::{Method, StatusCode};
use serde_json::json;
use shared::rate_limit::{Clock, Limit, RateLimits};
use tower::ServiceExt;

use crate::identity_support::{PASSWORD, jwt_part, login, new_email, new_ip, post_from, refresh, register, tokens};

#[tokio::test]
async fn register_login_call_refresh_logout() {
    let app = app().await;
    let email = new_email("owner");

    // Given a registered organization
    let registered = register(&app, &email).await;
    assert_eq!(registered["user"]["email"], email.as_str());
    assert_eq!(registered["user"]["roles"], json!(["OrganizationOwner"]));
    assert_eq!(registered["organization"]["plan"], "standard");
    assert_eq!(registered["token_type"], "Bearer");
    assert!(registered["user"].get("password_hash").is_none());
    let org_id = registered["organization"]["id"].as_str().unwrap().to_owned();

    // When the owner signs in, the access token opens the properties API
    let signed_in = login(&app, &email, PASSWORD, &new_ip()).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let data = &signed_in.body["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["user"]["organization_id"], org_id.as_str());
    let access = data["access_token"].as_str().unwrap().to_owned();
    let created = app.create_property(&access, "Logged-in Lofts").await;
    let listed = app.get("/api/v1/properties", &access).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"][0]["id"], created["id"]);

    // Then a refresh gives new tokens that work too
    let refreshed = refresh(&app, data["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    let new_access = refreshed.body["data"]["access_token"].as_str().unwrap();
    let new_refresh = refreshed.body["data"]["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, data["refresh_token"].as_str().unwrap());
    assert_eq!(app.get("/api/v1/properties", new_access).await.status, StatusCode::OK);

    // And after logout the session's refresh token is dead
    let out = post_from(&app, "/api/v1/identity/logout", &json!({"refresh_token": new_refresh}), &new_ip()).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = refresh(&app, &new_refresh).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.error_code(), "AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn access_tokens_carry_the_seed_claims() {
    let app = app().await;
    let email = new_email("claims");
    let registered = register(&app, &email).await;
    let token = registered["access_token"].as_str().unwrap();
    let header = jwt_part(token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], app.signer.kid());
    let claims = jwt_part(token, 1);
    assert_eq!(claims["sub"], registered["user"]["id"]);
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["org_id"], registered["organization"]["id"]);
    assert_eq!(claims["org_roles"], json!(["OrganizationOwner"]));
    assert!(claims["permissions"].as_array().unwrap().contains(&json!("property:*")));
    assert_eq!(claims["aud"], "PropertyManagement");
    assert_eq!(claims["iss"], app.services.config.jwt_issuer.as_str());
    assert_eq!(claims["plan"], "standard");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_whole_family() {
    let app = app().await;
    let email = new_email("reuse");
    register(&app, &email).await;
    let (_, first) = tokens(&app, &email, PASSWORD).await;

    let second = refresh(&app, &first).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.body["data"]["refresh_token"].as_str().unwrap().to_owned();

    // The first token is replayed (say, by a thief): refused, and the family revoked
    let replay = refresh(&app, &first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    // so the legitimate holder's newer token fails as well
    let legit = refresh(&app, &second).await;
    assert_eq!(legit.status, StatusCode::UNAUTHORIZED);

    // Another session of the same user is unaffected
    let (_, other) = tokens(&app, &email, PASSWORD).await;
    assert_eq!(refresh(&app, &other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_succeeds_at_most_once() {
    let app = app().await;
    let email = new_email("race");
    register(&app, &email).await;
    let (_, token) = tokens(&app, &email, PASSWORD).await;
    let (a, b) = tokio::join!(refresh(&app, &token), refresh(&app, &token));
    let ok = [&a, &b].iter().filter(|r| r.status == StatusCode::OK).count();
    assert!(ok <= 1, "both refreshes succeeded");
}

#[tokio::test]
async fn failed_logins_all_look_the_same() {
    let app = app().await;
    let email = new_email("locked");
    register(&app, &email).await;

    let wrong = login(&app, &email, "not the password", &new_ip()).await;
    let unknown = login(&app, &new_email("nobody"), PASSWORD, &new_ip()).await;
    // Lock the account: five consecutive wrong passwords (the default limit)
    for _ in 0..4 {
        assert_eq!(login(&app, &email, "still not it", &new_ip()).await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = login(&app, &email, PASSWORD, &new_ip()).await;

    for (case, response) in [("wrong password", &wrong), ("unknown user", &unknown), ("locked account", &locked)] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(response.error_code(), "AUTHENTICATION_FAILED", "{case}");
        assert_eq!(response.body["error"]["message"], wrong.body["error"]["message"], "{case}");
        assert!(response.body["error"].get("details").is_none(), "{case}");
    }
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_throttled() {
    // The throttle's windows follow the rate limiter's clock: pinned mid-window, so the
    // 21 attempts cannot straddle a window boundary.
    let unlimited = Limit::new(1_000_000, 60);
    let limits = RateLimits { standard: unlimited, premium: unlimited, enterprise: unlimited, anonymous: unlimited };
    let app = app_with_rate_limits(limits, Clock::Manual(Arc::new(AtomicI64::new(1_900_000_350)))).await;
    let ip = new_ip();
    let email = new_email("throttled");
    register(&app, &email).await;
    // Default limit: 20 failures per 15-minute window per source address
    for attempt in 0..20 {
        let response = login(&app, &new_email("guess"), "guessing-password", &ip).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let throttled = login(&app, &email, PASSWORD, &ip).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.error_code(), "RATE_LIMIT_EXCEEDED");
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry_after, 450);
    // Another address is not affected
    assert_eq!(login(&app, &email, PASSWORD, &new_ip()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn registration_rejects_bad_input_and_taken_emails() {
    let app = app().await;
    let email = new_email("dup");
    register(&app, &email).await;
    let again = json!({"email": email.to_uppercase(), "password": PASSWORD, "first_name": "A", "last_name": "B",
        "organization_name": "Second"});
    let taken = post_from(&app, "/api/v1/identity/register", &again, &new_ip()).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let bad = json!({"email": "not-an-email", "password": "short", "first_name": "", "last_name": "B",
        "organization_name": "X"});
    let invalid = post_from(&app, "/api/v1/identity/register", &bad, &new_ip()).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        invalid.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password", "first_name"]);

    let extra = json!({"email": new_email("x"), "password": PASSWORD, "first_name": "A", "last_name": "B",
        "organization_name": "X", "org_id": "org_01JD3M00000000000000000001"});
    let rejected = post_from(&app, "/api/v1/identity/register", &extra, &new_ip()).await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let app = app().await;
    let response = app.call(Method::GET, "/.well-known/jwks.json", None, None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    let kids: Vec<&str> =
        response.body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&app.signer.kid()));
    assert!(response.body["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()), "no private parts");
    assert!(response.header("cache-control").is_some_and(|v| v.contains("max-age")));
}

fn fixture(name: &str) -> String {
    let path = format!("{}/../events/identity/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn identity_fixtures_run_through_lambda_http() {
    let app = app().await;
    let email = new_email("fixture");
    let ip = new_ip();
    let mut answers = Vec::new();
    for name in ["register", "login"] {
        let event = fixture(name).replace("__EMAIL__", &email).replace("__SOURCE_IP__", &ip);
        let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
        let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
        answers.push(TestResponse::read(response).await);
    }
    assert_eq!(answers[0].status, StatusCode::CREATED, "{:?}", answers[0].body);
    assert_eq!(answers[0].body["data"]["organization"]["plan"], "standard");
    assert_eq!(answers[0].header("x-request-id"), Some("req-fixture-register"));
    assert_eq!(answers[1].status, StatusCode::OK, "{:?}", answers[1].body);
    assert_eq!(jwt_part(answers[1].body["data"]["access_token"].as_str().unwrap(), 1)["plan"], "standard");
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_evaluations_than_the_limits() {
    // The address throttle's window is pinned mid-window (see the test above)
    let unlimited = Limit::new(1_000_000, 60);
    let limits = RateLimits { standard: unlimited, premium: unlimited, enterprise: unlimited, anonymous: unlimited };
    let app = app_with_rate_limits(limits, Clock::Manual(Arc::new(AtomicI64::new(1_900_000_350)))).await;

    // When 30 wrong guesses arrive at once from one address (the limit is 20 per window)
    let ip = new_ip();
    let email = new_email("burst-ip");
    register(&app, &email).await;
    let guesses =
        (0..30).map(|i| login(&app, &email, if i % 2 == 0 { "guess-one-two" } else { "guess-three-four" }, &ip));
    let answers = futures::future::join_all(guesses).await;
    let refused = answers.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
    // Then only 20 are taken up; the rest are throttled without a password check
    assert_eq!((refused, throttled), (20, 10), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());

    // When 23 wrong guesses arrive at once from as many addresses on a fresh account
    let email = new_email("burst-account");
    let registered = register(&app, &email).await;
    let guesses = (0..23).map(|_| async { login(&app, &email, "not the password", &new_ip()).await });
    let answers = futures::future::join_all(guesses).await;
    assert!(answers.iter().all(|r| r.status == StatusCode::UNAUTHORIZED));
    // Then five were evaluated and locked the account once: the count starts again from
    // zero and no later guess was counted
    let org_id = registered["organization"]["id"].as_str().unwrap();
    let user_id = registered["user"]["id"].as_str().unwrap();
    let user = app.services.store.get_item_consistent(format!("ORG#{org_id}"), format!("USER#{user_id}")).await;
    let user = user.unwrap();
    assert_eq!(shared::store::number_attr::<u32>(user.as_ref(), "failed_logins"), Some(0));
    assert!(shared::store::number_attr::<i64>(user.as_ref(), "locked_until").is_some());
    assert_eq!(login(&app, &email, PASSWORD, &new_ip()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_responses_are_never_cached() {
    let app = app().await;
    let email = new_email("no-store");
    let no_store = |name: &str, response: &TestResponse| {
        assert!(response.status.is_success(), "{name}: {:?}", response.body);
        assert_eq!(response.header("cache-control"), Some("no-store"), "{name}");
        assert_eq!(response.header("pragma"), Some("no-cache"), "{name}");
    };
    let body = json!({"email": email, "password": PASSWORD, "first_name": "N", "last_name": "S",
        "organization_name": "No Store"});
    let registered = post_from(&app, "/api/v1/identity/register", &body, &new_ip()).await;
    no_store("register", &registered);
    let signed_in = login(&app, &email, PASSWORD, &new_ip()).await;
    no_store("login", &signed_in);
    let refreshed = refresh(&app, signed_in.body["data"]["refresh_token"].as_str().unwrap()).await;
    no_store("refresh", &refreshed);
    let access = refreshed.body["data"]["access_token"].as_str().unwrap();
    let setup = app.post("/api/v1/identity/mfa/setup", access, &json!({"password": PASSWORD})).await;
    no_store("mfa/setup", &setup);
}

#[tokio::test]
async fn registrants_cannot_choose_their_plan() {
    let app = app().await;
    // The plan sets the rate-limit tier: it is server-owned, so naming it is refused
    // like any other server-owned field
    let body = json!({"email": new_email("upgrade"), "password": PASSWORD, "first_name": "U", "last_name": "P",
        "organization_name": "Free Upgrade", "plan": "enterprise"});
    let refused = post_from(&app, "/api/v1/identity/register", &body, &new_ip()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["details"][0]["field"], "plan");

    // Without it, an organization starts on the standard plan, and its tokens say so
    let registered = register(&app, &new_email("standard")).await;
    assert_eq!(registered["organization"]["plan"], "standard");
    assert_eq!(jwt_part(registered["access_token"].as_str().unwrap(), 1)["plan"], "standard");
}
