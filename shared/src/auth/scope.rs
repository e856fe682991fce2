//! OAuth 2.0 scopes of the integration API.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "read:properties")]
    ReadProperties,
    #[serde(rename = "read:renters")]
    ReadRenters,
    #[serde(rename = "read:payments")]
    ReadPayments,
    #[serde(rename = "read:maintenance")]
    ReadMaintenance,
    #[serde(rename = "write:maintenance")]
    WriteMaintenance,
    #[serde(rename = "write:messages")]
    WriteMessages,
    #[serde(rename = "read:analytics")]
    ReadAnalytics,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::ReadProperties,
        Scope::ReadRenters,
        Scope::ReadPayments,
        Scope::ReadMaintenance,
        Scope::WriteMaintenance,
        Scope::WriteMessages,
        Scope::ReadAnalytics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::ReadProperties => "read:properties",
            Scope::ReadRenters => "read:renters",
            Scope::ReadPayments => "read:payments",
            Scope::ReadMaintenance => "read:maintenance",
            Scope::WriteMaintenance => "write:maintenance",
            Scope::WriteMessages => "write:messages",
            Scope::ReadAnalytics => "read:analytics",
        }
    }

    /// What the scope lets an app do, as a consent screen shows it (the integration API's wording).
    pub fn description(self) -> &'static str {
        match self {
            Scope::ReadProperties => "View properties and units",
            Scope::ReadRenters => "View tenant information",
            Scope::ReadPayments => "View payment history and status",
            Scope::ReadMaintenance => "View maintenance requests",
            Scope::WriteMaintenance => "Create and update maintenance requests",
            Scope::WriteMessages => "Send messages to tenants",
            Scope::ReadAnalytics => "Access analytics and reports",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }

    /// Parses a space-separated `scope` claim; unknown scopes are dropped.
    pub fn parse_list(raw: &str) -> Vec<Scope> {
        raw.split_ascii_whitespace().filter_map(Scope::parse).collect()
    }
}
