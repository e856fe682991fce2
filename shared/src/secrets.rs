//! Reading secrets from Secrets Manager. Values are never logged.

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {id}: {detail}")]
    Read { id: String, detail: String },
    #[error("could not write secret {id}: {detail}")]
    Write { id: String, detail: String },
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

/// Stores `value` as the secret's current version: a new version of an existing secret,
/// or a new secret named `id`.
pub async fn put_string(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) -> Result<(), SecretError> {
    let write_err = |detail: String| SecretError::Write { id: id.to_owned(), detail };
    let put = client.put_secret_value().secret_id(id).secret_string(value).send().await;
    match put {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => client
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| write_err(DisplayErrorContext(e).to_string())),
        Err(err) => Err(write_err(DisplayErrorContext(err).to_string())),
    }
}

/// Reads a secret holding a JSON document.
pub async fn read_json<T: DeserializeOwned>(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<T, SecretError> {
    let raw = read_string(client, id).await?;
    serde_json::from_str(&raw).map_err(|_| SecretError::Shape { id: id.to_owned() })
}
