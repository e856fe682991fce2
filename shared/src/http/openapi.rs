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
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{TOO_MANY_REQUESTS}"))));
        }
    }
}
