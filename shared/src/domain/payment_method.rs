//! Payment methods a tenant keeps on file: references to methods a processor holds (its
//! token, the brand, the last four digits, the expiry), never the card itself. A body
//! that carries a full card number or a security code is refused before anything reads
//! it further, so card data is neither stored nor logged.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::time_format;

/// The processor that holds the method (the payment-gateway integrations of the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Processor {
    Stripe,
    Paypal,
}

/// What kind of method it is (the Stripe integration's `payment_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    Card,
    BankTransfer,
    Wallet,
}

/// A stored reference to a method held by a processor, for one lease's tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPaymentMethod {
    pub id: String,
    pub org_id: String,
    pub lease_id: String,
    pub property_id: String,
    pub tenant_ids: Vec<String>,
    pub processor: Processor,
    /// The processor's id or token for the method (`pm_...` at Stripe).
    pub processor_token: String,
    pub kind: MethodKind,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<u8>,
    #[serde(default)]
    pub exp_year: Option<u16>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: u64,
}

/// Field names that hold a card's security code, compared without case, `_` or `-`.
const SECURITY_CODE_FIELDS: &[&str] =
    &["cvc", "cvv", "cvc2", "cvv2", "cid", "csc", "securitycode", "cardsecuritycode", "cardsecurity", "cardcvc"];

/// Card data found in a body: the field that holds it and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardData {
    /// A 13 to 19 digit run passing the Luhn check, in this field's value.
    Number(String),
    /// A security-code field, whatever its value.
    SecurityCode(String),
}

impl CardData {
    pub fn field(&self) -> &str {
        match self {
            CardData::Number(field) | CardData::SecurityCode(field) => field,
        }
    }

    /// Why the field is refused; it never quotes the value.
    pub fn reason(&self) -> &'static str {
        match self {
            CardData::Number(_) => {
                "must not hold a card number: send the processor's token and the last four digits instead"
            }
            CardData::SecurityCode(_) => "card security codes are never accepted or stored",
        }
    }
}

/// The first card number or security-code field anywhere in `value` (keys and values
/// at any depth), named by its path (`card.number`, `methods[0].cvc`).
pub fn card_data_in(value: &Value) -> Option<CardData> {
    card_data_at(value, "")
}

fn card_data_at(value: &Value, path: &str) -> Option<CardData> {
    let here = || if path.is_empty() { "body".to_owned() } else { path.to_owned() };
    match value {
        Value::String(text) => holds_card_number(text).then(|| CardData::Number(here())),
        Value::Number(number) => holds_card_number(&number.to_string()).then(|| CardData::Number(here())),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| card_data_at(item, &format!("{}[{i}]", here())))
        }
        Value::Object(fields) => fields.iter().find_map(|(name, field)| {
            let field_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            if is_security_code_field(name) {
                return Some(CardData::SecurityCode(field_path));
            }
            if holds_card_number(name) {
                return Some(CardData::Number(here()));
            }
            card_data_at(field, &field_path)
        }),
        Value::Bool(_) | Value::Null => None,
    }
}

fn is_security_code_field(name: &str) -> bool {
    let folded: String =
        name.chars().filter(|c| *c != '_' && *c != '-' && *c != ' ').map(|c| c.to_ascii_lowercase()).collect();
    SECURITY_CODE_FIELDS.contains(&folded.as_str())
}

/// Whether `text` holds a card number: 13 to 19 digits, written together or in groups
/// separated by one space or dash, that pass the Luhn check. Every span of whole groups
/// is tried, so digits written next to the number do not hide it.
pub fn holds_card_number(text: &str) -> bool {
    digit_runs(text).iter().any(|groups| {
        (0..groups.len()).any(|first| {
            let mut digits: Vec<u8> = Vec::new();
            groups[first..].iter().any(|group| {
                digits.extend_from_slice(group);
                (13..=19).contains(&digits.len()) && luhn(&digits)
            })
        })
    })
}

/// The runs of digit groups in `text`: groups of digits joined by a single space or dash.
fn digit_runs(text: &str) -> Vec<Vec<Vec<u8>>> {
    let mut runs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut groups: Vec<Vec<u8>> = Vec::new();
    let mut group: Vec<u8> = Vec::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            group.push(c as u8 - b'0');
        } else if (c == ' ' || c == '-') && !group.is_empty() {
            groups.push(std::mem::take(&mut group));
        } else {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
            if !groups.is_empty() {
                runs.push(std::mem::take(&mut groups));
            }
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    if !groups.is_empty() {
        runs.push(groups);
    }
    runs
}

/// The Luhn check of a digit sequence.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn card_numbers_are_found_with_or_without_separators() {
        assert!(holds_card_number("4111111111111111"));
        assert!(holds_card_number("4111 1111 1111 1111"));
        assert!(holds_card_number("4111-1111-1111-1111"));
        assert!(holds_card_number("card: 5419 5435 7841 5880, thanks"));
        assert!(holds_card_number("ref 12 4111 1111 1111 1111"), "digits before the number do not hide it");
        assert!(holds_card_number("378282246310005"), "15-digit Amex");
    }

    #[test]
    fn other_digits_are_not_card_numbers() {
        assert!(!holds_card_number("4111111111111112"), "fails Luhn");
        assert!(!holds_card_number("4242"));
        assert!(!holds_card_number("pm_1NqPZ2Lkdf"));
        assert!(!holds_card_number("+1 555 0123"));
        assert!(!holds_card_number("4111  1111  1111  1111"), "double spaces split the groups");
    }

    #[test]
    fn the_field_holding_card_data_is_named() {
        let body = json!({"lease_id": "lease_1", "card": {"number": "4111 1111 1111 1111"}});
        assert_eq!(card_data_in(&body), Some(CardData::Number("card.number".into())));
        let body = json!({"methods": [{"last4": "1111"}, {"token": 4_111_111_111_111_111_u64}]});
        assert_eq!(card_data_in(&body), Some(CardData::Number("methods[1].token".into())));
        let body = json!({"processor_token": "pm_x", "CVC": ""});
        assert_eq!(card_data_in(&body), Some(CardData::SecurityCode("CVC".into())));
        let body = json!({"card": {"security_code": "123"}});
        assert_eq!(card_data_in(&body), Some(CardData::SecurityCode("card.security_code".into())));
        assert_eq!(card_data_in(&json!({"last4": "4242", "exp_year": 2030})), None);
    }
}
