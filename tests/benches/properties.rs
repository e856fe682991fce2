//! Benchmark of the properties function, run with `make bench`. Reports:
//!
//! 1. the size of the release binary (built by `make bench` beforehand);
//! 2. its init time, from process start until it first asks a local Lambda Runtime
//!    API stand-in for an event (cold start: config, clients, both secrets);
//! 3. `GET /api/v1/properties` latency in process against DynamoDB Local, next to the
//!    bare DynamoDB `Query` it issues.
//!
//! Figures, not assertions: nothing here fails on a slow machine.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use doorstep_tests::figures::{ms, percentile};
use doorstep_tests::{app, new_org, property_body};
use http::{Method, StatusCode};
use shared::store::keys;
use tokio::sync::mpsc;

const INIT_RUNS: usize = 10;
const LATENCY_RUNS: usize = 300;
const PROPERTIES: usize = 100;

fn binary_path() -> std::path::PathBuf {
    std::env::var_os("BENCH_BINARY")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/properties"))
}

/// Starts the binary against a Runtime API stand-in and times its first `/next`.
async fn init_time(binary: &std::path::Path) -> Duration {
    let (tx, mut rx) = mpsc::channel::<Instant>(1);
    let runtime_api = Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now()).await;
                // Never hand out an event: the process is killed once timed.
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, runtime_api).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "properties")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start the release binary");
    let ready = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("binary reached /next").unwrap();
    let _ = child.kill().await;
    server.abort();
    ready - started
}

#[tokio::main]
async fn main() {
    let binary = binary_path();
    match std::fs::metadata(&binary) {
        Ok(meta) => {
            println!("binary {}: {:.2} MiB ({} bytes)", binary.display(), meta.len() as f64 / 1_048_576.0, meta.len())
        }
        Err(_) => println!("binary {}: not built (run `make bench`)", binary.display()),
    }

    if binary.exists() {
        let mut inits = Vec::new();
        for _ in 0..INIT_RUNS {
            inits.push(init_time(&binary).await);
        }
        println!(
            "init to first /next over {INIT_RUNS} starts: p50 {}, max {}",
            ms(percentile(&mut inits, 0.5)),
            ms(percentile(&mut inits, 1.0))
        );
    }

    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    for i in 0..PROPERTIES {
        let response = app.post("/api/v1/properties", &token, &property_body(&format!("Bench {i:03}"))).await;
        assert_eq!(response.status, StatusCode::CREATED);
    }

    // The two are interleaved so that both see the same machine state (JIT warm-up
    // of DynamoDB Local, other load).
    let client = app.services.store.client();
    let (mut api, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..LATENCY_RUNS {
        let started = Instant::now();
        let response = app.call(Method::GET, "/api/v1/properties?page_size=20", Some(&token), None, &[]).await;
        api.push(started.elapsed());
        assert_eq!(response.status, StatusCode::OK);

        let started = Instant::now();
        let output = client
            .query()
            .table_name(app.services.store.table())
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", shared::store::s(keys::org(&org)))
            .expression_attribute_values(":lo", shared::store::s(keys::property("prop_")))
            .expression_attribute_values(":hi", shared::store::s(keys::property("prop_~")))
            .consistent_read(true)
            .limit(21)
            .send()
            .await
            .unwrap();
        bare.push(started.elapsed());
        assert_eq!(output.count, 21);
    }
    println!(
        "GET /api/v1/properties?page_size=20 in process ({LATENCY_RUNS} runs): p50 {}, p99 {}",
        ms(percentile(&mut api, 0.5)),
        ms(percentile(&mut api, 0.99))
    );
    println!(
        "bare DynamoDB Query, Limit 21 ({LATENCY_RUNS} runs):          p50 {}, p99 {}",
        ms(percentile(&mut bare, 0.5)),
        ms(percentile(&mut bare, 0.99))
    );
}
