//! One list query: which endpoint, in which order, with which filters. A stream's whole list is one
//! listing; an incremental sync also reads narrower ones (records created after a time, the records of some
//! customers, the system events feed), and the reader serves them all alike.

use std::sync::Arc;

use crate::streams::StreamDef;

#[derive(Debug, Clone)]
pub struct Listing {
    /// The stream the records belong to (its name in messages, its scope in errors).
    pub stream: &'static StreamDef,
    /// The endpoint, with its trailing slash.
    pub path: &'static str,
    /// The `sorting` criteria (`-` for descending), most significant first; each also names the record field
    /// the reader compares.
    pub sorting: &'static [&'static str],
    /// Whether `sorting` orders every record uniquely.
    pub unique_order: bool,
    /// A strict filter on the first sort criterion to page by key through (see `reader::core`).
    pub key_filter: Option<&'static str>,
    /// Where the key can be null: the order (nulls first) in which the records the filter never returns are
    /// read before the pass by key (`StreamDef::null_tail`).
    pub null_tail: Option<&'static [&'static str]>,
    /// Fixed query parameters sent with every page (a parameter may repeat).
    pub filters: Arc<[(&'static str, String)]>,
}

impl Listing {
    /// The stream's whole list, as a full refresh reads it.
    pub fn of(stream: &'static StreamDef) -> Listing {
        Listing {
            stream,
            path: stream.path,
            sorting: stream.sorting,
            unique_order: stream.unique_order,
            key_filter: stream.creation_filter,
            null_tail: stream.null_tail,
            filters: Arc::from(Vec::new()),
        }
    }

    /// The same listing with `filters` added to every request.
    pub fn filtered(mut self, filters: Vec<(&'static str, String)>) -> Listing {
        self.filters = Arc::from(filters);
        self
    }

    pub fn name(&self) -> &'static str {
        self.stream.name
    }

    /// The field names behind `sorting` (without the `-` of descending criteria).
    pub fn sort_fields(&self) -> impl Iterator<Item = &'static str> {
        self.sorting
            .iter()
            .map(|criterion| criterion.trim_start_matches('-'))
    }
}
