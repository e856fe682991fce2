//! Input at the edges of what the API accepts: a 4xx in the envelope, never a crash.

use doorstep_tests::{app, new_org};
use http::StatusCode;
use serde_json::json;

/// Year 10000 in UTC: valid RFC 3339, but past what a timestamp can be converted to.
const PAST_YEAR_9999: &str = "9999-12-31T23:59:59-23:59";

#[tokio::test]
async fn timestamps_past_year_9999_are_refused_not_fatal() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);

    for route in ["/api/v1/leases", "/api/v1/properties"] {
        let listed = app.get(&format!("{route}?updated_since={PAST_YEAR_9999}"), &owner).await;
        assert_eq!(listed.status, StatusCode::BAD_REQUEST, "{route}: {:?}", listed.body);
        assert_eq!(listed.error_code(), "BAD_REQUEST");
    }

    let key = app
        .post(
            "/api/v1/identity/api-keys",
            &owner,
            &json!({"name": "Forever", "permissions": ["property:read"], "expires_at": PAST_YEAR_9999}),
        )
        .await;
    assert_eq!(key.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", key.body);
    assert_eq!(key.body["error"]["details"][0]["field"], "expires_at");

    // The last representable instant is still accepted.
    let last = app.get("/api/v1/leases?updated_since=9999-12-31T23:59:59Z", &owner).await;
    assert_eq!(last.status, StatusCode::OK, "{:?}", last.body);
}

#[tokio::test]
async fn inverted_created_ranges_are_422_naming_both_bounds() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    app.create_property(&owner, "Inside the range").await;

    for sort in ["", "&sort_by=name"] {
        let inverted = app
            .get(&format!("/api/v1/properties?created_after=2030-01-01&created_before=2020-01-01{sort}"), &owner)
            .await;
        assert_eq!(inverted.status, StatusCode::UNPROCESSABLE_ENTITY, "{sort}: {:?}", inverted.body);
        let fields: Vec<&str> = inverted.body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["created_after", "created_before"]);
    }

    let ordered = app.get("/api/v1/properties?created_after=2020-01-01&created_before=2999-01-01", &owner).await;
    assert_eq!(ordered.status, StatusCode::OK);
    assert_eq!(ordered.body["data"][0]["name"], "Inside the range");
    let empty = app.get("/api/v1/properties?created_after=2020-01-01&created_before=2020-01-01", &owner).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["data"], json!([]));
}
