//! One page of a Polar list response, parsed once and kept as the bytes Polar sent.
//!
//! The envelope `{items, pagination: {total_count, max_page}}` is parsed with each item borrowed as raw JSON,
//! so records are never re-encoded: a [`Page`] keeps the response body and, per item, where its JSON lies in
//! the body plus the few fields the reader needs (the `id`, and the values of the sort criteria, kept as raw
//! JSON text because they are only compared for equality).

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A response that does not keep Polar's promise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffContract {
    #[error("the body is not valid JSON ({0})")]
    NotJson(String),
    #[error("the body has no 'items' array")]
    MissingItems,
    #[error("the body has no 'pagination' with 'total_count' and 'max_page'")]
    MissingPagination,
    #[error("item {0} of the page has no 'id'")]
    MissingId(usize),
    #[error("item {0} of the page is not a JSON object")]
    ItemNotObject(usize),
}

/// One record of a page. Ids and sort keys are only ever compared, so they are kept as 64-bit hashes: no
/// allocation per record, and a collision needs about four billion records in one comparison set.
#[derive(Debug, Clone)]
pub struct Item {
    /// Where the record's JSON lies in the page body.
    json: Range<usize>,
    /// Where the raw JSON of its `id` lies in the page body.
    id_text: Range<usize>,
    /// A hash of the `id`'s raw JSON.
    pub id: u64,
    /// A hash of the raw JSON of every sort criterion's field (`null` when absent).
    pub sort_key: u64,
}

#[derive(Debug)]
pub struct Page {
    body: String,
    pub items: Vec<Item>,
    pub total_count: u64,
    pub max_page: u64,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    total_count: Option<u64>,
    max_page: Option<u64>,
}

impl Page {
    /// Parses a list response. `sorting` names the fields whose values make an item's sort key.
    pub fn parse(body: String, sorting: &[&str]) -> Result<Page, OffContract> {
        let envelope: Envelope<'_> = serde_json::from_str(&body).map_err(|error| {
            OffContract::NotJson(
                format!("{error}")
                    .split(" at line")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })?;
        let raw_items = envelope.items.ok_or(OffContract::MissingItems)?;
        let (total_count, max_page) = match envelope.pagination {
            Some(Pagination {
                total_count: Some(total),
                max_page: Some(max),
            }) => (total, max),
            _ => return Err(OffContract::MissingPagination),
        };
        let base = body.as_ptr() as usize;
        let mut items = Vec::with_capacity(raw_items.len());
        for (index, raw) in raw_items.iter().enumerate() {
            let text = raw.get();
            let start = text.as_ptr() as usize - base;
            let keys = KeyFields { sorting }
                .deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|_| OffContract::ItemNotObject(index))?;
            let id = keys.id.ok_or(OffContract::MissingId(index))?;
            let id_start = id.get().as_ptr() as usize - base;
            items.push(Item {
                json: start..start + text.len(),
                id_text: id_start..id_start + id.get().len(),
                id: hash(id.get()),
                sort_key: keys.sort_key(),
            });
        }
        drop(raw_items);
        Ok(Page {
            body,
            items,
            total_count,
            max_page,
        })
    }

    /// The record's JSON text exactly as Polar sent it.
    pub fn text(&self, item: &Item) -> &str {
        &self.body[item.json.clone()]
    }

    /// The record's `id` as raw JSON (a quoted string for Polar).
    pub fn id_json(&self, item: &Item) -> &str {
        &self.body[item.id_text.clone()]
    }
}

/// The hash of a raw JSON text, stable within a process.
pub fn hash(text: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(text, &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// Reads only `id` and the sort fields of one item, skipping everything else without allocating.
struct KeyFields<'s> {
    sorting: &'s [&'s str],
}

struct Keys<'de> {
    id: Option<&'de RawValue>,
    sort_values: [Option<&'de RawValue>; MAX_SORT_CRITERIA],
}

/// The most sort criteria a stream may use.
pub const MAX_SORT_CRITERIA: usize = 4;

impl Keys<'_> {
    fn sort_key(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        for value in &self.sort_values {
            std::hash::Hash::hash(value.map_or("null", RawValue::get), &mut hasher);
        }
        std::hash::Hasher::finish(&hasher)
    }
}

impl<'de> DeserializeSeed<'de> for KeyFields<'_> {
    type Value = Keys<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Keys<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeyFields<'_> {
    type Value = Keys<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys<'de>, A::Error> {
        let mut keys = Keys {
            id: None,
            sort_values: [None; MAX_SORT_CRITERIA],
        };
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if name == "id" {
                let id: &'de RawValue = map.next_value()?;
                keys.id = (id.get() != "null").then_some(id);
            } else if let Some(index) = self.sorting.iter().position(|criterion| *criterion == name)
            {
                keys.sort_values[index] = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_items_verbatim_and_extracts_keys() {
        let body = r#"{"items": [{"id": "a", "n": 1.50, "created_at": "t1", "x": {"id": "inner"}},
            {"created_at": null, "id": "b"}], "pagination": {"total_count": 2, "max_page": 1}}"#;
        let page = Page::parse(body.to_owned(), &["created_at", "email"]).unwrap();
        assert_eq!(page.total_count, 2);
        assert_eq!(page.max_page, 1);
        assert_eq!(
            page.text(&page.items[0]),
            r#"{"id": "a", "n": 1.50, "created_at": "t1", "x": {"id": "inner"}}"#
        );
        assert_eq!(page.id_json(&page.items[0]), "\"a\"");
        assert_eq!(page.items[0].id, hash("\"a\""));
        assert_ne!(page.items[0].sort_key, page.items[1].sort_key);
        let same = Page::parse(r#"{"items": [{"id": "c", "created_at": null, "email": null}], "pagination": {"total_count": 1, "max_page": 1}}"#.into(), &["created_at", "email"]).unwrap();
        assert_eq!(
            same.items[0].sort_key, page.items[1].sort_key,
            "absent and null sort the same"
        );
        assert_eq!(
            page.text(&page.items[1]),
            r#"{"created_at": null, "id": "b"}"#
        );
    }

    #[test]
    fn off_contract_bodies_are_named() {
        let parse = |body: &str| Page::parse(body.to_owned(), &["created_at"]).unwrap_err();
        assert!(matches!(parse("<html>502</html>"), OffContract::NotJson(_)));
        assert!(matches!(
            parse(r#"{"items": [{"id": "a"}"#),
            OffContract::NotJson(_)
        ));
        assert_eq!(
            parse(r#"{"pagination": {"total_count": 0, "max_page": 0}}"#),
            OffContract::MissingItems
        );
        assert_eq!(parse(r#"{"items": []}"#), OffContract::MissingPagination);
        assert_eq!(
            parse(
                r#"{"items": [{"id": "a"}, {"name": "b"}], "pagination": {"total_count": 2, "max_page": 1}}"#
            ),
            OffContract::MissingId(1)
        );
        assert_eq!(
            parse(r#"{"items": [3], "pagination": {"total_count": 1, "max_page": 1}}"#),
            OffContract::ItemNotObject(0)
        );
    }
}
