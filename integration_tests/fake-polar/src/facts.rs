//! What the fake takes from the connector's stream table (`source_polar::streams`): which stream a path
//! names, the scope it needs, the fields its requests sort by and the filters they send. Only what Polar
//! does beyond that (sort keys and filters it accepts that the connector never sends, its default orders) is
//! written in the fake itself (`store`, `server`).

use source_polar::streams::{self, SYSTEM_EVENTS, StreamDef};

/// The stream of the table called `name` (`events` also serves the change log).
pub fn stream(name: &str) -> Option<&'static StreamDef> {
    streams::find(name)
}

/// The stream a list path's segment names (`custom-fields` in `/v1/custom-fields/`), by the table's paths.
pub fn stream_at(segment: &str) -> Option<&'static str> {
    let path = format!("/v1/{segment}/");
    streams::STREAMS
        .iter()
        .find(|stream| stream.path == path)
        .map(|stream| stream.name)
}

/// The read scope a stream's list needs.
pub fn scope(name: &str) -> Option<&'static str> {
    stream(name).map(|stream| stream.scope)
}

/// The fields the connector's requests of `name` sort by (the change log's too, for `events`).
pub fn sort_fields(name: &str) -> Vec<&'static str> {
    with_change_log(name, StreamDef::sort_fields)
}

/// The list filters the connector's requests of `name` send (the change log's too, for `events`).
pub fn filters(name: &str) -> Vec<&'static str> {
    with_change_log(name, StreamDef::filters)
}

/// `facts` of the stream `name`, and for `events` those of the change log too, each once.
fn with_change_log(name: &str, facts: fn(&StreamDef) -> Vec<&'static str>) -> Vec<&'static str> {
    let mut all = stream(name).map(facts).unwrap_or_default();
    if name == "events" {
        for fact in facts(&SYSTEM_EVENTS) {
            if !all.contains(&fact) {
                all.push(fact);
            }
        }
    }
    all
}

/// What a list filter the connector sends does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// Strictly after a time, on the stream's first sort field (`created_after`, `started_after`,
    /// `start_timestamp`).
    After,
    /// Strictly before a time, on the same field (`created_before`, `started_before`, `end_timestamp`).
    Before,
    /// Records of any of these customers (`customer_id`).
    CustomerIds,
    /// Records with any of these ids (`id` on refunds).
    Ids,
}

/// What the filter `filter` of `name`'s list does, where the connector sends it.
pub fn filter_kind(name: &str, filter: &str) -> Option<FilterKind> {
    let defs = stream(name)
        .into_iter()
        .chain((name == "events").then_some(&SYSTEM_EVENTS));
    for def in defs {
        let afters = def.creation_filter.into_iter().chain(
            def.incremental
                .iter()
                .flat_map(|incremental| incremental.windows)
                .filter_map(|window| match window {
                    streams::Window::After { filter, .. } => Some(*filter),
                    _ => None,
                }),
        );
        for after in afters {
            if after == filter {
                return Some(FilterKind::After);
            }
            if streams::until_filter(after) == Some(filter) {
                return Some(FilterKind::Before);
            }
        }
        match def.followed().map(|followed| followed.refetch) {
            Some(streams::Refetch::ById(by)) if by == filter => return Some(FilterKind::Ids),
            Some(streams::Refetch::ByCustomer(by)) if by == filter => {
                return Some(FilterKind::CustomerIds);
            }
            _ => {}
        }
    }
    None
}

/// The field a stream's time filters apply to: its first sort criterion (`started_at` on subscriptions).
pub fn filtered_field(name: &str) -> Option<&'static str> {
    stream(name).and_then(|stream| stream.sorting.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_serves_every_list_of_the_table() {
        let lists: Vec<&str> = streams::STREAMS
            .iter()
            .filter(|stream| stream.shape == streams::Shape::List)
            .map(|stream| stream.name)
            .collect();
        assert_eq!(crate::data::STREAMS, lists.as_slice());
        assert_eq!(stream_at("custom-fields"), Some("custom_fields"));
        assert_eq!(stream_at("custom_fields"), None, "paths spell with hyphens");
        assert_eq!(scope("benefit_grants"), Some("benefits:read"));
        assert_eq!(
            filter_kind("orders", "created_after"),
            Some(FilterKind::After)
        );
        assert_eq!(
            filter_kind("orders", "created_before"),
            Some(FilterKind::Before)
        );
        assert_eq!(
            filter_kind("subscriptions", "started_before"),
            Some(FilterKind::Before)
        );
        assert_eq!(
            filter_kind("events", "end_timestamp"),
            Some(FilterKind::Before)
        );
        assert_eq!(filter_kind("refunds", "id"), Some(FilterKind::Ids));
        assert_eq!(
            filter_kind("orders", "customer_id"),
            Some(FilterKind::CustomerIds)
        );
        assert_eq!(filter_kind("products", "created_after"), None);
        assert_eq!(filtered_field("subscriptions"), Some("started_at"));
    }
}
