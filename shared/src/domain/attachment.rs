//! Files attached to a maintenance request: photos of the damage and PDFs (a quote, an
//! invoice). The bytes live in S3 under the request; the table keeps what the uploader
//! declared, who they are and whether the bytes have arrived.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::ids;
use crate::domain::maintenance::MaintenanceRequest;
use crate::domain::validation::Problems;
use crate::time_format;

/// The largest file accepted: 10 MiB.
pub const MAX_SIZE: u64 = 10 * 1024 * 1024;
/// The longest file name, in characters.
pub const FILE_NAME_MAX: usize = 255;
/// The content types accepted: photos and PDFs.
pub const CONTENT_TYPES: [&str; 5] = ["image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf"];
/// Where every attachment's object lives in the bucket (the function may touch nothing else).
pub const OBJECT_PREFIX: &str = "attachments/";

/// Whether the bytes have reached the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// An upload URL was issued; the bytes have not been seen yet.
    Pending,
    /// The object is in the bucket with the declared size.
    Uploaded,
}

/// What an uploader declares about a file, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentFields {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

impl AttachmentFields {
    /// Checks every field at once: a name without path separators, quotes or control
    /// characters; one of [`CONTENT_TYPES`]; 1 byte to [`MAX_SIZE`].
    pub fn validated(file_name: &str, content_type: &str, size: u64) -> Result<Self, Problems> {
        let mut p = Problems::new();
        let file_name = p.text("file_name", file_name, 1, FILE_NAME_MAX);
        if file_name.contains(['/', '\\', '"']) {
            p.add("file_name", "must not contain '/', '\\' or '\"'");
        }
        let content_type = content_type.trim().to_ascii_lowercase();
        if !CONTENT_TYPES.contains(&content_type.as_str()) {
            p.add("content_type", format!("must be one of {}", CONTENT_TYPES.join(", ")));
        }
        if size == 0 || size > MAX_SIZE {
            p.add("size", format!("must be 1 to {MAX_SIZE} bytes (10 MiB)"));
        }
        p.into_result()?;
        Ok(Self { file_name, content_type, size })
    }
}

/// A file attached to a maintenance request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// `att_<ULID>`: sorts by time.
    pub id: String,
    pub org_id: String,
    pub request_id: String,
    pub file_name: String,
    pub content_type: String,
    /// Bytes, as declared and bound into the upload URL's signature.
    pub size: u64,
    /// `user:<id>` or `key:<id>`.
    pub uploaded_by: String,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    pub status: AttachmentStatus,
    #[serde(default, with = "time_format::rfc3339_option")]
    pub uploaded_at: Option<OffsetDateTime>,
}

impl Attachment {
    /// A new, pending attachment of `request`.
    pub fn new(request: &MaintenanceRequest, fields: AttachmentFields, uploaded_by: &str, at: OffsetDateTime) -> Self {
        Self {
            id: ids::new("att"),
            org_id: request.org_id.clone(),
            request_id: request.id.clone(),
            file_name: fields.file_name,
            content_type: fields.content_type,
            size: fields.size,
            uploaded_by: uploaded_by.to_owned(),
            created_at: at,
            status: AttachmentStatus::Pending,
            uploaded_at: None,
        }
    }

    /// The object's key: `attachments/<org>/<request>/<attachment>`, so that one
    /// organization's files never share a prefix with another's.
    pub fn object_key(&self) -> String {
        format!("{OBJECT_PREFIX}{}/{}/{}", self.org_id, self.request_id, self.id)
    }

    /// A `Content-Disposition` that downloads the file under its own name (RFC 6266,
    /// with the name percent-encoded so any character survives).
    pub fn content_disposition(&self) -> String {
        let mut encoded = String::new();
        for byte in self.file_name.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!("attachment; filename*=UTF-8''{encoded}")
    }

    /// The same attachment, its bytes seen in the bucket at `at`.
    pub fn uploaded(&self, at: OffsetDateTime) -> Self {
        Self { status: AttachmentStatus::Uploaded, uploaded_at: Some(at), ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_and_pdfs_up_to_ten_mebibytes_are_accepted() {
        let fields = AttachmentFields::validated(" leak.JPG ", "Image/JPEG", MAX_SIZE).unwrap();
        assert_eq!(fields.file_name, "leak.JPG");
        assert_eq!(fields.content_type, "image/jpeg");
        assert!(AttachmentFields::validated("quote.pdf", "application/pdf", 1).is_ok());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let problems = AttachmentFields::validated("../x\"", "application/x-msdownload", MAX_SIZE + 1).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["file_name", "content_type", "size"]);
        assert!(AttachmentFields::validated("a.png", "image/png", 0).is_err());
        assert!(AttachmentFields::validated("  ", "image/png", 10).is_err());
    }

    #[test]
    fn the_download_name_is_percent_encoded() {
        use crate::domain::maintenance::{Category, Origin, Priority, RequestFields};
        let fields = RequestFields::validated("Leak", "", Priority::High, Category::Plumbing, false, &[]).unwrap();
        let origin =
            Origin { property_id: "prop_1".into(), unit_id: None, tenant_id: None, reported_by: "user:u".into() };
        let request = MaintenanceRequest::new("org_1", origin, fields, time_format::now());
        let fields = AttachmentFields::validated("Küche leak.png", "image/png", 10).unwrap();
        let attachment = Attachment::new(&request, fields, "user:u", time_format::now());
        assert_eq!(attachment.content_disposition(), "attachment; filename*=UTF-8''K%C3%BCche%20leak.png");
        assert!(attachment.object_key().starts_with(&format!("attachments/{}/{}/att_", request.org_id, request.id)));
    }
}
