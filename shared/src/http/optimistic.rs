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

/// How a resource's optimistic writes answer when they lose: 412 naming the `resource`
/// for a stale `If-Match`, 409 with `exhausted` once every try lost a race.
#[derive(Debug, Clone, Copy)]
pub struct Contention {
    /// The resource as the 412 names it ("unit").
    pub resource: &'static str,
    /// The 409's message.
    pub exhausted: &'static str,
}

impl Contention {
    /// The 412 for an `If-Match` that no longer matches.
    pub fn stale(&self) -> ApiError {
        ApiError::PreconditionFailed(format!(
            "The {} has changed since the ETag you sent; fetch it again",
            self.resource
        ))
    }
}

/// An item written optimistically: each write is conditioned on the version read.
pub trait Versioned {
    fn version(&self) -> u64;
}

/// Runs `attempt` (read, check, write) until it is done. A lost race is answered
/// with the stale 412 when the caller sent `If-Match`, since what they based the write on
/// is gone; without it the write is tried again on the fresh item, up to
/// [`WRITE_ATTEMPTS`] times, and then answered 409.
pub async fn retry_lost_races<T, F, Fut>(
    precondition: &Precondition,
    contention: Contention,
    attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ApiError>>,
{
    retry_lost_races_up_to(WRITE_ATTEMPTS, precondition, contention, attempt).await
}

/// [`retry_lost_races`] with its own number of `attempts`, for a write whose every lost
/// race means another writer's commit (so the bound is on work, not on waiting).
pub async fn retry_lost_races_up_to<T, F, Fut>(
    attempts: usize,
    precondition: &Precondition,
    contention: Contention,
    mut attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ApiError>>,
{
    for _ in 0..attempts {
        match attempt().await? {
            Attempt::Done(done) => return Ok(done),
            Attempt::LostRace if *precondition != Precondition::None => return Err(contention.stale()),
            Attempt::LostRace => {}
        }
    }
    Err(ApiError::Conflict(contention.exhausted.into()))
}

/// An optimistic write to one item: `load` reads it (404 when it is not the caller's),
/// a stale `If-Match` is a 412, and `write` writes on the version read, saying whether
/// it lost a race; lost races are settled as in [`retry_lost_races`].
pub async fn write_current<C, T, L, LF, W, WF>(
    precondition: &Precondition,
    contention: Contention,
    load: L,
    write: W,
) -> Result<T, ApiError>
where
    C: Versioned,
    L: Fn() -> LF,
    LF: Future<Output = Result<C, ApiError>>,
    W: Fn(C) -> WF,
    WF: Future<Output = Result<Attempt<T>, ApiError>>,
{
    let (load, write) = (&load, &write);
    retry_lost_races(precondition, contention, || async move {
        let current = load().await?;
        if !precondition.allows(current.version()) {
            return Err(contention.stale());
        }
        write(current).await
    })
    .await
}

macro_rules! versioned {
    ($($item:ty),*) => {
        $(impl Versioned for $item {
            fn version(&self) -> u64 {
                self.version
            }
        })*
    };
}

versioned!(
    crate::domain::property::Property,
    crate::domain::tenant::Tenant,
    crate::domain::unit::Unit,
    crate::domain::lease::Lease,
    crate::domain::screening::Screening,
    crate::domain::maintenance::MaintenanceRequest,
    crate::domain::vendor::Vendor,
    crate::domain::work_order::WorkOrder,
    crate::domain::payment::Payment
);
