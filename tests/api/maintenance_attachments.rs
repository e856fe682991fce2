//! Maintenance request attachments: a file is recorded through the API, its bytes go
//! straight to S3 (moto) with the presigned upload URL, and come back through the
//! presigned download URL of the listing. Visibility is the request's.

use std::time::{Duration, SystemTime};

use doorstep_tests::{TestApp, app, attachment_bucket, claims, new_org};
use http::StatusCode;
use serde_json::{Value, json};
use shared::domain::attachment::{Attachment, AttachmentStatus, MAX_SIZE};

use crate::maintenance::{REQUESTS, building, created, id, leak};

/// A small JPEG-looking body (the bucket does not parse images).
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a photo of the leak under the sink \xff\xd9";

fn photo_body(size: usize) -> Value {
    json!({"file_name": "Leak under sink.jpg", "content_type": "image/jpeg", "size": size})
}

/// A query parameter of a presigned URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// When a presigned URL stops working: `X-Amz-Date` plus `X-Amz-Expires`.
fn signed_until(url: &str) -> time::OffsetDateTime {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let date = query_param(url, "X-Amz-Date").expect("X-Amz-Date");
    let signed = time::PrimitiveDateTime::parse(&date, format).expect("SigV4 date").assume_utc();
    let expires: i64 = query_param(url, "X-Amz-Expires").expect("X-Amz-Expires").parse().unwrap();
    signed + time::Duration::seconds(expires)
}

/// `PUT`s `bytes` to a created attachment's upload URL with the given headers.
async fn upload(upload: &Value, bytes: &[u8], content_type: &str) -> reqwest::Response {
    assert_eq!(upload["method"], "PUT");
    reqwest::Client::new()
        .put(upload["url"].as_str().unwrap())
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("moto answers")
}

async fn attachments(app: &TestApp, request_uri: &str, token: &str) -> Vec<Value> {
    let listed = app.get(&format!("{request_uri}/attachments"), token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().unwrap().clone()
}

/// An owner of a new organization and the URI of a request they reported.
async fn owners_request(app: &TestApp) -> (String, String) {
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let property = id(&app.create_property(&owner, "Elm Yard").await);
    let request = created(app, &owner, REQUESTS, leak(&property, None)).await;
    (owner, format!("{REQUESTS}/{}", id(&request)))
}

#[tokio::test]
async fn a_tenant_attaches_a_photo_and_the_manager_downloads_the_same_bytes() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let manager = app.token(&org, &["PropertyManager"]);
    let b = building(&app, &org, &owner).await;
    let tenant = &b.tenant_tokens[0];
    let request = created(&app, tenant, REQUESTS, leak(&b.property, None)).await;
    let request_uri = format!("{REQUESTS}/{}", id(&request));

    // Given the tenant declares a photo
    let made = created(&app, tenant, &format!("{request_uri}/attachments"), photo_body(PHOTO.len())).await;
    let attachment = &made["attachment"];
    assert_eq!(attachment["file_name"], "Leak under sink.jpg");
    assert_eq!(attachment["content_type"], "image/jpeg");
    assert_eq!(attachment["size"], PHOTO.len());
    assert_eq!(attachment["status"], "pending");
    assert_eq!(attachment["maintenance_request_id"], id(&request).as_str());
    assert!(attachment["uploaded_by"].as_str().unwrap().starts_with("user:"));
    assert!(attachment["download_url"].is_null());
    // The upload URL binds the declared type and size into its signature, and says so
    let upload_spec = &made["upload"];
    assert_eq!(
        upload_spec["headers"],
        json!({"content-type": "image/jpeg", "content-length": PHOTO.len().to_string()})
    );
    let signed = query_param(upload_spec["url"].as_str().unwrap(), "X-Amz-SignedHeaders").unwrap();
    let signed: Vec<&str> = signed.split(';').collect();
    assert!(signed.contains(&"content-type") && signed.contains(&"content-length"), "{signed:?}");
    let expires_at = time::OffsetDateTime::parse(
        upload_spec["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(signed_until(upload_spec["url"].as_str().unwrap()).unix_timestamp(), expires_at.unix_timestamp());

    // Before the bytes arrive, the listing shows it pending, without a download URL
    let before = attachments(&app, &request_uri, &manager).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["status"], "pending");
    assert!(before[0]["download_url"].is_null());

    // When the tenant uploads the bytes with the declared type
    let put = upload(upload_spec, PHOTO, "image/jpeg").await;
    assert!(put.status().is_success(), "upload refused: {}", put.status());

    // Then the manager lists it as uploaded and downloads exactly those bytes, under its name
    let after = attachments(&app, &request_uri, &manager).await;
    assert_eq!(after[0]["id"], attachment["id"]);
    assert_eq!(after[0]["status"], "uploaded");
    assert!(after[0]["uploaded_at"].is_string());
    let download_url = after[0]["download_url"].as_str().expect("a download URL once uploaded");
    let downloaded = reqwest::get(download_url).await.unwrap();
    assert_eq!(downloaded.status(), reqwest::StatusCode::OK);
    assert_eq!(downloaded.headers()["content-type"], "image/jpeg");
    let disposition = downloaded.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, "attachment; filename*=UTF-8''Leak%20under%20sink.jpg");
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), PHOTO);
    // The download URL works for 15 minutes
    let until = signed_until(download_url) - time::OffsetDateTime::now_utc();
    assert!(until > time::Duration::minutes(14) && until <= time::Duration::minutes(15), "{until}");

    // The tenant who reported it sees it too
    assert_eq!(attachments(&app, &request_uri, tenant).await[0]["status"], "uploaded");
}

#[tokio::test]
async fn an_upload_of_another_type_or_size_never_becomes_downloadable() {
    let app = app().await;
    let (owner, request_uri) = owners_request(&app).await;

    // Given two declared photos
    let wrong_type = created(&app, &owner, &format!("{request_uri}/attachments"), photo_body(PHOTO.len())).await;
    let wrong_size = created(&app, &owner, &format!("{request_uri}/attachments"), photo_body(PHOTO.len())).await;

    // When one is sent as an executable and the other with more bytes than declared
    // (S3 refuses both, as the signature binds type and size; moto does not check
    // presigned signatures, so what it answers is not asserted here)
    upload(&wrong_type["upload"], PHOTO, "application/x-msdownload").await;
    let mut longer = PHOTO.to_vec();
    longer.extend_from_slice(b"and more");
    upload(&wrong_size["upload"], &longer, "image/jpeg").await;

    // Then neither is ever listed as uploaded, nor offered for download
    let listed = attachments(&app, &request_uri, &owner).await;
    assert_eq!(listed.len(), 2);
    for attachment in &listed {
        assert_eq!(attachment["status"], "pending", "{attachment:?}");
        assert!(attachment["download_url"].is_null());
    }
}

#[tokio::test]
async fn a_download_url_signed_in_the_past_has_expired() {
    let app = app().await;
    let bucket = attachment_bucket(&app.services);
    let attachment = Attachment {
        id: shared::domain::ids::new("att"),
        org_id: new_org(),
        request_id: shared::domain::ids::new("mr"),
        file_name: "leak.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 10,
        uploaded_by: "user:u".into(),
        created_at: shared::time_format::now(),
        status: AttachmentStatus::Uploaded,
        uploaded_at: None,
    };

    // Given a download URL signed an hour ago for one minute
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let signed = bucket.download_url(&attachment, hour_ago, Duration::from_secs(60)).await.unwrap();

    // Then the URL itself says it stopped working 59 minutes ago: S3 refuses it from then
    // on (moto does not check presigned expiry, so its answer is not asserted here)
    assert_eq!(query_param(&signed.url, "X-Amz-Expires").as_deref(), Some("60"));
    let until = signed_until(&signed.url);
    assert!(until < time::OffsetDateTime::now_utc() - time::Duration::minutes(58), "{until}");
    assert_eq!(signed.expires_at.unix_timestamp(), until.unix_timestamp());
}

#[tokio::test]
async fn only_those_who_see_the_request_see_its_attachments() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let b = building(&app, &org, &owner).await;
    let [mine, theirs] = &b.tenant_tokens;
    let request = created(&app, mine, REQUESTS, leak(&b.property, None)).await;
    let uri = format!("{REQUESTS}/{}/attachments", id(&request));
    created(&app, mine, &uri, photo_body(PHOTO.len())).await;

    // The tenant of the other unit, another organization's owner, and staff not assigned
    // to it: 404 for listing and attaching alike, as a foreign id
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let staff = app.sign(&claims(&app.services.config, &org, &["MaintenanceStaff"]));
    for token in [theirs, &stranger, &staff] {
        let listed = app.get(&uri, token).await;
        assert_eq!(listed.status, StatusCode::NOT_FOUND, "{:?}", listed.body);
        assert_eq!(listed.error_code(), "RESOURCE_NOT_FOUND");
        let attached = app.post(&uri, token, &photo_body(PHOTO.len())).await;
        assert_eq!(attached.status, StatusCode::NOT_FOUND, "{:?}", attached.body);
    }
    // An id that is not a request's: 404
    let missing = format!("{REQUESTS}/{}/attachments", shared::domain::ids::new("mr"));
    assert_eq!(app.get(&missing, &owner).await.status, StatusCode::NOT_FOUND);

    // Nothing was attached by them: the owner still lists one file
    assert_eq!(attachments(&app, &format!("{REQUESTS}/{}", id(&request)), &owner).await.len(), 1);
}

#[tokio::test]
async fn an_executable_or_an_oversized_file_is_refused_with_the_field() {
    let app = app().await;
    let (owner, request_uri) = owners_request(&app).await;
    let uri = format!("{request_uri}/attachments");

    let cases = [
        (json!({"file_name": "setup.exe", "content_type": "application/x-msdownload", "size": 1000}), "content_type"),
        (json!({"file_name": "big.pdf", "content_type": "application/pdf", "size": MAX_SIZE + 1}), "size"),
        (json!({"file_name": "empty.png", "content_type": "image/png", "size": 0}), "size"),
        (json!({"file_name": "../../etc/passwd", "content_type": "image/png", "size": 10}), "file_name"),
    ];
    for (body, field) in cases {
        let refused = app.post(&uri, &owner, &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
        assert_eq!(refused.error_code(), "VALIDATION_ERROR");
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{:?}", refused.body);
    }
    // Nothing was recorded
    assert!(attachments(&app, &request_uri, &owner).await.is_empty());
}
