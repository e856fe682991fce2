//! The JSON body extractor: content type (415), size (413), syntax (400) and shape
//! (422 with field details), all in the documented envelope.
//!
//! The extractor never rejects a request by itself: it keeps its outcome, and the
//! handler takes the body with [`Json::accept`] once it has authorized the caller (and,
//! on a record, found the record). A caller without the right gets its 401, 403 or 404
//! whatever body it sends; a caller with it gets the body's 400, 413, 415 or 422.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, FieldError};

/// Bodies larger than this are rejected with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body as the request sent it, parsed or refused; [`Json::accept`] takes it.
#[derive(Debug)]
pub struct Json<T>(Result<Parsed<T>, ApiError>);

impl<T> Json<T> {
    /// The parsed body, or the reason it was refused. Call it after `authorize`.
    pub fn accept(self) -> Result<Parsed<T>, ApiError> {
        self.0
    }

    /// The parsed body by reference, for a handler that takes it inside a retried write
    /// once the write has found the record; a refused body answers the same each time.
    pub fn get(&self) -> Result<&Parsed<T>, ApiError> {
        self.0.as_ref().map_err(refused_again)
    }
}

/// A body's refusal once more: those carry only text and field details.
fn refused_again(refusal: &ApiError) -> ApiError {
    match refusal {
        ApiError::UnsupportedMediaType(message) => ApiError::UnsupportedMediaType(message.clone()),
        ApiError::PayloadTooLarge { limit } => ApiError::PayloadTooLarge { limit: *limit },
        ApiError::Validation { message, details } => {
            ApiError::Validation { message: message.clone(), details: details.clone() }
        }
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// A parsed JSON body plus a fingerprint of its canonical form (key order and
/// whitespace do not change it), used to detect `Idempotency-Key` reuse.
#[derive(Debug)]
pub struct Parsed<T> {
    pub value: T,
    pub fingerprint: String,
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Json(read(request).await))
    }
}

/// Reads and parses a request's body, checking its content type and size first.
async fn read<T: DeserializeOwned>(request: Request) -> Result<Parsed<T>, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType("Expected a body with Content-Type: application/json".into()));
    }
    let declared_too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES);
    if declared_too_large {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES })?;
    parse(&bytes)
}

/// Parses a body: malformed JSON is a 400, JSON of the wrong shape a 422.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Parsed<T>, ApiError> {
    let raw: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
    let fingerprint = hex(&Sha256::digest(raw.to_string().as_bytes()));
    Ok(Parsed { value: shaped(raw)?, fingerprint })
}

/// A parsed JSON value as `T`: the wrong shape is a 422 naming the field.
pub fn shaped<T: DeserializeOwned>(raw: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::validation(vec![field_error(&path, &inner.to_string())])
    })
}

/// Turns a serde message into a field error; unknown fields name the field itself.
fn field_error(path: &str, message: &str) -> FieldError {
    let parent = if path == "." { "" } else { path };
    // The path may or may not already end at the named field, depending on where
    // serde noticed the problem.
    let join = |name: &str| {
        if parent == name || parent.ends_with(&format!(".{name}")) {
            parent.to_owned()
        } else if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        return FieldError::new(join(name), "Unknown or read-only field");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        return FieldError::new(join(name), "Field is required");
    }
    let field = if parent.is_empty() { "body".to_owned() } else { parent.to_owned() };
    // serde appends " at line L column C" for positioned errors; it adds nothing here.
    let message = message.split(" at line ").next().unwrap_or(message);
    FieldError::new(field, message)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn details(err: ApiError) -> Vec<FieldError> {
        match err {
            ApiError::Validation { details, .. } => details,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(err.code(), "BAD_REQUEST");
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let unknown = details(parse::<Body>(br#"{"name":"a","id":"x"}"#).unwrap_err());
        assert_eq!(unknown, vec![FieldError::new("id", "Unknown or read-only field")]);
        let missing = details(parse::<Body>(br#"{}"#).unwrap_err());
        assert_eq!(missing[0].field, "name");
        let nested = details(parse::<Body>(br#"{"name":"a","inner":{"count":-1}}"#).unwrap_err());
        assert_eq!(nested[0].field, "inner.count");
    }

    #[test]
    fn fingerprint_ignores_key_order_and_whitespace() {
        let a = parse::<Body>(br#"{"name":"a","inner":{"count":1}}"#).unwrap();
        let b = parse::<Body>(b"{ \"inner\": {\"count\": 1},\n \"name\": \"a\" }").unwrap();
        let c = parse::<Body>(br#"{"name":"b"}"#).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn a_refused_body_answers_the_same_each_time() {
        let body = Json::<Body>(parse(br#"{"name": 5}"#));
        let first = details(body.get().unwrap_err());
        assert_eq!(first, details(body.get().unwrap_err()));
        assert_eq!(first, details(body.accept().unwrap_err()));
        let too_large = Json::<Body>(Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES }));
        assert_eq!(too_large.get().unwrap_err().code(), too_large.accept().unwrap_err().code());
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
