//! The bodies the screening API accepts and their validation. SmartMove's length limits
//! and ranges are checked here, before anything is sent, so a bad order is a 422 with
//! field details rather than a partner refusal.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::screening::ScreeningMode;
use shared::domain::tenant::is_email;
use utoipa::ToSchema;

use crate::smartmove::{Classification, CreditCard, CreditCardType};

/// `POST /api/v1/screenings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningInput {
    pub property_id: String,
    pub unit_id: String,
    /// The applicants' emails (1 to 10).
    pub applicants: Vec<String>,
    /// `link` (SmartMove answers a link at which the landlord finishes the order) or
    /// `embedded` (placed at once; the landlord pays with `credit_card`).
    pub mode: ScreeningMode,
    #[serde(default)]
    pub decline_for_open_bankruptcies: bool,
    /// Months to look back for open bankruptcies, 6 to 120; required when
    /// `decline_for_open_bankruptcies` is true.
    pub open_bankruptcy_window: Option<u32>,
    /// Default `Conventional`.
    pub classification: Option<Classification>,
    /// Required in `embedded` mode; pre-fills the form in `link` mode.
    pub landlord: Option<LandlordInput>,
    /// Required in `embedded` mode, where the landlord pays. Passed to SmartMove and
    /// never stored, logged or echoed.
    pub credit_card: Option<CreditCardInput>,
    /// The landlord accepted the FCRA agreement; required (true) in `embedded` mode.
    #[serde(default)]
    pub fcra_agreement_accepted: bool,
}

/// The landlord as SmartMove wants them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LandlordInput {
    pub first_name: String,
    pub last_name: String,
    pub street_line_one: String,
    pub street_line_two: Option<String>,
    pub city: String,
    /// USPS 2-letter state.
    pub state: String,
    /// 5 digits.
    pub zip: String,
    pub phone: String,
    pub phone_extension: Option<String>,
    pub email: String,
}

/// A card field as sent: any JSON scalar is taken as text so that a wrong type is a
/// field problem like any other, and the value never reaches an error message.
#[derive(Clone, Default)]
pub struct CardText(Option<String>);

impl std::fmt::Debug for CardText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The landlord's card (embedded mode). Read from any JSON value, so that no shape of
/// it can make a parse error that quotes it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(from = "serde_json::Value")]
pub struct CreditCardInput {
    #[schema(value_type = String)]
    pub first_name: CardText,
    #[schema(value_type = String)]
    pub last_name: CardText,
    /// `visa`, `amex`, `discover` or `mastercard`.
    #[schema(value_type = String)]
    pub card_type: CardText,
    #[schema(value_type = String)]
    pub card_number: CardText,
    #[schema(value_type = String)]
    pub card_security: CardText,
    /// `01` to `12`.
    #[schema(value_type = String)]
    pub expire_month: CardText,
    /// Four digits.
    #[schema(value_type = String)]
    pub expire_year: CardText,
}

impl From<serde_json::Value> for CreditCardInput {
    fn from(value: serde_json::Value) -> Self {
        let serde_json::Value::Object(fields) = value else { return Self::default() };
        let field = |name: &str| {
            CardText(match fields.get(name) {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        Self {
            first_name: field("first_name"),
            last_name: field("last_name"),
            card_type: field("card_type"),
            card_number: field("card_number"),
            card_security: field("card_security"),
            expire_month: field("expire_month"),
            expire_year: field("expire_year"),
        }
    }
}

/// `POST /api/v1/screenings/{screening_id}/applicants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantInput {
    pub email: String,
}

/// The most applicants one order takes.
pub const MAX_APPLICANTS: usize = 10;

/// An optional text of at most `max` characters (trimmed; blank is absent).
pub fn optional_text(problems: &mut Problems, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    Some(problems.text(field, value, 1, max))
}

/// Exactly `len` ASCII digits.
fn digits(problems: &mut Problems, field: &str, value: &str, min: usize, max: usize) -> String {
    let value = value.trim();
    if !(min..=max).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        let size = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        problems.add(field, format!("must be {size} digits"));
    }
    value.to_owned()
}

/// A 2-letter upper-case state.
pub fn state(problems: &mut Problems, field: &str, value: &str) -> String {
    let value = value.trim().to_ascii_uppercase();
    if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.add(field, "must be a 2-letter state abbreviation");
    }
    value
}

pub fn email(problems: &mut Problems, field: &str, value: &str) -> String {
    let value = value.trim().to_owned();
    if !is_email(&value) || value.len() > 100 {
        problems.add(field, "must be an email address of at most 100 characters");
    }
    value
}

/// The validated landlord, in SmartMove's limits.
#[derive(Debug, Clone)]
pub struct Landlord {
    pub first_name: String,
    pub last_name: String,
    pub street_line_one: String,
    pub street_line_two: Option<String>,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: String,
    pub phone_extension: Option<String>,
    pub email: String,
}

impl LandlordInput {
    fn validate(&self, problems: &mut Problems) -> Landlord {
        Landlord {
            first_name: problems.text("landlord.first_name", &self.first_name, 1, 50),
            last_name: problems.text("landlord.last_name", &self.last_name, 1, 50),
            street_line_one: problems.text("landlord.street_line_one", &self.street_line_one, 1, 100),
            street_line_two: optional_text(problems, "landlord.street_line_two", self.street_line_two.as_deref(), 100),
            city: problems.text("landlord.city", &self.city, 1, 100),
            state: state(problems, "landlord.state", &self.state),
            zip: digits(problems, "landlord.zip", &self.zip, 5, 5),
            phone: digits(problems, "landlord.phone", &self.phone, 7, 15),
            phone_extension: self
                .phone_extension
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| digits(problems, "landlord.phone_extension", v, 1, 6)),
            email: email(problems, "landlord.email", &self.email),
        }
    }
}

impl CreditCardInput {
    /// The card, or problems that name the field and never its value.
    fn validate(&self, problems: &mut Problems) -> Option<CreditCard> {
        let text = |problems: &mut Problems, field: &str, value: &CardText, max: usize| -> String {
            match &value.0 {
                Some(v) if !v.trim().is_empty() && v.trim().chars().count() <= max => v.trim().to_owned(),
                _ => {
                    problems.add(field, format!("must be 1 to {max} characters"));
                    String::new()
                }
            }
        };
        let first_name = text(problems, "credit_card.first_name", &self.first_name, 50);
        let last_name = text(problems, "credit_card.last_name", &self.last_name, 50);
        let card_type = match self.card_type.0.as_deref().map(str::trim) {
            Some("visa") => Some(CreditCardType::Visa),
            Some("amex") => Some(CreditCardType::Amex),
            Some("discover") => Some(CreditCardType::Discover),
            Some("mastercard") => Some(CreditCardType::Mastercard),
            _ => {
                problems.add("credit_card.card_type", "must be one of visa, amex, discover, mastercard");
                None
            }
        };
        let digits_of = |problems: &mut Problems, field: &str, value: &CardText, min: usize, max: usize| {
            digits(problems, field, value.0.as_deref().unwrap_or_default(), min, max)
        };
        let card_number = digits_of(problems, "credit_card.card_number", &self.card_number, 12, 16);
        let card_security = digits_of(problems, "credit_card.card_security", &self.card_security, 3, 5);
        let expire_month = digits_of(problems, "credit_card.expire_month", &self.expire_month, 2, 2);
        if !matches!(expire_month.parse::<u8>(), Ok(1..=12)) && expire_month.len() == 2 {
            problems.add("credit_card.expire_month", "must be 01 to 12");
        }
        let expire_year = digits_of(problems, "credit_card.expire_year", &self.expire_year, 4, 4);
        Some(CreditCard {
            first_name,
            last_name,
            card_type: card_type?,
            card_number,
            card_security,
            expire_month,
            expire_year,
        })
    }
}

/// A validated order (the property and unit are checked against the store next).
#[derive(Debug)]
pub struct ValidOrder {
    pub property_id: String,
    pub unit_id: String,
    pub applicants: Vec<String>,
    pub mode: ScreeningMode,
    pub decline_for_open_bankruptcies: bool,
    pub open_bankruptcy_window: u32,
    pub classification: Classification,
    pub landlord: Option<Landlord>,
    pub credit_card: Option<CreditCard>,
    pub fcra_agreement_accepted: bool,
}

impl ScreeningInput {
    pub fn validate(&self) -> Result<ValidOrder, Problems> {
        let mut problems = Problems::new();
        if self.applicants.is_empty() || self.applicants.len() > MAX_APPLICANTS {
            problems.add("applicants", format!("must list 1 to {MAX_APPLICANTS} emails"));
        }
        let mut applicants: Vec<String> = Vec::new();
        for (i, applicant) in self.applicants.iter().enumerate() {
            let applicant = email(&mut problems, &format!("applicants[{i}]"), applicant).to_lowercase();
            if applicants.contains(&applicant) {
                problems.add(format!("applicants[{i}]"), "is listed twice");
            }
            applicants.push(applicant);
        }
        let open_bankruptcy_window = match (self.decline_for_open_bankruptcies, self.open_bankruptcy_window) {
            (_, Some(window)) if !(6..=120).contains(&window) => {
                problems.add("open_bankruptcy_window", "must be 6 to 120 months");
                0
            }
            (true, None) => {
                problems.add("open_bankruptcy_window", "is required when decline_for_open_bankruptcies is true");
                0
            }
            (_, window) => window.unwrap_or(0),
        };
        let landlord = self.landlord.as_ref().map(|l| l.validate(&mut problems));
        let credit_card = match (&self.credit_card, self.mode) {
            (Some(card), ScreeningMode::Embedded) => card.validate(&mut problems),
            (Some(_), ScreeningMode::Link) => {
                problems.add("credit_card", "is only taken in embedded mode");
                None
            }
            (None, ScreeningMode::Embedded) => {
                problems.add("credit_card", "is required in embedded mode");
                None
            }
            (None, ScreeningMode::Link) => None,
        };
        if self.mode == ScreeningMode::Embedded {
            if landlord.is_none() {
                problems.add("landlord", "is required in embedded mode");
            }
            if !self.fcra_agreement_accepted {
                problems.add("fcra_agreement_accepted", "must be true in embedded mode");
            }
        }
        problems.into_result()?;
        Ok(ValidOrder {
            property_id: self.property_id.clone(),
            unit_id: self.unit_id.clone(),
            applicants,
            mode: self.mode,
            decline_for_open_bankruptcies: self.decline_for_open_bankruptcies,
            open_bankruptcy_window,
            classification: self.classification.unwrap_or(Classification::Conventional),
            landlord,
            credit_card,
            fcra_agreement_accepted: self.fcra_agreement_accepted,
        })
    }
}
