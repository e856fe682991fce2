//! AWS SDK clients, built once per cold start.
//!
//! Lambda hands a function its region and credentials in environment variables, so the
//! configuration is read from there alone: no profile files to parse and no
//! credential-provider chain to probe (nor its STS and instance-metadata clients to link
//! into every binary). Endpoints come from the standard `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` variables, so the same binary talks to AWS or to the
//! local stack without a code path of its own.

use aws_config::BehaviorVersion;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// EventBridge, for the domain-event publisher (`crate::events`).
    pub events: aws_sdk_eventbridge::Client,
    /// For clients that only some functions build (S3, SQS, ...).
    pub sdk_config: SdkConfig,
}

impl AwsClients {
    pub async fn load() -> Self {
        let sdk_config = sdk_config();
        Self {
            dynamodb: crate::measure::dynamodb_client(&sdk_config),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk_config),
            events: aws_sdk_eventbridge::Client::new(&sdk_config),
            sdk_config,
        }
    }
}

/// Per-service settings from the environment only: for a key such as
/// `AWS_ENDPOINT_URL` of the service "Secrets Manager", `AWS_ENDPOINT_URL_SECRETS_MANAGER`
/// first, then `AWS_ENDPOINT_URL` itself (the SDK's own naming rule).
#[derive(Debug)]
struct EnvironmentOnly;

impl LoadServiceConfig for EnvironmentOnly {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        env(&service_variable(key.env(), key.service_id())).or_else(|| env(key.env()))
    }
}

fn service_variable(variable: &str, service_id: &str) -> String {
    format!("{variable}_{}", service_id.to_ascii_uppercase().replace([' ', '-'], "_"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The shared SDK configuration: region, credentials and endpoints from the environment;
/// retries, timeouts, the HTTP client and the identity cache are each client's defaults.
pub fn sdk_config() -> SdkConfig {
    let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).map(Region::new);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .service_config(EnvironmentOnly);
    if let Some(url) = env("AWS_ENDPOINT_URL") {
        builder.set_endpoint_url(Some(url));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_reads_its_own_endpoint_variable() {
        assert_eq!(service_variable("AWS_ENDPOINT_URL", "Secrets Manager"), "AWS_ENDPOINT_URL_SECRETS_MANAGER");
        assert_eq!(service_variable("AWS_ENDPOINT_URL", "DynamoDB"), "AWS_ENDPOINT_URL_DYNAMODB");
        assert_eq!(service_variable("AWS_ENDPOINT_URL", "EventBridge"), "AWS_ENDPOINT_URL_EVENTBRIDGE");
    }
}
