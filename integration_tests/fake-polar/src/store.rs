//! The fake's data: per stream, light rows (an index into the deterministic generator, a creation time and
//! the values of sortable fields) from which full objects are generated on demand, so a million records per
//! stream cost megabytes, not gigabytes.
//!
//! Sorting follows Postgres as Polar uses it: the requested criteria only, ascending nulls last, descending
//! nulls first, and no tie-breaker. Rows equal on every criterion that straddle a page boundary are
//! shuffled anew on every request, as an `OFFSET/LIMIT` query without a unique order may return them.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::data;

/// The sortable fields of each stream (Polar's allowed sort keys that are plain fields of the object).
pub fn sort_fields(stream: &str) -> &'static [&'static str] {
    match stream {
        "customers" => &["created_at", "email", "name"],
        "products" => &["created_at", "name", "price_amount_type", "price_amount"],
        "orders" => &[
            "created_at",
            "status",
            "invoice_number",
            "amount",
            "net_amount",
        ],
        // `customer` sorts by the nested customer object (by its JSON text here: one order per customer).
        "subscriptions" => &[
            "status",
            "started_at",
            "current_period_end",
            "ended_at",
            "ends_at",
            "amount",
            "customer",
        ],
        "refunds" => &["created_at", "amount"],
        "checkouts" => &["created_at", "expires_at", "status"],
        "benefits" => &["created_at", "description", "type"],
        "organizations" => &["created_at", "slug", "name"],
        _ => &[],
    }
}

/// Sort keys Polar accepts but this fake does not model (they sort as equal).
pub fn unmodeled_sort_keys(stream: &str) -> &'static [&'static str] {
    match stream {
        "orders" => &["customer", "product", "discount", "subscription"],
        "subscriptions" => &["product", "discount"],
        "benefits" => &["user_order"],
        "organizations" => &["next_review_threshold", "days_in_status"],
        _ => &[],
    }
}

/// Polar's default sort per stream.
pub fn default_sorting(stream: &str) -> &'static str {
    match stream {
        "subscriptions" => "-started_at",
        "organizations" => "created_at",
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
}

/// One stream's rows, in creation order.
#[derive(Debug, Default)]
pub struct StreamData {
    pub rows: Vec<Row>,
    pub next_index: u64,
    /// Bumped on every change, to invalidate cached orders.
    pub version: u64,
    cached: HashMap<Vec<String>, (u64, Arc<[usize]>)>,
}

pub struct Store {
    pub seed: u64,
    pub streams: HashMap<&'static str, StreamData>,
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
        Store { seed, streams }
    }

    pub fn object(&self, stream: &str, row: &Row) -> Value {
        data::object(stream, self.seed, row.index, row.created_at_ms)
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
        self.rows.push(Row {
            index,
            created_at_ms,
            values,
        });
        self.version += 1;
        index
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
