//! The HTML of the hosted authorization page: sign-in, TOTP, consent and error pages.
//! Plain server-rendered forms with no script; every response carries the same
//! security headers.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use shared::ApiError;

use crate::oauth::authorize::{AuthorizeParams, ValidRequest};
use crate::oauth::hosted::session::BrowserCookie;

/// Where every form posts.
pub const FORM_PATH: &str = "/oauth/authorize";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}\
input{box-sizing:border-box;width:100%;padding:.6rem;font-size:1rem;border:1px solid #767b86;border-radius:4px}\
button{margin-top:1.25rem;padding:.65rem 1.2rem;font-size:1rem;border-radius:4px;border:1px solid #1b4fd8;\
background:#1b4fd8;color:#fff}button.secondary{background:#fff;color:#1b4fd8}\
:focus-visible{outline:3px solid #f5a300;outline-offset:2px}.error{color:#a1120f;font-weight:600}\
@media (max-width:30rem){main{margin:0;border-radius:0}}";

/// The stylesheet is the page's only inline content, allowed by its hash.
static STYLE_HASH: LazyLock<String> = LazyLock::new(|| STANDARD.encode(Sha256::digest(STYLE.as_bytes())));

/// Text for HTML content and attribute values.
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The security headers of every response of the page. Forms may post only here, and
/// be redirected on to `app_origin`.
fn secure(headers: &mut HeaderMap, app_origin: Option<&str>) {
    let form_action = match app_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
        *STYLE_HASH
    );
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// The origin (`scheme://host[:port]`) of an app's redirect URI.
pub fn origin(redirect_uri: &str) -> Option<String> {
    url::Url::parse(redirect_uri).ok().map(|url| url.origin().ascii_serialization()).filter(|o| o != "null")
}

/// A page, with the cookie when it is new.
pub fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    cookie: Option<&BrowserCookie>,
    app_origin: Option<&str>,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Doorstep</title><style>{STYLE}</style></head>\
         <body><main>\n<h1>{title}</h1>\n{body}\n</main></body></html>\n",
        title = escape(title)
    );
    let response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    finish(response, cookie, app_origin)
}

/// Adds the security headers, and the cookie when it is new.
fn finish(mut response: Response, cookie: Option<&BrowserCookie>, app_origin: Option<&str>) -> Response {
    secure(response.headers_mut(), app_origin);
    if let Some(cookie) = cookie.filter(|c| c.fresh) {
        match cookie.header() {
            Ok(value) => {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            Err(err) => return error(&err),
        }
    }
    response
}

/// A redirect (`302` after a `GET`, `303` after a form), with the cookie when it is new.
pub fn redirect(
    status: StatusCode,
    location: &str,
    cookie: Option<&BrowserCookie>,
    app_origin: Option<&str>,
) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return error(&ApiError::internal("redirect location is not a header value"));
    };
    let mut response = status.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    finish(response, cookie, app_origin)
}

/// An error page: never a redirect. Server faults show no detail (it goes to the log).
pub fn error(err: &ApiError) -> Response {
    let status = err.status_code();
    let message = if status.is_server_error() {
        tracing::error!(error = %err, "authorization page failed");
        "Something went wrong on our side. Please try again in a moment.".to_owned()
    } else {
        err.to_string()
    };
    let title = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        s if s.is_server_error() => "Sorry, something went wrong",
        _ => "This sign-in link cannot be used",
    };
    let body = format!("<p role=\"alert\">{}</p>", escape(&message));
    let mut response = page(status, title, &body, None, None);
    if let ApiError::RateLimited { retry_after } = err {
        response.headers_mut().insert(HeaderName::from_static("retry-after"), HeaderValue::from(*retry_after));
    }
    response
}

/// The authorization request's parameters, carried from page to page.
pub fn request_pairs(params: &AuthorizeParams) -> Vec<(&'static str, &str)> {
    let fields = [
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("response_type", &params.response_type),
        ("scope", &params.scope),
        ("state", &params.state),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
    ];
    fields.into_iter().filter_map(|(name, value)| value.as_deref().map(|v| (name, v))).collect()
}

/// The address of the page for this authorization request.
pub fn page_location(params: &AuthorizeParams) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(request_pairs(params));
    format!("{FORM_PATH}?{}", query.finish())
}

/// A form's opening tag and hidden fields: the request, the step and the CSRF token.
fn form_start(params: &AuthorizeParams, step: &str, cookie: &BrowserCookie) -> String {
    let mut html = format!("<form method=\"post\" action=\"{FORM_PATH}\">\n");
    let hidden = request_pairs(params).into_iter().chain([("step", step)]);
    for (name, value) in hidden {
        let _ = writeln!(html, "<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value));
    }
    let _ = writeln!(html, "<input type=\"hidden\" name=\"csrf\" value=\"{}\">", cookie.csrf_token());
    html
}

fn alert(problem: Option<&str>) -> String {
    problem.map(|p| format!("<p id=\"problem\" class=\"error\" role=\"alert\">{}</p>\n", escape(p))).unwrap_or_default()
}

/// Email and password.
pub fn sign_in(
    request: &ValidRequest,
    params: &AuthorizeParams,
    cookie: &BrowserCookie,
    problem: Option<&str>,
    email: &str,
) -> String {
    let described = if problem.is_some() { " aria-describedby=\"problem\"" } else { "" };
    format!(
        "<p>Sign in with your Doorstep account to continue to <strong>{app}</strong>.</p>\n{alert}{form}\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{email}\"{described}>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        app = escape(&request.app.name),
        alert = alert(problem),
        form = form_start(params, "sign_in", cookie),
        email = escape(email),
    )
}

/// The authenticator app's code, for a user with MFA.
pub fn totp(params: &AuthorizeParams, cookie: &BrowserCookie, mfa_token: &str, problem: Option<&str>) -> String {
    let described = if problem.is_some() { " aria-describedby=\"problem\"" } else { "" };
    format!(
        "<p>Enter the 6-digit code from your authenticator app.</p>\n{alert}{form}\
         <input type=\"hidden\" name=\"mfa_token\" value=\"{token}\">\
         <label for=\"code\">Authentication code</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" \
         autocomplete=\"one-time-code\" required autofocus{described}>\
         <button type=\"submit\">Verify</button></form>",
        alert = alert(problem),
        form = form_start(params, "mfa", cookie),
        token = escape(mfa_token),
    )
}

/// What the app asks for, with Allow and Deny.
pub fn consent(request: &ValidRequest, params: &AuthorizeParams, cookie: &BrowserCookie, email: &str) -> String {
    let mut scopes = String::new();
    for scope in request.scope_views() {
        let _ = write!(scopes, "<li>{}</li>", escape(scope.description));
    }
    let destination = origin(&request.redirect_uri).unwrap_or_default();
    format!(
        "<p><strong>{app}</strong>: {description}</p>\n\
         <p>You are signed in as {email}. If you allow it, {app} will be able to:</p>\n<ul>{scopes}</ul>\n\
         <p>You will then return to {destination}.</p>\n{form}\
         <button type=\"submit\" name=\"consent\" value=\"approve\">Allow</button> \
         <button type=\"submit\" name=\"consent\" value=\"deny\" class=\"secondary\">Deny</button></form>",
        app = escape(&request.app.name),
        description = escape(&request.app.description),
        email = escape(email),
        destination = escape(&destination),
        form = form_start(params, "consent", cookie),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_app_supplied_text_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn every_page_forbids_framing_caching_and_script() {
        let response = page(StatusCode::OK, "Sign in", "<p>hi</p>", None, Some("https://app.example.com"));
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("cache-control"), "no-store");
        let policy = header("content-security-policy");
        assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"), "{policy}");
        assert!(policy.contains("form-action 'self' https://app.example.com"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
    }
}
