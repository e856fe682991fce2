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
