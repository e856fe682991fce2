//! The private bucket that holds attachments, reached only through presigned URLs: the
//! API never carries the bytes. An upload URL binds the declared content type and size
//! into its signature, so S3 refuses any other body; a download URL expires.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use shared::ApiError;
use shared::Services;
use shared::config::{ConfigError, required};
use shared::domain::attachment::Attachment;
use time::OffsetDateTime;

/// How long an upload URL works.
pub const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download URL works.
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);

/// Headers the SDK adds to a presigned request that its signature does not cover (the
/// Lambda runtime's trace id): a client need not send them.
const UNSIGNED_HEADERS: [&str; 2] = ["x-amzn-trace-id", "user-agent"];

/// The attachments bucket (`ATTACHMENTS_BUCKET`) and the S3 client, from the cold start.
#[derive(Debug, Clone)]
pub struct AttachmentBucket {
    s3: aws_sdk_s3::Client,
    name: String,
}

/// A presigned request: the URL, and the headers the caller must send with it.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

impl SignedUrl {
    fn new(presigned: &PresignedRequest, start: SystemTime, ttl: Duration) -> Self {
        Self {
            method: presigned.method().to_owned(),
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .filter(|(name, _)| !UNSIGNED_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            expires_at: OffsetDateTime::from(start + ttl),
        }
    }
}

/// Checksums only where S3 requires them: a presigned upload's URL must not bind a
/// checksum of a body the SDK never sees. Only this function links the S3 client.
fn s3_client(sdk_config: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn presigning(start: SystemTime, ttl: Duration) -> Result<PresigningConfig, ApiError> {
    PresigningConfig::builder().start_time(start).expires_in(ttl).build().map_err(ApiError::internal)
}

impl AttachmentBucket {
    /// Reads `ATTACHMENTS_BUCKET`; the client shares the configuration `Services` loaded.
    pub fn from_env(services: &Services) -> Result<Self, ConfigError> {
        Ok(Self::new(s3_client(&services.aws.sdk_config), required("ATTACHMENTS_BUCKET")?))
    }

    pub fn new(s3: aws_sdk_s3::Client, name: String) -> Self {
        Self { s3, name }
    }

    /// A `PUT` URL for the attachment's object that S3 honours only with the declared
    /// `Content-Type` and `Content-Length`.
    pub async fn upload_url(&self, attachment: &Attachment) -> Result<SignedUrl, ApiError> {
        let start = SystemTime::now();
        let size = i64::try_from(attachment.size).map_err(ApiError::internal)?;
        let presigned = self
            .s3
            .put_object()
            .bucket(&self.name)
            .key(attachment.object_key())
            .content_type(&attachment.content_type)
            .content_length(size)
            .presigned(presigning(start, UPLOAD_TTL)?)
            .await
            .map_err(ApiError::internal)?;
        Ok(SignedUrl::new(&presigned, start, UPLOAD_TTL))
    }

    /// A `GET` URL for the attachment's object, valid for `ttl` from `start`, that serves
    /// it under its file name and declared type.
    pub async fn download_url(
        &self,
        attachment: &Attachment,
        start: SystemTime,
        ttl: Duration,
    ) -> Result<SignedUrl, ApiError> {
        let presigned = self
            .s3
            .get_object()
            .bucket(&self.name)
            .key(attachment.object_key())
            .response_content_type(&attachment.content_type)
            .response_content_disposition(attachment.content_disposition())
            .presigned(presigning(start, ttl)?)
            .await
            .map_err(ApiError::internal)?;
        Ok(SignedUrl::new(&presigned, start, ttl))
    }

    /// Whether the attachment's bytes are in the bucket, with the declared size and type
    /// (S3 refuses others on the upload URL; checking again costs nothing and holds
    /// wherever the signature is not verified).
    pub async fn holds(&self, attachment: &Attachment) -> Result<bool, ApiError> {
        let result = self.s3.head_object().bucket(&self.name).key(attachment.object_key()).send().await;
        match result {
            Ok(head) => Ok(head.content_length().and_then(|n| u64::try_from(n).ok()) == Some(attachment.size)
                && head.content_type() == Some(attachment.content_type.as_str())),
            // Without s3:ListBucket, S3 answers a missing key with 403 rather than 404.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), HeadObjectError::NotFound(_)) || e.raw().status().as_u16() == 403 =>
            {
                Ok(false)
            }
            Err(e) => Err(ApiError::ServiceUnavailable(Box::new(e))),
        }
    }
}
