//! Per-request context (request id, correlation id) carried in a task-local so that
//! responses built anywhere, extractor rejections included, can report it.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header a caller may set, and that every response echoes.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The API Gateway request id when behind API Gateway, else the request id.
    pub correlation_id: String,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context; outside a request, a fresh id.
pub fn current() -> RequestContext {
    CONTEXT.try_with(Clone::clone).unwrap_or_else(|_| {
        let id = new_request_id();
        RequestContext { request_id: id.clone(), correlation_id: id }
    })
}

fn new_request_id() -> String {
    format!("req_{}", ulid::Ulid::generate())
}

/// A caller-supplied id is kept only if it is short and plain, so it is safe in logs.
fn accept_caller_id(value: &HeaderValue) -> Option<String> {
    let value = value.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| value.to_owned())
}

fn gateway_request_id(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext as Gateway;
    match request.extensions().get::<Gateway>()? {
        Gateway::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        _ => None,
    }
}

/// Middleware: assigns the request id, runs the request inside a tracing span that
/// carries it, and echoes it in `X-Request-ID`.
pub async fn assign(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(accept_caller_id).unwrap_or_else(new_request_id);
    let correlation_id = gateway_request_id(&request).unwrap_or_else(|| request_id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        org_id = tracing::field::Empty,
    );
    let ctx = RequestContext { request_id: request_id.clone(), correlation_id };
    let mut response = CONTEXT.scope(ctx, next.run(request).instrument(span.clone())).await;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "request completed"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
