//! Benchmark of `POST /api/v1/identity/login`: in process (the identity router behind
//! the gateway stand-in) against the local stack. Reports p50/p90/max over the runs,
//! next to one bare Argon2id verification with the same parameters, so the share of the
//! password hash in a sign-in is visible.
//!
//! Figures, not assertions: nothing here fails on a slow machine.
//! Run: `cargo bench -p doorstep-tests --bench identity_login` with a stack's env.

use std::time::Instant;

use doorstep_tests::app;
use doorstep_tests::figures::{ms, percentile};
use http::{Method, StatusCode};
use serde_json::json;

const LOGINS: usize = 50;
const PASSWORD: &str = "benchmark password 123";

#[tokio::main]
async fn main() {
    let app = app().await;
    let email = format!("bench-{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let register = json!({"email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "Mark",
        "organization_name": "Bench Org"});
    let response = app.call(Method::POST, "/api/v1/identity/register", None, Some(&register), &[]).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);

    let login = json!({"email": email, "password": PASSWORD});
    let ip = [("x-forwarded-for", "198.51.100.7")];
    // Warm-up: connection pools, DynamoDB Local's JIT.
    for _ in 0..5 {
        app.call(Method::POST, "/api/v1/identity/login", None, Some(&login), &ip).await;
    }
    let mut logins = Vec::with_capacity(LOGINS);
    let mut hashes = Vec::with_capacity(LOGINS);
    let stored = identity::passwords::hash(PASSWORD.to_owned()).await.unwrap();
    for _ in 0..LOGINS {
        let started = Instant::now();
        let response = app.call(Method::POST, "/api/v1/identity/login", None, Some(&login), &ip).await;
        logins.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK);

        let started = Instant::now();
        assert!(identity::passwords::verify(PASSWORD.to_owned(), Some(stored.clone())).await.unwrap());
        hashes.push(started.elapsed());
    }
    println!(
        "argon2id m={} KiB, t={}, p={}",
        identity::passwords::M_COST_KIB,
        identity::passwords::T_COST,
        identity::passwords::P_COST
    );
    println!(
        "POST /api/v1/identity/login over {LOGINS} runs: p50 {}, p90 {}, max {}",
        ms(percentile(&mut logins, 0.5)),
        ms(percentile(&mut logins, 0.9)),
        ms(percentile(&mut logins, 1.0))
    );
    println!(
        "argon2id verify alone: p50 {}, p90 {}",
        ms(percentile(&mut hashes, 0.5)),
        ms(percentile(&mut hashes, 0.9))
    );
}
