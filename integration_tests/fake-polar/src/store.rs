//! The fake's data: per stream, light rows (an index into the deterministic generator, a creation time and
//! the values of sortable fields) from which full objects are generated on demand, so a million records per
//! stream cost megabytes, not gigabytes.
//!
//! Sorting follows Postgres as Polar uses it: the requested criteria only, ascending nulls last, descending
//! nulls first, and no tie-breaker. Rows equal on every criterion that straddle a page boundary are
//! shuffled anew on every request, as an `OFFSET/LIMIT` query without a unique order may return them.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::data;
use crate::facts;

/// The sortable fields of each stream: those the connector's requests sort by (from its stream table), then
/// Polar's other allowed sort keys that are plain fields of the object.
pub fn sort_fields(stream: &str) -> &'static [&'static str] {
    static FIELDS: OnceLock<HashMap<&'static str, &'static [&'static str]>> = OnceLock::new();
    let fields = FIELDS.get_or_init(|| {
        data::STREAMS
            .iter()
            .map(|stream| {
                let mut fields = facts::sort_fields(stream);
                for key in more_sort_keys(stream) {
                    if !fields.contains(key) {
                        fields.push(key);
                    }
                }
                (*stream, &*Vec::leak(fields))
            })
            .collect()
    });
    fields.get(stream).copied().unwrap_or(&[])
}

/// Polar's allowed sort keys beyond those the connector sends, that are plain fields of the object.
fn more_sort_keys(stream: &str) -> &'static [&'static str] {
    match stream {
        "customers" => &["name"],
        "products" => &["price_amount_type", "price_amount"],
        "orders" => &["status", "amount", "net_amount"],
        // `customer` sorts by the nested customer object (by its JSON text here: one order per customer).
        "subscriptions" => &["status", "current_period_end", "ended_at", "ends_at"],
        "checkouts" => &["status"],
        "benefits" => &["type"],
        "organizations" => &["name"],
        "custom_fields" => &["name", "type"],
        "discounts" => &["code", "redemptions_count", "ends_at"],
        "payments" => &["status", "method"],
        "checkout_links" => &["success_url", "allow_discount_codes"],
        "benefit_grants" => &["granted_at", "revoked_at"],
        "customer_meters" => &[
            "customer_id",
            "meter_id",
            "consumed_units",
            "credited_units",
            "balance",
        ],
        _ => &[],
    }
}

/// The order Polar lists a stream in whatever `sorting` asks, for the lists it cannot sort (it ignores the
/// parameter there).
pub fn fixed_order(stream: &str) -> Option<&'static str> {
    match stream {
        "license_keys" => Some("created_at"),
        _ => None,
    }
}

/// Sort keys Polar accepts but this fake does not model (they sort as equal).
pub fn unmodeled_sort_keys(stream: &str) -> &'static [&'static str] {
    match stream {
        "orders" => &["customer", "product", "discount", "subscription"],
        "subscriptions" => &["product", "discount"],
        "benefits" => &["user_order"],
        "organizations" => &["next_review_threshold", "days_in_status"],
        "customer_meters" => &["customer_name", "meter_name"],
        _ => &[],
    }
}

/// Polar's default sort per stream.
pub fn default_sorting(stream: &str) -> &'static str {
    match stream {
        "subscriptions" => "-started_at",
        "organizations" => "created_at",
        "meters" => "name",
        "custom_fields" => "slug",
        "customer_meters" => "-modified_at",
        "events" => "-timestamp",
        _ => "-created_at",
    }
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortValue {
    Number(f64),
    Text(Box<str>),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub index: u64,
    pub created_at_ms: i64,
    /// The values of `sort_fields(stream)`, in that order (`None` for null).
    pub values: Box<[Option<SortValue>]>,
    /// The customer the record belongs to (its own id for a customer), for filters and events.
    pub customer_id: Option<Box<str>>,
    /// Updates since creation: each sets `modified_at` and `metadata.revision`.
    pub revision: u32,
    pub modified_at_us: Option<i64>,
    /// Created while the server runs: not updated yet, so `modified_at` is null (Polar sets it on the first
    /// update), whatever the generator would have made up.
    pub live: bool,
}

impl Row {
    /// The row's object as the API shows it now.
    pub fn render(&self, stream: &str, seed: u64) -> Value {
        let mut object = data::object(stream, seed, self.index, self.created_at_ms);
        // (Events have no `modified_at`: they never change.)
        if let (true, None, Some(fields)) = (self.live, self.modified_at_us, object.as_object_mut())
            && fields.contains_key("modified_at")
        {
            fields.insert("modified_at".into(), Value::Null);
        }
        if let (Some(modified), Some(fields)) = (self.modified_at_us, object.as_object_mut()) {
            fields.insert("modified_at".into(), data::timestamp_us(modified).into());
            if let Some(metadata) = fields.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("revision".into(), self.revision.into());
            }
        }
        object
    }
}

/// One of Polar's system events (the change log).
#[derive(Debug, Clone)]
pub struct SystemEvent {
    pub id: String,
    pub timestamp_us: i64,
    pub name: &'static str,
    pub customer_id: Option<String>,
    pub metadata: Value,
}

impl SystemEvent {
    /// The event as `GET /v1/events/` lists it (polar-sdk's `SystemEvent` shape).
    pub fn render(&self, seed: u64) -> Value {
        serde_json::json!({
            "id": self.id,
            "timestamp": data::timestamp_us(self.timestamp_us),
            "organization_id": data::organization_id(seed),
            "customer_id": self.customer_id,
            "customer": null,
            "external_customer_id": null,
            "member_id": null,
            "external_member_id": null,
            "child_count": 0,
            "parent_id": null,
            "label": self.name,
            "source": "system",
            "name": self.name,
            "metadata": self.metadata,
        })
    }
}

/// One stream's rows, in creation order.
#[derive(Debug, Default)]
pub struct StreamData {
    pub rows: Vec<Row>,
    pub next_index: u64,
    /// Bumped on every change, to invalidate cached orders.
    pub version: u64,
    cached: HashMap<Vec<String>, (u64, Arc<[usize]>)>,
    /// Every index ever created, by id (filled on first lookup).
    ids: HashMap<String, u64>,
}

pub struct Store {
    pub seed: u64,
    pub streams: HashMap<&'static str, StreamData>,
    /// The system events feed, in the order written (not necessarily by timestamp: some are backdated).
    pub events: Vec<SystemEvent>,
}

fn sort_value(value: &Value) -> Option<SortValue> {
    match value {
        Value::Null => None,
        Value::Number(number) => number.as_f64().map(SortValue::Number),
        Value::String(text) => Some(SortValue::Text(text.as_str().into())),
        Value::Bool(flag) => Some(SortValue::Number(f64::from(u8::from(*flag)))),
        other => Some(SortValue::Text(other.to_string().into())),
    }
}

impl Store {
    /// `counts` records per stream; creation times start at `start_ms` and step by `step_ms`, every
    /// `tie_every` consecutive records sharing one creation time (1: no ties).
    pub fn new(
        seed: u64,
        counts: &HashMap<String, usize>,
        start_ms: i64,
        step_ms: i64,
        tie_every: usize,
    ) -> Store {
        // Generating a row's sort values means generating its object: the streams are built in parallel.
        let streams = std::thread::scope(|scope| {
            let builders: Vec<_> = data::STREAMS
                .iter()
                .map(|&stream| {
                    scope.spawn(move || {
                        let mut stream_data = StreamData::default();
                        let count = counts.get(stream).copied().unwrap_or(0);
                        stream_data.rows.reserve_exact(count);
                        for position in 0..count {
                            let created_at_ms =
                                start_ms + (position / tie_every.max(1)) as i64 * step_ms;
                            stream_data.push(stream, seed, created_at_ms);
                        }
                        (stream, stream_data)
                    })
                })
                .collect();
            builders
                .into_iter()
                .map(|builder| builder.join().expect("a stream's rows build"))
                .collect()
        });
        Store {
            seed,
            streams,
            events: Vec::new(),
        }
    }

    pub fn object(&self, stream: &str, row: &Row) -> Value {
        row.render(stream, self.seed)
    }

    /// Every record of `stream` as it is now, in creation order (events: the usage events, then the system
    /// events in the order written).
    pub fn objects(&self, stream: &str) -> Vec<Value> {
        let rows = self.streams[stream]
            .rows
            .iter()
            .map(|row| row.render(stream, self.seed));
        if stream == "events" {
            rows.chain(self.events.iter().map(|event| event.render(self.seed)))
                .collect()
        } else {
            rows.collect()
        }
    }

    pub fn stream(&mut self, stream: &str) -> &mut StreamData {
        self.streams.get_mut(stream).expect("a known stream")
    }
}

impl StreamData {
    /// Adds a record created at `created_at_ms`.
    pub fn push(&mut self, stream: &'static str, seed: u64, created_at_ms: i64) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        let object = data::object(stream, seed, index, created_at_ms);
        let values = sort_fields(stream)
            .iter()
            .map(|field| sort_value(&object[*field]))
            .collect();
        let customer_id = if stream == "customers" {
            object["id"].as_str()
        } else {
            object["customer_id"].as_str()
        }
        .map(Into::into);
        self.rows.push(Row {
            index,
            created_at_ms,
            values,
            customer_id,
            revision: 0,
            modified_at_us: None,
            live: false,
        });
        self.version += 1;
        index
    }

    /// The position (in creation order) of the row with this index.
    pub fn position_of(&self, index: u64) -> Option<usize> {
        self.rows.binary_search_by_key(&index, |row| row.index).ok()
    }

    /// The position of the row whose id is `id` (ids are looked up through a map built on first use).
    pub fn find(&mut self, stream: &str, seed: u64, id: &str) -> Option<usize> {
        if self.ids.len() < self.next_index as usize {
            for index in self.ids.len() as u64..self.next_index {
                self.ids.insert(data::object_id(stream, seed, index), index);
            }
        }
        self.position_of(*self.ids.get(id)?)
    }

    /// Removes the row at `position` (in creation order).
    pub fn remove(&mut self, position: usize) -> Row {
        self.version += 1;
        self.rows.remove(position)
    }

    /// Row positions in the order `criteria` ask for (each `field` or `-field`), cached until the data changes.
    pub fn ordered(&mut self, stream: &str, criteria: &[String]) -> Arc<[usize]> {
        let version = self.version;
        let stale = self
            .cached
            .get(criteria)
            .is_none_or(|(cached, _)| *cached != version);
        if stale {
            let fields = sort_fields(stream);
            let keys: Vec<(Option<usize>, bool)> = criteria
                .iter()
                .map(|criterion| {
                    let (descending, name) = match criterion.strip_prefix('-') {
                        Some(name) => (true, name),
                        None => (false, criterion.as_str()),
                    };
                    (fields.iter().position(|field| *field == name), descending)
                })
                .collect();
            let mut order: Vec<usize> = (0..self.rows.len()).collect();
            let rows = &self.rows;
            order.sort_by(|&a, &b| compare(&rows[a], &rows[b], &keys));
            self.cached
                .insert(criteria.to_vec(), (version, order.into()));
        }
        Arc::clone(&self.cached[criteria].1)
    }

    /// Whether two rows are equal on every criterion (a tie Polar would not break).
    pub fn tied(&self, stream: &str, criteria: &[String], a: usize, b: usize) -> bool {
        let fields = sort_fields(stream);
        let keys: Vec<(Option<usize>, bool)> = criteria
            .iter()
            .map(|criterion| {
                (
                    fields
                        .iter()
                        .position(|field| *field == criterion.trim_start_matches('-')),
                    false,
                )
            })
            .collect();
        compare(&self.rows[a], &self.rows[b], &keys) == Ordering::Equal
    }
}

fn compare(a: &Row, b: &Row, keys: &[(Option<usize>, bool)]) -> Ordering {
    for &(field, descending) in keys {
        let Some(field) = field else { continue };
        let ordering = match (&a.values[field], &b.values[field]) {
            (None, None) => Ordering::Equal,
            // Postgres: NULLS LAST ascending, NULLS FIRST descending.
            (None, Some(_)) => {
                if descending {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(_), None) => {
                if descending {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(x), Some(y)) => {
                let natural = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                if descending {
                    natural.reverse()
                } else {
                    natural
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
