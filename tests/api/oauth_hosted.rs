//! The hosted sign-in and consent page of `/oauth/authorize`, driven as a browser drives
//! it: HTML forms, the session cookie, CSRF tokens and redirects back to the app.

use doorstep_tests::{TestApp, TestResponse, app, new_org};
use http::{Method, StatusCode};
use serde_json::json;
use totp_rs::{Builder, Secret};

use crate::identity_support::{PASSWORD, login, new_email, new_ip, register};
use crate::oauth_flow::{self, Client, REDIRECT_URI, authorize_uri, exchange, pkce, redirect_params};

const COOKIE: &str = "doorstep_authorize";

/// A browser: it keeps the page's cookie and answers from one source address.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
    ip: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None, ip: new_ip() }
    }

    fn keep_cookie(&mut self, response: &TestResponse) {
        if let Some(set) = response.header("set-cookie") {
            let pair = set.split(';').next().unwrap();
            self.cookie = Some(pair.strip_prefix(&format!("{COOKIE}=")).expect("the page's cookie").to_owned());
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers =
            vec![("accept", "text/html,application/xhtml+xml".to_owned()), ("x-forwarded-for", self.ip.clone())];
        if let Some(cookie) = &self.cookie {
            headers.push(("cookie", format!("{COOKIE}={cookie}")));
        }
        headers
    }

    async fn get(&mut self, uri: &str) -> TestResponse {
        let headers = self.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = self.app.call(Method::GET, uri, None, None, &headers).await;
        self.keep_cookie(&response);
        response
    }

    /// Submits the page's form with its hidden fields, plus `fields`.
    async fn submit(&mut self, page: &TestResponse, fields: &[(&str, &str)]) -> TestResponse {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in hidden_fields(&page.text) {
            if !fields.iter().any(|(n, _)| *n == name) {
                form.append_pair(&name, &value);
            }
        }
        form.extend_pairs(fields);
        self.post(form.finish()).await
    }

    async fn post(&mut self, body: String) -> TestResponse {
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri("/oauth/authorize")
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        let response = self.app.send(request.body(axum::body::Body::from(body)).unwrap()).await;
        self.keep_cookie(&response);
        response
    }
}

fn unescape(raw: &str) -> String {
    raw.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The `name` and `value` of each hidden input of a page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").expect("a hidden input's value");
            (name.to_owned(), unescape(rest.split_once('"').unwrap().0))
        })
        .collect()
}

fn field(page: &TestResponse, name: &str) -> String {
    hidden_fields(&page.text).into_iter().find(|(n, _)| n == name).map(|(_, v)| v).expect(name)
}

/// Asserts the headers every page carries.
fn assert_guarded(response: &TestResponse) {
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let policy = response.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src") && !response.text.contains("<script"), "{policy}");
}

/// An app registered in a developer organization, asking for `read:properties` and `read:maintenance`.
async fn third_party_app(app: &TestApp) -> Client {
    let developer = app.token(&new_org(), &["OrganizationOwner"]);
    oauth_flow::register(app, &developer, Some(&["read:properties", "read:maintenance"])).await
}

/// Given an app asking for `read:properties` and `read:maintenance`, and a user of
/// another organization who signs in with [`PASSWORD`].
struct Scene {
    client: Client,
    email: String,
    verifier: String,
    challenge: String,
}

async fn scene(app: &TestApp, label: &str) -> Scene {
    let client = third_party_app(app).await;
    let email = new_email(label);
    register(app, &email).await;
    let (verifier, challenge) = pkce();
    Scene { client, email, verifier, challenge }
}

/// Signs `email` in on the page of `uri` and returns the page shown next.
async fn sign_in(browser: &mut Browser<'_>, uri: &str, email: &str) -> TestResponse {
    let form = browser.get(uri).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    let signed_in = browser.submit(&form, &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.text);
    browser.get(signed_in.header("location").unwrap()).await
}

#[tokio::test]
async fn a_browser_signs_in_approves_and_the_app_exchanges_the_code() {
    let app = app().await;
    let Scene { client, email, verifier, challenge } = scene(&app, "hosted").await;
    let uri = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None);
    let mut browser = Browser::new(&app);

    // Given a browser without a session, the page is a sign-in form, not a 401.
    let form = browser.get(&uri).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.header("content-type").unwrap().starts_with("text/html"));
    assert_guarded(&form);
    assert!(form.text.contains("<label for=\"email\">") && form.text.contains("<label for=\"password\">"));
    assert!(form.text.contains("<h1>") && form.text.contains("Rent Reminder Pro"));
    let set_cookie = form.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/oauth/authorize", "Max-Age=600"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let first_cookie = browser.cookie.clone();

    // When the user signs in, the session gets a new cookie and the consent screen follows.
    let signed_in = browser.submit(&form, &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.text);
    assert_guarded(&signed_in);
    assert_ne!(browser.cookie, first_cookie, "the cookie is replaced at sign-in");
    let consent = browser.get(signed_in.header("location").unwrap()).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    assert_guarded(&consent);
    for shown in ["Rent Reminder Pro", "Reminds renters before rent is due", "View properties and units", &email] {
        assert!(consent.text.contains(shown), "{shown} missing from {}", consent.text);
    }
    assert!(!consent.text.contains("maintenance"), "only the requested scope is listed");

    // Then Allow sends the browser back to the app with a code and the state...
    let approved = browser.submit(&consent, &[("consent", "approve")]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.text);
    let (base, params) = redirect_params(&approved);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(params["state"], "xyz state");
    // ...which, with the PKCE verifier, buys tokens for the user's organization.
    let tokens = exchange(&app, &client, &params["code"], &verifier).await;
    assert_eq!(tokens["scope"], "read:properties");
    let properties = app.get("/api/ai/properties", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(properties.status, StatusCode::OK, "{:?}", properties.body);
}

#[tokio::test]
async fn an_earlier_consent_that_covers_the_scopes_skips_the_consent_screen() {
    let app = app().await;
    let Scene { client, email, challenge, .. } = scene(&app, "again").await;
    let narrow = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None);
    let mut browser = Browser::new(&app);
    let consent = sign_in(&mut browser, &narrow, &email).await;
    assert!(consent.text.contains("Allow"), "{}", consent.text);
    // A GET that names consent=approve is not a way around the form.
    let by_query = browser.get(&format!("{narrow}&consent=approve")).await;
    assert_eq!(by_query.status, StatusCode::OK);
    assert!(by_query.header("location").is_none());
    let approved = browser.submit(&consent, &[("consent", "approve")]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);

    // When the app asks again for what was approved, the browser goes straight back.
    let again = browser.get(&narrow).await;
    assert_eq!(again.status, StatusCode::FOUND, "{}", again.text);
    let (base, params) = redirect_params(&again);
    assert_eq!(base, REDIRECT_URI);
    assert!(params["code"].starts_with("dsa_"));

    // When it asks for more, the user is asked again, for the new scope too.
    let wider = browser
        .get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties read:maintenance", &challenge, None))
        .await;
    assert_eq!(wider.status, StatusCode::OK, "{}", wider.text);
    assert!(wider.text.contains("View maintenance requests"), "{}", wider.text);
}

#[tokio::test]
async fn deny_sends_access_denied_and_the_state_back_to_the_app() {
    let app = app().await;
    let Scene { client, email, challenge, .. } = scene(&app, "deny").await;
    let mut browser = Browser::new(&app);
    let consent =
        sign_in(&mut browser, &authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None), &email)
            .await;

    let denied = browser.submit(&consent, &[("consent", "deny")]).await;

    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    let (base, params) = redirect_params(&denied);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "xyz state");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn a_form_without_its_sessions_csrf_token_is_refused() {
    let app = app().await;
    let Scene { client, email, challenge, .. } = scene(&app, "csrf").await;
    let uri = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None);

    // A forged token, and another browser's genuine token, do not sign in.
    let mut browser = Browser::new(&app);
    let form = browser.get(&uri).await;
    let mut other = Browser::new(&app);
    let others_form = other.get(&uri).await;
    for csrf in ["forged".to_owned(), field(&others_form, "csrf"), String::new()] {
        let refused = browser.submit(&form, &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.header("location").is_none() && refused.header("set-cookie").is_none());
        assert_guarded(&refused);
    }
    // Without the cookie, even the right token is refused.
    let mut cookieless = Browser { cookie: None, ..Browser::new(&app) };
    let refused = cookieless.submit(&form, &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A signed-in session's consent cannot be given by a forged form either.
    let consent = sign_in(&mut browser, &uri, &email).await;
    let forged = browser.submit(&consent, &[("consent", "approve"), ("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.header("location").is_none());
    // The token of the form before sign-in no longer works after it.
    let stale = browser.submit(&consent, &[("consent", "approve"), ("csrf", &field(&form, "csrf"))]).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect() {
    let app = app().await;
    let client = third_party_app(&app).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new(&app);
    let unknown = format!("dsc_{}_{}", ulid::Ulid::generate(), ulid::Ulid::generate());
    for uri in [
        authorize_uri(&client.id, "https://evil.example.com/cb", "read:properties", &challenge, None),
        authorize_uri(&unknown, REDIRECT_URI, "read:properties", &challenge, None),
        authorize_uri("garbage", REDIRECT_URI, "read:properties", &challenge, None),
        "/oauth/authorize".to_owned(),
    ] {
        let page = browser.get(&uri).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.header("location").is_none(), "{uri}");
        assert!(page.header("content-type").unwrap().starts_with("text/html"));
        assert_guarded(&page);
    }
    // Once the client and redirect URI are valid, errors go back to the app.
    let plain = authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None).replace("S256", "plain");
    let back = browser.get(&plain).await;
    assert_eq!(back.status, StatusCode::FOUND);
    assert_eq!(redirect_params(&back).1["error"], "invalid_request");
    let beyond = browser.get(&authorize_uri(&client.id, REDIRECT_URI, "read:payments", &challenge, None)).await;
    assert_eq!(redirect_params(&beyond).1["error"], "invalid_scope");
    // A body that is not the page's form is a 4xx page, not a 5xx.
    let mut request = http::Request::builder().method(Method::POST).uri("/oauth/authorize");
    request = request.header("content-type", "application/json");
    let json = app.send(request.body(axum::body::Body::from(json!({"step": "sign_in"}).to_string())).unwrap()).await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let repeated = browser.post("step=sign_in&step=consent".to_owned()).await;
    assert_eq!(repeated.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wrong_passwords_on_the_page_count_toward_the_logins_lockout() {
    let app = app().await;
    let Scene { client, email, challenge, .. } = scene(&app, "locked").await;
    let mut browser = Browser::new(&app);
    let form = browser.get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)).await;

    // Five wrong passwords on the page: each shows the form again with the login's one message.
    for _ in 0..5 {
        let wrong = browser.submit(&form, &[("email", &email), ("password", "not the password")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.text.contains("Invalid email or password") && wrong.text.contains("role=\"alert\""));
        assert!(wrong.header("location").is_none());
    }
    // Then the account is locked for the JSON login too, and for the page.
    assert_eq!(login(&app, &email, PASSWORD, &new_ip()).await.status, StatusCode::UNAUTHORIZED);
    let right = browser.submit(&form, &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_mfa_user_enters_the_authenticator_code_after_the_password() {
    let app = app().await;
    let client = third_party_app(&app).await;
    let email = new_email("mfa-page");
    let registered = register(&app, &email).await;
    let access = registered["access_token"].as_str().unwrap();
    let setup = app.post("/api/v1/identity/mfa/setup", access, &json!({"password": PASSWORD})).await;
    let secret = setup.body["data"]["secret"].as_str().unwrap();
    let totp = Builder::new().with_secret(Secret::try_from_base32(secret).unwrap()).build().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp().cast_unsigned();
    let confirmed =
        app.post("/api/v1/identity/mfa/verify", access, &json!({"code": totp.generate(now).to_string()})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let (_, challenge) = pkce();
    let mut browser = Browser::new(&app);
    let form = browser.get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)).await;

    // The right password leads to the code step, not to consent.
    let code_step = browser.submit(&form, &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(code_step.status, StatusCode::OK, "{}", code_step.text);
    assert!(code_step.text.contains("<label for=\"code\">"));
    assert!(code_step.header("location").is_none());
    assert_guarded(&code_step);

    // A wrong code shows the step again; the next step's code signs in.
    let next_code = totp.generate(now + 30).to_string();
    let wrong_code = if next_code == "000000" { "111111" } else { "000000" };
    let wrong = browser.submit(&code_step, &[("code", wrong_code)]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("role=\"alert\""));
    let right = browser.submit(&wrong, &[("code", &next_code)]).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text);
    let consent = browser.get(right.header("location").unwrap()).await;
    assert!(consent.text.contains("View properties and units"), "{}", consent.text);
}

#[tokio::test]
async fn the_sign_in_form_arrives_through_the_lambda_event_with_its_cookie() {
    let app = app().await;
    let Scene { client, email, challenge, .. } = scene(&app, "lambda").await;
    let mut browser = Browser::new(&app);
    let form = browser.get(&authorize_uri(&client.id, REDIRECT_URI, "read:properties", &challenge, None)).await;
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.extend_pairs(hidden_fields(&form.text)).extend_pairs([("email", email.as_str()), ("password", PASSWORD)]);
    let body = body.finish();
    let cookie = browser.cookie.clone().unwrap();

    // API Gateway hands the browser's cookies over in the event's `cookies`.
    let replacements =
        [("__COOKIE__", cookie.as_str()), ("__FORM__", body.as_str()), ("__SOURCE_IP__", browser.ip.as_str())];
    let (status, _, headers) = crate::oauth_events::invoke(&app, "oauth-authorize-sign-in", &replacements).await;

    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.get("location").unwrap().to_str().unwrap().starts_with("/oauth/authorize?client_id="));
    let new_cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(new_cookie.starts_with("doorstep_authorize=") && !new_cookie.contains(&cookie));
    // Without the cookie, the same form is refused.
    let replacements = [("__COOKIE__", "none"), ("__FORM__", body.as_str()), ("__SOURCE_IP__", browser.ip.as_str())];
    let (status, _, _) = crate::oauth_events::invoke(&app, "oauth-authorize-sign-in", &replacements).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
