//! The hosted sign-in and consent page of `/oauth/authorize`, for a browser that a
//! third-party app sent there without a bearer token.
//!
//! `GET` shows the sign-in form, or, once the browser's session is signed in, the
//! consent screen (skipped when an earlier consent covers the scopes). The forms post to
//! `POST /oauth/authorize`: email and password (through the JSON login's own check, with
//! its throttling and lockout), then a TOTP code for MFA users, then Allow or Deny. The
//! request is checked as the JSON flow checks it: an unknown client or redirect URI is
//! an error page, anything else goes back to the app.

mod form;
mod pages;
mod session;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use shared::ApiError;
use shared::http::access::SourceIp;

use crate::IdentityState;
use crate::accounts::mfa;
use crate::accounts::model::{Organization, User, UserStatus};
use crate::accounts::sessions::{LOGIN_FAILED, check_password, issue_mfa_challenge};
use crate::accounts::store::AccountStore;
use crate::oauth::authorize::{AuthorizeParams, Checked, ValidRequest, check};
use crate::oauth::repository::{Grantor, OAuthRepository};
use form::PageForm;
use session::{BrowserCookie, BrowserSession};

const SIGN_IN: &str = "Sign in";

/// Whether a caller without credentials is a browser, which gets the page rather than a 401.
pub fn is_browser(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// The page for a `GET`: sign in, or consent, or straight back to the app.
pub async fn page(state: &IdentityState, headers: &HeaderMap, params: &AuthorizeParams) -> Response {
    let request = match check(state, params).await {
        Ok(Checked::Valid(request)) => request,
        Ok(Checked::BackToApp(location)) => return back_to_app(StatusCode::FOUND, &location, params),
        Err(err) => return pages::error(&err),
    };
    // The consent parameter of the JSON flow is ignored: only a form can approve.
    let params = AuthorizeParams { consent: None, ..params.clone() };
    let shown = match BrowserCookie::sent(headers) {
        Some(cookie) => show(state, &request, &params, cookie, StatusCode::FOUND).await,
        None => BrowserCookie::new().map(|cookie| sign_in_page(&request, &params, &cookie, StatusCode::OK, None, "")),
    };
    shown.unwrap_or_else(|err| pages::error(&err))
}

/// Sign-in, TOTP or consent: a form of the hosted authorization page.
#[utoipa::path(post, path = "/oauth/authorize", operation_id = "authorizeInBrowser", tag = "oauth",
    description = "The forms of the hosted sign-in and consent page that `GET /oauth/authorize` shows a browser. \
        Each carries the authorization request, a `step` and the CSRF token of the page's session cookie. \
        `sign_in` (email, password) obeys the login's throttling and lockout; `mfa` takes the TOTP code; \
        `consent` with `approve` redirects to the app with `code` and `state`, with `deny` with `error=access_denied`. \
        Answers are HTML pages or 303 redirects; a missing or forged CSRF token is a 403 page.",
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "The next page (TOTP)", content_type = "text/html", body = String),
        (status = 303, description = "On to the consent screen, or back to the app with `code` or `error`"),
        (status = 400, description = "Unknown client or unregistered redirect URI, or a malformed form", content_type = "text/html", body = String),
        (status = 401, description = "Wrong email, password or code: the form again", content_type = "text/html", body = String),
        (status = 403, description = "Missing or forged CSRF token", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String),
        (status = 429, description = "Too many failed sign-ins from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64))),
        (status = 500, description = "Server fault: a page without details", content_type = "text/html", body = String),
    ))]
pub async fn submit(
    State(state): State<IdentityState>,
    SourceIp(ip): SourceIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let form = PageForm::parse(&headers, &body)?;
        let Some(cookie) = BrowserCookie::sent(&headers).filter(|c| c.accepts(form.csrf.as_deref().unwrap_or("")))
        else {
            return Err(ApiError::InsufficientPermissions(
                "This form has expired or did not come from this page. Go back to the app and start again.".into(),
            ));
        };
        let request = match check(&state, &form.request).await? {
            Checked::Valid(request) => request,
            Checked::BackToApp(location) => return Ok(back_to_app(StatusCode::SEE_OTHER, &location, &form.request)),
        };
        let params = AuthorizeParams { consent: None, ..form.request.clone() };
        match form.step.as_deref() {
            Some("sign_in") => sign_in(&state, &ip, &request, &params, &form, &cookie).await,
            Some("mfa") => verify_code(&state, &request, &params, &form, &cookie).await,
            Some("consent") => decide(&state, &request, &params, form.request.consent.as_deref(), cookie).await,
            _ => Err(ApiError::BadRequest("The form is malformed".into())),
        }
    };
    answer.await.unwrap_or_else(|err| pages::error(&err))
}

fn back_to_app(status: StatusCode, location: &str, params: &AuthorizeParams) -> Response {
    let origin = params.redirect_uri.as_deref().and_then(pages::origin);
    pages::redirect(status, location, None, origin.as_deref())
}

fn sign_in_page(
    request: &ValidRequest,
    params: &AuthorizeParams,
    cookie: &BrowserCookie,
    status: StatusCode,
    problem: Option<&str>,
    email: &str,
) -> Response {
    let body = pages::sign_in(request, params, cookie, problem, email);
    pages::page(status, SIGN_IN, &body, Some(cookie), pages::origin(&request.redirect_uri).as_deref())
}

/// The signed-in account of a browser session, while the session holds.
async fn account(state: &IdentityState, cookie: &BrowserCookie) -> Result<Option<(User, Organization)>, ApiError> {
    let Some(session) = session::find(&state.services.store, cookie).await? else { return Ok(None) };
    let accounts = AccountStore::new(&state.services.store);
    let (user, org) =
        tokio::join!(accounts.get_user(&session.org_id, &session.user_id), accounts.get_organization(&session.org_id));
    Ok(match (user?, org?) {
        (Some(user), Some(org)) if user.status == UserStatus::Active && session.holds_for(&user) => Some((user, org)),
        _ => None,
    })
}

/// What a browser with a session cookie sees: the sign-in form, the consent screen, or,
/// when an earlier consent covers the request, the redirect back to the app.
async fn show(
    state: &IdentityState,
    request: &ValidRequest,
    params: &AuthorizeParams,
    cookie: BrowserCookie,
    redirect_status: StatusCode,
) -> Result<Response, ApiError> {
    let Some((user, org)) = account(state, &cookie).await? else {
        return Ok(sign_in_page(request, params, &cookie, StatusCode::OK, None, ""));
    };
    let grant =
        OAuthRepository::new(&state.services.store).get_grant(&user.org_id, &user.id, &request.app.client_id).await?;
    let covered = grant.is_some_and(|g| request.scopes.iter().all(|s| g.scopes.iter().any(|held| held == s.name())));
    let origin = pages::origin(&request.redirect_uri);
    if covered {
        let location = request.approve(state, Grantor::of(&user, &org)).await?;
        return Ok(pages::redirect(redirect_status, &location, None, origin.as_deref()));
    }
    let body = pages::consent(request, params, &cookie, &user.email);
    let title = format!("Allow {}?", request.app.name);
    Ok(pages::page(StatusCode::OK, &title, &body, Some(&cookie), origin.as_deref()))
}

/// Signs the browser in as `user` under a new cookie (so a cookie planted before the
/// sign-in is worthless after it), then shows the consent step.
async fn signed_in(state: &IdentityState, user: &User, params: &AuthorizeParams) -> Result<Response, ApiError> {
    let cookie = BrowserCookie::new()?;
    let clear = user.failed_logins > 0 || user.locked_until.is_some();
    session::sign_in(&state.services.store, &cookie, &BrowserSession::for_user(user), clear).await?;
    Ok(pages::redirect(StatusCode::SEE_OTHER, &pages::page_location(params), Some(&cookie), None))
}

async fn sign_in(
    state: &IdentityState,
    ip: &str,
    request: &ValidRequest,
    params: &AuthorizeParams,
    form: &PageForm,
    cookie: &BrowserCookie,
) -> Result<Response, ApiError> {
    let email = form.email.as_deref().unwrap_or("");
    let password = form.password.clone().unwrap_or_default();
    match check_password(state, ip, email, password).await {
        Ok((user, _)) if user.mfa_enabled => {
            let challenge = issue_mfa_challenge(state, &user).await?;
            let body = pages::totp(params, cookie, &challenge.mfa_token, None);
            Ok(pages::page(StatusCode::OK, SIGN_IN, &body, None, pages::origin(&request.redirect_uri).as_deref()))
        }
        Ok((user, _)) => signed_in(state, &user, params).await,
        Err(ApiError::AuthenticationFailed(_)) => {
            Ok(sign_in_page(request, params, cookie, StatusCode::UNAUTHORIZED, Some(LOGIN_FAILED), email))
        }
        Err(err) => Err(err),
    }
}

async fn verify_code(
    state: &IdentityState,
    request: &ValidRequest,
    params: &AuthorizeParams,
    form: &PageForm,
    cookie: &BrowserCookie,
) -> Result<Response, ApiError> {
    let token = form.mfa_token.as_deref().unwrap_or("");
    match mfa::check_challenge(state, token, form.code.as_deref().unwrap_or("")).await {
        Ok((user, _)) => signed_in(state, &user, params).await,
        Err(ApiError::AuthenticationFailed(_)) => {
            let problem = "That code did not work. Enter the current code, or go back to the app to start again.";
            let body = pages::totp(params, cookie, token, Some(problem));
            let origin = pages::origin(&request.redirect_uri);
            Ok(pages::page(StatusCode::UNAUTHORIZED, SIGN_IN, &body, None, origin.as_deref()))
        }
        Err(err) => Err(err),
    }
}

async fn decide(
    state: &IdentityState,
    request: &ValidRequest,
    params: &AuthorizeParams,
    consent: Option<&str>,
    cookie: BrowserCookie,
) -> Result<Response, ApiError> {
    let Some((user, org)) = account(state, &cookie).await? else {
        let problem = Some("Your sign-in has expired. Please sign in again.");
        return Ok(sign_in_page(request, params, &cookie, StatusCode::UNAUTHORIZED, problem, ""));
    };
    let location = match consent {
        Some("approve") => request.approve(state, Grantor::of(&user, &org)).await?,
        Some("deny") => request.denied()?,
        _ => request.refusal("invalid_request", "consent must be approve or deny")?,
    };
    let origin = pages::origin(&request.redirect_uri);
    Ok(pages::redirect(StatusCode::SEE_OTHER, &location, None, origin.as_deref()))
}
