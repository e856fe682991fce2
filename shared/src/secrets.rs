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
    #[error("secret {id} must hold a key of at least {min} characters")]
    WeakKey { id: String, min: usize },
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
    json(&read_string(client, id).await?, id)
}

/// Turns a secret's string value (and its id, for errors) into the value kept.
type Parse<T> = std::sync::Arc<dyn Fn(String, &str) -> Result<T, SecretError> + Send + Sync>;

/// A value built from a secret the first time a request needs it, then kept for the life
/// of the instance. Reading secrets at init would put a Secrets Manager round trip
/// between process start and the first `/next`; read on first use, a cold start pays it
/// once, inside the first invocation, and a route that never needs the secret never
/// reads it. A failed read is not kept: the next use tries again. Cheap to clone; the
/// clones share one value.
#[derive(Clone)]
pub struct OnFirstUse<T> {
    value: std::sync::Arc<tokio::sync::OnceCell<T>>,
    source: Option<(aws_sdk_secretsmanager::Client, String, Parse<T>)>,
}

impl<T> std::fmt::Debug for OnFirstUse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.source.as_ref().map(|(_, id, _)| id.as_str());
        f.debug_struct("OnFirstUse").field("secret_id", &id).field("loaded", &self.value.initialized()).finish()
    }
}

impl<T> OnFirstUse<T> {
    /// Read from `secret_id` and turned into a `T` by `parse` on first use.
    pub fn new(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
        parse: impl Fn(String, &str) -> Result<T, SecretError> + Send + Sync + 'static,
    ) -> Self {
        let parse: Parse<T> = std::sync::Arc::new(parse);
        Self { value: Default::default(), source: Some((client.clone(), secret_id.to_owned(), parse)) }
    }

    /// The value if a request has already read it.
    pub fn loaded(&self) -> Option<&T> {
        self.value.get()
    }

    /// A value known up front (tests, tools).
    pub fn ready(value: T) -> Self {
        Self { value: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(value))), source: None }
    }

    /// The value, reading the secret if this is the first use. A read that fails is a
    /// 503 for this request (the secret's content is never logged).
    pub async fn get(&self) -> Result<&T, crate::ApiError> {
        self.value
            .get_or_try_init(|| async {
                let (client, id, parse) =
                    self.source.as_ref().ok_or_else(|| SecretError::Empty { id: "(none)".into() })?;
                parse(read_string(client, id).await?, id)
            })
            .await
            .map_err(|error| {
                tracing::error!(error = %error, "cannot read a secret");
                crate::ApiError::ServiceUnavailable(Box::new(error))
            })
    }
}

/// A secret's value as a JSON document.
pub fn json<T: DeserializeOwned>(raw: &str, id: &str) -> Result<T, SecretError> {
    serde_json::from_str(raw).map_err(|_| SecretError::Shape { id: id.to_owned() })
}
