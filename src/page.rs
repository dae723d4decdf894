//! One page of a Polar list response, parsed once and kept as the bytes Polar sent.
//!
//! The envelope `{items, pagination: {total_count, max_page}}` is parsed in a single pass that visits each
//! item's top-level fields as raw JSON: records are never re-encoded, and the same pass finds where each item
//! lies in the body and picks out the few fields the reader needs (the `id`, and the values of the sort
//! criteria, kept as hashes of their raw JSON because they are only compared for equality).

use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A response that does not keep Polar's promise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffContract {
    #[error("the body is not valid JSON ({0})")]
    NotJson(String),
    #[error("the body has no 'items' array")]
    MissingItems,
    #[error("the body has no '{0}' array")]
    MissingArray(&'static str),
    #[error("the body has no 'pagination' with 'total_count' and 'max_page'")]
    MissingPagination,
    #[error("item {0} of the page has no 'id'")]
    MissingId(usize),
    #[error("item {0} of the response has no '{1}'")]
    MissingKey(usize, &'static str),
    #[error("{0}")]
    Unexpected(String),
    #[error("item {0} of the page is not a JSON object")]
    ItemNotObject(usize),
    #[error("'pagination.{field}' is {value}, where Polar sends a whole number of zero or more")]
    BadCount { field: &'static str, value: String },
    #[error("item {0} of the response has '{1}' more than once: which one is meant is unknowable")]
    DuplicateKey(usize, String),
    #[error("the body is JSON but not what Polar sends ({0})")]
    WrongShape(String),
    #[error(
        "the body is larger than {} KiB, the most one response may have ({variable}): no page of Polar's comes \
         near it; raise {variable} only if Polar's pages really are this large",
        cap_bytes >> 10
    )]
    TooLarge {
        cap_bytes: usize,
        variable: &'static str,
    },
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
    /// Where the raw JSON of the first sort criterion's field lies in the page body (empty when absent).
    first_sort_text: Range<usize>,
    /// Where the raw JSON of the record's last change time lies: `modified_at`, or `created_at` while
    /// `modified_at` is null (Polar sets it on the first update), or an event's `timestamp` (events have
    /// neither, and never change); empty when the record has none of them.
    updated_text: Range<usize>,
}

#[derive(Debug)]
pub struct Page {
    body: String,
    /// The body has no line break outside strings' escapes, so every item is already one line of JSON.
    single_line: bool,
    pub items: Vec<Item>,
    pub total_count: u64,
    /// The server's clock when it answered (its `Date` header), set by the client.
    pub date: Option<std::time::SystemTime>,
    /// This machine's clock when the request that brought the page was sent, and when its answer arrived
    /// (Unix microseconds; 0 where unknown), set by the client: the span in which the server read it.
    pub sent_at: i64,
    pub answered_at: i64,
}

/// Where a response keeps its records, what identifies each, and whether it is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The array of records.
    pub items: &'static str,
    /// The field that identifies a record (hashed into [`Item::id`]); `None`: none is required.
    pub key: Option<&'static str>,
    /// The body carries `pagination` with `total_count` (else the count is the array's length).
    pub paginated: bool,
}

impl Envelope {
    /// A list page: `{items, pagination}`, records identified by `id`.
    pub const LIST: Envelope = Envelope {
        items: "items",
        key: Some("id"),
        paginated: true,
    };
    /// Polar's metrics: `{periods, totals, metrics}`, one record per period, identified by its `timestamp`.
    pub const PERIODS: Envelope = Envelope {
        items: "periods",
        key: Some("timestamp"),
        paginated: false,
    };
}

/// The counts, as the raw JSON sent: any value is well-formed here (`1e400` too, which no number type holds),
/// and [`count`] says whether it is a count.
#[derive(Deserialize)]
struct Pagination {
    total_count: Option<Box<RawValue>>,
    max_page: Option<Box<RawValue>>,
}

/// A pagination count as Polar promises it: a whole number, zero or more.
fn count(field: &'static str, value: &RawValue) -> Result<u64, OffContract> {
    let text = value.get();
    text.parse::<u64>().map_err(|_| OffContract::BadCount {
        field,
        // On one line, as compact JSON where it parses as such.
        value: quoted(
            &serde_json::from_str::<serde_json::Value>(text)
                .map_or_else(|_| text.to_owned(), |value| value.to_string()),
        ),
    })
}

/// A value from a response, for messages: at most 64 characters of it.
fn quoted(text: &str) -> String {
    crate::protocol::shortened(text, 64)
}

impl Page {
    /// Parses a list response. `sorting` names the fields whose values make an item's sort key.
    pub fn parse(body: String, sorting: &[&str]) -> Result<Page, OffContract> {
        Page::parse_envelope(body, sorting, Envelope::LIST)
    }

    /// Parses a response whose records lie as `envelope` says.
    pub fn parse_envelope(
        body: String,
        sorting: &[&str],
        envelope: Envelope,
    ) -> Result<Page, OffContract> {
        let mut parsed = Parsed::default();
        let seed = EnvelopeSeed {
            body: &body,
            sorting,
            envelope,
            parsed: &mut parsed,
        };
        let mut deserializer = serde_json::Deserializer::from_str(&body);
        let outcome = seed
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end());
        if let Some(problem) = parsed.problem {
            return Err(problem);
        }
        outcome.map_err(|error| {
            let reason = format!("{error}")
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned();
            // Valid JSON of the wrong shape is not a passing fault; a syntax error or a cut body may be. Inside
            // an item the only error of the data (not of the syntax) is the item's own type, as its fields are
            // read as raw JSON.
            match (error.classify(), parsed.failed_item) {
                (serde_json::error::Category::Data, Some(index)) => {
                    OffContract::ItemNotObject(index)
                }
                (serde_json::error::Category::Data, None) => OffContract::WrongShape(reason),
                _ => OffContract::NotJson(reason),
            }
        })?;
        let items = parsed.items.ok_or(if envelope == Envelope::LIST {
            OffContract::MissingItems
        } else {
            OffContract::MissingArray(envelope.items)
        })?;
        // `max_page` is part of the contract but not trusted: where a stream ends is read from `total_count`.
        let total_count = match parsed.pagination {
            _ if !envelope.paginated => items.len() as u64,
            Some(Pagination {
                total_count: Some(total),
                max_page: Some(max_page),
            }) if total.get() != "null" && max_page.get() != "null" => {
                count("max_page", &max_page)?;
                count("total_count", &total)?
            }
            _ => return Err(OffContract::MissingPagination),
        };
        let single_line = memchr::memchr2(b'\n', b'\r', body.as_bytes()).is_none();
        Ok(Page {
            body,
            single_line,
            items,
            total_count,
            date: None,
            sent_at: 0,
            answered_at: 0,
        })
    }

    /// Parses a response that is one JSON object of its own (`GET /v1/metrics/limits`) as a page holding it.
    pub fn parse_document(body: String) -> Result<Page, OffContract> {
        let mut wrapped = String::with_capacity(body.len() + 16);
        wrapped.push_str(DOCUMENT_WRAPPING.0);
        wrapped.push_str(&body);
        wrapped.push_str(DOCUMENT_WRAPPING.1);
        Page::parse_wrapped_document(wrapped)
    }

    /// [`Page::parse_document`] of a body already written between [`DOCUMENT_WRAPPING`]'s two halves.
    pub fn parse_wrapped_document(wrapped: String) -> Result<Page, OffContract> {
        let envelope = Envelope {
            key: None,
            paginated: false,
            ..Envelope::LIST
        };
        let page = Page::parse_envelope(wrapped, &[], envelope)?;
        if page.items.len() != 1 {
            return Err(OffContract::NotJson(
                "the response is not one JSON object".into(),
            ));
        }
        Ok(page)
    }

    /// Parses one record read by id (`GET /v1/<list>/<id>`) as a page holding it alone, its body already
    /// written between [`RECORD_WRAPPING`]'s two halves (the client reads it so, and the body is never copied).
    pub fn parse_wrapped_record(wrapped: String) -> Result<Page, OffContract> {
        let page = Page::parse(wrapped, &[])?;
        if page.items.len() != 1 {
            return Err(OffContract::NotJson(
                "a record read by id is not one JSON object".into(),
            ));
        }
        Ok(page)
    }

    /// The server's clock when it answered: its `Date` (whole seconds, so never later than the truth), or this
    /// machine's clock when there is none (the client drops a `Date` far ahead of this machine's clock). Never
    /// later than this machine's clock plus the skew allowed: a cursor in the future would skip what comes until
    /// then. Unix microseconds.
    pub fn server_now(&self) -> i64 {
        let own = crate::time::system_micros(std::time::SystemTime::now());
        let server = self.date.map_or(own, crate::time::system_micros);
        server.min(own.saturating_add(crate::time::MAX_CLOCK_SKEW_MICROS))
    }

    /// The raw JSON of the record's last change time (`modified_at`, else `created_at`, else `timestamp`), if it
    /// has one.
    pub fn updated_json(&self, item: &Item) -> Option<&str> {
        let text = &self.body[item.updated_text.clone()];
        (!text.is_empty()).then_some(text)
    }

    /// The record's JSON text exactly as Polar sent it.
    pub fn text(&self, item: &Item) -> &str {
        &self.body[item.json.clone()]
    }

    /// Whether every item's text is free of line breaks (Polar sends compact JSON, so normally true).
    pub fn is_single_line(&self) -> bool {
        self.single_line
    }

    /// The record's `id` as raw JSON (a quoted string for Polar).
    pub fn id_json(&self, item: &Item) -> &str {
        &self.body[item.id_text.clone()]
    }

    /// The raw JSON of the record's first sort field (`created_at` for most streams), `None` when absent.
    pub fn first_sort_json(&self, item: &Item) -> Option<&str> {
        let text = &self.body[item.first_sort_text.clone()];
        (!text.is_empty()).then_some(text)
    }
}

/// The hash a page gives the record whose id is `id` (see [`Item::id`]).
pub fn id_hash(id: &str) -> u64 {
    hash(&serde_json::to_string(id).expect("a string serializes"))
}

/// The hash of a raw JSON text, stable within a process. (Ids come from Polar, not from an adversary, so a
/// fast non-cryptographic hash with 64 well-mixed bits is enough.)
pub fn hash(text: &str) -> u64 {
    HASH_STATE.hash_one(text)
}

/// The one hasher of ids and sort keys; also used, as is, by the sets that hold those hashes.
static HASH_STATE: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x9e37_79b9_7f4a_7c15);

/// A set of values that are already [`hash`]es: they index the table as they are.
pub type HashedSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<PassThrough>>;

/// The hasher of [`HashedSet`]: a `u64` that is already a hash is its own hash.
#[derive(Default)]
pub struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s go into a `HashedSet`; anything else is folded in rather than dropped.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// What a record read by id is written between to read as a page of one.
pub const RECORD_WRAPPING: (&str, &str) = (
    "{\"items\":[",
    "],\"pagination\":{\"total_count\":1,\"max_page\":1}}",
);
/// What a document is written between to read as a page of one.
pub const DOCUMENT_WRAPPING: (&str, &str) = ("{\"items\":[", "]}");

/// The most sort criteria a stream may use.
pub const MAX_SORT_CRITERIA: usize = 4;

/// What the single pass collects; `problem` is set when the body is JSON but breaks the contract.
#[derive(Default)]
struct Parsed {
    items: Option<Vec<Item>>,
    pagination: Option<Pagination>,
    problem: Option<OffContract>,
    /// The index of the item whose reading failed (the error then says whether of its syntax or its type).
    failed_item: Option<usize>,
}

/// Where a slice borrowed from `body` starts, as an offset into `body`.
fn offset_of(body: &str, text: &str) -> usize {
    text.as_ptr() as usize - body.as_ptr() as usize
}

/// The name of an object key given as its raw JSON (quotes included), unescaped only when it has escapes.
fn key_name(raw_key: &str) -> std::borrow::Cow<'_, str> {
    let inner = &raw_key[1..raw_key.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw_key).map_or(inner.into(), Into::into)
    } else {
        inner.into()
    }
}

/// The page's top level: the records' array (`items`) and `pagination` are read, anything else is skipped.
struct EnvelopeSeed<'p, 's> {
    body: &'s str,
    sorting: &'s [&'s str],
    envelope: Envelope,
    parsed: &'p mut Parsed,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object with 'items' and 'pagination'")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*name {
                name if name == self.envelope.items => {
                    let items = map.next_value_seed(ItemsSeed {
                        body: self.body,
                        sorting: self.sorting,
                        key: self.envelope.key,
                        problem: &mut self.parsed.problem,
                        failed_item: &mut self.parsed.failed_item,
                    })?;
                    self.parsed.items = items;
                }
                "pagination" if self.envelope.paginated => {
                    self.parsed.pagination = map.next_value::<Option<Pagination>>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `items` array (`null` counts as missing).
struct ItemsSeed<'p, 's> {
    body: &'s str,
    sorting: &'s [&'s str],
    key: Option<&'static str>,
    problem: &'p mut Option<OffContract>,
    failed_item: &'p mut Option<usize>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = Option<Vec<Item>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = Option<Vec<Item>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of items")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(100).min(1000));
        loop {
            let index = items.len();
            let seed = ItemSeed {
                body: self.body,
                sorting: self.sorting,
                key: self.key,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(Ok(item))) => items.push(item),
                Ok(Some(Err(problem))) => {
                    *self.problem = Some(match (problem, self.key) {
                        (ItemProblem::DuplicateKey(name), _) => {
                            OffContract::DuplicateKey(index, name)
                        }
                        (ItemProblem::MissingKey, Some("id") | None) => {
                            OffContract::MissingId(index)
                        }
                        (ItemProblem::MissingKey, Some(key)) => OffContract::MissingKey(index, key),
                    });
                    return Err(de::Error::custom("the page breaks Polar's contract"));
                }
                Ok(None) => return Ok(Some(items)),
                Err(error) => {
                    // Whether the item is of the wrong type or no JSON, the error's category says.
                    *self.failed_item = Some(index);
                    return Err(error);
                }
            }
        }
    }
}

/// Why an object is not a usable item.
enum ItemProblem {
    /// It lacks the field that identifies it.
    MissingKey,
    /// A field the reader uses comes twice.
    DuplicateKey(String),
}

/// One item: an object whose top-level values are all visited as raw JSON, which both validates them and
/// tells where the item ends.
struct ItemSeed<'s> {
    body: &'s str,
    sorting: &'s [&'s str],
    /// The field that identifies the record (`None`: none is required).
    key: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Result<Item, ItemProblem>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Result<Item, ItemProblem>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a Polar record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut first_key: Option<&'de str> = None;
        let mut last_value: Option<&'de str> = None;
        let mut id: Option<&'de str> = None;
        let mut sort_values: [Option<&'de str>; MAX_SORT_CRITERIA] = [None; MAX_SORT_CRITERIA];
        let mut modified_at: Option<&'de str> = None;
        let mut created_at: Option<&'de str> = None;
        let mut timestamp: Option<&'de str> = None;
        // The fields read here, each once: a second `id` (or sort field) would make the record ambiguous.
        let mut seen: u32 = 0;
        let mut once = |bit: usize, name: &str| {
            if seen & (1 << bit) != 0 {
                return Err(ItemProblem::DuplicateKey(name.to_owned()));
            }
            seen |= 1 << bit;
            Ok(())
        };
        let mut problem = None;
        while let Some(raw_key) = map.next_key::<&'de RawValue>()? {
            let raw_key = raw_key.get();
            first_key.get_or_insert(raw_key);
            let value = map.next_value::<&'de RawValue>()?.get();
            last_value = Some(value);
            let name = key_name(raw_key);
            let mut check = |bit: usize| {
                if let Err(duplicate) = once(bit, &name) {
                    problem.get_or_insert(duplicate);
                }
            };
            if Some(&*name) == self.key {
                check(0);
                id = (value != "null").then_some(value);
            } else {
                // Field names: the client strips the `-` of descending criteria (`Listing::sort_fields`).
                if let Some(index) = self.sorting.iter().position(|field| *field == name) {
                    check(1 + index);
                    sort_values[index] = Some(value);
                }
                match &*name {
                    "modified_at" => {
                        check(1 + MAX_SORT_CRITERIA);
                        modified_at = (value != "null").then_some(value);
                    }
                    "created_at" => {
                        check(2 + MAX_SORT_CRITERIA);
                        created_at = (value != "null").then_some(value);
                    }
                    "timestamp" => {
                        check(3 + MAX_SORT_CRITERIA);
                        timestamp = (value != "null").then_some(value);
                    }
                    _ => {}
                }
            }
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        let (Some(first_key), Some(last_value)) = (first_key, last_value) else {
            return Ok(Err(ItemProblem::MissingKey));
        };
        // Without a key to require, an item is identified by nothing (an empty id).
        if id.is_none() && self.key.is_some() {
            return Ok(Err(ItemProblem::MissingKey));
        }
        // Between `{` and the first key, and between the last value and `}`, JSON allows only whitespace.
        let bytes = self.body.as_bytes();
        let key_start = offset_of(self.body, first_key);
        let value_end = offset_of(self.body, last_value) + last_value.len();
        let is_space = |byte: &u8| matches!(byte, b' ' | b'\n' | b'\r' | b'\t');
        let start = key_start
            - 1
            - bytes[..key_start]
                .iter()
                .rev()
                .take_while(|b| is_space(b))
                .count();
        let end = value_end
            + 1
            + bytes[value_end..]
                .iter()
                .take_while(|b| is_space(b))
                .count();
        debug_assert_eq!((bytes[start], bytes[end - 1]), (b'{', b'}'));
        let mut hasher = HASH_STATE.build_hasher();
        for value in &sort_values {
            std::hash::Hash::hash(value.unwrap_or("null"), &mut hasher);
        }
        let id_text = id.map_or(0..0, |id| {
            let at = offset_of(self.body, id);
            at..at + id.len()
        });
        let first_sort_text = sort_values[0].map_or(0..0, |text| {
            let at = offset_of(self.body, text);
            at..at + text.len()
        });
        let updated_text = modified_at
            .or(created_at)
            .or(timestamp)
            .map_or(0..0, |text| {
                let at = offset_of(self.body, text);
                at..at + text.len()
            });
        Ok(Ok(Item {
            json: start..end,
            id: hash(&self.body[id_text.clone()]),
            id_text,
            sort_key: std::hash::Hasher::finish(&hasher),
            first_sort_text,
            updated_text,
        }))
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
        assert_eq!(page.first_sort_json(&page.items[0]), Some("\"t1\""));
        assert_eq!(page.first_sort_json(&page.items[1]), Some("null"));
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
    fn items_span_exactly_their_object_whatever_the_whitespace() {
        let body = "{ \"pagination\" : {\"total_count\": 3, \"max_page\": 1},\r\n \"extra\": [1, {\"a\": null}],\n\t\"items\" : [ {\t\"id\" :\"x\"\n} ,{\"\\u0069d\": \"y\", \"created_at\": [1, 2]},\n{\"\\\"q\": 1, \"id\": \"z\"}\t] }\n";
        let page = Page::parse(body.to_owned(), &["created_at"]).unwrap();
        let texts: Vec<&str> = page.items.iter().map(|item| page.text(item)).collect();
        assert_eq!(
            texts,
            [
                "{\t\"id\" :\"x\"\n}",
                "{\"\\u0069d\": \"y\", \"created_at\": [1, 2]}",
                "{\"\\\"q\": 1, \"id\": \"z\"}"
            ]
        );
        let ids: Vec<&str> = page.items.iter().map(|item| page.id_json(item)).collect();
        assert_eq!(
            ids,
            ["\"x\"", "\"y\"", "\"z\""],
            "an escaped key is still `id`"
        );
        assert_eq!(page.total_count, 3);
        assert!(!page.is_single_line());
        let compact = Page::parse(
            r#"{"items":[{"id":"a"}],"pagination":{"total_count":1,"max_page":1}}"#.into(),
            &[],
        )
        .unwrap();
        assert!(compact.is_single_line());
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
            parse(r#"{"items": null, "pagination": {"total_count": 0, "max_page": 0}}"#),
            OffContract::MissingItems
        );
        assert_eq!(
            parse(r#"{"items": [], "pagination": {"total_count": null, "max_page": 0}}"#),
            OffContract::MissingPagination
        );
        assert_eq!(
            parse(r#"{"items": [{}], "pagination": {"total_count": 1, "max_page": 1}}"#),
            OffContract::MissingId(0)
        );
        assert_eq!(
            parse(r#"{"items": [{"id": null}], "pagination": {"total_count": 1, "max_page": 1}}"#),
            OffContract::MissingId(0)
        );
        assert!(matches!(
            parse(r#"{"items": [], "pagination": {"total_count": 0, "max_page": 0}} trailing"#),
            OffContract::NotJson(_)
        ));
        assert!(matches!(
            parse(
                r#"{"items": [{"id": "a", "b": tru}], "pagination": {"total_count": 1, "max_page": 1}}"#
            ),
            OffContract::NotJson(_)
        ));
        assert!(matches!(parse(r#"[]"#), OffContract::WrongShape(_)));
        assert!(matches!(
            parse(r#"{"items": {}, "pagination": {"total_count": 0, "max_page": 0}}"#),
            OffContract::WrongShape(_)
        ));
        // Well-formed JSON that is no count; the last two no number type even holds.
        for (total, shown) in [
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("\"1\"", "\"1\""),
            ("true", "true"),
            ("1e400", "1e400"),
            ("[[1], {\"a\":\n 2}]", "[[1],{\"a\":2}]"),
        ] {
            let body = format!(
                r#"{{"items": [], "pagination": {{"total_count": {total}, "max_page": 1}}}}"#
            );
            assert_eq!(
                parse(&body),
                OffContract::BadCount {
                    field: "total_count",
                    value: shown.to_owned()
                },
                "{body}"
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let body =
            format!(r#"{{"items": [], "pagination": {{"total_count": {deep}, "max_page": 1}}}}"#);
        assert!(
            matches!(parse(&body), OffContract::BadCount { .. }),
            "nested deeper than a JSON value is parsed"
        );
        assert_eq!(
            parse(r#"{"items": [], "pagination": {"total_count": 0, "max_page": -2}}"#),
            OffContract::BadCount {
                field: "max_page",
                value: "-2".to_owned()
            }
        );
        let long = format!(
            r#"{{"items": [], "pagination": {{"total_count": "{}", "max_page": 1}}}}"#,
            "x".repeat(500)
        );
        let OffContract::BadCount { value, .. } = parse(&long) else {
            panic!("a bad count")
        };
        assert!(
            value.len() <= 67,
            "only the start of a long value is quoted: {value}"
        );
        for duplicated in [
            r#"{"id": "a", "name": "x", "id": "b"}"#,
            r#"{"id": "a", "created_at": "2025-01-01T00:00:00Z", "created_at": null}"#,
        ] {
            let body = format!(
                r#"{{"items": [{{"id": "z"}}, {duplicated}], "pagination": {{"total_count": 2, "max_page": 1}}}}"#
            );
            assert!(
                matches!(
                    Page::parse(body, &["created_at"]).unwrap_err(),
                    OffContract::DuplicateKey(1, _)
                ),
                "{duplicated}"
            );
        }
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
        assert_eq!(
            parse(
                r#"{"items": [{"id": "a"}, "b"], "pagination": {"total_count": 2, "max_page": 1}}"#
            ),
            OffContract::ItemNotObject(1)
        );
        for (item, problem) in [
            ("null", OffContract::ItemNotObject(1)),
            ("[{\"id\": \"b\"}]", OffContract::ItemNotObject(1)),
            (
                "{\"id\": \"b\", \"x\": [1,}",
                OffContract::NotJson("expected value".into()),
            ),
            (
                "{\"id\": \"b\"",
                OffContract::NotJson("expected `,` or `}`".into()),
            ),
        ] {
            let body = format!(
                r#"{{"items": [{{"id": "a"}}, {item}], "pagination": {{"total_count": 2, "max_page": 1}}}}"#
            );
            assert_eq!(parse(&body), problem, "{body}");
        }
    }
}
