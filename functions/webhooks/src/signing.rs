//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one `v1,` entry
//! per secret that still signs (two during a rotation). Secrets are `whsec_<base64>`.

use base64::Engine;
use shared::store::webhooks::SigningSecret;
use standardwebhooks::Webhook;

/// Random bytes in a new secret (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;
pub const SECRET_PREFIX: &str = "whsec_";

/// A new `whsec_` secret.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// The three headers of a delivery signed at `timestamp` (Unix seconds) by every secret
/// that has not retired by then.
pub fn headers(
    secrets: &[SigningSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<Vec<(&'static str, String)>, standardwebhooks::WebhookError> {
    let mut signatures = Vec::new();
    for secret in secrets.iter().filter(|s| s.retires_at.is_none_or(|at| at > timestamp)) {
        signatures.push(Webhook::new(&secret.secret)?.sign(message_id, timestamp, body.as_bytes())?);
    }
    Ok(vec![
        (standardwebhooks::HEADER_WEBHOOK_ID, message_id.to_owned()),
        (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signatures.join(" ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_test_vector_reproduces() {
        let secret = SigningSecret { secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into(), retires_at: None };
        let headers = headers(
            &[secret],
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        )
        .unwrap();
        assert_eq!(headers[2], ("webhook-signature", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".to_owned()));
    }

    #[test]
    fn a_retired_secret_no_longer_signs() {
        let current = SigningSecret { secret: new_secret().unwrap(), retires_at: None };
        let old = SigningSecret { secret: new_secret().unwrap(), retires_at: Some(100) };
        let both = headers(&[current.clone(), old.clone()], "evt_1", 99, "{}").unwrap();
        assert_eq!(both[2].1.split(' ').count(), 2);
        let one = headers(&[current, old], "evt_1", 100, "{}").unwrap();
        assert_eq!(one[2].1.split(' ').count(), 1);
    }

    #[test]
    fn new_secrets_are_whsec_base64_of_32_bytes() {
        let secret = new_secret().unwrap();
        let raw = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
    }
}
