//! The authorization matrix: every operation `openapi.json` documents, tried with each
//! credential that must not get in, and checked for what it answers. The operations are
//! read from the document at test time, so a new route is covered the day it is added.

use std::collections::BTreeMap;

use doorstep_tests::{TestApp, app, claims};
use futures::stream::{self, StreamExt};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::jwt::{JwtSigner, SigningKeySecret};
use shared::domain::calendar::format_date;

use crate::financial::{invoice_id, pay, payment};
use crate::identity_support::{PASSWORD, new_email, register, tokens};
use crate::maintenance::{REQUESTS, building, created, id, leak};

/// How many requests run at once.
const CONCURRENCY: usize = 16;

/// Operations anyone may call, each with its own authentication or none, and what it
/// answers to a request with no credential and an empty JSON object for a body.
const PUBLIC: &[(&str, &str, u16)] = &[
    ("GET", "/.well-known/jwks.json", 200),
    ("POST", "/api/v1/identity/forgot-password", 422),
    ("POST", "/api/v1/identity/login", 422),
    ("POST", "/api/v1/identity/logout", 422),
    ("POST", "/api/v1/identity/mfa/verify", 422),
    ("POST", "/api/v1/identity/refresh", 422),
    ("POST", "/api/v1/identity/register", 422),
    ("POST", "/api/v1/identity/reset-password", 422),
    ("POST", "/api/v1/identity/verify-email", 422),
    // The JSON authorization endpoint to a client that does not accept text/html.
    ("GET", "/oauth/authorize", 401),
    ("POST", "/oauth/authorize", 415),
    // The token endpoint takes a form: RFC 6749's JSON error.
    ("POST", "/oauth/token", 400),
    // SmartMove's postback names its order, whose credentials it must carry: a body
    // naming none is malformed. Stripe's needs a signature.
    ("POST", "/webhooks/smartmove", 400),
    ("POST", "/webhooks/stripe", 400),
];

/// Path parameters whose ids name no organization's record: a role is a name every
/// organization shares.
const SHARED_IDS: &[&str] = &["role_id"];

/// Path parameters naming records the tenant case's tenant may see: their own property.
const TENANT_OWN_IDS: &[&str] = &["role_id", "property_id"];

/// Operations that serve OAuth apps whatever their scopes, showing each app only the
/// records its scopes could read (docs/webhooks.md): a list or create is judged by the
/// leak check, a record the app cannot read is a 404.
const SCOPE_FILTERED: &str = "/api/v1/webhooks";

/// Query parameters an operation needs before it looks at anything else.
const QUERIES: &[(&str, &str)] = &[("/api/v1/rent-roll/feed", "format=nested")];

/// The case of a tenant of A on another tenant's records.
const TENANT_CASE: &str = "tenant of A";

/// A credential one case presents.
#[derive(Clone)]
enum Credential {
    None,
    Bearer(String),
    ApiKey(String),
}

/// One way of asking that must not get through.
struct Case {
    name: &'static str,
    credential: Credential,
    /// The statuses it may answer; `None` leaves the status to the operation's own
    /// rules (only "not 2xx" and "not 5xx" hold everywhere for it).
    expected: fn(&Operation) -> Option<&'static [u16]>,
}

#[derive(Debug)]
struct Operation {
    method: Method,
    path: String,
    uri: String,
    /// Whether a path parameter names a record of organization A.
    has_org_id: bool,
    /// Whether a path parameter names a record of A that the tenant case's tenant does
    /// not hold.
    has_others_id: bool,
    /// Whether it takes a request body.
    has_body: bool,
}

/// Organization A's records: the ids the paths use and every value a response must not show.
struct Seeded {
    ids: BTreeMap<&'static str, String>,
    secrets: Vec<String>,
    /// Of `secrets`, those the tenant case's tenant may see: their property.
    tenant_own: Vec<String>,
    /// A tenant of A with a lease of their own; the ids name another tenant's records.
    tenant_token: String,
}

/// A registered organization: its id and its owner's access token.
async fn organization(app: &TestApp) -> (String, String) {
    let email = new_email("matrix");
    let registered = register(app, &email).await;
    let (access, _) = tokens(app, &email, PASSWORD).await;
    (registered["organization"]["id"].as_str().expect("organization id").to_owned(), access)
}

async fn seed(app: &TestApp, org: &str, owner: &str) -> Seeded {
    let owner = owner.to_owned();
    let building = building(app, org, &owner).await;
    let property = building.property.clone();
    let lease_uri = format!("/api/v1/properties/{property}/tenants/{}/lease", building.tenants[1]);
    let lease = app.get(&lease_uri, &owner).await;
    assert_eq!(lease.status, StatusCode::OK, "{:?}", lease.body);
    let lease = id(&lease.body["data"]);
    let request = id(&created(app, &owner, REQUESTS, leak(&property, Some(&building.units[1]))).await);
    let work_order = id(&created(
        app,
        &owner,
        "/api/v1/operations/work-orders",
        json!({"maintenance_request_id": request, "title": "Replace the trap", "estimate": 25000}),
    )
    .await);
    let today = time::OffsetDateTime::now_utc().date();
    let invoice = invoice_id(app, &owner, &lease, 1500.0, &format_date(today - time::Duration::days(5))).await;
    let paid = pay(app, &owner, "authorization-matrix", &payment(&lease, 100.0)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    let payment = id(&paid.body["data"]);
    let run = id(&created(app, &owner, "/api/v1/financial/rent-runs", json!({"date": format_date(today)})).await);
    let vendor = id(&created(
        app,
        &owner,
        "/api/v1/operations/vendors",
        json!({"name": "Quillfeather Plumbing", "email": "quill@plumbing.example"}),
    )
    .await);
    let user = id(&created(
        app,
        &owner,
        "/api/v1/identity/users",
        json!({"email": format!("zebulon.{org}@example.com"), "password": "a long initial password",
               "first_name": "Zebulon", "last_name": "Quarrington", "roles": ["PropertyManager"]}),
    )
    .await);
    let api_key = created(
        app,
        &owner,
        "/api/v1/identity/api-keys",
        json!({"name": "Marigold export", "permissions": ["property:read"]}),
    )
    .await;
    let oauth_app = created(
        app,
        &owner,
        "/api/v1/identity/oauth/apps",
        json!({"name": "Periwinkle Reminders", "description": "Reminds renters",
               "redirect_uris": ["https://periwinkle.example/cb"]}),
    )
    .await;
    let client_id = oauth_app["client_id"].as_str().unwrap().to_owned();
    let webhook = created(
        app,
        &owner,
        "/api/v1/webhooks",
        json!({"url": "http://127.0.0.1:9/hooks", "events": ["property.created"], "description": "Saffron hook"}),
    )
    .await;
    let webhook_secret = webhook["secret"].as_str().unwrap().to_owned();
    let webhook = webhook["webhook_id"].as_str().unwrap().to_owned();

    let unknown = |prefix: &str| format!("{prefix}_01JD3M0000000000000000ZZZZ");
    let ids = BTreeMap::from([
        ("property_id", property.clone()),
        ("unit_id", building.units[1].clone()),
        ("tenant_id", building.tenants[1].clone()),
        ("lease_id", lease.clone()),
        ("request_id", request.clone()),
        ("vendor_id", vendor.clone()),
        ("user_id", user.clone()),
        ("api_key_id", id(&api_key)),
        ("client_id", client_id.clone()),
        ("webhook_id", webhook.clone()),
        ("role_id", "PropertyManager".to_owned()),
        ("invoice_id", invoice.clone()),
        ("payment_id", payment.clone()),
        ("run_id", run.clone()),
        ("work_order_id", work_order.clone()),
        // Records this matrix does not create (a screening needs SmartMove): well-formed
        // ids of the right kind.
        ("screening_id", unknown("scr")),
        ("applicant_id", unknown("app")),
        ("sync_id", "sync-2025-01-15-02-00-00".to_owned()),
        ("delivery_id", unknown("dlv")),
    ]);
    let secrets = vec![
        org.to_owned(),
        property,
        building.units[1].clone(),
        building.tenants[1].clone(),
        lease,
        request,
        work_order,
        invoice,
        payment,
        run,
        vendor,
        user,
        id(&api_key),
        api_key["key"].as_str().unwrap().to_owned(),
        client_id,
        oauth_app["client_secret"].as_str().unwrap().to_owned(),
        webhook,
        webhook_secret,
        "Maple Court".to_owned(),
        "Leak under the sink".to_owned(),
        "Quillfeather".to_owned(),
        "Zebulon".to_owned(),
        "Quarrington".to_owned(),
        "Marigold".to_owned(),
        "Periwinkle".to_owned(),
        "Saffron".to_owned(),
    ];
    let [tenant_token, _] = building.tenant_tokens;
    let tenant_own = vec![ids["property_id"].clone(), "Maple Court".to_owned()];
    Seeded { ids, secrets, tenant_own, tenant_token }
}

/// The documented operations, with their path parameters filled in.
fn operations(seeded: &Seeded) -> Vec<Operation> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
    let text = std::fs::read_to_string(&path).expect("openapi.json is readable");
    let document: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            if !matches!(method, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
                continue;
            }
            let mut uri = path.clone();
            let mut has_org_id = false;
            let mut has_others_id = false;
            for (name, value) in &seeded.ids {
                let placeholder = format!("{{{name}}}");
                if uri.contains(&placeholder) {
                    uri = uri.replace(&placeholder, value);
                    has_org_id |= !SHARED_IDS.contains(name);
                    has_others_id |= !TENANT_OWN_IDS.contains(name);
                }
            }
            if let Some((_, query)) = QUERIES.iter().find(|(p, _)| p == path) {
                uri = format!("{uri}?{query}");
            }
            assert!(!uri.contains('{'), "{path} has a path parameter this matrix has no id for");
            let has_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
            operations.push(Operation { method, path: path.clone(), uri, has_org_id, has_others_id, has_body });
        }
    }
    operations
}

fn public(operation: &Operation) -> Option<u16> {
    PUBLIC.iter().find(|(m, p, _)| *m == operation.method.as_str() && *p == operation.path).map(|(_, _, s)| *s)
}

const UNAUTHORIZED: &[u16] = &[401];
const FORBIDDEN: &[u16] = &[403];
/// Authorization, then the record, then anything else: no write answers a precondition
/// (409, 412, 428) or a body's refusal (400, 413, 415, 422) to a caller who may not
/// reach the record, whatever it sends.
const NOT_FOUND_OR_FORBIDDEN: &[u16] = &[403, 404];

fn unauthorized(_: &Operation) -> Option<&'static [u16]> {
    Some(UNAUTHORIZED)
}

fn refused_on_record(names_record: bool) -> Option<&'static [u16]> {
    // A list or create in the caller's own organization: the leak check decides.
    names_record.then_some(NOT_FOUND_OR_FORBIDDEN)
}

fn foreign(operation: &Operation) -> Option<&'static [u16]> {
    refused_on_record(operation.has_org_id)
}

fn someone_elses(operation: &Operation) -> Option<&'static [u16]> {
    refused_on_record(operation.has_others_id)
}

/// An OAuth token whose scope covers no route is a 403 everywhere, whatever the body:
/// a route that takes OAuth needs its scope, and one that does not refuses app tokens.
fn missing_scope(operation: &Operation) -> Option<&'static [u16]> {
    if operation.path.starts_with(SCOPE_FILTERED) {
        // An app sees only the subscriptions its scopes could read: the others are not there.
        return refused_on_record(operation.has_org_id);
    }
    Some(FORBIDDEN)
}

fn cases(app: &TestApp, org_a: &str, owner_b: String, seeded: &Seeded, revoked_key: String) -> Vec<Case> {
    let config = &app.services.config;
    let owner_a = claims(config, org_a, &["OrganizationOwner"]);

    let mut expired = owner_a.clone();
    expired.iat -= 3600;
    expired.exp = expired.iat + 900;

    // A key nobody published, under the real key's kid and under another.
    let fresh = fresh_signing_key(&app.signing_key);
    let forged_same_kid = JwtSigner::new(&fresh).expect("fresh key").sign(&owner_a).expect("sign");
    let forged_other_kid = JwtSigner::new(&SigningKeySecret { kid: "someone-elses-key".into(), ..fresh })
        .expect("fresh key")
        .sign(&owner_a)
        .expect("sign");

    // An OAuth token of A's owner whose scope covers no route.
    let mut oauth = owner_a.clone();
    oauth.scope = Some("write:messages".into());
    oauth.client_id = Some("dsc_matrix".into());

    vec![
        Case { name: "no credential", credential: Credential::None, expected: unauthorized },
        Case { name: "malformed token", credential: Credential::Bearer("abc.def".into()), expected: unauthorized },
        Case { name: "expired token", credential: Credential::Bearer(app.sign(&expired)), expected: unauthorized },
        Case { name: "unknown key, same kid", credential: Credential::Bearer(forged_same_kid), expected: unauthorized },
        Case {
            name: "unknown key, other kid",
            credential: Credential::Bearer(forged_other_kid),
            expected: unauthorized,
        },
        Case { name: "organization B", credential: Credential::Bearer(owner_b), expected: foreign },
        Case {
            name: TENANT_CASE,
            credential: Credential::Bearer(seeded.tenant_token.clone()),
            expected: someone_elses,
        },
        Case { name: "OAuth without scope", credential: Credential::Bearer(app.sign(&oauth)), expected: missing_scope },
        Case { name: "revoked API key", credential: Credential::ApiKey(revoked_key), expected: unauthorized },
    ]
}

/// A new RSA key in the signing secret's format, which no JWKS publishes, made by the
/// project's own Python (`cryptography`, installed with moto by `make tools`).
fn fresh_signing_key(current: &SigningKeySecret) -> SigningKeySecret {
    const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/venv/bin/python");
    const GENERATE: &str = "from cryptography.hazmat.primitives.asymmetric import rsa\n\
        from cryptography.hazmat.primitives import serialization as s\n\
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
        print(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(), end='')\n";
    let output = std::process::Command::new(PYTHON).args(["-c", GENERATE]).output().expect("the venv's Python runs");
    assert!(output.status.success(), "key generation: {}", String::from_utf8_lossy(&output.stderr));
    let pem = String::from_utf8(output.stdout).expect("PEM");
    SigningKeySecret { private_key_pem: pem, ..current.clone() }
}

async fn revoked_api_key(app: &TestApp, owner: &str) -> String {
    let key = created(
        app,
        owner,
        "/api/v1/identity/api-keys",
        json!({"name": "Retired", "permissions": ["property:read", "property:create"]}),
    )
    .await;
    let revoke =
        app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{}", id(&key)), Some(owner), None, &[]).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    key["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_operation_refuses_every_credential_that_must_not_get_in() {
    let app = app().await;
    let (org_a, owner_a) = organization(&app).await;
    let (_, owner_b) = organization(&app).await;
    let seeded = seed(&app, &org_a, &owner_a).await;
    let operations = operations(&seeded);
    let revoked = revoked_api_key(&app, &owner_a).await;
    let cases = cases(&app, &org_a, owner_b, &seeded, revoked);

    let mut requests = Vec::new();
    for operation in &operations {
        match public(operation) {
            Some(status) => requests.push((operation, &cases[0], Some(status))),
            None => requests.extend(cases.iter().map(|case| (operation, case, None))),
        }
    }
    let total = requests.len();
    let empty = json!({});
    let app = &app;
    let empty = &empty;
    let answers: Vec<_> = stream::iter(requests)
        .map(|(operation, case, public_status)| async move {
            let body = operation.has_body.then_some(empty);
            let response = match &case.credential {
                Credential::None => app.call(operation.method.clone(), &operation.uri, None, body, &[]).await,
                Credential::Bearer(token) => {
                    app.call(operation.method.clone(), &operation.uri, Some(token), body, &[]).await
                }
                Credential::ApiKey(key) => {
                    app.call(operation.method.clone(), &operation.uri, None, body, &[("x-api-key", key)]).await
                }
            };
            (operation, case, public_status, response)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut failures = Vec::new();
    for (operation, case, public_status, response) in answers {
        let status = response.status.as_u16();
        let what = format!("{} {} [{}]", operation.method, operation.path, case.name);
        let allowed = match public_status {
            Some(status) => Some(vec![status]),
            None => (case.expected)(operation).map(<[u16]>::to_vec),
        };
        match allowed {
            Some(allowed) if !allowed.contains(&status) => {
                failures.push(format!("{what}: {status}, expected one of {allowed:?}: {}", response.text));
            }
            _ if status >= 500 => failures.push(format!("{what}: {status}: {}", response.text)),
            _ => {}
        }
        let tenant = case.name == TENANT_CASE;
        for secret in &seeded.secrets {
            if tenant && seeded.tenant_own.contains(secret) {
                continue;
            }
            if response.text.contains(secret.as_str()) {
                failures.push(format!("{what}: the body shows organization A's {secret:?}"));
            }
        }
    }
    let public_count = operations.iter().filter(|o| public(o).is_some()).count();
    println!(
        "authorization matrix: {} operations ({} public) x {} cases = {total} requests",
        operations.len(),
        public_count,
        cases.len()
    );
    assert!(failures.is_empty(), "{} of {total} answers were wrong:\n{}", failures.len(), failures.join("\n"));
}
