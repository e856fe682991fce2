//! The OAuth 2.0 authorization-code flow with PKCE, refresh-token rotation,
//! client_credentials, and revocation, end to end through the gateway.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use doorstep_tests::{TestApp, TestResponse, app, new_org};
use http::{Method, Request, StatusCode};
use identity::model::{Organization, User};
use identity::store::{AccountStore, Created, Registered};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::auth::Role;
use shared::domain::Plan;

pub const REDIRECT_URI: &str = "https://app.example.com/oauth/callback";

/// A registered app: its id and secret.
pub struct Client {
    pub id: String,
    pub secret: String,
}

/// Registers an app in the organization of `owner_token`.
pub async fn register(app: &TestApp, owner_token: &str, scopes: Option<&[&str]>) -> Client {
    let mut body = json!({
        "name": "Rent Reminder Pro",
        "description": "Reminds renters before rent is due",
        "redirect_uris": [REDIRECT_URI, "http://localhost:8080/cb"],
    });
    if let Some(scopes) = scopes {
        body["scopes"] = json!(scopes);
    }
    let response = app.post("/api/v1/identity/oauth/apps", owner_token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    Client {
        id: response.body["data"]["client_id"].as_str().unwrap().to_owned(),
        secret: response.body["data"]["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// A bearer token for a stored user of `org_id` with `roles` (the organization is
/// created, with an owner, if it does not exist yet). The token endpoint re-reads the
/// user who authorized an app, so an authorizing user must exist.
pub async fn user_token(app: &TestApp, org_id: &str, roles: &[&str]) -> String {
    let store = AccountStore::new(&app.services.store);
    let roles: Vec<Role> = roles.iter().map(|r| Role::parse(r).expect("a role")).collect();
    let now = time::OffsetDateTime::now_utc();
    let account = |roles: Vec<Role>| {
        let email = format!("user-{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
        User::new_account(org_id.to_owned(), email, "Oak".into(), "User".into(), roles, "unused".into(), now)
    };
    if store.get_organization(org_id).await.unwrap().is_none() {
        let org = Organization {
            id: org_id.to_owned(),
            name: "Authorizing Estates".into(),
            plan: Plan::Standard,
            owner_count: 1,
            created_at: now,
            updated_at: now,
        };
        let owner = account(vec![Role::OrganizationOwner]);
        assert_eq!(store.create_organization(&org, &owner).await.unwrap(), Registered::Done);
    }
    let user = account(roles);
    assert_eq!(store.create_user(&user).await.unwrap(), Created::Done);
    let mut claims = doorstep_tests::claims(&app.services.config, org_id, &[]);
    claims.sub = user.id.clone();
    claims.email = Some(user.email.clone());
    claims.org_roles = user.roles.iter().map(|r| r.name().to_owned()).collect();
    app.sign(&claims)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("{}-{}", ulid::Ulid::generate(), ulid::Ulid::generate());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The query of an authorization request.
pub fn authorize_uri(
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    challenge: &str,
    consent: Option<&str>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "xyz state")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(consent) = consent {
        query.append_pair("consent", consent);
    }
    format!("/oauth/authorize?{}", query.finish())
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &TestResponse) -> (String, std::collections::HashMap<String, String>) {
    let location = response.header("location").expect("a Location header");
    let url = url::Url::parse(location).expect("an absolute Location");
    let base = format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or(""), url.path());
    (base, url.query_pairs().into_owned().collect())
}

/// Has the user approve and returns the code.
pub async fn approve(app: &TestApp, user_token: &str, client: &Client, scope: &str, challenge: &str) -> String {
    let response =
        app.get(&authorize_uri(&client.id, REDIRECT_URI, scope, challenge, Some("approve")), user_token).await;
    assert_eq!(response.status, StatusCode::FOUND, "{:?}", response.body);
    let (base, params) = redirect_params(&response);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(params["state"], "xyz state");
    params["code"].clone()
}

/// How a token request authenticates the client.
#[derive(Clone, Copy)]
pub enum Auth {
    Basic,
    Body,
}

/// `POST /oauth/token` with a form body.
pub async fn token_request(app: &TestApp, client: &Client, auth: Auth, fields: &[(&str, &str)]) -> TestResponse {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded");
    match auth {
        Auth::Basic => {
            let pair = STANDARD.encode(format!("{}:{}", client.id, client.secret));
            builder = builder.header("authorization", format!("Basic {pair}"));
        }
        Auth::Body => {
            form.append_pair("client_id", &client.id).append_pair("client_secret", &client.secret);
        }
    }
    app.send(builder.body(Body::from(form.finish())).unwrap()).await
}

/// Exchanges a code for tokens, asserting success.
pub async fn exchange(app: &TestApp, client: &Client, code: &str, verifier: &str) -> Value {
    let response = token_request(
        app,
        client,
        Auth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

/// Authorizes `client` for a user and returns the token response.
pub async fn tokens_for(app: &TestApp, user_token: &str, client: &Client, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let code = approve(app, user_token, client, scope, &challenge).await;
    exchange(app, client, &code, &verifier).await
}

/// A code exchange with the given parts.
async fn redeem(
    app: &TestApp,
    client: &Client,
    auth: Auth,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> TestResponse {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token_request(app, client, auth, &fields).await
}

fn assert_oauth_error(response: &TestResponse, status: StatusCode, error: &str) {
    assert_eq!(response.status, status, "{:?}", response.body);
    assert_eq!(response.body["error"], error, "{:?}", response.body);
    assert!(response.body["error_description"].is_string());
    assert_eq!(response.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn the_code_flow_with_pkce_reaches_the_users_data_and_refreshes() {
    let app = app().await;
    // Given an app registered by a developer organization...
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    app.create_property(&developer, "Developer's own").await;
    let client = register(&app, &developer, None).await;
    // ...and a user of another organization with a property.
    let user_org = new_org();
    let user = user_token(&app, &user_org, &["OrganizationOwner"]).await;
    let property = app.create_property(&user, "Harbour View").await;
    let (verifier, challenge) = pkce();

    // When the user's client asks without consent, it gets what to show.
    let consent = app
        .get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties read:payments", &challenge, None), &user)
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{:?}", consent.body);
    assert_eq!(consent.body["data"]["app_name"], "Rent Reminder Pro");
    assert_eq!(consent.body["data"]["app_description"], "Reminds renters before rent is due");
    assert_eq!(consent.body["data"]["scopes"][0]["scope"], "read:properties");
    assert_eq!(consent.body["data"]["scopes"][0]["description"], "View properties and units");
    assert_eq!(consent.body["data"]["scopes"][1]["scope"], "read:payments");

    // When the user approves, the app gets a code and its state back.
    let code = approve(&app, &user, &client, "read:properties read:payments", &challenge).await;
    assert!(code.starts_with("dsa_"));

    // Then the code and verifier buy tokens.
    let tokens = exchange(&app, &client, &code, &verifier).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read:properties read:payments");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(refresh.starts_with("dsr_"));

    // And the access token reads the user's organization, not the developer's.
    let listed = app.get("/api/ai/properties", access).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let names: Vec<&str> =
        listed.body["properties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(names, vec![property["id"].as_str().unwrap()]);
    // It is closed to routes without an OAuth scope, such as creating properties.
    let create = app.post("/api/v1/properties", access, &doorstep_tests::property_body("Nope")).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);

    // When the app refreshes, it gets a new pair, and the new access token works.
    let refreshed =
        token_request(&app, &client, Auth::Body, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_eq!(refreshed.body["scope"], "read:properties read:payments");
    let next_refresh = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next_refresh, refresh);
    let again = app.get("/api/ai/properties", refreshed.body["access_token"].as_str().unwrap()).await;
    assert_eq!(again.status, StatusCode::OK);

    // A refresh may narrow the scope, never widen it.
    let narrowed = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &next_refresh), ("scope", "read:properties")],
    )
    .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{:?}", narrowed.body);
    assert_eq!(narrowed.body["scope"], "read:properties");
    let latest = narrowed.body["refresh_token"].as_str().unwrap().to_owned();
    let widened = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &latest), ("scope", "read:properties read:analytics")],
    )
    .await;
    assert_oauth_error(&widened, StatusCode::BAD_REQUEST, "invalid_scope");

    // When a used refresh token is replayed, it fails and its whole family is revoked.
    let replay =
        token_request(&app, &client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_oauth_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant");
    let latest_after_replay =
        token_request(&app, &client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", &latest)]).await;
    assert_oauth_error(&latest_after_replay, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn token_requests_that_do_not_prove_the_authorization_are_rejected() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &owner, None).await;
    let user = user_token(&app, &new_org(), &["PropertyManager"]).await;
    let (verifier, challenge) = pkce();
    let code = approve(&app, &user, &client, "read:properties", &challenge).await;
    // A wrong code_verifier.
    let (other_verifier, _) = pkce();
    let wrong_verifier = redeem(&app, &client, Auth::Basic, &code, REDIRECT_URI, &other_verifier).await;
    assert_oauth_error(&wrong_verifier, StatusCode::BAD_REQUEST, "invalid_grant");
    // A redirect URI other than the one the code was issued for (even a registered one).
    let wrong_redirect = redeem(&app, &client, Auth::Basic, &code, "http://localhost:8080/cb", &verifier).await;
    assert_oauth_error(&wrong_redirect, StatusCode::BAD_REQUEST, "invalid_grant");
    // A bad client secret, with Basic and in the body.
    let impostor = Client { id: client.id.clone(), secret: "dss_not-the-secret-not-the-secret-not-the-secret".into() };
    let bad_basic = redeem(&app, &impostor, Auth::Basic, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&bad_basic, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(bad_basic.header("www-authenticate"), Some(r#"Basic realm="doorstep""#));
    let bad_body = redeem(&app, &impostor, Auth::Body, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&bad_body, StatusCode::UNAUTHORIZED, "invalid_client");
    // An unknown client.
    let stranger = Client {
        id: format!("dsc_{}_{}", ulid::Ulid::generate(), ulid::Ulid::generate()),
        secret: client.secret.clone(),
    };
    let unknown = redeem(&app, &stranger, Auth::Basic, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_client");
    // Another app cannot redeem this app's code.
    let other_app = register(&app, &owner, None).await;
    let foreign = redeem(&app, &other_app, Auth::Basic, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&foreign, StatusCode::BAD_REQUEST, "invalid_grant");

    // None of those burned the code: the real request succeeds once...
    let tokens = exchange(&app, &client, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // ...and reusing it fails and revokes the tokens issued from it.
    let reused = redeem(&app, &client, Auth::Basic, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&reused, StatusCode::BAD_REQUEST, "invalid_grant");
    let after_reuse =
        token_request(&app, &client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_oauth_error(&after_reuse, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn malformed_token_requests_get_rfc_6749_errors() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &owner, None).await;

    let unsupported = token_request(&app, &client, Auth::Basic, &[("grant_type", "password")]).await;
    assert_oauth_error(&unsupported, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let missing = token_request(&app, &client, Auth::Basic, &[]).await;
    assert_oauth_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
    let no_code = token_request(&app, &client, Auth::Basic, &[("grant_type", "authorization_code")]).await;
    assert_oauth_error(&no_code, StatusCode::BAD_REQUEST, "invalid_request");
    let twice = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&twice, StatusCode::BAD_REQUEST, "invalid_request");
    let garbage_code = token_request(
        &app,
        &client,
        Auth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", "x"),
        ],
    )
    .await;
    assert_oauth_error(&garbage_code, StatusCode::BAD_REQUEST, "invalid_grant");
    let json =
        app.call(Method::POST, "/oauth/token", None, Some(&json!({"grant_type": "client_credentials"})), &[]).await;
    assert_oauth_error(&json, StatusCode::BAD_REQUEST, "invalid_request");
    let anonymous = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("grant_type=client_credentials"))
                .unwrap(),
        )
        .await;
    assert_oauth_error(&anonymous, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn the_authorization_endpoint_never_redirects_to_an_unvalidated_uri() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &owner, Some(&["read:properties", "read:maintenance"])).await;
    let user = user_token(&app, &new_org(), &["PropertyOwner"]).await;
    let (_, challenge) = pkce();

    // A redirect URI that is not registered exactly: 400 JSON, no Location.
    for uri in [
        "https://evil.example.com/cb",
        "https://app.example.com/oauth/callback/",
        "https://app.example.com/oauth/callback?x=1",
    ] {
        let response =
            app.get(&authorize_uri(&client.id, uri, "read:properties", &challenge, Some("approve")), &user).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(response.error_code(), "BAD_REQUEST");
        assert!(response.header("location").is_none());
    }
    // An unknown client: 400 JSON, no Location.
    let unknown_id = format!("dsc_{}_{}", ulid::Ulid::generate(), ulid::Ulid::generate());
    for client_id in [unknown_id.as_str(), "garbage"] {
        let response =
            app.get(&authorize_uri(client_id, REDIRECT_URI, "read:properties", &challenge, None), &user).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(response.header("location").is_none());
    }

    // Once the client and URI are valid, errors go back to the app with the state.
    let deny =
        app.get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, Some("deny")), &user).await;
    assert_eq!(deny.status, StatusCode::FOUND);
    let (base, params) = redirect_params(&deny);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "xyz state");
    assert!(!params.contains_key("code"));

    let beyond = app
        .get(
            &authorize_uri(&client.id, REDIRECT_URI, "read:properties read:payments", &challenge, Some("approve")),
            &user,
        )
        .await;
    assert_eq!(redirect_params(&beyond).1["error"], "invalid_scope");
    let unknown_scope = app.get(&authorize_uri(&client.id, REDIRECT_URI, "admin", &challenge, None), &user).await;
    assert_eq!(redirect_params(&unknown_scope).1["error"], "invalid_scope");

    let plain_pkce = format!(
        "{}&code_challenge_method=plain",
        authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)
            .replace("&code_challenge_method=S256", "")
    );
    let plain = app.get(&plain_pkce, &user).await;
    assert_eq!(redirect_params(&plain).1["error"], "invalid_request");
    let without_pkce = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)
        .replace(&format!("&code_challenge={challenge}"), "");
    let no_pkce = app.get(&without_pkce, &user).await;
    assert_eq!(no_pkce.status, StatusCode::FOUND);
    assert_eq!(redirect_params(&no_pkce).1["error"], "invalid_request");
    let token_type = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)
        .replace("response_type=code", "response_type=token");
    assert_eq!(redirect_params(&app.get(&token_type, &user).await).1["error"], "unsupported_response_type");

    // Only a signed-in user may authorize: not anonymous callers, not API keys, not apps.
    let uri = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, Some("approve"));
    let anonymous = app.call(Method::GET, &uri, None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.header("location").is_none());
    let app_token = tokens_for(&app, &user, &client, "read:properties").await;
    let by_app = app.get(&uri, app_token["access_token"].as_str().unwrap()).await;
    assert_eq!(by_app.status, StatusCode::FORBIDDEN);
    assert!(by_app.header("location").is_none());
}

#[tokio::test]
async fn scopes_and_the_users_permissions_both_bound_a_token() {
    let app = app().await;
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let org = new_org();
    let owner = user_token(&app, &org, &["OrganizationOwner"]).await;
    app.create_property(&owner, "Scoped").await;

    let maintenance_only = tokens_for(&app, &owner, &client, "read:maintenance").await;
    let refused = app.get("/api/ai/properties", maintenance_only["access_token"].as_str().unwrap()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "INSUFFICIENT_PERMISSIONS");

    let properties = tokens_for(&app, &owner, &client, "read:properties").await;
    let allowed = app.get("/api/ai/properties", properties["access_token"].as_str().unwrap()).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.body["properties"][0]["address"], "123 Main St");

    // The owner may read renters, but this token was granted read:properties only.
    let renters = app.get("/api/ai/renters", properties["access_token"].as_str().unwrap()).await;
    assert_eq!(renters.status, StatusCode::FORBIDDEN);
    assert_eq!(renters.error_code(), "INSUFFICIENT_PERMISSIONS");
    let renters_scope = tokens_for(&app, &owner, &client, "read:renters").await;
    let renters = app.get("/api/ai/renters", renters_scope["access_token"].as_str().unwrap()).await;
    assert_eq!(renters.status, StatusCode::OK);
    assert!(renters.body["renters"].is_array());

    // A tenant lacks property:read, which read:properties stands for: the code gets no token.
    let tenant = user_token(&app, &org, &["Tenant"]).await;
    let (verifier, challenge) = pkce();
    let code = approve(&app, &tenant, &client, "read:properties", &challenge).await;
    let refused = redeem(&app, &client, Auth::Basic, &code, REDIRECT_URI, &verifier).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn client_credentials_act_in_the_apps_own_organization() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let property = app.create_property(&owner, "Own portfolio").await;
    app.create_property(&app.token(&new_org(), &["OrganizationOwner"]), "Someone else's").await;
    let client = register(&app, &owner, Some(&["read:properties", "read:maintenance"])).await;

    let response = token_request(&app, &client, Auth::Basic, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(response.body["token_type"], "Bearer");
    assert_eq!(response.body["scope"], "read:properties read:maintenance");
    assert!(response.body.get("refresh_token").is_none());
    let access = response.body["access_token"].as_str().unwrap();
    let listed = app.get("/api/ai/properties", access).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body["properties"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["properties"][0]["id"], property["id"]);
    // No route without a scope, such as creating a property.
    let create = app.post("/api/v1/properties", access, &doorstep_tests::property_body("Nope")).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);

    // Narrowed to read:maintenance, it cannot read properties.
    let narrowed = token_request(
        &app,
        &client,
        Auth::Body,
        &[("grant_type", "client_credentials"), ("scope", "read:maintenance")],
    )
    .await;
    assert_eq!(narrowed.status, StatusCode::OK);
    let refused = app.get("/api/ai/properties", narrowed.body["access_token"].as_str().unwrap()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Beyond its registered scopes: invalid_scope.
    let beyond =
        token_request(&app, &client, Auth::Basic, &[("grant_type", "client_credentials"), ("scope", "read:payments")])
            .await;
    assert_oauth_error(&beyond, StatusCode::BAD_REQUEST, "invalid_scope");
}

#[tokio::test]
async fn revoking_an_authorization_stops_its_refresh_tokens() {
    let app = app().await;
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let org = new_org();
    let user = user_token(&app, &org, &["PropertyManager"]).await;
    let first = tokens_for(&app, &user, &client, "read:properties").await;
    let second = tokens_for(&app, &user, &client, "read:maintenance").await;

    // The user sees the app once, with every scope they approved.
    let listed = app.get("/api/v1/identity/oauth/authorizations", &user).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let items = listed.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["client_id"], client.id.as_str());
    assert_eq!(items[0]["app_name"], "Rent Reminder Pro");
    assert_eq!(items[0]["scopes"], json!(["read:maintenance", "read:properties"]));
    assert!(items[0]["created_at"].is_string());
    // Another user of the same organization sees none of it.
    let colleague = app.token(&org, &["PropertyManager"]);
    let theirs = app.get("/api/v1/identity/oauth/authorizations", &colleague).await;
    assert_eq!(theirs.body["data"], json!([]));
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/identity/oauth/authorizations/{}", client.id),
            Some(&colleague),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // When the user revokes it...
    let revoked = app
        .call(Method::DELETE, &format!("/api/v1/identity/oauth/authorizations/{}", client.id), Some(&user), None, &[])
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    // ...no refresh token of that grant works any more.
    for tokens in [&first, &second] {
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let response =
            token_request(&app, &client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
                .await;
        assert_oauth_error(&response, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    assert_eq!(app.get("/api/v1/identity/oauth/authorizations", &user).await.body["data"], json!([]));
    let again = app
        .call(Method::DELETE, &format!("/api/v1/identity/oauth/authorizations/{}", client.id), Some(&user), None, &[])
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Authorizing again starts a new grant; the old refresh tokens stay dead.
    let renewed = tokens_for(&app, &user, &client, "read:properties").await;
    let old = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", second["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_oauth_error(&old, StatusCode::BAD_REQUEST, "invalid_grant");
    let fresh = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", renewed["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(fresh.status, StatusCode::OK);
}

#[tokio::test]
async fn deleting_an_app_stops_its_refresh_tokens() {
    let app = app().await;
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let user = user_token(&app, &new_org(), &["OrganizationOwner"]).await;
    let tokens = tokens_for(&app, &user, &client, "read:properties").await;

    let other = register(&app, &developer, None).await;
    tokens_for(&app, &user, &other, "read:properties").await;
    assert_eq!(app.get("/api/v1/identity/oauth/authorizations", &user).await.body["data"].as_array().unwrap().len(), 2);

    let deleted = app
        .call(Method::DELETE, &format!("/api/v1/identity/oauth/apps/{}", client.id), Some(&developer), None, &[])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let refresh = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_oauth_error(&refresh, StatusCode::UNAUTHORIZED, "invalid_client");
    let (_, challenge) = pkce();
    let authorize = app.get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None), &user).await;
    assert_eq!(authorize.status, StatusCode::BAD_REQUEST);
    // The user's list no longer shows the deleted app; the other one stays.
    let listed = app.get("/api/v1/identity/oauth/authorizations", &user).await;
    let ids: Vec<&str> =
        listed.body["data"].as_array().unwrap().iter().map(|a| a["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![other.id.as_str()]);
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_or_refresh_token_yield_one_winner() {
    let app = app().await;
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let user = user_token(&app, &new_org(), &["OrganizationOwner"]).await;

    // Two exchanges of the same code race: exactly one gets tokens.
    let (verifier, challenge) = pkce();
    let code = approve(&app, &user, &client, "read:properties", &challenge).await;
    let (a, b) = tokio::join!(
        redeem(&app, &client, Auth::Basic, &code, REDIRECT_URI, &verifier),
        redeem(&app, &client, Auth::Basic, &code, REDIRECT_URI, &verifier),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST], "{:?} / {:?}", a.body, b.body);
    let (winner, loser) = if a.status == StatusCode::OK { (a, b) } else { (b, a) };
    assert_eq!(loser.body["error"], "invalid_grant");
    // The losing attempt was a reuse of the code, so the winner's refresh token is revoked too.
    let winner_refresh = winner.body["refresh_token"].as_str().unwrap();
    let after = token_request(
        &app,
        &client,
        Auth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", winner_refresh)],
    )
    .await;
    assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant");

    // Two refreshes with the same token race: at most one succeeds, and the chain is revoked.
    let tokens = tokens_for(&app, &user, &client, "read:properties").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (a, b) = tokio::join!(
        token_request(&app, &client, Auth::Basic, &fields),
        token_request(&app, &client, Auth::Basic, &fields),
    );
    let winners: Vec<&TestResponse> = [&a, &b].into_iter().filter(|r| r.status == StatusCode::OK).collect();
    assert!(winners.len() <= 1, "{:?} / {:?}", a.body, b.body);
    for response in [&a, &b].into_iter().filter(|r| r.status != StatusCode::OK) {
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    for winner in winners {
        let next = winner.body["refresh_token"].as_str().unwrap();
        let chained =
            token_request(&app, &client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", next)])
                .await;
        assert_oauth_error(&chained, StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

/// A member of the organization of `owner_token` with `roles`, signed in with a password:
/// `(user_id, email, access_token)`.
async fn member(app: &TestApp, owner_token: &str, roles: Value) -> (String, String, String) {
    let email = crate::identity_support::new_email("member");
    let body = json!({"email": email, "password": crate::identity_support::PASSWORD, "first_name": "Mia",
        "last_name": "Member", "roles": roles});
    let created = app.post("/api/v1/identity/users", owner_token, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let (access, _) = crate::identity_support::tokens(app, &email, crate::identity_support::PASSWORD).await;
    (created.body["data"]["id"].as_str().unwrap().to_owned(), email, access)
}

async fn refresh_with(app: &TestApp, client: &Client, tokens: &Value) -> TestResponse {
    let refresh = tokens["refresh_token"].as_str().unwrap();
    token_request(app, client, Auth::Basic, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await
}

#[tokio::test]
async fn oauth_access_ends_with_the_user() {
    let app = app().await;
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let registered = crate::identity_support::register(&app, &crate::identity_support::new_email("owner")).await;
    let owner = registered["access_token"].as_str().unwrap().to_owned();
    let scope = "read:properties read:maintenance";

    // A code exchange reads the user as they are now: a role added after the approval shows
    let (promoted, _, access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let (verifier, challenge) = pkce();
    let code = approve(&app, &access, &client, scope, &challenge).await;
    let roles = json!({"roles": ["PropertyManager", "MaintenanceStaff"]});
    let changed = app
        .call(Method::PUT, &format!("/api/v1/identity/users/{promoted}/roles"), Some(&owner), Some(&roles), &[])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let tokens = exchange(&app, &client, &code, &verifier).await;
    let claims = crate::identity_support::jwt_part(tokens["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["org_roles"], json!(["PropertyManager", "MaintenanceStaff"]));
    assert_eq!(refresh_with(&app, &client, &tokens).await.status, StatusCode::OK);

    // Demoted: the grant ends, and so does the refresh token
    let (demoted, _, access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let tokens = tokens_for(&app, &access, &client, scope).await;
    let roles = json!({"roles": ["MaintenanceStaff"]});
    let changed = app
        .call(Method::PUT, &format!("/api/v1/identity/users/{demoted}/roles"), Some(&owner), Some(&roles), &[])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_oauth_error(&refresh_with(&app, &client, &tokens).await, StatusCode::BAD_REQUEST, "invalid_grant");

    // Disabled
    let (disabled, _, access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let tokens = tokens_for(&app, &access, &client, scope).await;
    let body = json!({"first_name": "Mia", "last_name": "Member", "status": "disabled"});
    let changed =
        app.call(Method::PUT, &format!("/api/v1/identity/users/{disabled}"), Some(&owner), Some(&body), &[]).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_oauth_error(&refresh_with(&app, &client, &tokens).await, StatusCode::BAD_REQUEST, "invalid_grant");

    // Deleted
    let (deleted, _, access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let tokens = tokens_for(&app, &access, &client, scope).await;
    let removed = app.call(Method::DELETE, &format!("/api/v1/identity/users/{deleted}"), Some(&owner), None, &[]).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_oauth_error(&refresh_with(&app, &client, &tokens).await, StatusCode::BAD_REQUEST, "invalid_grant");

    // A password reset
    let (_, email, access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let inbox = crate::identity_support::Inbox::for_email(&app, &email).await;
    let tokens = tokens_for(&app, &access, &client, scope).await;
    let ip = crate::identity_support::new_ip();
    let asked =
        crate::identity_support::post_from(&app, "/api/v1/identity/forgot-password", &json!({"email": email}), &ip)
            .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let events = inbox.events().await;
    let reset = events.iter().find(|e| e["detail-type"] == identity::PASSWORD_RESET_REQUESTED).expect("a reset mail");
    let body = json!({"token": reset["detail"]["token"], "new_password": "an entirely new passphrase"});
    let done = crate::identity_support::post_from(&app, "/api/v1/identity/reset-password", &body, &ip).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_oauth_error(&refresh_with(&app, &client, &tokens).await, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn organization_admins_list_and_revoke_any_apps_access() {
    let app = app().await;
    // An app registered in another organization
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    let client = register(&app, &developer, None).await;
    let registered = crate::identity_support::register(&app, &crate::identity_support::new_email("owner")).await;
    let owner = registered["access_token"].as_str().unwrap().to_owned();
    let (first, _, first_access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let (second, _, second_access) = member(&app, &owner, json!(["PropertyManager"])).await;
    let first_tokens = tokens_for(&app, &first_access, &client, "read:properties").await;
    let second_tokens = tokens_for(&app, &second_access, &client, "read:maintenance").await;
    // A user of yet another organization authorized it too
    let outsider = user_token(&app, &new_org(), &["OrganizationOwner"]).await;
    let outsider_tokens = tokens_for(&app, &outsider, &client, "read:properties").await;

    // The owner sees every user's authorization in the organization, and nobody else's
    let route = "/api/v1/identity/oauth/organization/authorizations";
    let listed = app.get(route, &owner).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let mut users: Vec<&str> =
        listed.body["data"].as_array().unwrap().iter().map(|a| a["user_id"].as_str().unwrap()).collect();
    users.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(users, expected);
    assert!(listed.body["data"].as_array().unwrap().iter().all(|a| a["client_id"] == client.id.as_str()));
    // A property manager may not
    assert_eq!(app.get(route, &first_access).await.status, StatusCode::FORBIDDEN);
    let revoke = format!("{route}/{}", client.id);
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&first_access), None, &[]).await.status, StatusCode::FORBIDDEN);

    // When the owner revokes the app's access to the organization
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&owner), None, &[]).await.status, StatusCode::NO_CONTENT);
    // Then no refresh token of its users works, and nothing is left to list or revoke
    for tokens in [&first_tokens, &second_tokens] {
        assert_oauth_error(&refresh_with(&app, &client, tokens).await, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    assert_eq!(app.get(route, &owner).await.body["data"], json!([]));
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&owner), None, &[]).await.status, StatusCode::NOT_FOUND);
    // while the other organization's user keeps their access
    assert_eq!(refresh_with(&app, &client, &outsider_tokens).await.status, StatusCode::OK);
}
