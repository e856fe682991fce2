//! Cold start, latency, memory and size of every function's release binary, next to the
//! floor: a minimal `lambda_runtime` function built with the same profile
//! (`src/bin/hello-floor.rs`). Run by `make bench`, which builds the binaries (this one
//! included) with the release profile and starts a private stack whose environment the
//! functions inherit.
//!
//! For each binary, against a Runtime API stand-in served here (`/next`, `/response`,
//! `/error`):
//!
//! - init: wall time from process start to its first `/next`, and the CPU time its
//!   threads used by then (from `/proc/<pid>/task/*/schedstat`, in nanoseconds);
//! - the first invocation's latency, then warm p50/p99 over [`WARM_RUNS`] invocations
//!   of one representative request against DynamoDB Local;
//! - peak RSS (`VmHWM`) after those invocations;
//! - the binary's size, raw and deflated as in a deployment zip.
//!
//! The "bare" column is the DynamoDB traffic the representative request itself makes,
//! captured once through a recording proxy and replayed by a plain HTTP client,
//! interleaved with the invocations so that both see the same machine. Rate-limit
//! counter writes are left out of it: they are the overhead being measured.
//!
//! Figures, not assertions: a slow machine fails nothing. With `BENCH_MARKDOWN=<file>`
//! the table replaces the one between the cold-start markers in that file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use shared::auth::jwt::{Claims, JwtSigner, SigningKeySecret};
use shared::domain::ids;
use shared::{Services, secrets};
use tokio::sync::{mpsc, oneshot};

const INIT_RUNS: usize = 15;
const WARM_RUNS: usize = 1000;
const START: &str = "<!-- cold-start:begin -->";
const END: &str = "<!-- cold-start:end -->";

// ---------------------------------------------------------------------------------
// The Runtime API stand-in.

/// One event handed to the function and the channel its answer comes back on.
struct Invocation {
    id: String,
    payload: Vec<u8>,
    answer: oneshot::Sender<Answer>,
}

#[derive(Debug)]
struct Answer {
    error: bool,
    body: Bytes,
}

#[derive(Clone)]
struct RuntimeState {
    /// Times of each `/next` poll, the first of which ends init.
    polls: mpsc::UnboundedSender<Instant>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    pending: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
    init_error: mpsc::UnboundedSender<Bytes>,
}

async fn next(State(state): State<RuntimeState>) -> Response {
    let _ = state.polls.send(Instant::now());
    let Some(invocation) = state.queue.lock().await.recv().await else {
        return AxumStatus::GONE.into_response();
    };
    state.pending.lock().unwrap().insert(invocation.id.clone(), invocation.answer);
    let deadline = (time::OffsetDateTime::now_utc().unix_timestamp() + 30) * 1000;
    (
        [
            ("lambda-runtime-aws-request-id", invocation.id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:bench".into()),
            ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".into()),
            ("content-type", "application/json".into()),
        ],
        invocation.payload,
    )
        .into_response()
}

fn answered(state: &RuntimeState, id: &str, error: bool, body: Bytes) -> AxumStatus {
    if let Some(answer) = state.pending.lock().unwrap().remove(id) {
        let _ = answer.send(Answer { error, body });
    }
    AxumStatus::ACCEPTED
}

async fn response(State(state): State<RuntimeState>, UrlPath(id): UrlPath<String>, body: Bytes) -> AxumStatus {
    answered(&state, &id, false, body)
}

async fn error(State(state): State<RuntimeState>, UrlPath(id): UrlPath<String>, body: Bytes) -> AxumStatus {
    answered(&state, &id, true, body)
}

async fn init_error(State(state): State<RuntimeState>, body: Bytes) -> AxumStatus {
    let _ = state.init_error.send(body);
    AxumStatus::ACCEPTED
}

/// A running function process and the stand-in it talks to.
struct Started {
    child: tokio::process::Child,
    pid: u32,
    events: mpsc::Sender<Invocation>,
    polls: mpsc::UnboundedReceiver<Instant>,
    server: tokio::task::JoinHandle<()>,
    /// Process start to the first `/next`.
    init_wall: Duration,
    /// CPU time of all the process's threads by its first `/next`.
    init_cpu: Duration,
    sequence: u64,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

async fn start(binary: &Path, function: &str, extra_env: &[(&str, &str)]) -> Started {
    let (polls_tx, mut polls) = mpsc::unbounded_channel();
    let (init_error_tx, mut init_errors) = mpsc::unbounded_channel();
    let (events, queue) = mpsc::channel(1);
    let state = RuntimeState {
        polls: polls_tx,
        queue: Arc::new(tokio::sync::Mutex::new(queue)),
        pending: Arc::default(),
        init_error: init_error_tx,
    };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let started = Instant::now();
    let child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().copied())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let pid = child.id().expect("a running child");
    let first = tokio::select! {
        first = polls.recv() => first.expect("the stand-in is up"),
        body = init_errors.recv() => panic!("{function} failed to initialize: {:?}", body),
        () = tokio::time::sleep(Duration::from_secs(30)) => panic!("{function} never asked for an event"),
    };
    let init_cpu = cpu_time(pid);
    Started { child, pid, events, polls, server, init_wall: first - started, init_cpu, sequence: 0 }
}

impl Started {
    /// Hands out one event and waits for its answer; the time runs from the event being
    /// queued for the waiting `/next` to the answer's arrival.
    async fn invoke(&mut self, payload: &Value) -> (Duration, Answer) {
        self.sequence += 1;
        let (answer, answered) = oneshot::channel();
        let id = format!("bench-{:08}", self.sequence);
        let bytes = serde_json::to_vec(payload).unwrap();
        let began = Instant::now();
        self.events.send(Invocation { id, payload: bytes, answer }).await.expect("the stand-in is up");
        let answer = tokio::time::timeout(Duration::from_secs(30), answered)
            .await
            .expect("an answer within 30 s")
            .expect("an answer");
        let elapsed = began.elapsed();
        // The function polls again before it can take the next event.
        let _ = self.polls.recv().await;
        (elapsed, answer)
    }

    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|status| {
                status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// CPU time of every thread of `pid` so far (schedstat's first field, nanoseconds).
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

// ---------------------------------------------------------------------------------
// The DynamoDB traffic a request makes: recorded once, replayed as the bare call.

#[derive(Clone, Debug)]
struct Recorded {
    headers: Vec<(String, String)>,
    body: Bytes,
    target: String,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<Recorded>>>,
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
    let kept: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length" | "connection"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    proxy.calls.lock().unwrap().push(Recorded { headers: kept.clone(), body: body.clone(), target });
    let mut request = proxy.client.post(&proxy.upstream).body(body);
    for (name, value) in &kept {
        request = request.header(name, value);
    }
    let answer = request.send().await.expect("DynamoDB Local answers");
    let status = AxumStatus::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer.headers().get("content-type").cloned();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

/// A proxy in front of DynamoDB Local that records what passes through it.
async fn recording_proxy(upstream: &str) -> (SocketAddr, Arc<Mutex<Vec<Recorded>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy { upstream: upstream.to_owned(), client: reqwest::Client::new(), calls: calls.clone() };
    let router = Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, calls)
}

fn is_rate_limit_counter(call: &Recorded) -> bool {
    call.target.ends_with("UpdateItem") && String::from_utf8_lossy(&call.body).contains("RATELIMIT")
}

/// Replays recorded calls straight to DynamoDB Local, in order.
async fn replay(client: &reqwest::Client, upstream: &str, calls: &[Recorded]) -> Duration {
    let began = Instant::now();
    for call in calls {
        let mut request = client.post(upstream).body(call.body.clone());
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        // A conditional write refused the second time is answered as fast as one taken.
        let answer = request.send().await.expect("DynamoDB Local answers");
        let _ = answer.bytes().await;
    }
    began.elapsed()
}

// ---------------------------------------------------------------------------------
// Representative requests.

/// An API Gateway HTTP API (payload 2.0) event.
fn http_event(method: &str, route: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = json!({
        "accept": "application/json",
        "host": "api.doorstep.example",
        "x-forwarded-proto": "https",
        "user-agent": "bench",
    });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": "api.doorstep.example",
            "domainPrefix": "api",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1_796_083_200_000_i64,
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false,
    })
}

/// The body of a create fixture under `events/`, with its placeholders filled.
fn fixture_body(file: &str, ids: &[(&str, &str)]) -> Value {
    let event: Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join(file)).unwrap()).unwrap();
    let mut body = event["body"].as_str().unwrap().to_owned();
    for (placeholder, id) in ids {
        body = body.replace(placeholder, id);
    }
    serde_json::from_str(&body).unwrap()
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// An owner's bearer token for `org`, signed with the stack's signing key.
async fn owner_token(services: &Services, org: &str) -> String {
    let secret_id = std::env::var("JWT_SIGNING_KEY_SECRET_ID").expect("the stack's env (make bench sources it)");
    let key: SigningKeySecret = secrets::read_json(&services.aws.secrets, &secret_id).await.expect("signing key");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: ids::new("user"),
        email: Some("bench@example.com".into()),
        org_id: org.to_owned(),
        org_roles: vec!["OrganizationOwner".into()],
        permissions: Vec::new(),
        tenant_profile_id: None,
        jti: ids::new("jti"),
        iat: now,
        // Long enough for the whole run.
        exp: now + 3600,
        aud: services.config.jwt_audience.clone(),
        iss: services.config.jwt_issuer.clone(),
        scope: None,
        client_id: None,
        plan: None,
    };
    JwtSigner::new(&key).expect("signing key").sign(&claims).expect("sign")
}

/// Creates records through the release binaries themselves.
struct Seeder {
    release: PathBuf,
    token: String,
    running: HashMap<&'static str, Started>,
}

impl Seeder {
    /// `POST`s `body` to `path` through `function` and returns the new record's id.
    async fn create(&mut self, function: &'static str, route: &str, path: &str, body: &Value) -> String {
        if !self.running.contains_key(function) {
            let started = start(&self.release.join(function), function, &[]).await;
            self.running.insert(function, started);
        }
        let event = http_event("POST", route, path, Some(&self.token), Some(body));
        let (_, answer) = self.running.get_mut(function).unwrap().invoke(&event).await;
        assert_eq!(status_of(&answer), 201, "{path}: {answer:?}");
        let response: Value = serde_json::from_slice(&answer.body).unwrap();
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap();
        let data = &body["data"];
        ["id", "webhook_id", "key_id", "api_key_id"]
            .iter()
            .find_map(|field| data[*field].as_str())
            .unwrap_or_else(|| panic!("{path}: {body}"))
            .to_owned()
    }
}

/// One organization with one record of each kind, and the request each function is
/// measured with.
async fn representative_requests(release: &Path, services: &Services) -> Vec<(&'static str, &'static str, Value)> {
    let org = ids::new("org");
    let token = owner_token(services, &org).await;
    let mut seed = Seeder { release: release.to_owned(), token: token.clone(), running: HashMap::new() };
    let property_body = fixture_body("properties/create.json", &[]);
    let property = seed.create("properties", "/api/v1/properties", "/api/v1/properties", &property_body).await;
    let units = format!("/api/v1/properties/{property}/units");
    let route = "/api/v1/properties/{property_id}/units";
    let unit = seed.create("units", route, &units, &fixture_body("units/create.json", &[])).await;
    let tenants = format!("/api/v1/properties/{property}/tenants");
    let route = "/api/v1/properties/{property_id}/tenants";
    let tenant = seed.create("tenants", route, &tenants, &fixture_body("tenants/create.json", &[])).await;
    let lease_body = fixture_body("leases/create.json", &[("__UNIT_ID__", &unit)]);
    let route = "/api/v1/properties/{property_id}/tenants/{tenant_id}/lease";
    let lease = seed.create("leases", route, &format!("{tenants}/{tenant}/lease"), &lease_body).await;
    let invoice_body = fixture_body("financial/create-invoice.json", &[("__LEASE_ID__", &lease)]);
    let route = "/api/v1/financial/invoices";
    let invoice = seed.create("financial", route, route, &invoice_body).await;
    let request_body = fixture_body("maintenance/create.json", &[("__PROPERTY_ID__", &property)]);
    let route = "/api/v1/operations/maintenance-requests";
    let request = seed.create("maintenance", route, route, &request_body).await;
    let webhook_body = json!({"url": "http://127.0.0.1:9/doorstep", "events": ["property.*"]});
    let webhook = seed.create("webhooks", "/api/v1/webhooks", "/api/v1/webhooks", &webhook_body).await;
    let route = "/api/v1/identity/api-keys";
    let key = seed.create("identity", route, route, &fixture_body("identity/api-key-create.json", &[])).await;
    drop(seed);
    let screening = screening(services, &org, &property, &unit).await;

    let postback = json!({
        "applicationId": 4242, "customerReferenceId": org, "reportStatus": "InProgress",
        "notificationText": "Applicant is completing the order", "referenceId": screening,
    });
    let mut postback_event = http_event("POST", "/webhooks/smartmove", "/webhooks/smartmove", None, Some(&postback));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{POSTBACK_USER}:{POSTBACK_PASSWORD}"));
    postback_event["headers"]["authorization"] = json!(format!("Basic {basic}"));

    let t = Some(token.as_str());
    let one = |function, route: &'static str, path: String| (function, route, http_event("GET", route, &path, t, None));
    vec![
        one("properties", "/api/v1/properties/{property_id}", format!("/api/v1/properties/{property}")),
        one("units", "/api/v1/properties/{property_id}/units/{unit_id}", format!("{units}/{unit}")),
        one("tenants", "/api/v1/properties/{property_id}/tenants/{tenant_id}", format!("{tenants}/{tenant}")),
        one("leases", "/api/v1/leases/{lease_id}", format!("/api/v1/leases/{lease}")),
        one("financial", "/api/v1/financial/invoices/{invoice_id}", format!("/api/v1/financial/invoices/{invoice}")),
        one(
            "maintenance",
            "/api/v1/operations/maintenance-requests/{request_id}",
            format!("/api/v1/operations/maintenance-requests/{request}"),
        ),
        one("webhooks", "/api/v1/webhooks/{webhook_id}", format!("/api/v1/webhooks/{webhook}")),
        one("identity", "/api/v1/identity/api-keys/{api_key_id}", format!("/api/v1/identity/api-keys/{key}")),
        one("screening", "/api/v1/screenings/{screening_id}", format!("/api/v1/screenings/{screening}")),
        ("smartmove-postback", "POST /webhooks/smartmove (a re-sent postback)", postback_event),
        ("events-relay", "a stream batch of 5 property changes (redelivered)", stream_batch(&org)),
        one("events", "/api/v1/events", "/api/v1/events?page_size=20".into()),
        one("events-stream", "/api/v1/events", "/api/v1/events?page_size=20".into()),
        ("webhooks-deliver", "a domain event of an organization without subscribers", domain_event()),
        one("rent-roll-sync", "/api/v1/rent-roll/syncs", "/api/v1/rent-roll/syncs?page_size=20".into()),
    ]
}

const POSTBACK_USER: &str = "scr-bench";
const POSTBACK_PASSWORD: &str = "bench-postback-password";

/// A screening ordered by link, stored directly: ordering one goes through SmartMove,
/// which is not what is measured here.
async fn screening(services: &Services, org: &str, property: &str, unit: &str) -> String {
    use shared::domain::screening::{ReportStatus, Screening, ScreeningMode, password_digest};
    let now = shared::time_format::now();
    let screening = Screening {
        id: ids::new("scr"),
        org_id: org.to_owned(),
        property_id: property.to_owned(),
        unit_id: unit.to_owned(),
        applicants: vec!["applicant@example.com".into()],
        // A link order the landlord has not finished: reading it asks SmartMove nothing,
        // and SmartMove's first postback names its application.
        mode: ScreeningMode::Link,
        landlord_pays: true,
        application_id: None,
        order_link: Some("https://smartmove.example/order".into()),
        status: ReportStatus::Pending,
        status_rank: ReportStatus::Pending.rank(),
        cancelled: false,
        postback_username: POSTBACK_USER.into(),
        postback_password_sha256: password_digest(POSTBACK_PASSWORD),
        tenant_ids: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    services.store.screenings().create(&screening, None).await.expect("store the screening");
    screening.id
}

/// The stream fixture (inserts, changes and a removal of properties), for `org`.
fn stream_batch(org: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join("events-relay/stream-batch.json")).unwrap();
    let text = text
        .replace("__ORG_ID__", org)
        .replace("__PROPERTY_ID__", &ids::new("prop"))
        .replace("__EVENT_ID__", &ids::new("evt"));
    serde_json::from_str(&text).unwrap()
}

/// The bus's domain-event fixture, for an organization that has no subscriptions.
fn domain_event() -> Value {
    let text = std::fs::read_to_string(events_dir().join("webhooks/domain-event.json")).unwrap();
    serde_json::from_str(&text.replace("org_01JD3M00000000000000000001", &ids::new("org"))).unwrap()
}

// ---------------------------------------------------------------------------------
// Measuring and reporting.

#[derive(Default)]
struct Row {
    name: String,
    request: String,
    raw_bytes: u64,
    zipped_bytes: u64,
    init_wall: Duration,
    init_cpu: Duration,
    first: Duration,
    p50: Duration,
    p99: Duration,
    bare_p50: Option<Duration>,
    bare_calls: String,
    rss_kib: u64,
}

/// Where the release binaries are: beside this one.
fn release_dir() -> PathBuf {
    std::env::current_exe().expect("own path").parent().expect("a directory").to_owned()
}

/// The `p` quantile (0 to 1) of `samples`, which it sorts.
fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn sizes(binary: &Path) -> (u64, u64) {
    use std::io::Write;
    let bytes = std::fs::read(binary).unwrap();
    let mut zipped = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    zipped.write_all(&bytes).unwrap();
    (bytes.len() as u64, zipped.finish().unwrap().len() as u64)
}

async fn init_figures(binary: &Path, function: &str) -> (Duration, Duration) {
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..INIT_RUNS {
        let started = start(binary, function, &[]).await;
        walls.push(started.init_wall);
        cpus.push(started.init_cpu);
    }
    (percentile(&mut walls, 0.5), percentile(&mut cpus, 0.5))
}

/// The status of an API Gateway response (a streamed one starts with its JSON prelude and
/// eight NUL bytes), or of a plain JSON answer (200).
fn status_of(answer: &Answer) -> u16 {
    let bytes = &answer.body[..];
    let prelude = bytes.windows(8).position(|w| w == [0; 8]).map_or(bytes, |end| &bytes[..end]);
    let body: Value = serde_json::from_slice(prelude).unwrap_or(Value::Null);
    body["statusCode"].as_u64().map_or(200, |s| s as u16)
}

async fn measure(binary: &Path, function: &str, route: &str, event: &Value, bare: Option<&[Recorded]>) -> Row {
    let (raw_bytes, zipped_bytes) = sizes(binary);
    let (init_wall, init_cpu) = init_figures(binary, function).await;
    let mut running = start(binary, function, &[]).await;
    let (first, answer) = running.invoke(event).await;
    assert!(!answer.error && status_of(&answer) == 200, "{function} {route}: {:?}", answer);

    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    let client = reqwest::Client::new();
    let (mut warm, mut bare_times) = (Vec::with_capacity(WARM_RUNS), Vec::with_capacity(WARM_RUNS));
    for _ in 0..WARM_RUNS {
        let (elapsed, answer) = running.invoke(event).await;
        assert_eq!(status_of(&answer), 200, "{function}: {:?}", answer);
        warm.push(elapsed);
        if let Some(calls) = bare.filter(|c| !c.is_empty()) {
            bare_times.push(replay(&client, &upstream, calls).await);
        }
    }
    let bare_calls = bare.map_or_else(
        || "none".to_owned(),
        |calls| {
            let names: Vec<&str> = calls.iter().map(|c| c.target.rsplit('.').next().unwrap_or("?")).collect();
            if names.is_empty() { "none".into() } else { names.join(" + ") }
        },
    );
    Row {
        name: function.to_owned(),
        request: route.to_owned(),
        raw_bytes,
        zipped_bytes,
        init_wall,
        init_cpu,
        first,
        p50: percentile(&mut warm, 0.5),
        p99: percentile(&mut warm, 0.99),
        bare_p50: (!bare_times.is_empty()).then(|| percentile(&mut bare_times, 0.5)),
        bare_calls,
        rss_kib: running.peak_rss_kib(),
    }
}

/// The DynamoDB calls one invocation of `event` makes, minus rate-limit counters.
async fn record_calls(binary: &Path, function: &str, event: &Value) -> Vec<Recorded> {
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("the stack's env (make bench sources it)");
    let (address, calls) = recording_proxy(&upstream).await;
    let proxied = format!("http://{address}");
    let mut running = start(binary, function, &[("AWS_ENDPOINT_URL_DYNAMODB", &proxied)]).await;
    // Warm first: the first invocation also fetches what a cold start defers.
    let _ = running.invoke(event).await;
    calls.lock().unwrap().clear();
    let (_, answer) = running.invoke(event).await;
    assert_eq!(status_of(&answer), 200, "{function}: {:?}", answer);
    drop(running);
    let calls = calls.lock().unwrap().clone();
    calls.into_iter().filter(|c| !is_rate_limit_counter(c)).collect()
}

fn millis(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1_000_000.0)
}

fn table(rows: &[Row], floor: &Row) -> String {
    let ratio = |a: Duration, b: Duration| format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64().max(1e-9));
    let mut out = String::from(
        "| function | request | init wall (ms) | × floor | init CPU (ms) | × floor | first call (ms) | warm p50 (ms) | warm p99 (ms) | bare DynamoDB p50 (ms) | bare calls | peak RSS (MiB) | size (MB) | zipped (MB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in std::iter::once(floor).chain(rows) {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} |\n",
            row.name,
            row.request,
            millis(row.init_wall),
            ratio(row.init_wall, floor.init_wall),
            millis(row.init_cpu),
            ratio(row.init_cpu, floor.init_cpu),
            millis(row.first),
            millis(row.p50),
            millis(row.p99),
            row.bare_p50.map_or_else(|| "–".into(), millis),
            row.bare_calls,
            row.rss_kib as f64 / 1024.0,
            mb(row.raw_bytes),
            mb(row.zipped_bytes),
        ));
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    format!(
        "{} {cores} cores ({cpu}), {}, load average {load} at the end of the run",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn write_markdown(file: &Path, section: &str) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let replaced = match (text.find(START), text.find(END)) {
        (Some(start), Some(end)) if start < end => format!("{}{START}\n{section}{}", &text[..start], &text[end..]),
        _ => format!("{text}\n{START}\n{section}{END}\n"),
    };
    std::fs::write(file, replaced).unwrap();
}

#[tokio::main]
async fn main() {
    let release = release_dir();
    let floor_binary = release.join("hello-floor");
    assert!(floor_binary.exists(), "{} is not built: run `make bench`", floor_binary.display());
    let floor = measure(&floor_binary, "hello-floor", "echo", &json!({"hello": "world"}), None).await;
    println!("floor: init {} ms wall, {} ms CPU", millis(floor.init_wall), millis(floor.init_cpu));

    let services = Services::load().await.expect("the stack's env (make bench sources it)");
    let mut rows = Vec::new();
    for (function, route, event) in representative_requests(&release, &services).await {
        let binary = release.join(function);
        let calls = record_calls(&binary, function, &event).await;
        let row = measure(&binary, function, route, &event, Some(&calls)).await;
        println!(
            "{function}: init {} ms wall, {} ms CPU; warm p50 {} ms, bare {} ms",
            millis(row.init_wall),
            millis(row.init_cpu),
            millis(row.p50),
            row.bare_p50.map_or_else(|| "–".into(), millis)
        );
        rows.push(row);
    }

    let date = time::OffsetDateTime::now_utc().date();
    let section = format!(
        "Command: `make bench` (release profile, x86_64 build of the same code that ships as arm64). Machine: {}. Date: {date}. Init runs per binary: {INIT_RUNS} (median); warm runs: {WARM_RUNS}.\n\n{}",
        machine(),
        table(&rows, &floor)
    );
    println!("\n{section}");
    if let Some(file) = std::env::var_os("BENCH_MARKDOWN") {
        write_markdown(Path::new(&file), &section);
        println!("written to {}", Path::new(&file).display());
    }
}
