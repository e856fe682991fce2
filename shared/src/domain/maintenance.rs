//! Maintenance requests: something in a property is broken, who reported it, and who is
//! fixing it. The status moves only along [`Status::can_become`]; each move, assignment
//! and comment is an entry of the request's timeline.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::ids::{self, MaintenanceRequestId};
use crate::domain::validation::Problems;
use crate::time_format;

/// How urgent a request is. An `emergency` pages the on-call rota at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Emergency,
}

/// The trade a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Hvac,
    Plumbing,
    Electrical,
    Appliance,
    Pest,
    Structural,
    Roofing,
    Landscaping,
    Cleaning,
    Security,
    General,
    Other,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Assigned,
    InProgress,
    OnHold,
    Completed,
    Cancelled,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Assigned => "assigned",
            Self::InProgress => "in_progress",
            Self::OnHold => "on_hold",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// `completed` and `cancelled` are final.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// The allowed moves:
    ///
    /// | from | to |
    /// |---|---|
    /// | `open` | `assigned`, `in_progress`, `on_hold`, `cancelled` |
    /// | `assigned` | `in_progress`, `on_hold`, `completed`, `cancelled` |
    /// | `in_progress` | `on_hold`, `completed`, `cancelled` |
    /// | `on_hold` | `assigned`, `in_progress`, `cancelled` |
    /// | `completed`, `cancelled` | – |
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Open, Assigned | InProgress | OnHold | Cancelled)
                | (Assigned, InProgress | OnHold | Completed | Cancelled)
                | (InProgress, OnHold | Completed | Cancelled)
                | (OnHold, Assigned | InProgress | Cancelled)
        )
    }
}

/// Longest title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest description or comment, in characters.
pub const TEXT_MAX: usize = 5000;
/// At most this many preferred visiting times.
pub const PREFERRED_TIMES_MAX: usize = 10;

/// The client-writable fields of a request, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestFields {
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub category: Category,
    /// Whether staff may enter the unit when nobody is home.
    pub permission_to_enter: bool,
    /// When the tenant would like the visit, in their own words ("weekday mornings").
    #[serde(default)]
    pub preferred_times: Vec<String>,
}

impl RequestFields {
    /// Validates the text fields, trimming them.
    pub fn validated(
        title: &str,
        description: &str,
        priority: Priority,
        category: Category,
        permission_to_enter: bool,
        preferred_times: &[String],
    ) -> Result<Self, Problems> {
        let mut p = Problems::new();
        let title = p.text("title", title, 1, TITLE_MAX);
        let description = p.text("description", description, 0, TEXT_MAX);
        if preferred_times.len() > PREFERRED_TIMES_MAX {
            p.add("preferred_times", format!("at most {PREFERRED_TIMES_MAX} entries"));
        }
        let preferred_times: Vec<String> =
            preferred_times.iter().map(|t| p.text("preferred_times", t, 1, 100)).collect();
        p.into_result()?;
        Ok(Self { title, description, priority, category, permission_to_enter, preferred_times })
    }
}

/// A stored maintenance request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceRequest {
    pub id: String,
    pub org_id: String,
    pub property_id: String,
    pub unit_id: Option<String>,
    #[serde(flatten)]
    pub fields: RequestFields,
    pub status: Status,
    /// The user (`user_...`) working on it.
    pub assignee_id: Option<String>,
    /// The tenant who reported it, when a tenant did.
    pub tenant_id: Option<String>,
    /// Who created it: `user:<id>`, `key:<id>` or `app:<client_id>`.
    pub reported_by: String,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default, with = "crate::domain::calendar::rfc3339_option")]
    pub completed_at: Option<OffsetDateTime>,
    pub version: u64,
}

/// Where a new request is and who reports it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub property_id: String,
    pub unit_id: Option<String>,
    pub tenant_id: Option<String>,
    pub reported_by: String,
}

impl MaintenanceRequest {
    pub fn new(org_id: &str, origin: Origin, fields: RequestFields, now: OffsetDateTime) -> Self {
        Self {
            id: MaintenanceRequestId::generate().into(),
            org_id: org_id.to_owned(),
            property_id: origin.property_id,
            unit_id: origin.unit_id,
            fields,
            status: Status::Open,
            assignee_id: None,
            tenant_id: origin.tenant_id,
            reported_by: origin.reported_by,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        }
    }

    /// The next version of the request, changed by `change`.
    pub fn revised(&self, now: OffsetDateTime, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = Self { updated_at: now, version: self.version + 1, ..self.clone() };
        change(&mut next);
        if next.status == Status::Completed && next.completed_at.is_none() {
            next.completed_at = Some(now);
        }
        next
    }
}

/// What an entry of the timeline records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    Created,
    StatusChange,
    Assignment,
    Comment,
}

/// One entry of a request's timeline: who did what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestUpdate {
    /// `mru_<ULID>`: sorts by time.
    pub id: String,
    pub request_id: String,
    pub org_id: String,
    pub kind: UpdateKind,
    /// `user:<id>`, `key:<id>` or `app:<client_id>`.
    pub actor: String,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    pub assignee_id: Option<String>,
    pub comment: Option<String>,
    #[serde(with = "time_format::rfc3339")]
    pub at: OffsetDateTime,
}

impl RequestUpdate {
    /// An entry of `kind` on `request`, by `actor`, at the request's last change.
    pub fn new(request: &MaintenanceRequest, kind: UpdateKind, actor: &str) -> Self {
        Self {
            id: ids::new("mru"),
            request_id: request.id.clone(),
            org_id: request.org_id.clone(),
            kind,
            actor: actor.to_owned(),
            from_status: None,
            to_status: None,
            assignee_id: None,
            comment: None,
            at: request.updated_at,
        }
    }

    /// The entry for the move from `before` to `after`, if the status or assignee changed.
    pub fn between(before: &MaintenanceRequest, after: &MaintenanceRequest, actor: &str) -> Option<Self> {
        let kind = if before.assignee_id != after.assignee_id {
            UpdateKind::Assignment
        } else if before.status != after.status {
            UpdateKind::StatusChange
        } else {
            return None;
        };
        let mut update = Self::new(after, kind, actor);
        update.from_status = Some(before.status);
        update.to_status = Some(after.status);
        update.assignee_id.clone_from(&after.assignee_id);
        Some(update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_go_nowhere() {
        let all =
            [Status::Open, Status::Assigned, Status::InProgress, Status::OnHold, Status::Completed, Status::Cancelled];
        for next in all {
            assert!(!Status::Completed.can_become(next));
            assert!(!Status::Cancelled.can_become(next));
        }
        assert!(Status::Open.can_become(Status::Assigned));
        assert!(!Status::Open.can_become(Status::Completed));
        assert!(Status::InProgress.can_become(Status::Completed));
        assert!(!Status::InProgress.can_become(Status::Open));
    }

    #[test]
    fn text_fields_are_bounded() {
        let long = "x".repeat(TITLE_MAX + 1);
        let problems =
            RequestFields::validated(&long, "", Priority::Low, Category::General, false, &[String::new()]).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["title", "preferred_times"]);
    }
}
