//! Optimistic writes in handlers: read an item, check `If-Match`, write conditioned on
//! the version read, and decide what a lost race means.

use std::future::Future;

use crate::error::ApiError;
use crate::http::etag::Precondition;

/// Tries at a write without `If-Match` before answering 409.
pub const WRITE_ATTEMPTS: usize = 5;

/// What one try of an optimistic write came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// The write is done (or answered otherwise): respond with this.
    Done(T),
    /// Another writer changed the item between the read and the write.
    LostRace,
}

impl<T> Attempt<T> {
    /// The same outcome with the answer of a finished write mapped by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(done) => Attempt::Done(f(done)),
            Attempt::LostRace => Attempt::LostRace,
        }
    }
}

/// Runs `attempt` (read, check, write) until it is done. A lost race is answered
/// with `stale()` (412) when the caller sent `If-Match`, since what they based the write on
/// is gone; without it the write is tried again on the fresh item, up to
/// [`WRITE_ATTEMPTS`] times, and then answered 409 with `exhausted`.
pub async fn retry_lost_races<T, F, Fut>(
    precondition: &Precondition,
    stale: fn() -> ApiError,
    exhausted: &str,
    attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ApiError>>,
{
    retry_lost_races_up_to(WRITE_ATTEMPTS, precondition, stale, exhausted, attempt).await
}

/// [`retry_lost_races`] with its own number of `attempts`, for a write whose every lost
/// race means another writer's commit (so the bound is on work, not on waiting).
pub async fn retry_lost_races_up_to<T, F, Fut>(
    attempts: usize,
    precondition: &Precondition,
    stale: fn() -> ApiError,
    exhausted: &str,
    mut attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ApiError>>,
{
    for _ in 0..attempts {
        match attempt().await? {
            Attempt::Done(done) => return Ok(done),
            Attempt::LostRace if *precondition != Precondition::None => return Err(stale()),
            Attempt::LostRace => {}
        }
    }
    Err(ApiError::Conflict(exhausted.into()))
}
