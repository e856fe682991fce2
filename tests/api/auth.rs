//! Credentials: strict token verification, roles, API keys.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorstep_tests::{app, claims, new_org, property_body};
use http::{Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use shared::auth::api_key;
use shared::auth::jwt::{JwtSigner, SigningKeySecret};
use shared::store::api_keys::ApiKeyRecord;
use shared::time_format;

#[tokio::test]
async fn no_credentials_is_a_401_in_the_envelope() {
    let app = app().await;
    for (method, uri) in [
        (Method::GET, "/api/v1/properties"),
        (Method::POST, "/api/v1/properties"),
        (Method::GET, "/api/v1/properties/prop_01JD3M00000000000000000000"),
        (Method::DELETE, "/api/v1/properties/prop_01JD3M00000000000000000000"),
        (Method::GET, "/api/ai/properties"),
    ] {
        let body = (method == Method::POST).then(|| property_body("Anonymous"));
        let response = app.call(method.clone(), uri, None, body.as_ref(), &[]).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(response.body["success"], false);
        assert_eq!(response.error_code(), "AUTHENTICATION_FAILED");
        assert!(response.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
    }
}

#[tokio::test]
async fn tokens_are_verified_strictly() {
    let app = app().await;
    let org = new_org();
    let config = &app.services.config;
    let good = claims(config, &org, &["OrganizationOwner"]);
    let kid = app.signer.kid().to_owned();

    // alg: none
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_string(&good).unwrap());
    let unsigned = format!("{header}.{payload}.");

    // HS256 "signed" with public material: the classic RS/HS confusion.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let public_material =
        shared::secrets::read_string(&app.services.aws.secrets, &config.jwt_public_keys_secret_id).await.unwrap();
    let confused =
        jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(public_material.as_bytes())).unwrap();

    let mut wrong_audience = good.clone();
    wrong_audience.aud = "SomeoneElse".into();
    let mut wrong_issuer = good.clone();
    wrong_issuer.iss = "evil".into();
    let unknown_kid = JwtSigner::new(&SigningKeySecret { kid: "retired-key".into(), ..app.signing_key.clone() })
        .unwrap()
        .sign(&good)
        .unwrap();
    let mut tampered = app.sign(&good);
    tampered.insert(tampered.rfind('.').unwrap() + 1, 'A');

    for (case, token) in [
        ("alg none", unsigned),
        ("HS256 with public key", confused),
        ("wrong aud", app.sign(&wrong_audience)),
        ("wrong iss", app.sign(&wrong_issuer)),
        ("unknown kid", unknown_kid),
        ("tampered signature", tampered),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let response = app.get("/api/v1/properties", &token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(response.error_code(), "AUTHENTICATION_FAILED", "{case}");
    }

    let mut expired = good.clone();
    expired.iat -= 3600;
    expired.exp = expired.iat + 900;
    let response = app.get("/api/v1/properties", &app.sign(&expired)).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "TOKEN_EXPIRED");

    let basic =
        app.call(Method::GET, "/api/v1/properties", None, None, &[("authorization", "Basic dXNlcjpwYXNz")]).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);

    assert_eq!(app.get("/api/v1/properties", &app.sign(&good)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn roles_decide_what_a_user_may_do() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let id = app.create_property(&owner, "Managed").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");

    // The platform API: a PropertyManager reads and updates but does not create or delete.
    let manager = app.token(&org, &["PropertyManager"]);
    let create = app.post("/api/v1/properties", &manager, &property_body("Nope")).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(create.error_code(), "INSUFFICIENT_PERMISSIONS");
    let update = app.call(Method::PATCH, &uri, Some(&manager), Some(&json!({"name": "Managed well"})), &[]).await;
    assert_eq!(update.status, StatusCode::OK);
    let delete = app.call(Method::DELETE, &uri, Some(&manager), None, &[]).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);

    // A tenant does not list the organization's properties.
    let tenant = app.token(&org, &["Tenant"]);
    assert_eq!(app.get("/api/v1/properties", &tenant).await.status, StatusCode::FORBIDDEN);
    let owner_view = app.get("/api/v1/properties", &app.token(&org, &["PropertyOwner"])).await;
    assert_eq!(owner_view.status, StatusCode::OK);
    assert_eq!(owner_view.body["data"][0]["name"], "Managed well");
}

#[tokio::test]
async fn a_caller_without_the_right_is_refused_before_its_body_is_read() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let id = app.create_property(&owner, "Checked in order").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");
    let wrong_shape = json!({"name": 5});

    // A PropertyManager may not create a property: a 403 whatever the body, never its 422.
    let manager = app.token(&org, &["PropertyManager"]);
    let create = app.post("/api/v1/properties", &manager, &wrong_shape).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{:?}", create.body);
    assert_eq!(create.error_code(), "INSUFFICIENT_PERMISSIONS");
    let not_json = Request::post("/api/v1/properties")
        .header("authorization", format!("Bearer {manager}"))
        .header("content-type", "text/plain")
        .body(Body::from("{"))
        .unwrap();
    assert_eq!(app.send(not_json).await.status, StatusCode::FORBIDDEN);
    // The owner, who may, gets the 422 naming the field.
    let refused = app.post("/api/v1/properties", &owner, &wrong_shape).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["details"][0]["field"], "name");

    // On a record: a tenant is refused, another organization's owner does not find it,
    // and the manager, who may change it, gets the 422.
    let tenant = app.token(&org, &["Tenant"]);
    let patch = |token: String| {
        let (app, uri, body) = (&app, &uri, &wrong_shape);
        async move { app.call(Method::PATCH, uri, Some(&token), Some(body), &[]).await }
    };
    assert_eq!(patch(tenant).await.status, StatusCode::FORBIDDEN);
    let stranger = patch(app.token(&new_org(), &["OrganizationOwner"])).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{:?}", stranger.body);
    let changed = patch(manager).await;
    assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", changed.body);
    assert_eq!(changed.body["error"]["details"][0]["field"], "name");
}

#[tokio::test]
async fn api_keys_authenticate_until_revoked() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    app.create_property(&owner, "Keyed").await;

    let key_id = shared::domain::ids::new("key");
    let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
    let record = ApiKeyRecord {
        id: key_id.clone(),
        org_id: org.clone(),
        name: "reporting".into(),
        secret_hash: api_key::digest(secret),
        permissions: vec!["property:read".into()],
        plan: Default::default(),
        created_at: time_format::now(),
        revoked_at: None,
        valid_until: None,
        prefix: String::new(),
        created_by: None,
        last_used_at: None,
    };
    app.services.store.api_keys().insert(&record).await.unwrap();
    let presented = api_key::format(&org, &key_id, secret);

    let listed = app.call(Method::GET, "/api/v1/properties", None, None, &[("x-api-key", &presented)]).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"][0]["name"], "Keyed");
    // The key's permissions bound it: read-only.
    let write = app
        .call(Method::POST, "/api/v1/properties", None, Some(&property_body("No")), &[("x-api-key", &presented)])
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);

    let wrong_secret = api_key::format(&org, &key_id, &secret.replace('3', "4"));
    let wrong = app.call(Method::GET, "/api/v1/properties", None, None, &[("x-api-key", &wrong_secret)]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    app.services.store.api_keys().revoke(&org, &key_id, time_format::now()).await.unwrap();
    let response = app.call(Method::GET, "/api/v1/properties", None, None, &[("x-api-key", &presented)]).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "AUTHENTICATION_FAILED");
}
