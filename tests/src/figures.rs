//! What the benchmarks report: percentiles of timings, in milliseconds, peak heap, and
//! DynamoDB calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::{BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use shared::store::Store;

/// The `p` quantile (0 to 1) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// `12.34 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A global allocator that counts live and peak heap bytes; a benchmark declares
/// `#[global_allocator] static ALLOCATOR: Counting = Counting;` and reads [`heap`].
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// The heap's peak, measured from a baseline: [`HeapPeak::start`] then [`HeapPeak::peak`].
pub struct HeapPeak(usize);

impl HeapPeak {
    /// Starts measuring from the bytes live now.
    pub fn start() -> Self {
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        Self(baseline)
    }

    /// The most bytes live above the baseline since [`HeapPeak::start`].
    pub fn peak(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.0)
    }
}

/// `1.23 MiB`.
pub fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Counts DynamoDB requests by operation (`X-Amz-Target`), and the items their answers
/// carried (a query's `Count`, the items of a batch read).
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
    items: Arc<AtomicUsize>,
}

impl CallCounter {
    /// A store whose client reports to this counter.
    pub fn store(&self, store: &Store) -> Store {
        let config = store.client().config().to_builder().interceptor(self.clone()).build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), store.table())
    }

    pub fn reset(&self) {
        self.calls.lock().map(|mut c| c.clear()).unwrap_or_default();
        self.items.store(0, Ordering::Relaxed);
    }

    /// Calls in all, calls by operation, items returned.
    pub fn report(&self) -> (usize, BTreeMap<String, usize>, usize) {
        let calls = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        (calls.values().sum(), calls, self.items.load(Ordering::Relaxed))
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(operation).or_default() += 1;
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(bytes) = context.response().and_then(|r| r.body().bytes()) else { return Ok(()) };
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
        let count = body["Count"].as_u64().map(|c| c as usize).unwrap_or_else(|| {
            let tables = body["Responses"].as_object();
            tables.map_or(0, |t| t.values().filter_map(|v| v.as_array()).map(Vec::len).sum())
        });
        self.items.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}
