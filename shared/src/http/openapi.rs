//! The parts of the OpenAPI document every function shares: info, security schemes
//! and the error envelope.

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, AuthorizationCode, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::Scope;
use crate::http::envelope::ErrorEnvelope;

pub const BEARER: &str = "bearer";
pub const API_KEY: &str = "api_key";
pub const OAUTH: &str = "oauth2";

fn scope_description(scope: Scope) -> &'static str {
    match scope {
        Scope::ReadProperties => "View properties and units",
        Scope::ReadRenters => "View tenant information",
        Scope::ReadPayments => "View payment history and status",
        Scope::ReadMaintenance => "View maintenance requests",
        Scope::WriteMaintenance => "Create and update maintenance requests",
        Scope::WriteMessages => "Send messages to tenants",
        Scope::ReadAnalytics => "Access analytics and reports",
    }
}

/// The document's skeleton; functions merge their paths into it.
pub fn base() -> OpenApi {
    let scopes = Scopes::from_iter(Scope::ALL.map(|s| (s.name(), scope_description(s))));
    let oauth =
        OAuth2::new([Flow::AuthorizationCode(AuthorizationCode::new("/oauth/authorize", "/oauth/token", scopes))]);
    let mut schemas = vec![(ErrorEnvelope::name().into_owned(), ErrorEnvelope::schema())];
    ErrorEnvelope::schemas(&mut schemas);
    let components = ComponentsBuilder::new()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        )
        .security_scheme(API_KEY, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))))
        .security_scheme(OAUTH, SecurityScheme::OAuth2(oauth))
        .schemas_from_iter(schemas)
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Doorstep API")
                .version(crate::http::envelope::API_VERSION)
                .description(Some("Property-management platform API: properties, units, tenants, leases, finance, maintenance and screening."))
                .build(),
        )
        .components(Some(components))
        .build()
}

const RATE_LIMIT_HEADERS: [(&str, &str); 4] = [
    ("X-RateLimit-Limit", "Requests allowed in the current window"),
    ("X-RateLimit-Remaining", "Requests left in the current window"),
    ("X-RateLimit-Reset", "Unix time (seconds) at which the window resets"),
    ("X-RateLimit-Window", "Length of the window in seconds"),
];
const TOO_MANY_REQUESTS: &str = "TooManyRequests";

/// The refusals the shared extractors and the authentication layer answer on any route
/// they apply to, each a reusable response in the envelope: (status, component name,
/// description).
const SHARED_REFUSALS: [(&str, &str, &str); 6] = [
    (
        "400",
        "BadRequest",
        "Malformed request: JSON syntax, a path or query parameter, or a header such as `If-Match` (`BAD_REQUEST`)",
    ),
    ("401", "Unauthorized", "Missing, invalid or expired credential (`AUTHENTICATION_FAILED`, `TOKEN_EXPIRED`)"),
    ("403", "Forbidden", "The credential's role or scopes do not allow this (`INSUFFICIENT_PERMISSIONS`)"),
    ("413", "PayloadTooLarge", "Body larger than 64 KiB (`PAYLOAD_TOO_LARGE`)"),
    ("415", "UnsupportedMediaType", "Body without `Content-Type: application/json` (`UNSUPPORTED_MEDIA_TYPE`)"),
    (
        "422",
        "ValidationFailed",
        "Well-formed JSON of the wrong shape or with invalid values (`VALIDATION_ERROR`, with `error.details`)",
    ),
];

/// Which of [`SHARED_REFUSALS`] an operation can answer: 400 wherever it reads a
/// parameter or a body; 401 wherever it reads a credential, 403 where one is required;
/// 413, 415 and 422 wherever it reads a JSON body.
fn shared_refusals(operation: &utoipa::openapi::path::Operation) -> Vec<&'static str> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::security::SecurityRequirement;

    let requirements = operation.security.as_deref().unwrap_or_default();
    let reads_credential = requirements.iter().any(|r| *r != SecurityRequirement::default());
    let requires_credential = reads_credential && !requirements.contains(&SecurityRequirement::default());
    let json_body =
        matches!(&operation.request_body, Some(RefOr::T(body)) if body.content.contains_key("application/json"));
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut statuses = Vec::new();
    if json_body || has_parameters {
        statuses.push("400");
    }
    if reads_credential {
        statuses.push("401");
    }
    if requires_credential {
        statuses.push("403");
    }
    if json_body {
        statuses.extend(["413", "415", "422"]);
    }
    statuses
}

/// Completes the merged document with what every route shares: the `X-RateLimit-*`
/// headers on every response, and the 429 answer.
pub fn finish(document: &mut OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::response::ResponseBuilder;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Type};

    let header_ref = |name: &str| RefOr::Ref(Ref::new(format!("#/components/headers/{name}")));
    let components = document.components.get_or_insert_with(Default::default);
    for (name, description) in RATE_LIMIT_HEADERS {
        let header = HeaderBuilder::new().schema(Some(utoipa::openapi::schema::Object::with_type(Type::Integer)));
        components.headers.insert(name.to_owned(), RefOr::T(header.description(Some(description)).build()));
    }
    let mut too_many = ResponseBuilder::new()
        .description("Rate limit exceeded (`RATE_LIMIT_EXCEEDED`, with `error.retry_after`)")
        .content("application/json", ContentBuilder::new().schema(Some(ErrorEnvelope::schema())).build())
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(utoipa::openapi::schema::Object::with_type(Type::Integer)))
                .description(Some("Seconds until the window resets"))
                .build(),
        )
        .build();
    for (name, _) in RATE_LIMIT_HEADERS {
        too_many.headers.insert(name.to_owned(), header_ref(name));
    }
    components.responses.insert(TOO_MANY_REQUESTS.to_owned(), RefOr::T(too_many));
    for (_, name, description) in SHARED_REFUSALS {
        let refusal = ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(ErrorEnvelope::schema())).build())
            .build();
        components.responses.insert(name.to_owned(), RefOr::T(refusal));
    }

    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    for (name, _) in RATE_LIMIT_HEADERS {
                        response.headers.insert(name.to_owned(), header_ref(name));
                    }
                }
            }
            let refusals = shared_refusals(operation);
            for (status, name, _) in SHARED_REFUSALS.iter().filter(|(status, _, _)| refusals.contains(status)) {
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
            }
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{TOO_MANY_REQUESTS}"))));
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, PathItem, PathsBuilder, RefOr, Required, ResponseBuilder, ResponsesBuilder};

    use super::*;

    fn statuses(operation: utoipa::openapi::path::Operation) -> Vec<String> {
        let paths = PathsBuilder::new().path("/x", PathItem::new(utoipa::openapi::HttpMethod::Post, operation)).build();
        let mut document = OpenApiBuilder::new().paths(paths).build();
        finish(&mut document);
        let operation = document.paths.paths["/x"].post.clone().expect("the operation");
        let refs = operation.responses.responses.values().filter(|r| matches!(r, RefOr::Ref(_))).count();
        assert_eq!(refs + 1, operation.responses.responses.len(), "all but the 200 are shared responses");
        operation.responses.responses.into_keys().collect()
    }

    fn ok() -> utoipa::openapi::Responses {
        ResponsesBuilder::new().response("200", ResponseBuilder::new().description("ok")).build()
    }

    #[test]
    fn a_secured_json_write_documents_every_shared_refusal() {
        let body = RequestBodyBuilder::new().content("application/json", ContentBuilder::new().build()).build();
        let operation = OperationBuilder::new()
            .responses(ok())
            .request_body(Some(body))
            .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
            .build();
        assert_eq!(statuses(operation), ["200", "400", "401", "403", "413", "415", "422", "429"]);
    }

    #[test]
    fn an_optional_credential_may_be_refused_but_never_forbidden() {
        let parameter =
            ParameterBuilder::new().name("id").parameter_in(ParameterIn::Path).required(Required::True).build();
        let operation = OperationBuilder::new()
            .responses(ok())
            .parameter(parameter)
            .security(SecurityRequirement::default())
            .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
            .build();
        assert_eq!(statuses(operation), ["200", "400", "401", "429"]);
    }

    #[test]
    fn a_public_operation_without_input_documents_only_the_rate_limit() {
        assert_eq!(statuses(OperationBuilder::new().responses(ok()).build()), ["200", "429"]);
    }
}
