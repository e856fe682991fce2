//! Rate limits: fixed windows per credential, counted in DynamoDB, reported on every
//! response. The limiter's clock is set by hand, so windows are crossed without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::{TestApp, TestResponse, app_with_rate_limits, claims, new_org};
use http::{Method, StatusCode};
use shared::domain::Plan;
use shared::rate_limit::{Clock, Limit, RateLimiter, RateLimits, batch_size};
use shared::store::keys;

/// Mid-window: 20 seconds into a 60-second window.
const START: i64 = 1_900_000_020;
const WINDOW_END: i64 = 1_900_000_080;

async fn limited_app() -> (TestApp, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(START));
    let limits = RateLimits {
        standard: Limit::new(100, 60),
        premium: Limit::new(500, 60),
        enterprise: Limit::new(2000, 60),
        anonymous: Limit::new(5, 60),
    };
    (app_with_rate_limits(limits, Clock::Manual(now.clone())).await, now)
}

fn limit_headers(response: &TestResponse) -> [Option<&str>; 4] {
    ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-window"]
        .map(|name| response.header(name))
}

#[tokio::test]
async fn the_101st_request_in_a_window_is_refused_until_the_window_resets() {
    let (app, clock) = limited_app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);

    let first = app.get("/api/v1/properties", &token).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(limit_headers(&first), [Some("100"), Some("99"), Some("1900000080"), Some("60")]);
    for _ in 2..100 {
        assert_eq!(app.get("/api/v1/properties", &token).await.status, StatusCode::OK);
    }
    let hundredth = app.get("/api/v1/properties", &token).await;
    assert_eq!(hundredth.status, StatusCode::OK);
    assert_eq!(hundredth.header("x-ratelimit-remaining"), Some("0"));

    clock.store(START + 15, Ordering::SeqCst);
    let refused = app.get("/api/v1/properties", &token).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), "RATE_LIMIT_EXCEEDED");
    assert_eq!(refused.body["error"]["retry_after"], WINDOW_END - (START + 15));
    assert_eq!(refused.header("retry-after"), Some("45"));
    assert_eq!(limit_headers(&refused), [Some("100"), Some("0"), Some("1900000080"), Some("60")]);
    assert!(refused.header("x-request-id").is_some());

    // The next window starts from zero.
    clock.store(WINDOW_END, Ordering::SeqCst);
    let reset = app.get("/api/v1/properties", &token).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(limit_headers(&reset), [Some("100"), Some("99"), Some("1900000140"), Some("60")]);
}

#[tokio::test]
async fn limits_are_per_credential_and_by_plan() {
    let (app, _clock) = limited_app().await;
    let org = new_org();
    let busy = app.token(&org, &["OrganizationOwner"]);
    for _ in 0..101 {
        app.get("/api/v1/properties", &busy).await;
    }
    assert_eq!(app.get("/api/v1/properties", &busy).await.status, StatusCode::TOO_MANY_REQUESTS);

    // Another user of the same organization has a window of their own.
    let colleague = app.token(&org, &["PropertyManager"]);
    let response = app.get("/api/v1/properties", &colleague).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("x-ratelimit-remaining"), Some("99"));

    // A premium organization's tokens carry the premium tier.
    let mut premium = claims(&app.services.config, &new_org(), &["OrganizationOwner"]);
    premium.plan = Some(Plan::Premium);
    let response = app.get("/api/v1/properties", &app.sign(&premium)).await;
    assert_eq!(response.header("x-ratelimit-limit"), Some("500"));
}

#[tokio::test]
async fn requests_without_a_credential_are_limited_per_source_address() {
    let (app, _clock) = limited_app().await;
    let address = format!("203.0.113.{}", ulid::Ulid::generate().random() % 250);
    let from_address = [("x-forwarded-for", address.as_str())];
    let anonymous = || app.call(Method::GET, "/api/v1/properties", None, None, &from_address);
    // Refused for want of a credential, yet counted and reported.
    let first = anonymous().await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert_eq!(limit_headers(&first)[..2], [Some("5"), Some("4")]);
    for _ in 0..4 {
        anonymous().await;
    }
    let refused = anonymous().await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), "RATE_LIMIT_EXCEEDED");

    // A bad token counts against the address too, and still reads as a 429 once over.
    let forged = app.call(Method::GET, "/api/v1/properties", Some("not-a-jwt"), None, &from_address).await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Limits of 5 a minute for standard credentials: small enough that every request is
/// written to the shared counter.
fn small_limits() -> RateLimits {
    RateLimits { standard: Limit::new(5, 60), ..RateLimits::default() }
}

#[tokio::test]
async fn two_instances_with_a_small_limit_share_one_exact_count_and_start_each_window_fresh() {
    let now = Arc::new(AtomicI64::new(START));
    // Two warm Lambda instances: each its own limiter, one counter in DynamoDB.
    let first = app_with_rate_limits(small_limits(), Clock::Manual(now.clone())).await;
    let second = app_with_rate_limits(small_limits(), Clock::Manual(now.clone())).await;
    let token = first.token(&new_org(), &["OrganizationOwner"]);

    for (n, app) in [&first, &second, &first, &second, &first].into_iter().enumerate() {
        let response = app.get("/api/v1/properties", &token).await;
        assert_eq!(response.status, StatusCode::OK);
        let remaining = (4 - n).to_string();
        assert_eq!(limit_headers(&response), [Some("5"), Some(remaining.as_str()), Some("1900000080"), Some("60")]);
    }
    for app in [&second, &first] {
        let refused = app.get("/api/v1/properties", &token).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.error_code(), "RATE_LIMIT_EXCEEDED");
        assert_eq!(refused.header("retry-after"), Some("60"));
        assert_eq!(limit_headers(&refused), [Some("5"), Some("0"), Some("1900000080"), Some("60")]);
    }

    now.store(WINDOW_END, Ordering::SeqCst);
    for (app, remaining) in [(&second, "4"), (&first, "3")] {
        let response = app.get("/api/v1/properties", &token).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(limit_headers(&response), [Some("5"), Some(remaining), Some("1900000140"), Some("60")]);
    }
}

#[tokio::test]
async fn each_other_instance_overshoots_by_at_most_one_batch_and_the_next_window_starts_fresh() {
    let app = doorstep_tests::app().await;
    let now = Arc::new(AtomicI64::new(START));
    let limits = RateLimits { standard: Limit::new(100, 60), ..RateLimits::default() };
    let limit = limits.standard;
    let batch = batch_size(limit);
    assert_eq!(batch, 10);
    let a = RateLimiter::new(app.services.store.clone(), limits.clone(), Clock::Manual(now.clone()));
    let b = RateLimiter::new(app.services.store.clone(), limits, Clock::Manual(now.clone()));
    let bucket = keys::rate_limit_credential(&new_org(), "user:busy");
    let allowed = |decision: shared::rate_limit::Decision| u64::from(decision.allowed());

    // The worst case for two instances: `a` serves all it may on its local count, so
    // `b` cannot see its last unwritten batch.
    let mut served = 0;
    for _ in 0..89 {
        served += allowed(a.consume(&bucket, limit).await.unwrap());
    }
    assert_eq!(served, 89);
    let mut by_b = 0;
    loop {
        let decision = b.consume(&bucket, limit).await.unwrap();
        if !decision.allowed() {
            assert_eq!(decision.remaining(), 0);
            break;
        }
        by_b += 1;
    }
    served += by_b;
    // `a` writes its pending batch with its next request, learns the count, and refuses.
    for _ in 0..5 {
        served += allowed(a.consume(&bucket, limit).await.unwrap());
        served += allowed(b.consume(&bucket, limit).await.unwrap());
    }
    assert!(served >= limit.requests, "{served} served");
    assert!(served <= limit.requests + (batch - 1), "{served} served: more than one batch over");
    assert_eq!(served, 109);

    // A new window: both instances start from zero.
    now.store(WINDOW_END, Ordering::SeqCst);
    for limiter in [&a, &b] {
        let decision = limiter.consume(&bucket, limit).await.unwrap();
        assert!(decision.allowed());
        assert_eq!(decision.reset_at, WINDOW_END + 60);
    }
    let decision = a.consume(&bucket, limit).await.unwrap();
    assert!(decision.remaining() >= limit.requests - 3, "{decision:?}");
}

#[tokio::test]
async fn requests_far_from_the_limit_are_written_once_per_batch() {
    let app = doorstep_tests::app().await;
    let now = Arc::new(AtomicI64::new(START));
    let limits = RateLimits { standard: Limit::new(100, 60), ..RateLimits::default() };
    let limit = limits.standard;
    let limiter = RateLimiter::new(app.services.store.clone(), limits, Clock::Manual(now));
    let bucket = keys::rate_limit_credential(&new_org(), "user:steady");
    for n in 1..=25 {
        let decision = limiter.consume(&bucket, limit).await.unwrap();
        assert_eq!(decision.remaining(), limit.requests - n, "the headers count every request");
    }
    // The shared counter holds the two written batches, not the five requests pending.
    let shared = app.services.store.rate_limits().add(&bucket, START, WINDOW_END + 60, 0).await.unwrap();
    assert_eq!(shared, 20);
}
