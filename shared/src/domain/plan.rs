//! An organization's subscription plan, which sets its rate-limit tier.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The plan tiers of the platform API. Tokens and API keys carry the plan of their organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    #[default]
    Standard,
    Premium,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Standard, Plan::Premium, Plan::Enterprise];

    pub fn name(self) -> &'static str {
        match self {
            Plan::Standard => "standard",
            Plan::Premium => "premium",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(name: &str) -> Option<Plan> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}
