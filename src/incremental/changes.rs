//! Polar's system events turned into what changed per stream: the ids of records to read again (with their
//! customer, for the lists that filter by customer) and the ids deleted. Pure: events in, sets out.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::streams::{Refetch, StreamDef};

/// The fields of a system event an incremental sync uses.
#[derive(Debug, Deserialize)]
struct SystemEvent {
    timestamp: String,
    name: String,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

/// What changed in one stream since its `since`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamChanges {
    /// Records to read again, by id, with the customer the event named.
    pub changed: HashMap<String, Option<String>>,
    /// Records deleted, by id, with the deletion event's time (raw text, as Polar wrote it).
    pub deleted: HashMap<String, String>,
    /// More changes than `cap`: the stream is cheaper read in full, and the ids are not kept.
    pub overflow: bool,
    /// More deletions than `cap`: their ids are not kept either (memory stays bounded); the feed's deletions
    /// of the stream are read again and written out page by page (see [`deletion_in`]).
    pub deletions_overflow: bool,
}

impl StreamChanges {
    pub fn count(&self) -> usize {
        self.changed.len() + self.deleted.len()
    }
}

/// The changes of every stream an incremental sync reads, built from the feed's events one at a time.
#[derive(Debug)]
pub struct ChangeLog {
    streams: Vec<Tracked>,
    cap: usize,
}

#[derive(Debug)]
struct Tracked {
    stream: &'static StreamDef,
    /// Events before this time (Unix microseconds) are older than the stream's window.
    since: i64,
    changes: StreamChanges,
}

/// An event this connector cannot read (Polar broke its contract), with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a system event is not as Polar documents it: {0}")]
pub struct BadEvent(pub String);

impl ChangeLog {
    /// Tracks each stream's events from its `since` (Unix microseconds); a stream with more than `cap`
    /// changes overflows (see [`StreamChanges::overflow`]).
    pub fn new(streams: &[(&'static StreamDef, i64)], cap: usize) -> ChangeLog {
        ChangeLog {
            streams: streams
                .iter()
                .map(|&(stream, since)| Tracked {
                    stream,
                    since,
                    changes: StreamChanges::default(),
                })
                .collect(),
            cap,
        }
    }

    /// Every event name some tracked stream follows (the feed is asked for these only).
    pub fn event_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .streams
            .iter()
            .filter_map(|tracked| tracked.stream.followed())
            .flat_map(|followed| followed.events.iter().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Applies one event (its JSON text). Reading an event twice changes nothing. An event no stream follows
    /// is skipped unread; one that does but breaks Polar's contract is an error that names its id only (events
    /// carry customers' personal data).
    pub fn add(&mut self, json: &str) -> Result<(), BadEvent> {
        #[derive(Deserialize)]
        struct Name<'a> {
            #[serde(borrow)]
            name: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            id: Option<std::borrow::Cow<'a, str>>,
        }
        let named: Name = serde_json::from_str(json)
            .map_err(|_| BadEvent("an event of the feed is not a JSON object".into()))?;
        let followed = named.name.as_deref().is_some_and(|name| {
            self.streams.iter().any(|tracked| {
                tracked
                    .stream
                    .followed()
                    .is_some_and(|followed| followed.events.contains(&name))
            })
        });
        if !followed {
            return Ok(());
        }
        let which = named.id.as_deref().unwrap_or("(no id)").to_owned();
        let event: SystemEvent = serde_json::from_str(json)
            .map_err(|error| BadEvent(format!("event {which}: {}", shape_only(&error))))?;
        let at = crate::time::micros(&event.timestamp).ok_or_else(|| {
            BadEvent(format!(
                "event {which}: its timestamp is not an RFC 3339 time"
            ))
        })?;
        for tracked in &mut self.streams {
            if at < tracked.since {
                continue;
            }
            let Some(followed) = tracked.stream.followed() else {
                continue;
            };
            if !followed.events.contains(&event.name.as_str()) {
                continue;
            }
            let Some(id) = record_id(&event, followed.id_key) else {
                // Some events of a family do not name this stream's record (a `balance.*` event without an
                // order, say): nothing to read again.
                continue;
            };
            let changes = &mut tracked.changes;
            if followed.deleted_by == Some(event.name.as_str()) {
                if changes.deletions_overflow {
                    continue;
                }
                changes.changed.remove(id);
                changes
                    .deleted
                    .insert(id.to_owned(), event.timestamp.clone());
                if changes.deleted.len() > self.cap {
                    // A full read cannot see deletions, so they are not dropped: they are read again and
                    // streamed out. Every change of the stream is then read in full.
                    changes.deleted = HashMap::new();
                    changes.changed = HashMap::new();
                    changes.deletions_overflow = true;
                    changes.overflow = true;
                }
            } else if !changes.overflow && !changes.deleted.contains_key(id) {
                changes
                    .changed
                    .insert(id.to_owned(), event.customer_id.clone());
                if changes.changed.len() > self.cap {
                    changes.changed = HashMap::new();
                    changes.overflow = true;
                }
            }
        }
        Ok(())
    }

    /// The changes found for `stream` (taken out of the log).
    pub fn take(&mut self, stream: &str) -> StreamChanges {
        self.streams
            .iter_mut()
            .find(|tracked| tracked.stream.name == stream)
            .map(|tracked| std::mem::take(&mut tracked.changes))
            .unwrap_or_default()
    }
}

/// The id of the record of the stream an event names: its metadata's `key`, or the event's customer.
fn record_id<'e>(event: &'e SystemEvent, key: &str) -> Option<&'e str> {
    event
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get(key))
        .and_then(Value::as_str)
        .or_else(|| {
            (key == "customer_id")
                .then_some(event.customer_id.as_deref())
                .flatten()
        })
}

/// The record of `stream` an event (its JSON text) deletes, and the event's time: `None` when it is not a
/// deletion of that stream, or names no record of it.
pub fn deletion_in(stream: &StreamDef, json: &str) -> Result<Option<(String, String)>, BadEvent> {
    let Some(followed) = stream.followed() else {
        return Ok(None);
    };
    let event: SystemEvent = serde_json::from_str(json)
        .map_err(|error| BadEvent(format!("a deletion event: {}", shape_only(&error))))?;
    if followed.deleted_by != Some(event.name.as_str()) {
        return Ok(None);
    }
    if crate::time::micros(&event.timestamp).is_none() {
        return Err(BadEvent(
            "a deletion event's timestamp is not an RFC 3339 time".into(),
        ));
    }
    Ok(record_id(&event, followed.id_key).map(|id| (id.to_owned(), event.timestamp.clone())))
}

/// What a JSON error says without quoting the input: its category and position.
fn shape_only(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a field of the wrong type or missing",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} (column {})", error.column())
}

/// Records of the customer lists read per request when reading records again by customer.
pub const CUSTOMERS_PER_REQUEST: usize = 50;
/// Ids per request when reading records again by id through a list filter.
pub const IDS_PER_REQUEST: usize = 100;

/// What reading a stream's changes again costs at least, in requests.
pub fn refetch_cost(refetch: &Refetch, changes: &StreamChanges) -> u64 {
    let changed = changes.changed.len() as u64;
    match refetch {
        Refetch::One => changed,
        Refetch::ById(_) => changed.div_ceil(IDS_PER_REQUEST as u64),
        Refetch::ByCustomer(_) => {
            let mut customers: Vec<&str> = Vec::new();
            let mut without = 0;
            for customer in changes.changed.values() {
                match customer {
                    Some(customer) => customers.push(customer),
                    None => without += 1,
                }
            }
            customers.sort_unstable();
            customers.dedup();
            (customers.len() as u64).div_ceil(CUSTOMERS_PER_REQUEST as u64) + without
        }
    }
}

/// Whether reading the stream in full is cheaper than its changes: `full_pages` is what a full read costs.
pub fn cheaper_in_full(refetch: &Refetch, changes: &StreamChanges, full_pages: u64) -> bool {
    // The new records' window costs at least one request more.
    changes.overflow || refetch_cost(refetch, changes) + 1 > full_pages
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::streams;

    fn event(name: &str, at: &str, customer: &str, metadata: Value) -> String {
        json!({"id": format!("ev-{name}-{at}"), "timestamp": at, "name": name, "source": "system",
               "customer_id": customer, "metadata": metadata, "organization_id": "o"})
        .to_string()
    }

    fn log(cap: usize) -> ChangeLog {
        let since = crate::time::micros("2026-11-25T10:00:00Z").unwrap();
        let streams: Vec<_> = [
            "customers",
            "orders",
            "subscriptions",
            "refunds",
            "checkouts",
        ]
        .iter()
        .map(|name| (streams::find(name).unwrap(), since))
        .collect();
        ChangeLog::new(&streams, cap)
    }

    #[test]
    fn events_name_the_records_to_read_again_in_each_stream() {
        let mut log = log(100);
        let at = "2026-11-25T11:00:00.000001Z";
        for json in [
            event(
                "order.paid",
                at,
                "c1",
                json!({"order_id": "o1", "amount": 100}),
            ),
            event(
                "balance.refund",
                at,
                "c2",
                json!({"order_id": "o2", "refund_id": "r1"}),
            ),
            event(
                "subscription.canceled",
                at,
                "c3",
                json!({"subscription_id": "s1"}),
            ),
            event(
                "customer.updated",
                at,
                "c4",
                json!({"customer_id": "c4", "updated_fields": {}}),
            ),
            event("checkout.created", at, "c5", json!({"checkout_id": "k1"})),
            event(
                "subscription.paused",
                at,
                "c3",
                json!({"subscription_id": "s2"}),
            ),
            event(
                "benefit.granted",
                at,
                "c6",
                json!({"benefit_id": "b", "benefit_grant_id": "g"}),
            ),
            // Before the window: ignored.
            event(
                "order.paid",
                "2026-11-25T09:59:59Z",
                "c7",
                json!({"order_id": "o7"}),
            ),
        ] {
            log.add(&json).unwrap();
        }
        let ids = |changes: StreamChanges| {
            let mut ids: Vec<(String, Option<String>)> = changes.changed.into_iter().collect();
            ids.sort();
            ids
        };
        let some = |id: &str, customer: &str| (id.to_owned(), Some(customer.to_owned()));
        assert_eq!(
            ids(log.take("orders")),
            [some("o1", "c1"), some("o2", "c2")]
        );
        assert_eq!(ids(log.take("refunds")), [some("r1", "c2")]);
        assert_eq!(
            ids(log.take("subscriptions")),
            [some("s1", "c3"), some("s2", "c3")]
        );
        assert_eq!(ids(log.take("customers")), [some("c4", "c4")]);
        // Checkouts follow no event: their window of expiry covers every change.
        assert_eq!(ids(log.take("checkouts")), []);
    }

    #[test]
    fn a_deletion_wins_over_earlier_and_later_updates_and_events_read_twice_change_nothing() {
        let mut log = log(100);
        let update = event(
            "customer.updated",
            "2026-11-25T11:00:00Z",
            "c1",
            json!({"customer_id": "c1"}),
        );
        let delete = event(
            "customer.deleted",
            "2026-11-25T11:00:01Z",
            "c1",
            json!({"customer_id": "c1"}),
        );
        for json in [&update, &delete, &update, &delete] {
            log.add(json).unwrap();
        }
        let changes = log.take("customers");
        assert!(changes.changed.is_empty());
        assert_eq!(changes.deleted["c1"], "2026-11-25T11:00:01Z");
    }

    #[test]
    fn too_many_changes_overflow_but_deletions_are_kept_and_a_bad_event_is_refused() {
        let mut log = log(2);
        let at = "2026-11-25T11:00:00Z";
        for n in 0..3 {
            let order = json!({"order_id": format!("o{n}")});
            log.add(&event("order.paid", at, "c", order)).unwrap();
            let customer = format!("c{n}");
            log.add(&event("customer.updated", at, &customer, json!({})))
                .unwrap();
        }
        let gone = event(
            "customer.deleted",
            "2026-11-25T11:00:01Z",
            "gone",
            json!({}),
        );
        log.add(&gone).unwrap();
        let orders = log.take("orders");
        assert!(orders.overflow && orders.changed.is_empty());
        assert!(cheaper_in_full(&Refetch::One, &orders, 1_000));
        let customers = log.take("customers");
        assert!(customers.overflow && customers.deleted.contains_key("gone"));
        // Events no stream follows are skipped unread; a followed one that breaks the contract is refused,
        // without quoting it (events carry personal data).
        log.add(r#"{"name": "meter.credited", "timestamp": 7}"#)
            .unwrap();
        let secret = "jane@example.com";
        let bad = json!({"id": "ev1", "name": "order.paid", "timestamp": 7, "customer_id": secret});
        let refused = log.add(&bad.to_string()).unwrap_err();
        assert!(
            refused.0.contains("ev1") && !refused.0.contains(secret),
            "{refused}"
        );
        assert!(
            log.add(&event("order.paid", "noon", "c", json!({})))
                .is_err()
        );
        assert!(log.add("[1]").is_err());
        assert!(log.add(r#"{"name": 1}"#).is_err());
    }

    #[test]
    fn deletions_past_the_cap_are_not_kept_but_read_again_from_the_feed() {
        let mut log = log(3);
        for n in 0..10 {
            let gone = event(
                "customer.deleted",
                "2026-11-26T00:00:09Z",
                &format!("c{n}"),
                json!({}),
            );
            log.add(&gone).unwrap();
        }
        let customers = log.take("customers");
        assert!(customers.deletions_overflow && customers.overflow);
        assert!(
            customers.deleted.is_empty() && customers.changed.is_empty(),
            "memory stays bounded"
        );
        let customers_def = crate::streams::find("customers").unwrap();
        let gone = event("customer.deleted", "2026-11-26T00:00:09Z", "c7", json!({}));
        assert_eq!(
            deletion_in(customers_def, &gone),
            Ok(Some(("c7".to_owned(), "2026-11-26T00:00:09Z".to_owned())))
        );
        let update = event("customer.updated", "2026-11-26T00:00:09Z", "c7", json!({}));
        assert_eq!(deletion_in(customers_def, &update), Ok(None));
        assert!(deletion_in(customers_def, "{").is_err());
        let undated = event("customer.deleted", "noon", "c7", json!({}));
        assert!(deletion_in(customers_def, &undated).is_err());
    }

    #[test]
    fn the_feed_is_asked_for_the_followed_events_only() {
        let names = log(10).event_names();
        assert!(names.contains(&"customer.deleted") && names.contains(&"balance.refund"));
        assert!(!names.contains(&"meter.credited") && !names.contains(&"benefit.granted"));
        assert_eq!(
            names
                .iter()
                .filter(|name| **name == "balance.refund")
                .count(),
            1
        );
    }

    #[test]
    fn the_cost_of_reading_changes_again_decides_against_a_full_read() {
        let mut changes = StreamChanges::default();
        for n in 0..120 {
            changes
                .changed
                .insert(format!("o{n}"), Some(format!("c{}", n % 60)));
        }
        changes.changed.insert("lonely".into(), None);
        assert_eq!(
            refetch_cost(&Refetch::ByCustomer("customer_id"), &changes),
            2 + 1
        );
        assert_eq!(refetch_cost(&Refetch::ById("id"), &changes), 2);
        assert_eq!(refetch_cost(&Refetch::One, &changes), 121);
        assert!(!cheaper_in_full(&Refetch::One, &changes, 200));
        assert!(cheaper_in_full(&Refetch::One, &changes, 121));
        assert!(!cheaper_in_full(&Refetch::ById("id"), &changes, 3));
    }
}
