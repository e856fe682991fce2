//! Collects every field problem of a request so the client sees them all at once.

/// One invalid field: its JSON path (e.g. `address.city`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// The domain's validation error: every invalid field of a value. The HTTP layer turns
/// it into a 422 with one detail per problem.
#[derive(Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single problem, for a check that stops at the first one.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut problems = Self::new();
        problems.add(field, message);
        problems
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { field: field.into(), message: message.into() });
    }

    /// The problems in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// Trims `value` and checks its length in characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        if len < min {
            self.add(
                field,
                if min == 1 { "must not be empty".to_owned() } else { format!("must be at least {min} characters") },
            );
        } else if len > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if trimmed.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
        trimmed.to_owned()
    }

    /// Parses a `YYYY-MM-DD` date, recording a problem if it is not one.
    pub fn date(&mut self, field: &str, raw: &str) -> Option<time::Date> {
        let parsed = crate::domain::calendar::parse_date(raw);
        if parsed.is_none() {
            self.add(field, "must be a YYYY-MM-DD date");
        }
        parsed
    }

    /// Records the error of a parse, returning the value if it parsed.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, &'static str>) -> Option<T> {
        parsed.map_err(|message| self.add(field, message)).ok()
    }

    pub fn into_result(self) -> Result<(), Problems> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}
