//! Authentication and authorization: bearer JWTs (RS256, `kid`), OAuth scopes,
//! API keys, the role → permission matrix and organization scoping.

pub mod api_key;
pub mod jwks;
pub mod jwt;
pub mod permissions;
pub mod principal;
pub mod scope;

pub use permissions::{Permission, PermissionSet, Role};
pub use principal::{Actor, Authenticator, Principal};
pub use scope::Scope;
pub mod tenancy;
