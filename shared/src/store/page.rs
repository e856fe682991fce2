//! One page of a DynamoDB query, and the key to continue from.

use std::collections::BTreeMap;

use crate::store::{Item, StoreError, string_attr};

/// A key of the last item read: attribute name → string value (all Doorstep keys are strings).
pub type PageKey = BTreeMap<String, String>;

#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items may follow.
    pub next: Option<PageKey>,
}

/// The page key of `item`: its `key_names` attributes.
pub(crate) fn key_of(item: &Item, key_names: &[&'static str]) -> Result<PageKey, StoreError> {
    key_names.iter().map(|name| Ok(((*name).to_owned(), string_attr(item, name)?.to_owned()))).collect()
}

/// Turns the result of a query that asked for `limit + 1` items into a page of at
/// most `limit`. The extra item proves a next page exists, so an unfiltered listing
/// never ends on an empty page. With a filter, DynamoDB may stop early and return
/// `LastEvaluatedKey`; then the page is short but still has a next one.
pub fn split_page(
    mut items: Vec<Item>,
    last_evaluated: Option<&Item>,
    limit: usize,
    key_names: &[&'static str],
) -> Result<(Vec<Item>, Option<PageKey>), StoreError> {
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|last| key_of(last, key_names)).transpose()?;
        return Ok((items, next));
    }
    let next = last_evaluated.map(|key| key_of(key, key_names)).transpose()?;
    Ok((items, next))
}
