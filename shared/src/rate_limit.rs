//! Request rate limits: fixed windows per credential, counted in DynamoDB so that every
//! Lambda instance sees the same count. Tiers come from the organization's plan.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::{HeaderMap, HeaderValue};

use crate::domain::Plan;
use crate::store::{Store, StoreError};

pub const LIMIT_HEADER: &str = "x-ratelimit-limit";
pub const REMAINING_HEADER: &str = "x-ratelimit-remaining";
pub const RESET_HEADER: &str = "x-ratelimit-reset";
pub const WINDOW_HEADER: &str = "x-ratelimit-window";

/// `requests` per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: u64,
    pub window_seconds: u64,
}

impl Limit {
    pub const fn new(requests: u64, window_seconds: u64) -> Self {
        Self { requests, window_seconds }
    }
}

/// The limit of each plan, plus the one for requests without a credential (per source IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub standard: Limit,
    pub premium: Limit,
    pub enterprise: Limit,
    pub anonymous: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            standard: Limit::new(100, 60),
            premium: Limit::new(500, 60),
            enterprise: Limit::new(2000, 60),
            anonymous: Limit::new(60, 60),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("RATE_LIMITS entry {0:?} must look like standard=100/60 (tier=requests/window seconds)")]
pub struct InvalidRateLimits(pub String);

impl RateLimits {
    /// Parses `RATE_LIMITS`, e.g. `standard=100/60,premium=500/60`; tiers left out keep
    /// their defaults.
    pub fn parse(raw: &str) -> Result<Self, InvalidRateLimits> {
        let mut limits = Self::default();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid = || InvalidRateLimits(entry.to_owned());
            let (tier, value) = entry.split_once('=').ok_or_else(invalid)?;
            let (requests, window) = value.split_once('/').ok_or_else(invalid)?;
            let requests: u64 = requests.trim().parse().map_err(|_| invalid())?;
            let window_seconds: u64 = window.trim().parse().map_err(|_| invalid())?;
            if requests == 0 || window_seconds == 0 {
                return Err(invalid());
            }
            let limit = Limit { requests, window_seconds };
            match tier.trim() {
                "standard" => limits.standard = limit,
                "premium" => limits.premium = limit,
                "enterprise" => limits.enterprise = limit,
                "anonymous" => limits.anonymous = limit,
                _ => return Err(invalid()),
            }
        }
        Ok(limits)
    }

    pub fn for_plan(&self, plan: Plan) -> Limit {
        match plan {
            Plan::Standard => self.standard,
            Plan::Premium => self.premium,
            Plan::Enterprise => self.enterprise,
        }
    }
}

/// Where the limiter reads the time: the system clock, or a hand-set one for tests and
/// replays.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// Unix seconds.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => time::OffsetDateTime::now_utc().unix_timestamp(),
            Clock::Manual(seconds) => seconds.load(Ordering::SeqCst),
        }
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limit: Limit,
    /// Requests counted in this window, this one included.
    pub count: u64,
    /// Unix seconds at which the window ends.
    pub reset_at: i64,
    pub now: i64,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.count <= self.limit.requests
    }

    pub fn remaining(&self) -> u64 {
        self.limit.requests.saturating_sub(self.count)
    }

    /// Seconds until the window resets (at least 1).
    pub fn retry_after(&self) -> u64 {
        u64::try_from(self.reset_at - self.now).unwrap_or(0).max(1)
    }

    /// Sets the four `X-RateLimit-*` headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert(LIMIT_HEADER, HeaderValue::from(self.limit.requests));
        headers.insert(REMAINING_HEADER, HeaderValue::from(self.remaining()));
        headers.insert(RESET_HEADER, HeaderValue::from(self.reset_at));
        headers.insert(WINDOW_HEADER, HeaderValue::from(self.limit.window_seconds));
    }
}

/// Counts requests per bucket in fixed windows aligned to the epoch. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: Store,
    limits: Arc<RateLimits>,
    clock: Clock,
}

impl RateLimiter {
    pub fn new(store: Store, limits: RateLimits, clock: Clock) -> Self {
        Self { store, limits: Arc::new(limits), clock }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// The limiter's time (unix seconds), for other fixed-window counters that should
    /// follow the same clock, such as sign-in throttling.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Counts one request against `bucket` (a partition key built by `store::keys`) and
    /// decides. One atomic `UpdateItem ADD`; the counter expires with its window.
    pub async fn consume(&self, bucket: &str, limit: Limit) -> Result<Decision, StoreError> {
        let now = self.clock.now();
        let window = i64::try_from(limit.window_seconds).unwrap_or(i64::MAX).max(1);
        let window_start = now - now.rem_euclid(window);
        let reset_at = window_start + window;
        let count = self.store.rate_limits().increment(bucket, window_start, reset_at + window).await?;
        Ok(Decision { limit, count, reset_at, now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tiers_and_keeps_defaults_for_the_rest() {
        let limits = RateLimits::parse("standard=10/1, enterprise = 9000/3600").unwrap();
        assert_eq!(limits.standard, Limit::new(10, 1));
        assert_eq!(limits.enterprise, Limit::new(9000, 3600));
        assert_eq!(limits.premium, RateLimits::default().premium);
        assert_eq!(RateLimits::parse("").unwrap(), RateLimits::default());
    }

    #[test]
    fn rejects_malformed_entries() {
        for raw in ["standard", "standard=10", "gold=1/1", "standard=0/60", "standard=10/x"] {
            assert!(RateLimits::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_decision_reports_remaining_and_retry_after() {
        let limit = Limit::new(100, 60);
        let last = Decision { limit, count: 100, reset_at: 1_060, now: 1_045 };
        assert!(last.allowed());
        assert_eq!(last.remaining(), 0);
        let over = Decision { count: 101, ..last };
        assert!(!over.allowed());
        assert_eq!(over.retry_after(), 15);
        let mut headers = HeaderMap::new();
        over.write_headers(&mut headers);
        assert_eq!(headers[LIMIT_HEADER], "100");
        assert_eq!(headers[REMAINING_HEADER], "0");
        assert_eq!(headers[RESET_HEADER], "1060");
        assert_eq!(headers[WINDOW_HEADER], "60");
    }
}
