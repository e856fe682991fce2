//! One Lambda function that answers both API Gateway and its other triggers
//! (EventBridge schedules and rules, SQS batches, Stripe-free direct invocations).
//!
//! `financial` and `rent-roll-sync` serve HTTP routes and run scheduled jobs from one
//! binary. [`run`] reads each invocation's payload once: an API Gateway HTTP API event
//! (payload format 2.0, the only HTTP source Doorstep declares) goes through the axum
//! router exactly as `lambda_http::run` would send it; anything else goes to the job
//! handler as JSON.

use std::future::Future;

use axum::Router;
use axum::body::Body as AxumBody;
use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::http;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use lambda_http::request::LambdaRequest;
use serde_json::Value;
use tower::ServiceExt;

/// Whether a payload is an API Gateway HTTP API request.
pub fn is_http_request(payload: &Value) -> bool {
    payload.get("requestContext").and_then(|c| c.get("http")).is_some() && payload.get("rawPath").is_some()
}

/// Serves `router` for HTTP requests and `jobs` for every other invocation, until the
/// runtime stops.
pub async fn run<J, F, E>(router: Router, jobs: J) -> Result<(), lambda_runtime::Error>
where
    J: Fn(Value) -> F,
    F: Future<Output = Result<Value, E>>,
    E: Into<lambda_runtime::Error>,
{
    let (router, jobs) = (&router, &jobs);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if is_http_request(&event.payload) {
            respond(router, event.payload).await
        } else {
            jobs(event.payload).await.map_err(Into::into)
        }
    }))
    .await
}

/// One API Gateway request through the router, answered in the gateway's response format.
pub async fn respond(router: &Router, payload: Value) -> Result<Value, lambda_runtime::Error> {
    let request: LambdaRequest = serde_json::from_value(payload)?;
    let request: http::Request<lambda_http::Body> = request.into();
    let response = router.clone().oneshot(request.map(AxumBody::new)).await?;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let textual = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(is_text);
    let (body, is_base64_encoded) = match (bytes.is_empty(), textual) {
        (true, _) => (None, false),
        (false, true) => (Some(Body::Text(String::from_utf8_lossy(&bytes).into_owned())), false),
        (false, false) => (Some(Body::Text(base64::engine::general_purpose::STANDARD.encode(&bytes))), true),
    };
    let mut gateway = ApiGatewayV2httpResponse::default();
    gateway.status_code = i64::from(parts.status.as_u16());
    gateway.headers = parts.headers;
    gateway.body = body;
    gateway.is_base64_encoded = is_base64_encoded;
    Ok(serde_json::to_value(gateway)?)
}

/// Content types the gateway passes as text; everything else (a PDF) travels base64-encoded.
fn is_text(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("json")
        || essence.ends_with("+json")
        || essence.ends_with("xml")
        || essence == "application/javascript"
        || essence == "application/x-www-form-urlencoded"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_xml_and_text_stay_text_and_a_pdf_is_binary() {
        assert!(is_text("application/json"));
        assert!(is_text("application/problem+json; charset=utf-8"));
        assert!(is_text("application/xml"));
        assert!(is_text("text/event-stream"));
        assert!(!is_text("application/pdf"));
        assert!(!is_text("image/png"));
    }

    #[test]
    fn only_gateway_requests_are_http() {
        let http = serde_json::json!({"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}});
        assert!(is_http_request(&http));
        let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events"});
        assert!(!is_http_request(&scheduled));
        let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]});
        assert!(!is_http_request(&sqs));
    }
}
