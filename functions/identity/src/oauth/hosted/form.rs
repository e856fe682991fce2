//! The body of `POST /oauth/authorize`: one of the hosted page's forms.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use serde::Deserialize;
use shared::ApiError;
use utoipa::ToSchema;

use crate::oauth::authorize::AuthorizeParams;

/// A form of the hosted sign-in and consent page (`application/x-www-form-urlencoded`).
/// It repeats the authorization request's parameters, and carries the session's CSRF token.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PageForm {
    /// `sign_in`, `mfa` or `consent`.
    pub step: Option<String>,
    /// The CSRF token of the page that showed the form.
    pub csrf: Option<String>,
    /// `sign_in`.
    pub email: Option<String>,
    /// `sign_in`.
    pub password: Option<String>,
    /// `mfa`: the challenge the password step issued.
    pub mfa_token: Option<String>,
    /// `mfa`: the authenticator app's 6-digit code.
    pub code: Option<String>,
    /// The authorization request; on `consent`, `consent` is `approve` or `deny`.
    #[serde(flatten)]
    pub request: AuthorizeParams,
}

impl PageForm {
    /// Reads a form body; a field given twice is refused.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(ApiError::UnsupportedMediaType(
                "Send the page's form (application/x-www-form-urlencoded)".into(),
            ));
        }
        let mut fields = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if fields.insert(name.clone().into_owned(), serde_json::Value::String(value.into_owned())).is_some() {
                return Err(ApiError::BadRequest(format!("{name} is given more than once")));
            }
        }
        serde_json::from_value(serde_json::Value::Object(fields.into_iter().collect()))
            .map_err(|_| ApiError::BadRequest("The form is malformed".into()))
    }
}
