//! Reading secrets from Secrets Manager. Values are never logged.

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {id}: {detail}")]
    Read { id: String, detail: String },
    #[error("secret {id} has no string value")]
    Empty { id: String },
    // The parse error is deliberately left out: it may quote the secret.
    #[error("secret {id} is not the expected JSON document")]
    Shape { id: String },
}

/// Reads a secret's string value.
pub async fn read_string(client: &aws_sdk_secretsmanager::Client, id: &str) -> Result<String, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| SecretError::Read { id: id.to_owned(), detail: DisplayErrorContext(e).to_string() })?;
    output.secret_string.filter(|s| !s.is_empty()).ok_or_else(|| SecretError::Empty { id: id.to_owned() })
}

/// Reads a secret holding a JSON document.
pub async fn read_json<T: DeserializeOwned>(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<T, SecretError> {
    let raw = read_string(client, id).await?;
    serde_json::from_str(&raw).map_err(|_| SecretError::Shape { id: id.to_owned() })
}
