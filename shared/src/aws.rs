//! AWS SDK clients, built once per cold start.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL_*` variables, so the same
//! binary talks to AWS or to the local stack without a code path of its own.

use aws_config::BehaviorVersion;

#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// EventBridge, for the domain-event publisher (`crate::events`).
    pub events: aws_sdk_eventbridge::Client,
    /// S3, for maintenance attachments (presigned uploads and downloads).
    pub s3: aws_sdk_s3::Client,
    /// For clients that only some functions build (EventBridge, ...).
    pub sdk_config: aws_config::SdkConfig,
}

impl AwsClients {
    pub async fn load() -> Self {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self {
            dynamodb: crate::measure::dynamodb_client(&sdk_config),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk_config),
            events: aws_sdk_eventbridge::Client::new(&sdk_config),
            s3: s3_client(&sdk_config),
            sdk_config,
        }
    }
}

/// Checksums only where S3 requires them: a presigned upload's URL must not bind a
/// checksum of a body the SDK never sees.
fn s3_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
