//! What the benchmarks report: percentiles of timings, in milliseconds.

use std::time::Duration;

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

/// The system allocator, counting live and peak heap bytes: a benchmark declares
/// `#[global_allocator] static ALLOCATOR: Counting = Counting;` and reads [`LIVE`] and
/// [`PEAK`].
pub struct Counting;

pub static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
pub static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering;
        let ptr = unsafe { std::alloc::System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Counts DynamoDB requests by operation (`X-Amz-Target`), as an SDK interceptor.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(pub std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>);

impl CallCounter {
    /// The counts so far, starting again from zero.
    pub fn take(&self) -> std::collections::BTreeMap<String, usize> {
        self.0.lock().map(|mut calls| std::mem::take(&mut *calls)).unwrap_or_default()
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut calls) = self.0.lock() {
            *calls.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// `1.23 MiB`.
pub fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}
