//! Tracing: JSON lines when Lambda's log format is JSON, readable text otherwise.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::SubscriberBuilder;
use tracing_subscriber::fmt::format::{DefaultFields, Format};

/// `RUST_LOG` filtering (default `info`), no targets.
fn builder() -> SubscriberBuilder<DefaultFields, Format, EnvFilter> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false)
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // try_init: a second call keeps the first subscriber.
    let _ = if json {
        builder().json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder().compact().with_ansi(false).try_init()
    };
}

/// For tests: logs go through the test harness's capture and show only for a failing test.
pub fn init_for_tests() {
    let _ = builder().compact().with_ansi(false).with_test_writer().try_init();
}
