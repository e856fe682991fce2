//! Benchmark of identity's credentials, in process against DynamoDB Local. Reports:
//!
//! 1. `GET /api/v1/properties` with a bearer JWT next to the same request with an
//!    `X-API-Key` (the key costs one `GetItem`; `last_used_at` is written off the
//!    request path at most once a minute);
//! 2. `POST /oauth/token` for `client_credentials` (one `GetItem` and an RS256 signature)
//!    and for a `refresh_token` rotation (two `GetItem`s, one `TransactWriteItems`, a
//!    signature).
//!
//! Run with `cargo bench -p doorstep-tests --bench identity` against a local stack.
//! Figures, not assertions: nothing here fails on a slow machine.

use std::time::{Duration, Instant};

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use doorstep_tests::figures::percentile;
use doorstep_tests::{TestApp, TestResponse, app, new_org, property_body};
use http::{Method, Request, StatusCode};
use serde_json::json;

const RUNS: usize = 200;

fn report(label: &str, samples: &mut [Duration]) {
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("{label:<58} p50 {}, p99 {}", ms(percentile(samples, 0.5)), ms(percentile(samples, 0.99)));
}

async fn token(app: &TestApp, basic: &str, form: String) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::from(form))
        .unwrap();
    app.send(request).await
}

#[tokio::main]
async fn main() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    for i in 0..20 {
        let response = app.post("/api/v1/properties", &owner, &property_body(&format!("Bench {i:02}"))).await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    let key = app
        .post("/api/v1/identity/api-keys", &owner, &json!({"name": "bench", "permissions": ["property:read"]}))
        .await
        .body["data"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let registered = app
        .post(
            "/api/v1/identity/oauth/apps",
            &owner,
            &json!({"name": "Bench", "redirect_uris": ["https://bench.example.com/cb"], "scopes": ["read:properties"]}),
        )
        .await;
    let client_id = registered.body["data"]["client_id"].as_str().unwrap().to_owned();
    let secret = registered.body["data"]["client_secret"].as_str().unwrap().to_owned();
    let basic = STANDARD.encode(format!("{client_id}:{secret}"));

    // A refresh token to rotate, from one pass through the code flow.
    let verifier = format!("{}-{}", ulid::Ulid::generate(), ulid::Ulid::generate());
    let challenge = {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let authorize = format!(
        "/oauth/authorize?client_id={client_id}&redirect_uri=https%3A%2F%2Fbench.example.com%2Fcb&response_type=code\
         &scope=read%3Aproperties&code_challenge={challenge}&code_challenge_method=S256&consent=approve"
    );
    let redirect = app.get(&authorize, &owner).await;
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let exchanged = token(
        &app,
        &basic,
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fbench.example.com%2Fcb&code_verifier={verifier}"
        ),
    )
    .await;
    let mut refresh = exchanged.body["refresh_token"].as_str().unwrap().to_owned();

    let (mut jwt, mut api_key, mut client_credentials, mut rotation) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Interleaved so that every kind sees the same machine state.
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = app.call(Method::GET, "/api/v1/properties?page_size=20", Some(&owner), None, &[]).await;
        jwt.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK);

        let started = Instant::now();
        let response =
            app.call(Method::GET, "/api/v1/properties?page_size=20", None, None, &[("x-api-key", &key)]).await;
        api_key.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK);

        let started = Instant::now();
        let response = token(&app, &basic, "grant_type=client_credentials".into()).await;
        client_credentials.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK);

        let started = Instant::now();
        let response = token(&app, &basic, format!("grant_type=refresh_token&refresh_token={refresh}")).await;
        rotation.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        refresh = response.body["refresh_token"].as_str().unwrap().to_owned();
    }
    report(&format!("GET /api/v1/properties, bearer JWT ({RUNS} runs):"), &mut jwt);
    report(&format!("GET /api/v1/properties, X-API-Key ({RUNS} runs):"), &mut api_key);
    report(&format!("POST /oauth/token client_credentials ({RUNS} runs):"), &mut client_credentials);
    report(&format!("POST /oauth/token refresh_token rotation ({RUNS} runs):"), &mut rotation);
}
