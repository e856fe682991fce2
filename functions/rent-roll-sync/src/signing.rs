//! HMAC-signed payloads (one of the RentSync guide's §5 auth methods; the guide names no
//! headers, so Doorstep's are `X-Aigent-Timestamp` and `X-Aigent-Signature`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Aigent-Timestamp";
/// `sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<body>`, keyed by the secret's bytes.
pub const SIGNATURE_HEADER: &str = "X-Aigent-Signature";

/// The `X-Aigent-Signature` value of `body` sent at `timestamp`.
pub fn signature(key: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", shared::http::body::hex(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // Python: hmac.new(b"rs-key-test", b'1736906400.{"units":[]}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature("rs-key-test", 1_736_906_400, r#"{"units":[]}"#),
            "sha256=e87e467dae6b4cda8954240d736a1567353b0f7b7f4a1f496b1c0ea0c33611ad"
        );
    }
}
