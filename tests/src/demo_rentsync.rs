//! The demo organization's RentSync settings for `make dev`: push to the local RentSync
//! sandbox (`RENTSYNC_SANDBOX_URL`) with the API key it accepts (`RENTSYNC_SANDBOX_KEY`),
//! through the settings route as the local stack configures it (plain http to this
//! machine allowed).

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::{DEMO_ORG_ID, TestApp, TestResponse};

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Configures the demo organization's RentSync settings once (existing settings stay);
/// nothing without `RENTSYNC_SANDBOX_URL` and `RENTSYNC_SANDBOX_KEY`.
pub async fn seed(app: &TestApp) -> DemoResult<()> {
    let (Ok(sandbox), Ok(key)) = (std::env::var("RENTSYNC_SANDBOX_URL"), std::env::var("RENTSYNC_SANDBOX_KEY")) else {
        return Ok(());
    };
    if app.services.store.rent_roll().settings(DEMO_ORG_ID).await?.is_some() {
        println!("RentSync settings already present in {DEMO_ORG_ID}");
        return Ok(());
    }
    let config = rent_roll_sync::RentSyncConfig::from_env();
    let syncer =
        rent_roll_sync::Syncer::with_guard(&app.services, std::time::Duration::from_secs(30), config.guard.clone())?;
    let router = rent_roll_sync::router(app.services.clone(), config, syncer);
    let body = json!({
        "enabled": true,
        "endpoint_url": format!("{sandbox}/v1/rent-roll/sync"),
        "format": "nested",
        // Every hourly tick syncs the demo, so `make trigger` shows a sync whatever the hour.
        "schedule": {"kind": "every_hours", "hours": 1},
        "auth": {"mode": "api_key", "secret": key}
    });
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/integrations/rentsync")
        .header("authorization", format!("Bearer {}", app.token(DEMO_ORG_ID, &["OrganizationOwner"])))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let response = TestResponse::read(router.oneshot(request).await?).await;
    if response.status != StatusCode::OK {
        return Err(format!("configuring RentSync failed: {} {}", response.status, response.text).into());
    }
    println!("RentSync pushes {DEMO_ORG_ID}'s rent roll to {sandbox}");
    Ok(())
}
