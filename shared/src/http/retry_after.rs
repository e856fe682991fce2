//! `Retry-After` on an answer to one of our outbound calls (webhooks, the rent-roll sync).

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header::RETRY_AFTER};
use time::OffsetDateTime;

/// The wait a 429 or 503 asks for, in seconds or as an HTTP date; `None` for any other
/// status or when it asks for none.
pub fn requested_wait(status: StatusCode, headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    u64::try_from((at - now).whole_seconds()).ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates_on_429_and_503_only() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers, now), Some(Duration::from_secs(120)));
        assert_eq!(requested_wait(StatusCode::INTERNAL_SERVER_ERROR, &headers, now), None);
        headers.insert(RETRY_AFTER, "Tue, 14 Nov 2023 22:46:40 GMT".parse().unwrap());
        assert_eq!(requested_wait(StatusCode::SERVICE_UNAVAILABLE, &headers, now), Some(Duration::from_secs(2000)));
    }
}
