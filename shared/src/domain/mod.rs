//! Domain models and their validation. Invalid values are rejected at the boundary
//! with field-level details.

pub mod ids;
pub mod money;
pub mod patch;
pub mod plan;
pub mod property;
pub mod validation;

pub use money::{Currency, Money};
pub use patch::Patch;
pub use plan::Plan;
pub use property::{Address, Property, PropertyStatus, PropertyType};
pub use validation::Problems;
pub mod attachment;
pub mod calendar;
pub mod invoice;
pub mod late_fee;
pub mod lease;
pub mod ledger;
pub mod maintenance;
pub mod payment;
pub mod payment_method;
pub mod rent_run;
pub mod screening;
pub mod tenant;
pub mod unit;
pub mod vendor;
pub mod work_order;
