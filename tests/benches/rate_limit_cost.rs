//! The rate limit's DynamoDB write cost per request, against DynamoDB Local with every
//! call asked for its consumed capacity: one counter `ADD` per request (how every request
//! was counted before batching) next to `RateLimiter::consume`, which writes an
//! instance's count once per batch and per request only within a batch of the limit.
//!
//! One instance serves a credential's requests in one window, for several rates.
//! Run with `cargo bench -p doorstep-tests --bench rate_limit_cost` against a local stack
//! (`bash infra/local/bench_cost.sh` runs it). Figures, not assertions.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use shared::measure::{CapacityInterceptor, tallied};
use shared::rate_limit::{Clock, RateLimiter, RateLimits, batch_size};
use shared::store::{Store, keys};

/// A window start, so every scenario stays in one window.
const NOW: i64 = 1_900_000_020;

#[tokio::main]
async fn main() {
    let services = shared::Services::load().await.expect("a local stack's env (source .local/NAME/env)");
    let config =
        aws_sdk_dynamodb::config::Builder::from(&services.aws.sdk_config).interceptor(CapacityInterceptor).build();
    let store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), &services.config.table_name);
    let limits = RateLimits::default();
    let scenarios = [
        ("standard", limits.standard, 20),
        ("standard", limits.standard, 50),
        ("standard", limits.standard, 100),
        ("standard", limits.standard, 150),
        ("premium", limits.premium, 500),
        ("enterprise", limits.enterprise, 1000),
        ("anonymous", limits.anonymous, 60),
    ];
    println!(
        "| Tier (limit) | Batch | Requests in the window | WCU per request, one ADD each | WCU per request, batched | Writes, batched |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    for (tier, limit, requests) in scenarios {
        let (_, before) = tallied(async {
            let bucket = keys::rate_limit_credential(&shared::domain::ids::new("org"), "user:before");
            for _ in 0..requests {
                store.rate_limits().add(&bucket, NOW, NOW + 120, 1).await.expect("counter");
            }
        })
        .await;
        let limiter = RateLimiter::new(store.clone(), limits.clone(), Clock::Manual(Arc::new(AtomicI64::new(NOW))));
        let (_, after) = tallied(async {
            let bucket = keys::rate_limit_credential(&shared::domain::ids::new("org"), "user:after");
            for _ in 0..requests {
                limiter.consume(&bucket, limit).await.expect("counter");
            }
        })
        .await;
        let per_request = |units: f64| units / f64::from(requests);
        let writes: u32 = after.calls.values().sum();
        println!(
            "| {tier} ({}/{} s) | {} | {requests} | {:.3} | {:.3} | {writes} |",
            limit.requests,
            limit.window_seconds,
            batch_size(limit),
            per_request(before.write_units),
            per_request(after.write_units),
        );
    }
}
