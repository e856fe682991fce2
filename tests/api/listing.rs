//! Listing: pagination, filters, sorting and delta syncs.

use std::collections::HashSet;

use doorstep_tests::{TestApp, app, new_org, property_body};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};

async fn create_many(app: &TestApp, token: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    // Batches of 5 keep DynamoDB Local busy without flooding it.
    for batch in (0..count).collect::<Vec<_>>().chunks(5) {
        let names: Vec<String> = batch.iter().map(|i| format!("Building {i:03}")).collect();
        let created = join_all(names.iter().map(|name| app.create_property(token, name))).await;
        ids.extend(created.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
    }
    ids
}

fn ids_of(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn paging_through_45_properties_at_20_misses_and_repeats_nothing() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let mut created = create_many(&app, &token, 45).await;
    created.sort();

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut uri = "/api/v1/properties?page_size=20".to_owned();
    loop {
        let page = app.get(&uri, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let pagination = &page.body["meta"]["pagination"];
        assert_eq!(pagination["page_size"], 20);
        sizes.push(page.body["data"].as_array().unwrap().len());
        seen.extend(ids_of(&page.body));
        if pagination["has_next"] == false {
            assert!(pagination.get("next_cursor").is_none());
            break;
        }
        uri = format!("/api/v1/properties?page_size=20&cursor={}", pagination["next_cursor"].as_str().unwrap());
    }
    assert_eq!(sizes, [20, 20, 5]);
    // Creation order is id order (ULIDs).
    assert_eq!(seen, created);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45);

    let newest_first = app.get("/api/v1/properties?page_size=3&sort_order=desc", &token).await;
    let expected: Vec<String> = created.iter().rev().take(3).cloned().collect();
    assert_eq!(ids_of(&newest_first.body), expected);
}

#[tokio::test]
async fn filters_and_name_sorting() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    for (name, kind) in [("Charlie", "commercial"), ("alpha", "residential"), ("Bravo", "commercial")] {
        let mut body = property_body(name);
        body["type"] = json!(kind);
        assert_eq!(app.post("/api/v1/properties", &token, &body).await.status, StatusCode::CREATED);
    }
    let by_name = app.get("/api/v1/properties?sort_by=name", &token).await;
    let names: Vec<&str> =
        by_name.body["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "Bravo", "Charlie"]);
    let reversed = app.get("/api/v1/properties?sort_by=name&sort_order=desc", &token).await;
    assert_eq!(reversed.body["data"][0]["name"], "Charlie");

    let commercial = app.get("/api/v1/properties?type=commercial&sort_by=name", &token).await;
    let names: Vec<&str> =
        commercial.body["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bravo", "Charlie"]);

    let inactive = app.get("/api/v1/properties?status=inactive", &token).await;
    assert_eq!(inactive.body["data"], json!([]));

    let future = app.get("/api/v1/properties?created_after=2999-01-01", &token).await;
    assert_eq!(future.body["data"], json!([]));
    let past = app.get("/api/v1/properties?created_before=2000-01-01T00:00:00Z", &token).await;
    assert_eq!(past.body["data"], json!([]));
    let all = app.get("/api/v1/properties?created_after=2000-01-01&created_before=2999-01-01", &token).await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn updated_since_returns_changes_and_tombstones() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let untouched = app.create_property(&token, "Untouched").await;
    let changed = app.create_property(&token, "Changed").await;
    let removed = app.create_property(&token, "Removed").await;
    let since = changed["created_at"].as_str().unwrap().to_owned();
    let since_last = removed["created_at"].as_str().unwrap();

    // After the last creation: patch one, delete another.
    let changed_id = changed["id"].as_str().unwrap();
    let removed_id = removed["id"].as_str().unwrap();
    let patch = app
        .call(
            Method::PATCH,
            &format!("/api/v1/properties/{changed_id}"),
            Some(&token),
            Some(&json!({"name": "Changed again"})),
            &[],
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK);
    let delete = app.call(Method::DELETE, &format!("/api/v1/properties/{removed_id}"), Some(&token), None, &[]).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);

    let delta = app.get(&format!("/api/v1/properties?updated_since={}", urlencode(since_last)), &token).await;
    assert_eq!(delta.status, StatusCode::OK, "{:?}", delta.body);
    let rows = delta.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["id"], changed_id);
    assert_eq!(rows[0]["name"], "Changed again");
    assert_eq!(rows[1]["id"], removed_id);
    assert_eq!(rows[1]["deleted"], true);
    assert!(rows[1]["deleted_at"].is_string());
    assert!(rows.iter().all(|r| r["id"] != untouched["id"]));

    // An earlier point includes the creation of "Changed" too, but still no duplicate rows.
    let wider = app.get(&format!("/api/v1/properties?updated_since={}", urlencode(&since)), &token).await;
    assert_eq!(wider.body["data"].as_array().unwrap().len(), 2);
    // Tombstones never show in ordinary listings.
    let listing = app.get("/api/v1/properties", &token).await;
    assert_eq!(ids_of(&listing.body).len(), 2);
}

fn urlencode(value: &str) -> String {
    value.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn forged_and_foreign_cursors_are_a_400() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    create_many(&app, &token, 3).await;
    let first = app.get("/api/v1/properties?page_size=1", &token).await;
    let cursor = first.body["meta"]["pagination"]["next_cursor"].as_str().unwrap().to_owned();

    let forged = format!("{}x", &cursor);
    for uri in [
        format!("/api/v1/properties?page_size=1&cursor={forged}"),
        "/api/v1/properties?cursor=eyJzIjoiYSIsImsiOnt9fQ.AAAA".to_owned(),
        // A cursor is bound to its query...
        format!("/api/v1/properties?page_size=1&sort_by=name&cursor={cursor}"),
    ] {
        let response = app.get(&uri, &token).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(response.error_code(), "BAD_REQUEST");
    }
    // ...and to its organization.
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let foreign = app.get(&format!("/api/v1/properties?page_size=1&cursor={cursor}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(foreign.body.get("data").is_none());
}

#[tokio::test]
async fn unsupported_listing_parameters_are_a_400_never_ignored() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=ten",
        "sort_by=total_value",
        "sort_by=updated_at",
        "sort_by=name&updated_since=2026-01-01",
        "status=demolished",
        "created_after=yesterday",
        "page=2",
    ] {
        let response = app.get(&format!("/api/v1/properties?{query}"), &token).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}: {:?}", response.body);
        assert_eq!(response.error_code(), "BAD_REQUEST");
    }
}
