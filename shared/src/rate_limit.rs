//! Request rate limits: fixed windows per credential, counted in DynamoDB so that every
//! Lambda instance sees the same count. Tiers come from the organization's plan.
//!
//! Each instance counts locally and adds its pending count to the shared counter in
//! batches ([`batch_size`]): one write per batch instead of one per request. Within one
//! batch of the limit, by what the instance knows, every request is written and decided
//! on the shared count, so a single instance is exact; each other instance warm in the
//! same window can let at most `batch_size - 1` more requests through before it learns
//! the count. Once the known count has reached the limit, requests are refused without
//! a write until the window ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The most requests an instance serves between two writes of its count.
pub const MAX_BATCH: u64 = 50;

/// Requests an instance counts locally before adding them to the shared counter: a tenth
/// of the limit, at least 1 (small limits are written on every request) and at most
/// [`MAX_BATCH`]. It is also the distance from the limit at which writes become
/// per-request.
pub fn batch_size(limit: Limit) -> u64 {
    (limit.requests / 10).clamp(1, MAX_BATCH)
}

/// What this instance knows of one bucket in its current window.
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    window_start: i64,
    reset_at: i64,
    /// The shared counter as last written or read by this instance.
    shared: u64,
    /// Requests served here and not yet added to the shared counter.
    pending: u64,
}

/// Buckets kept before those of ended windows are dropped.
const PRUNE_ABOVE: usize = 1024;

/// What to do with one request, decided under the lock.
enum Step {
    /// Served on the local count.
    Local(u64),
    /// The known count is over the limit: refused without a write.
    Refuse(u64),
    /// Add this many to the shared counter and decide on its answer.
    Flush(u64),
}

/// Counts requests per bucket in fixed windows aligned to the epoch. Cheap to clone; the
/// clones share one local count (one instance).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: Store,
    limits: Arc<RateLimits>,
    clock: Clock,
    known: Arc<Mutex<HashMap<String, Known>>>,
}

impl RateLimiter {
    pub fn new(store: Store, limits: RateLimits, clock: Clock) -> Self {
        Self { store, limits: Arc::new(limits), clock, known: Arc::default() }
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
    /// decides: on the local count while the known count is more than a batch below the
    /// limit, else on the shared counter (one atomic `UpdateItem ADD` of the pending count,
    /// expiring with its window). A store error puts the pending count back.
    pub async fn consume(&self, bucket: &str, limit: Limit) -> Result<Decision, StoreError> {
        let now = self.clock.now();
        let window = i64::try_from(limit.window_seconds).unwrap_or(i64::MAX).max(1);
        let window_start = now - now.rem_euclid(window);
        let reset_at = window_start + window;
        let decision = |count| Decision { limit, count, reset_at, now };
        match self.step(bucket, limit, window_start, reset_at, now) {
            Step::Local(count) | Step::Refuse(count) => Ok(decision(count)),
            Step::Flush(amount) => {
                let added = self.store.rate_limits().add(bucket, window_start, reset_at + window, amount).await;
                let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
                let entry = known.get_mut(bucket).filter(|k| k.window_start == window_start);
                match (added, entry) {
                    (Ok(count), Some(entry)) => {
                        entry.shared = entry.shared.max(count);
                        Ok(decision(count))
                    }
                    (Ok(count), None) => Ok(decision(count)),
                    (Err(error), Some(entry)) => {
                        entry.pending += amount;
                        Err(error)
                    }
                    (Err(error), None) => Err(error),
                }
            }
        }
    }

    fn step(&self, bucket: &str, limit: Limit, window_start: i64, reset_at: i64, now: i64) -> Step {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() > PRUNE_ABOVE {
            known.retain(|_, k| k.reset_at > now);
        }
        let entry = known.entry(bucket.to_owned()).or_default();
        if entry.window_start != window_start {
            *entry = Known { window_start, reset_at, ..Known::default() };
        }
        if entry.shared >= limit.requests {
            return Step::Refuse(entry.shared + entry.pending + 1);
        }
        entry.pending += 1;
        let batch = batch_size(limit);
        let count = entry.shared + entry.pending;
        if entry.pending >= batch || count + batch > limit.requests {
            Step::Flush(std::mem::take(&mut entry.pending))
        } else {
            Step::Local(count)
        }
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
    fn batches_are_a_tenth_of_the_limit_between_one_and_fifty() {
        assert_eq!(batch_size(Limit::new(5, 60)), 1);
        assert_eq!(batch_size(Limit::new(60, 60)), 6);
        assert_eq!(batch_size(Limit::new(100, 60)), 10);
        assert_eq!(batch_size(Limit::new(2000, 60)), MAX_BATCH);
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
