//! Collects every field problem of a request so the client sees them all at once.

use crate::error::{ApiError, FieldError};

#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
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

    /// Records the error of a parse, returning the value if it parsed.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, &'static str>) -> Option<T> {
        parsed.map_err(|message| self.add(field, message)).ok()
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}
