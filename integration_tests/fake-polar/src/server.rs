//! The HTTP side of the fake: Polar's list endpoints with its pagination, bearer-token auth with
//! per-scope 403s, API-version check, a sliding-window rate limit answering 429 with `Retry-After`, latency,
//! a scriptable fault schedule and a churn mode. It runs on its own thread and runtime, so tests can be plain
//! `#[test]` functions that run the connector as a child process.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::data;
use crate::facts;
use crate::store::{self, Store};

pub const API_VERSION: &str = "2026-10";
pub const TOKEN: &str = "polar_oat_FAKE0123456789abcdefghijklmnopqrstuvwx";

/// What the fake serves and how it behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records per stream (streams not named have none).
    pub counts: HashMap<String, usize>,
    pub seed: u64,
    pub token: String,
    /// Scopes the token holds; `None`: all of them.
    pub scopes: Option<Vec<String>>,
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// Requests per minute before 429s (a sliding 60-second window); `None`: no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Polar's own limiter: a fixed window shared with the organization's other traffic.
    pub fixed_window: Option<FixedWindow>,
    /// A token bucket in front of the API (as a gateway might count).
    pub token_bucket: Option<TokenBucket>,
    /// Consecutive records sharing one creation time (1: none), to exercise tie handling.
    pub tie_every: usize,
    pub port: u16,
    /// The API version served; any other `Polar-Version` gets 404 on every path, as Polar does.
    pub served_version: String,
    /// Keep every page body rendered without faults or shuffled ties, and serve it again while the data is
    /// unchanged. For the benchmark: Polar's own CPU is not on the connector's machine, the fake's is, so a
    /// warmed cache keeps the fake from competing with what is measured. Costs the bodies' size in memory.
    pub cache_pages: bool,
    /// The most days `GET /v1/metrics/` serves per request for the `day` interval (`/v1/metrics/limits`).
    pub metrics_max_days: u32,
}

impl Options {
    /// `per_stream` records in every stream.
    pub fn with_records(per_stream: usize) -> Options {
        Options {
            counts: data::STREAMS
                .iter()
                .map(|stream| (stream.to_string(), per_stream))
                .collect(),
            seed: 7,
            token: TOKEN.to_owned(),
            scopes: None,
            latency: Duration::ZERO,
            rate_limit_per_minute: None,
            fixed_window: None,
            token_bucket: None,
            tie_every: 1,
            port: 0,
            served_version: API_VERSION.to_owned(),
            cache_pages: false,
            metrics_max_days: 366,
        }
    }

    pub fn count(mut self, stream: &str, count: usize) -> Options {
        self.counts.insert(stream.to_owned(), count);
        self
    }
}

/// Polar's rate limit as its server counts it: `limit` requests per fixed `window` for the whole organization,
/// of which the merchant's other traffic sends `others` per window, evenly spread. A request of ours in a spent
/// window is refused with 429 and `Retry-After` equal to the whole window, as Polar does.
#[derive(Debug, Clone, Copy)]
pub struct FixedWindow {
    pub limit: u32,
    pub window: Duration,
    pub others: u32,
    /// From this long after the server started, the other traffic sends this many per window instead.
    pub others_later: Option<(Duration, u32)>,
    /// The merchant's model. `false`, "first come": its requests are refused like ours once the window is
    /// spent. `true`, "merchant first": its requests are counted (and served) whether or not the window is
    /// spent, so only ours are refused.
    pub merchant_first: bool,
}

impl FixedWindow {
    /// `limit` per `window`, `others` of them the merchant's ("first come"), the same all along.
    pub fn shared(limit: u32, window: Duration, others: u32) -> FixedWindow {
        FixedWindow {
            limit,
            window,
            others,
            others_later: None,
            merchant_first: false,
        }
    }
}

/// What the fixed window counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Other traffic's requests refused because the window was spent.
    pub others_refused: u64,
    pub others_served: u64,
    /// Our requests refused.
    pub ours_refused: u64,
    /// Windows that saw any request, windows whose limit was reached, and windows that refused us.
    pub windows: u64,
    pub windows_spent: u64,
    pub windows_refusing_us: u64,
}

#[derive(Debug, Default)]
struct WindowState {
    /// The window's index since the server started.
    index: u64,
    used: u32,
    /// Other traffic's requests accounted for in this window.
    others_sent: u32,
    spent: bool,
    refused_us: bool,
    stats: WindowStats,
}

/// A token bucket, as many API gateways count: `per_minute` tokens a minute, at most `burst` saved up. A
/// request with no token is refused with 429 and `Retry-After` the seconds until the next one (rounded up).
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    pub per_minute: u32,
    pub burst: u32,
}

/// A fault to inject: what the server does instead of answering normally.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status, optional `Retry-After` value, and body.
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Send the headers and part of the body, then drop the connection.
    CutBody,
    /// A complete 200 response whose JSON is truncated.
    MalformedJson,
    /// A 200 response of valid JSON that is not a Polar page.
    Body(String),
    /// The page with its first item stripped of `id`.
    ItemWithoutId,
    /// The page pretty-printed over many lines.
    Indented,
}

/// A fault applied to the next `times` requests matching `stream` and `pages`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub stream: Option<String>,
    /// Inclusive page range the fault applies to.
    pub pages: (u32, u32),
    pub times: usize,
    /// Matching requests let through before the fault applies.
    pub skip: usize,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(stream: &str, kind: FaultKind) -> Fault {
        Fault {
            stream: Some(stream.to_owned()),
            pages: (1, u32::MAX),
            times: 1,
            skip: 0,
            kind,
        }
    }

    /// Lets the first `requests` matching requests through (for streams paged by key, where every request
    /// asks for page 1 of a moving filter).
    pub fn after_requests(mut self, requests: usize) -> Fault {
        self.skip = requests;
        self
    }

    pub fn pages(mut self, first: u32, last: u32) -> Fault {
        self.pages = (first, last);
        self
    }

    pub fn times(mut self, times: usize) -> Fault {
        self.times = times;
        self
    }

    pub fn status(stream: &str, status: u16) -> Fault {
        Fault::new(
            stream,
            FaultKind::Status {
                status,
                retry_after: None,
                body: String::new(),
            },
        )
    }
}

/// An answer about to be sent, as a [`Hostile`] rewrite sees it and may change it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The request's `Authorization` header, for servers that echo it.
    pub authorization: String,
    /// The request's query string (empty for a read by id).
    pub query: String,
    /// The id of a read by id.
    pub record: Option<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn set_json(&mut self, value: &Value) {
        self.body = serde_json::to_vec(value).expect("serializes");
    }

    /// Replaces (or adds) a header.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers
            .retain(|(other, _)| !other.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
    }
}

/// A server (or proxy) misbehaving in one way: rewrites the answers to matching requests of `stream` after the
/// fake rendered them, as a broken gateway or a hostile server would.
#[derive(Clone)]
pub struct Hostile {
    pub stream: String,
    /// Rewrite reads by id only (else list pages only).
    pub record_reads: bool,
    /// Matching requests let through first, then how many are rewritten.
    pub skip: usize,
    pub times: usize,
    pub rewrite: Arc<dyn Fn(&mut Answer) + Send + Sync>,
}

impl Hostile {
    /// Rewrites every list page of `stream`.
    pub fn pages(stream: &str, rewrite: impl Fn(&mut Answer) + Send + Sync + 'static) -> Hostile {
        Hostile {
            stream: stream.to_owned(),
            record_reads: false,
            skip: 0,
            times: usize::MAX,
            rewrite: Arc::new(rewrite),
        }
    }

    /// Rewrites every read by id of `stream`.
    pub fn reads(stream: &str, rewrite: impl Fn(&mut Answer) + Send + Sync + 'static) -> Hostile {
        Hostile {
            record_reads: true,
            ..Hostile::pages(stream, rewrite)
        }
    }

    pub fn after_requests(mut self, requests: usize) -> Hostile {
        self.skip = requests;
        self
    }

    pub fn times(mut self, times: usize) -> Hostile {
        self.times = times;
        self
    }
}

/// Records created and deleted around every page request of one stream.
#[derive(Debug, Clone)]
pub struct Churn {
    pub stream: String,
    pub creates_per_request: usize,
    pub deletes_per_request: usize,
    /// Stop churning after this many requests.
    pub requests: usize,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// When the request arrived, since the server started (before any latency the fake adds).
    pub received: Duration,
    pub stream: String,
    pub page: u32,
    pub limit: u32,
    pub sorting: Vec<String>,
    /// The `created_after` filter (or the events feed's `start_timestamp`), as sent.
    pub created_after: Option<String>,
    /// The request filtered by `customer_id` or `id`.
    pub filtered: bool,
    /// The events' `source` filter (`system` for the change log), as sent.
    pub source: Option<String>,
    /// A read of one record by id.
    pub record: Option<String>,
    pub status: u16,
    pub user_agent: String,
    pub polar_version: String,
    pub authorization: String,
}

struct Shared {
    store: Mutex<Store>,
    options: Options,
    faults: Mutex<Vec<Fault>>,
    hostile: Mutex<Vec<Hostile>>,
    churn: Mutex<Vec<Churn>>,
    fixed: Mutex<WindowState>,
    /// The token bucket's tokens and when they were counted.
    bucket: Mutex<Option<(f64, Instant)>>,
    started: Instant,
    log: Mutex<Vec<LoggedRequest>>,
    window: Mutex<VecDeque<Instant>>,
    rng: Mutex<fastrand::Rng>,
    /// Ids of records deleted by churn, and created by it.
    deleted: Mutex<Vec<String>>,
    created: Mutex<Vec<String>>,
    /// Rendered pages by (stream, sorting, page, limit), with the data version they were rendered at.
    page_cache: Mutex<HashMap<PageKey, (u64, bytes::Bytes)>>,
    /// The organization's first day (Unix milliseconds, midnight UTC): where its metrics begin.
    origin_ms: i64,
}

type PageKey = (String, Vec<String>, usize, usize);

/// A running fake; stops when dropped.
pub struct FakePolar {
    shared: Arc<Shared>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakePolar {
    pub fn start(options: Options) -> FakePolar {
        let start_ms = 1_735_689_600_000; // 2025-01-01T00:00:00Z
        let store = Store::new(
            options.seed,
            &options.counts,
            start_ms,
            61_000,
            options.tie_every,
        );
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Mutex::new(Vec::new()),
            hostile: Mutex::new(Vec::new()),
            churn: Mutex::new(Vec::new()),
            fixed: Mutex::new(WindowState::default()),
            bucket: Mutex::new(None),
            started: Instant::now(),
            log: Mutex::new(Vec::new()),
            window: Mutex::new(VecDeque::new()),
            rng: Mutex::new(fastrand::Rng::with_seed(options.seed)),
            deleted: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
            page_cache: Mutex::new(HashMap::new()),
            origin_ms: start_ms,
            options,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-polar")
            .enable_all()
            .build()
            .expect("start the fake's runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((
                "127.0.0.1",
                shared.options.port,
            )))
            .expect("bind the fake on 127.0.0.1");
        let addr = listener.local_addr().expect("the fake's address");
        let app = axum::Router::new()
            .route("/v1/{resource}/", get(list))
            .route("/v1/{resource}/{id}", get(read_one))
            // For tests driving a fake in another process (PyAirbyte): not part of Polar's API.
            .route(
                "/_fake/change-round/{round}",
                axum::routing::post(change_round),
            )
            .route("/_fake/objects/{resource}", get(objects))
            .fallback(not_found)
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakePolar {
            shared,
            addr,
            runtime: Some(runtime),
        }
    }

    /// The base URL to put in the connector's config.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connector config for this fake.
    pub fn config(&self) -> Value {
        json!({"organization_access_token": self.shared.options.token, "base_url": self.url(), "requests_per_minute": 100_000})
    }

    /// The records of `stream` as they are now, in creation order (events: the usage events, then the system
    /// events in the order written).
    pub fn objects(&self, stream: &str) -> Vec<Value> {
        self.shared.store.lock().unwrap().objects(stream)
    }

    pub fn ids(&self, stream: &str) -> Vec<String> {
        let store = self.shared.store.lock().unwrap();
        let rows = store.streams[stream]
            .rows
            .iter()
            .map(|row| data::object_id(stream, store.seed, row.index));
        if stream == "events" {
            rows.chain(store.events.iter().map(|event| event.id.clone()))
                .collect()
        } else {
            rows.collect()
        }
    }

    pub fn push_fault(&self, fault: Fault) {
        self.shared.faults.lock().unwrap().push(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
        self.shared.hostile.lock().unwrap().clear();
    }

    /// Makes the server misbehave as `hostile` says, on top of any fault.
    pub fn push_hostile(&self, hostile: Hostile) {
        self.shared.hostile.lock().unwrap().push(hostile);
    }

    /// Churns `churn.stream` (replacing an earlier churn of the same stream).
    pub fn set_churn(&self, churn: Churn) {
        let mut churns = self.shared.churn.lock().unwrap();
        churns.retain(|existing| existing.stream != churn.stream);
        churns.push(churn);
    }

    /// What the fixed window refused and served so far, ours and the other traffic's.
    pub fn window_stats(&self) -> WindowStats {
        self.shared.fixed.lock().unwrap().stats
    }

    /// Ids deleted and created by churn so far.
    pub fn churned(&self) -> (Vec<String>, Vec<String>) {
        (
            self.shared.deleted.lock().unwrap().clone(),
            self.shared.created.lock().unwrap().clone(),
        )
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many page bodies the cache holds (see [`Options::cache_pages`]).
    pub fn cached_pages(&self) -> usize {
        self.shared.page_cache.lock().unwrap().len()
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Creates a record of `stream` now, with the system event Polar writes for it (dated `backdate` earlier,
    /// as a late or backdated event is). Returns its id.
    pub fn create(&self, stream: &str, backdate: Duration) -> String {
        self.shared.create(stream, backdate)
    }

    /// Updates a record of `stream` (the `pick`-th, modulo, of those that can still change: a checkout only
    /// until it expires), setting `modified_at`, with the system event Polar writes for it (none for
    /// checkouts). Returns its id, or `None` when no record can change.
    pub fn update(&self, stream: &str, pick: usize, backdate: Duration) -> Option<String> {
        self.shared.update(stream, pick, backdate)
    }

    /// Deletes a customer (the `pick`-th, modulo): hidden from the list and 404 by id, as Polar's soft delete,
    /// with its `customer.deleted` event. Returns its id.
    pub fn delete_customer(&self, pick: usize, backdate: Duration) -> Option<String> {
        self.shared.delete_customer(pick, backdate)
    }

    /// One round of changes between syncs: in every stream with a change signal 3 records created and 5
    /// updated, 2 customers deleted; one of each kind with its event dated 90 s earlier (written late, after
    /// a sync had already passed its time).
    pub fn change_round(&self, round: usize) {
        self.shared.change_round(round);
    }

    /// The organization's daily metrics from its first day to today (UTC), as `GET /v1/metrics/` serves them.
    pub fn metrics_periods(&self) -> Vec<Value> {
        self.shared.metrics_periods()
    }

    /// Ingests `count` usage events stamped with one millisecond, `ago` before now (a bulk import): the
    /// events list orders them in no fixed way, as Polar's does. Returns their ids.
    pub fn burst_of_events(&self, count: usize, ago: Duration) -> Vec<String> {
        let mut store = self.shared.store.lock().unwrap();
        let seed = store.seed;
        let at_ms = (now_micros() - micros(ago)) / 1000;
        (0..count)
            .map(|_| {
                let index = store.stream("events").push("events", seed, at_ms);
                data::object_id("events", seed, index)
            })
            .collect()
    }

    /// How many system events the feed holds.
    pub fn event_count(&self) -> usize {
        self.shared.store.lock().unwrap().events.len()
    }
}

/// The streams Polar records changes of in its system events.
pub const TRACKED_STREAMS: [&str; 5] = [
    "customers",
    "orders",
    "subscriptions",
    "refunds",
    "checkouts",
];

/// The streams whose changes a list shows without any event: customer meters by `modified_at`, and events,
/// which are only ever added (some late, with an earlier timestamp).
pub const LISTED_CHANGES: [&str; 2] = ["customer_meters", "events"];

impl Shared {
    fn metrics_periods(&self) -> Vec<Value> {
        let days = metrics_days_until_today(self.origin_ms);
        data::metrics_response(self.options.seed, self.origin_ms, 0, days)["periods"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn change_round(&self, round: usize) {
        let late = Duration::from_secs(90);
        for (n, stream) in TRACKED_STREAMS.iter().enumerate() {
            for k in 0..3 {
                self.create(stream, if k == 0 { late } else { Duration::ZERO });
            }
            for k in 0..5 {
                let pick = round * 37 + n * 11 + k * 53;
                self.update(stream, pick, if k == 0 { late } else { Duration::ZERO });
            }
        }
        for (n, stream) in LISTED_CHANGES.iter().enumerate() {
            for k in 0..3 {
                self.create(stream, if k == 0 { late } else { Duration::ZERO });
            }
            if *stream != "events" {
                for k in 0..5 {
                    self.update(stream, round * 29 + n * 7 + k * 61, Duration::ZERO);
                }
            }
        }
        self.delete_customer(round * 7 + 1, Duration::ZERO);
        self.delete_customer(round * 13 + 5, late);
        // Events no synced stream follows fill the feed too.
        let mut store = self.store.lock().unwrap();
        for k in 0..20u64 {
            let metadata = json!({"benefit_id": data::uuid("benefits", 0, k),
                                  "benefit_grant_id": data::uuid("grants", round as u64, k),
                                  "benefit_type": "custom", "member_id": null});
            push_event(&mut store, "benefit.granted", None, metadata, now_micros());
        }
    }

    fn create(&self, stream: &str, backdate: Duration) -> String {
        let mut store = self.store.lock().unwrap();
        let seed = store.seed;
        let stream = known_stream(stream);
        let now = now_micros();
        let last = store.streams[stream]
            .rows
            .last()
            .map_or(0, |row| row.created_at_ms + 1);
        // A late event carries the earlier time it happened at; other records are created now.
        let created_ms = if stream == "events" && !backdate.is_zero() {
            (now - micros(backdate)) / 1000
        } else {
            (now / 1000).max(last)
        };
        let index = store.stream(stream).push(stream, seed, created_ms);
        let id = data::object_id(stream, seed, index);
        let position = store.streams[stream].rows.len() - 1;
        let row = &mut store.stream(stream).rows[position];
        row.live = true;
        // Not changed since its creation: Polar's `modified_at` is null, and sorts as null.
        if let Some(field) = store::sort_fields(stream)
            .iter()
            .position(|field| *field == "modified_at")
        {
            row.values[field] = None;
        }
        let customer = store.streams[stream].rows[position].customer_id.clone();
        let object = store.streams[stream].rows[position].render(stream, seed);
        let event = system_event(stream, Change::Created, &object);
        if let Some((name, metadata)) = event {
            push_event(&mut store, name, customer, metadata, now - micros(backdate));
        }
        id
    }

    fn update(&self, stream: &str, pick: usize, backdate: Duration) -> Option<String> {
        let mut store = self.store.lock().unwrap();
        let seed = store.seed;
        let stream = known_stream(stream);
        let now = now_micros();
        let candidates: Vec<usize> = {
            let rows = &store.streams[stream].rows;
            if stream == "checkouts" {
                // A checkout expires an hour after its creation.
                (0..rows.len())
                    .filter(|&position| rows[position].created_at_ms * 1000 + 3_600_000_000 > now)
                    .collect()
            } else {
                (0..rows.len()).collect()
            }
        };
        let position = *candidates.get(pick % candidates.len().max(1))?;
        let data_for_stream = store.stream(stream);
        data_for_stream.version += 1;
        let row = &mut data_for_stream.rows[position];
        row.revision += 1;
        let floor = row
            .modified_at_us
            .unwrap_or(row.created_at_ms * 1000)
            .max(row.created_at_ms * 1000);
        row.modified_at_us = Some(now.max(floor + 1));
        if let Some(field) = store::sort_fields(stream)
            .iter()
            .position(|field| *field == "modified_at")
        {
            row.values[field] = row
                .modified_at_us
                .map(|at| store::SortValue::Text(data::timestamp_us(at).into()));
        }
        let customer = row.customer_id.clone();
        let id = data::object_id(stream, seed, row.index);
        let object = row.render(stream, seed);
        let event = system_event(stream, Change::Updated, &object);
        if let Some((name, metadata)) = event {
            push_event(&mut store, name, customer, metadata, now - micros(backdate));
        }
        Some(id)
    }

    fn delete_customer(&self, pick: usize, backdate: Duration) -> Option<String> {
        let mut store = self.store.lock().unwrap();
        let seed = store.seed;
        let rows = store.streams["customers"].rows.len();
        if rows == 0 {
            return None;
        }
        let row = store.stream("customers").remove(pick % rows);
        let id = data::object_id("customers", seed, row.index);
        let at = now_micros() - micros(backdate);
        let object = row.render("customers", seed);
        let (name, metadata) = system_event("customers", Change::Deleted, &object)?;
        push_event(&mut store, name, Some(id.clone().into()), metadata, at);
        Some(id)
    }
}

/// What happened to a record, for its system event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Deleted,
}

/// The system event Polar writes for a change of `object` (of `stream`), with the metadata polar-sdk's
/// event types require; `None` where Polar writes none (a checkout's update, any change of the streams without
/// events).
fn system_event(stream: &str, change: Change, object: &Value) -> Option<(&'static str, Value)> {
    let id = &object["id"];
    let currency = object
        .get("currency")
        .cloned()
        .filter(|currency| currency.is_string())
        .unwrap_or_else(|| json!("usd"));
    let amount = |field: &str| object.get(field).and_then(Value::as_i64).unwrap_or(0);
    let customer = || {
        json!({
            "customer_id": id,
            "customer_email": object["email"],
            "customer_name": object["name"],
            "customer_external_id": object["external_id"],
        })
    };
    Some(match (stream, change) {
        ("customers", Change::Created) => ("customer.created", customer()),
        ("customers", Change::Updated) => {
            let mut metadata = customer();
            // The event's `updated_fields.metadata` takes strings, integers and booleans only.
            let changed: serde_json::Map<String, Value> = object["metadata"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, value)| value.is_string() || value.is_boolean() || value.is_i64())
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            metadata["updated_fields"] = json!({"name": null, "billing_name": null, "email": null,
                                                "billing_address": null, "tax_id": null, "metadata": changed});
            ("customer.updated", metadata)
        }
        ("customers", Change::Deleted) => ("customer.deleted", customer()),
        ("orders", Change::Created) => (
            "order.paid",
            json!({"order_id": id, "product_id": object["product_id"], "billing_type": object["billing_reason"],
                   "amount": amount("total_amount"), "currency": currency, "net_amount": amount("net_amount"),
                   "tax_amount": amount("tax_amount"), "applied_balance_amount": 0,
                   "discount_amount": amount("discount_amount"), "discount_id": object["discount_id"],
                   "platform_fee": 0, "subscription_id": object["subscription_id"],
                   "recurring_interval": null, "recurring_interval_count": null}),
        ),
        ("orders", _) => (
            "order.refunded",
            json!({"order_id": id, "refunded_amount": amount("refunded_amount"), "currency": currency}),
        ),
        ("subscriptions", Change::Created) => (
            "subscription.created",
            json!({"subscription_id": id, "product_id": object["product_id"], "amount": amount("amount"),
                   "currency": currency, "recurring_interval": object["recurring_interval"],
                   "recurring_interval_count": object["recurring_interval_count"],
                   "started_at": if object["started_at"].is_null() { &object["created_at"] } else { &object["started_at"] }}),
        ),
        ("subscriptions", _) => (
            "subscription.updated",
            json!({"subscription_id": id, "product_id": object["product_id"], "proration_behavior": null,
                   "discount_id": object["discount_id"], "trial_end": object["trial_end"], "seats": object["seats"],
                   "units": null, "billing_period_end": object["current_period_end"]}),
        ),
        ("refunds", _) => (
            "balance.refund",
            json!({"transaction_id": data::uuid("transactions", 0, amount("amount") as u64),
                   "refund_id": id, "order_id": object["order_id"], "amount": amount("amount"),
                   "order_created_at": null, "product_id": null, "subscription_id": object["subscription_id"],
                   "currency": currency, "presentment_amount": amount("amount"),
                   "presentment_currency": currency, "refundable_amount": null, "tax_amount": amount("tax_amount"),
                   "tax_state": null, "tax_country": null, "fee": 0, "exchange_rate": null}),
        ),
        ("checkouts", Change::Created) => (
            "checkout.created",
            json!({"checkout_id": id, "checkout_status": object["status"], "product_id": object["product_id"]}),
        ),
        _ => return None,
    })
}

fn known_stream(name: &str) -> &'static str {
    data::STREAMS
        .iter()
        .find(|stream| **stream == name)
        .unwrap_or_else(|| panic!("unknown stream {name}"))
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn micros(duration: Duration) -> i64 {
    duration.as_micros() as i64
}

fn push_event(
    store: &mut Store,
    name: &'static str,
    customer_id: Option<Box<str>>,
    metadata: Value,
    timestamp_us: i64,
) {
    let id = data::uuid("system_events", store.seed, store.events.len() as u64);
    store.events.push(store::SystemEvent {
        id,
        timestamp_us,
        name,
        customer_id: customer_id.map(Into::into),
        metadata,
    });
}

impl Drop for FakePolar {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not Found"})),
    )
        .into_response()
}

fn error(status: StatusCode, name: &str, detail: &str) -> Response {
    (status, axum::Json(json!({"error": name, "detail": detail}))).into_response()
}

/// The read scope of a list, from the stream table.
fn scope_of(resource: &str) -> String {
    facts::scope(resource).map_or_else(|| format!("{resource}:read"), str::to_owned)
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    handle(shared, resource, None, query, headers).await
}

async fn change_round(State(shared): State<Arc<Shared>>, Path(round): Path<usize>) -> Response {
    shared.change_round(round);
    StatusCode::NO_CONTENT.into_response()
}

async fn objects(State(shared): State<Arc<Shared>>, Path(resource): Path<String>) -> Response {
    let objects: Option<Vec<Value>> = if resource == "metrics" {
        Some(shared.metrics_periods())
    } else {
        let store = shared.store.lock().unwrap();
        store
            .streams
            .contains_key(resource.as_str())
            .then(|| store.objects(&resource))
    };
    match objects {
        Some(objects) => axum::Json(objects).into_response(),
        None => not_found().await,
    }
}

async fn read_one(
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(shared, resource, Some(id), None, headers).await
}

async fn handle(
    shared: Arc<Shared>,
    resource: String,
    record: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
) -> Response {
    // The stream the path names, by the connector's stream table (`/v1/custom-fields/` is `custom_fields`).
    let resource = facts::stream_at(&resource).map_or(resource, str::to_owned);
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut logged = LoggedRequest {
        stream: resource.clone(),
        page: 0,
        limit: 0,
        sorting: Vec::new(),
        created_after: None,
        filtered: false,
        source: None,
        record,
        status: 0,
        user_agent: header_text(header::USER_AGENT),
        polar_version: headers
            .get("polar-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        authorization: header_text(header::AUTHORIZATION),
        received: shared.started.elapsed(),
    };
    let mut response = answer(
        &shared,
        &resource,
        query.as_deref().unwrap_or_default(),
        &mut logged,
    )
    .await;
    if let Some(hostile) = take_hostile(&shared, &resource, logged.record.is_some()) {
        response = rewrite(response, &hostile, &logged, query.as_deref()).await;
    }
    logged.status = response.status().as_u16();
    shared.log.lock().unwrap().push(logged);
    response
}

async fn answer(
    shared: &Shared,
    resource: &str,
    query: &str,
    logged: &mut LoggedRequest,
) -> Response {
    let options = &shared.options;
    if !options.latency.is_zero() {
        tokio::time::sleep(options.latency).await;
    }
    if !logged.polar_version.is_empty() && logged.polar_version != options.served_version {
        return not_found().await;
    }
    if !data::STREAMS.contains(&resource) && resource != "metrics" {
        return not_found().await;
    }
    if let Some(limit) = options.rate_limit_per_minute {
        let mut window = shared.window.lock().unwrap();
        let now = Instant::now();
        while window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            let wait = Duration::from_secs(60) - now.duration_since(window[0]);
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return too_many_requests(seconds);
        }
        window.push_back(now);
    }
    if let Some(response) = options
        .fixed_window
        .and_then(|fixed| fixed_window(shared, fixed))
    {
        return response;
    }
    if let Some(response) = options
        .token_bucket
        .and_then(|bucket| token_bucket(shared, bucket))
    {
        return response;
    }
    if logged.authorization != format!("Bearer {}", options.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Invalid or expired token",
        );
    }
    if let Some(scopes) = &options.scopes {
        let needed = scope_of(resource);
        let write = needed.replace(":read", ":write");
        if !scopes
            .iter()
            .any(|scope| *scope == needed || (*scope == write && resource != "orders"))
        {
            return error(
                StatusCode::FORBIDDEN,
                "MissingScope",
                &format!("The scope {needed} is required."),
            );
        }
    }
    if resource == "metrics" {
        // Faults on metrics apply to every request of it (it has no pages).
        if let Some(response) = take_fault(shared, resource, 1)
            .as_ref()
            .and_then(status_fault)
        {
            return response;
        }
        return render_metrics(shared, logged.record.as_deref(), query);
    }
    if let Some(id) = logged.record.clone() {
        return render_record(shared, resource, &id);
    }
    // Query: page, limit, sorting (repeatable).
    let mut page: i64 = 1;
    let mut limit: i64 = 10;
    let mut sorting = Vec::new();
    let mut filters = Filters::default();
    let time = |value: &str, name: &str| {
        chrono::DateTime::parse_from_rfc3339(value)
            .map(|at| at.timestamp_micros())
            .map_err(|_| {
                Box::new(validation_error(&format!(
                    "{name} must be an ISO 8601 datetime"
                )))
            })
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match (&*key, resource) {
            ("page", _) => page = value.parse().unwrap_or(-1),
            ("limit", _) => limit = value.parse().unwrap_or(-1),
            ("sorting", _) => sorting.push(value.into_owned()),
            // The filters the connector sends, as the stream table says: strict time bounds on the first
            // sort field (orders by creation, subscriptions by start, events by timestamp), customers, ids.
            (filter, _) if let Some(kind) = facts::filter_kind(resource, filter) => {
                let by_start = facts::filtered_field(resource) == Some("started_at");
                match kind {
                    facts::FilterKind::After | facts::FilterKind::Before => {
                        let at = match time(&value, filter) {
                            Ok(at) => at,
                            Err(response) => return *response,
                        };
                        match (kind, by_start) {
                            (facts::FilterKind::After, false) => {
                                logged.created_after = Some(value.to_string());
                                filters.created_after_us = Some(at);
                            }
                            (facts::FilterKind::After, true) => filters.started_after_us = Some(at),
                            (_, false) => filters.before_us = Some(at),
                            (_, true) => filters.started_before_us = Some(at),
                        }
                    }
                    facts::FilterKind::CustomerIds => filters.customer_ids.push(value.into_owned()),
                    facts::FilterKind::Ids => filters.ids.push(value.into_owned()),
                }
            }
            ("source", "events") => {
                logged.source = Some(value.to_string());
                filters.source = Some(value.into_owned());
            }
            ("name", "events") => filters.names.push(value.into_owned()),
            // Polar also takes customers on lists the connector never filters so.
            ("customer_id", "checkouts" | "refunds") => {
                filters.customer_ids.push(value.into_owned());
            }
            _ => {}
        }
    }
    logged.filtered = !filters.customer_ids.is_empty() || !filters.ids.is_empty();
    if page < 1 || limit < 1 {
        return validation_error("page and limit must be positive integers");
    }
    let limit = limit.min(100) as usize;
    let page_number = page as u32;
    logged.page = page_number;
    logged.limit = limit as u32;
    logged.sorting = sorting.clone();
    let allowed: &[&str] = if resource == "events" {
        &["timestamp"]
    } else {
        store::sort_fields(resource)
    };
    let unmodeled = store::unmodeled_sort_keys(resource);
    for criterion in &sorting {
        let name = criterion.trim_start_matches('-');
        if !allowed.contains(&name) && !unmodeled.contains(&name) {
            return validation_error(&format!(
                "Input should be a valid sort key, got '{criterion}'"
            ));
        }
    }
    if let Some(order) = store::fixed_order(resource) {
        sorting = vec![order.to_owned()];
    }
    if sorting.is_empty() {
        sorting.push(if resource == "events" {
            "-timestamp".to_owned()
        } else {
            store::default_sorting(resource).to_owned()
        });
    }
    let fault = take_fault(shared, resource, page_number);
    if let Some(FaultKind::Delay(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    if let Some(response) = fault.as_ref().and_then(status_fault) {
        return response;
    }
    churn(shared, resource);
    let body = if resource == "events" {
        render_events(shared, &sorting, &filters, page as usize, limit)
    } else {
        render_page(
            shared,
            resource,
            &sorting,
            &filters,
            page as usize,
            limit,
            fault.as_ref(),
        )
    };
    match fault {
        Some(FaultKind::CutBody) => {
            let cut = body.len() / 2;
            let head = body[..cut].to_vec();
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
                Ok(head),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut",
                )),
            ];
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, body.len().to_string())
                .body(Body::from_stream(tokio_stream::iter(chunks)))
                .unwrap()
        }
        Some(FaultKind::MalformedJson) => json_response(body.slice(..body.len() / 2)),
        Some(FaultKind::Body(text)) => json_response(text.into()),
        _ => json_response(body),
    }
}

/// The answer of a status fault (an error status, maybe with `Retry-After` and a body).
fn status_fault(fault: &FaultKind) -> Option<Response> {
    let FaultKind::Status {
        status,
        retry_after,
        body,
    } = fault
    else {
        return None;
    };
    let mut response = Response::builder().status(*status);
    if let Some(value) = retry_after {
        response = response.header(header::RETRY_AFTER, value);
    }
    Some(response.body(Body::from(body.clone())).unwrap())
}

/// Days from `origin_ms` (midnight UTC) to today, today included.
fn metrics_days_until_today(origin_ms: i64) -> u64 {
    let today = chrono::Utc::now().timestamp_millis();
    u64::try_from((today - origin_ms).div_euclid(86_400_000) + 1).unwrap_or(0)
}

/// `GET /v1/metrics/limits`, or `GET /v1/metrics/` for `start_date..=end_date` (dates) with `interval=day` and
/// `timezone=UTC` (the only ones modelled): 422 for a missing or malformed parameter or a span over the limit,
/// as Polar answers.
fn render_metrics(shared: &Shared, path: Option<&str>, query: &str) -> Response {
    let origin = shared.origin_ms;
    let max_days = shared.options.metrics_max_days;
    match path {
        Some("limits") => {
            return axum::Json(data::metrics_limits(origin, max_days)).into_response();
        }
        Some(_) => return error(StatusCode::NOT_FOUND, "ResourceNotFound", "Not found"),
        None => {}
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        params.insert(key.into_owned(), value.into_owned());
    }
    let date = |name: &str| {
        params
            .get(name)
            .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
    };
    let (Some(start), Some(end)) = (date("start_date"), date("end_date")) else {
        return validation_error("start_date and end_date must be dates");
    };
    if params.get("interval").map(String::as_str) != Some("day")
        || params.get("timezone").map(String::as_str).unwrap_or("UTC") != "UTC"
    {
        return validation_error(
            "interval must be day and timezone UTC (the fake models no other)",
        );
    }
    let span = (end - start).num_days() + 1;
    if span < 1 || span > i64::from(max_days) {
        return validation_error(&format!(
            "The interval day must be between 0 and {max_days} days"
        ));
    }
    let first_day = chrono::DateTime::from_timestamp_millis(origin)
        .expect("a valid origin")
        .date_naive();
    let today = first_day + chrono::TimeDelta::days(metrics_days_until_today(origin) as i64 - 1);
    // Days before the organization existed or after today have no period.
    let from = start.max(first_day);
    let to = end.min(today);
    let body = if to < from {
        json!({"periods": [], "totals": {}, "metrics": data::metrics_response(shared.options.seed, origin, 0, 0)["metrics"]})
    } else {
        data::metrics_response(
            shared.options.seed,
            origin,
            (from - first_day).num_days() as u64,
            (to - from).num_days() as u64 + 1,
        )
    };
    json_response(serde_json::to_vec(&body).expect("serializes").into())
}

/// A record read by id (`GET /v1/<list>/<id>`): 404 once deleted, as Polar answers for soft-deleted rows.
fn render_record(shared: &Shared, resource: &str, id: &str) -> Response {
    let Some(stream) = data::STREAMS.iter().find(|name| **name == resource) else {
        return error(StatusCode::NOT_FOUND, "ResourceNotFound", "Not found");
    };
    let mut store = shared.store.lock().unwrap();
    let seed = store.seed;
    let data_for_stream = store.stream(stream);
    match data_for_stream.find(stream, seed, id) {
        Some(position) => {
            let object = data_for_stream.rows[position].render(stream, seed);
            json_response(serde_json::to_vec(&object).expect("serializes").into())
        }
        None => error(StatusCode::NOT_FOUND, "ResourceNotFound", "Not found"),
    }
}

/// A page of `GET /v1/events/`: the usage events (the `events` rows) and the system events together, sorted
/// by `timestamp` (ties cut by the page's edges reshuffled, as Polar's unordered ties are), filtered by `source`,
/// `name` (any of) and `start_timestamp` (strict).
fn render_events(
    shared: &Shared,
    sorting: &[String],
    filters: &Filters,
    page: usize,
    limit: usize,
) -> bytes::Bytes {
    let store = shared.store.lock().unwrap();
    // Cached like other pages (for the benchmark): the key holds every filter, the version every change.
    let mut key_sorting = sorting.to_vec();
    key_sorting.push(format!(
        "after={:?} before={:?} source={:?} names={:?}",
        filters.created_after_us, filters.before_us, filters.source, filters.names
    ));
    let key = ("events".to_owned(), key_sorting, page, limit);
    let version = store.streams["events"].version + store.events.len() as u64;
    if shared.options.cache_pages {
        let cache = shared.page_cache.lock().unwrap();
        if let Some((_, body)) = cache.get(&key).filter(|(cached, _)| *cached == version) {
            return body.clone();
        }
    }
    let wants = |source: &str| {
        filters
            .source
            .as_deref()
            .is_none_or(|wanted| wanted == source)
    };
    let named =
        |name: &str| filters.names.is_empty() || filters.names.iter().any(|wanted| wanted == name);
    let after = |timestamp_us: i64| {
        filters
            .created_after_us
            .is_none_or(|after| timestamp_us > after)
            && filters.before_us.is_none_or(|before| timestamp_us < before)
    };
    // (timestamp, a usage event's row position or a system event's index)
    let mut order: Vec<(i64, Result<usize, usize>)> = Vec::new();
    if wants("user") {
        for (position, row) in store.streams["events"].rows.iter().enumerate() {
            let at = row.created_at_ms * 1000;
            if after(at) && named(data::user_event_name(row.index)) {
                order.push((at, Ok(position)));
            }
        }
    }
    if wants("system") {
        for (index, event) in store.events.iter().enumerate() {
            if after(event.timestamp_us) && named(event.name) {
                order.push((event.timestamp_us, Err(index)));
            }
        }
    }
    order.sort_by_key(|(at, _)| *at);
    if sorting.first().map(String::as_str) == Some("-timestamp") {
        order.reverse();
    }
    let total = order.len();
    let start = (page - 1).saturating_mul(limit).min(total);
    let end = (start + limit).min(total);
    let mut rng = shared.rng.lock().unwrap();
    let mut shuffled = false;
    for edge in [start, end] {
        if edge == 0 || edge >= total || order[edge - 1].0 != order[edge].0 {
            continue;
        }
        shuffled = true;
        let at = order[edge].0;
        let low = order[..edge]
            .iter()
            .rposition(|(other, _)| *other != at)
            .map_or(0, |before| before + 1);
        let high = edge
            + order[edge..]
                .iter()
                .take_while(|(other, _)| *other == at)
                .count();
        rng.shuffle(&mut order[low..high]);
    }
    drop(rng);
    let items: Vec<Value> = order[start..end]
        .iter()
        .map(|(_, which)| match which {
            Ok(position) => store.streams["events"].rows[*position].render("events", store.seed),
            Err(index) => store.events[*index].render(store.seed),
        })
        .collect();
    let envelope = json!({
        "items": items,
        "pagination": {"total_count": total, "max_page": total.div_ceil(limit)},
    });
    let body: bytes::Bytes = serde_json::to_vec(&envelope).expect("serializes").into();
    // A page whose edges cut a tie group is reshuffled on every request, so it is never kept.
    if shared.options.cache_pages && !shuffled {
        let mut cache = shared.page_cache.lock().unwrap();
        cache.insert(key, (version, body.clone()));
    }
    body
}

/// The filters of one list request.
#[derive(Debug, Default)]
struct Filters {
    /// `created_after` on orders, `start_timestamp` on events (Unix microseconds, strict).
    created_after_us: Option<i64>,
    started_after_us: Option<i64>,
    /// `created_before` on orders, `end_timestamp` on events (strict).
    before_us: Option<i64>,
    started_before_us: Option<i64>,
    customer_ids: Vec<String>,
    ids: Vec<String>,
    source: Option<String>,
    /// Event names (any of).
    names: Vec<String>,
}

impl Filters {
    fn is_empty(&self) -> bool {
        self.created_after_us.is_none()
            && self.started_after_us.is_none()
            && self.before_us.is_none()
            && self.started_before_us.is_none()
            && self.customer_ids.is_empty()
            && self.ids.is_empty()
    }

    /// Whether the request filters on start times alone (`started_after`, `started_before`).
    fn only_started_range(&self) -> bool {
        self.created_after_us.is_none()
            && self.before_us.is_none()
            && self.customer_ids.is_empty()
            && self.ids.is_empty()
    }

    fn only_created_after(&self) -> bool {
        self.started_after_us.is_none()
            && self.before_us.is_none()
            && self.started_before_us.is_none()
            && self.customer_ids.is_empty()
            && self.ids.is_empty()
    }
}

/// Counts this request against the fixed window, after the other traffic due by now; `Some`: refused.
fn fixed_window(shared: &Shared, fixed: FixedWindow) -> Option<Response> {
    let elapsed = shared.started.elapsed();
    let index = (elapsed.as_nanos() / fixed.window.as_nanos()) as u64;
    let into = elapsed.as_secs_f64() - index as f64 * fixed.window.as_secs_f64();
    let mut state = shared.fixed.lock().unwrap();
    if state.index != index || state.stats.windows == 0 {
        // Windows that passed unseen still saw their other traffic.
        state.index = index;
        state.used = 0;
        state.others_sent = 0;
        state.spent = false;
        state.refused_us = false;
        state.stats.windows += 1;
    }
    let others = match fixed.others_later {
        Some((from, later)) if elapsed >= from => later,
        _ => fixed.others,
    };
    let others_due = (f64::from(others) * into / fixed.window.as_secs_f64()) as u32;
    while state.others_sent < others_due {
        state.others_sent += 1;
        if state.used < fixed.limit || fixed.merchant_first {
            state.used += 1;
            state.stats.others_served += 1;
        } else {
            state.stats.others_refused += 1;
        }
        note_spent(&mut state, fixed.limit);
    }
    if state.used < fixed.limit {
        state.used += 1;
        note_spent(&mut state, fixed.limit);
        return None;
    }
    state.stats.ours_refused += 1;
    if !state.refused_us {
        state.refused_us = true;
        state.stats.windows_refusing_us += 1;
    }
    let seconds = fixed.window.as_secs_f64().ceil() as u64;
    Some(too_many_requests(seconds))
}

fn note_spent(state: &mut WindowState, limit: u32) {
    if state.used >= limit && !state.spent {
        state.spent = true;
        state.stats.windows_spent += 1;
    }
}

/// Takes a token for this request; `Some`: none left, refused.
fn token_bucket(shared: &Shared, bucket: TokenBucket) -> Option<Response> {
    let mut state = shared.bucket.lock().unwrap();
    let now = Instant::now();
    let per_second = f64::from(bucket.per_minute) / 60.0;
    let (tokens, at) = state.get_or_insert((f64::from(bucket.burst), now));
    *tokens =
        (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(f64::from(bucket.burst));
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        return None;
    }
    let wait = (1.0 - *tokens) / per_second;
    Some(too_many_requests(wait.ceil() as u64))
}

fn too_many_requests(retry_after_seconds: u64) -> Response {
    Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header(header::RETRY_AFTER, retry_after_seconds.to_string())
        .body(Body::empty())
        .unwrap()
}

fn json_response(body: bytes::Bytes) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("polar-version", API_VERSION)
        .body(Body::from(body))
        .unwrap()
}

fn validation_error(message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(
            json!({"detail": [{"loc": ["query", "sorting"], "msg": message, "type": "enum"}]}),
        ),
    )
        .into_response()
}

fn take_hostile(shared: &Shared, resource: &str, record_read: bool) -> Option<Hostile> {
    let mut hostile = shared.hostile.lock().unwrap();
    let found = hostile.iter_mut().find(|hostile| {
        hostile.times > 0 && hostile.stream == resource && hostile.record_reads == record_read
    })?;
    if found.skip > 0 {
        found.skip -= 1;
        return None;
    }
    found.times -= 1;
    Some(found.clone())
}

/// `response` as `hostile` rewrites it.
async fn rewrite(
    response: Response,
    hostile: &Hostile,
    logged: &LoggedRequest,
    query: Option<&str>,
) -> Response {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut answer = Answer {
        authorization: logged.authorization.clone(),
        query: query.unwrap_or_default().to_owned(),
        record: logged.record.clone(),
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| *name != header::CONTENT_LENGTH)
            .map(|(name, value)| {
                (
                    name.to_string(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    (hostile.rewrite)(&mut answer);
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(answer.body)).unwrap()
}

fn take_fault(shared: &Shared, resource: &str, page: u32) -> Option<FaultKind> {
    let mut faults = shared.faults.lock().unwrap();
    let position = faults.iter().position(|fault| {
        fault.times > 0
            && fault
                .stream
                .as_deref()
                .is_none_or(|stream| stream == resource)
            && (fault.pages.0..=fault.pages.1).contains(&page)
    })?;
    if faults[position].skip > 0 {
        faults[position].skip -= 1;
        return None;
    }
    faults[position].times -= 1;
    Some(faults[position].kind.clone())
}

/// Creates and deletes records of the churned stream before this request is answered.
fn churn(shared: &Shared, resource: &str) {
    let mut churns = shared.churn.lock().unwrap();
    let Some(churn) = churns
        .iter_mut()
        .find(|churn| churn.stream == resource && churn.requests > 0)
    else {
        return;
    };
    churn.requests -= 1;
    let mut store = shared.store.lock().unwrap();
    let seed = store.seed;
    let stream: &'static str = data::STREAMS
        .iter()
        .find(|name| **name == resource)
        .expect("known stream");
    let mut rng = shared.rng.lock().unwrap();
    for _ in 0..churn.deletes_per_request {
        let rows = &store.streams[stream].rows;
        if rows.is_empty() {
            break;
        }
        // Delete from the first half, where the sync has already been: the case that shifts later records.
        let position = rng.usize(..rows.len().div_ceil(2));
        let row = store.stream(stream).remove(position);
        let id = data::object_id(stream, seed, row.index);
        // With the system event Polar writes for it, where it writes one (a customer's deletion).
        let object = row.render(stream, seed);
        if let Some((name, metadata)) = system_event(stream, Change::Deleted, &object) {
            push_event(
                &mut store,
                name,
                Some(id.clone().into()),
                metadata,
                now_micros(),
            );
        }
        shared.deleted.lock().unwrap().push(id);
    }
    for _ in 0..churn.creates_per_request {
        let now = chrono::Utc::now().timestamp_millis();
        let last = store.streams[stream]
            .rows
            .last()
            .map_or(now, |row| row.created_at_ms + 1);
        let index = store.stream(stream).push(stream, seed, now.max(last));
        let position = store.streams[stream].rows.len() - 1;
        let row = &store.streams[stream].rows[position];
        let (customer, object) = (row.customer_id.clone(), row.render(stream, seed));
        if let Some((name, metadata)) = system_event(stream, Change::Created, &object) {
            push_event(&mut store, name, customer, metadata, now_micros());
        }
        shared
            .created
            .lock()
            .unwrap()
            .push(data::object_id(stream, seed, index));
    }
}

/// The JSON body of one page, with ties straddling the page's edges shuffled as an unordered query would.
///
/// Only the page's window (widened to the tie groups cut by its edges) is copied out of the cached order, and
/// the objects are generated after the store's lock is released, so concurrent requests render in parallel.
fn render_page(
    shared: &Shared,
    resource: &str,
    sorting: &[String],
    filters: &Filters,
    page: usize,
    limit: usize,
    fault: Option<&FaultKind>,
) -> bytes::Bytes {
    let mut key_sorting = sorting.to_vec();
    if let Some(after) = filters.created_after_us {
        key_sorting.push(format!("created_after={after}"));
    }
    let key = (resource.to_owned(), key_sorting, page, limit);
    let cacheable = shared.options.cache_pages
        && fault.is_none()
        && filters.customer_ids.is_empty()
        && filters.ids.is_empty()
        && filters.before_us.is_none()
        && filters.started_after_us.is_none()
        && filters.started_before_us.is_none();
    let stream: &'static str = data::STREAMS
        .iter()
        .find(|name| **name == resource)
        .expect("known stream");
    let (rows, total, seed, version, shuffled) = {
        let mut store = shared.store.lock().unwrap();
        let seed = store.seed;
        let data_for_stream = store.stream(stream);
        let version = data_for_stream.version;
        if cacheable {
            let cache = shared.page_cache.lock().unwrap();
            if let Some((_, body)) = cache.get(&key).filter(|(cached, _)| *cached == version) {
                return body.clone();
            }
        }
        let ordered = data_for_stream.ordered(resource, sorting);
        let wanted_positions: Option<std::collections::HashSet<usize>> = (!filters.ids.is_empty())
            .then(|| {
                filters
                    .ids
                    .iter()
                    .filter_map(|id| data_for_stream.find(stream, seed, id))
                    .collect()
            });
        let started_field = store::sort_fields(stream)
            .iter()
            .position(|field| *field == "started_at");
        // `created_after` and `started_after` (strict), `customer_id` and `id` (any of): the rows that pass,
        // in the same order.
        let filtered: Vec<usize>;
        let order: &[usize] = if filters.is_empty() {
            &ordered
        } else {
            let rows = &data_for_stream.rows;
            // When the row at `position` started (Unix microseconds), if it did.
            let started_at = |position: &usize| {
                started_field.and_then(|field| match &rows[*position].values[field] {
                    Some(store::SortValue::Text(text)) => {
                        chrono::DateTime::parse_from_rfc3339(text)
                            .ok()
                            .map(|at| at.timestamp_micros())
                    }
                    _ => None,
                })
            };
            let keep = |position: &usize| {
                let row = &rows[*position];
                let started = || started_at(position);
                filters
                    .created_after_us
                    .is_none_or(|after| row.created_at_ms * 1000 > after)
                    && filters
                        .before_us
                        .is_none_or(|before| row.created_at_ms * 1000 < before)
                    && filters
                        .started_after_us
                        .is_none_or(|after| started().is_some_and(|started| started > after))
                    && filters
                        .started_before_us
                        .is_none_or(|before| started().is_some_and(|started| started < before))
                    && (filters.customer_ids.is_empty()
                        || row.customer_id.as_deref().is_some_and(|customer| {
                            filters.customer_ids.iter().any(|wanted| wanted == customer)
                        }))
                    && wanted_positions
                        .as_ref()
                        .is_none_or(|wanted| wanted.contains(position))
            };
            if filters.only_created_after()
                && sorting.first().map(String::as_str) == Some("created_at")
            {
                let cut = ordered.partition_point(|position| !keep(position));
                &ordered[cut..]
            } else if filters.only_started_range()
                && sorting.first().map(String::as_str) == Some("started_at")
            {
                // Ascending with nulls last: the started rows are a sorted prefix, and a range of start times
                // a slice of it, found in log time (a scan parsed every row's time on every page).
                let prefix = &ordered[..ordered.partition_point(|p| started_at(p).is_some())];
                let bound = |limit: Option<i64>, inside: fn(i64, i64) -> bool| {
                    limit.map(|limit| {
                        prefix.partition_point(|p| started_at(p).is_some_and(|s| inside(s, limit)))
                    })
                };
                let low = bound(filters.started_after_us, |s, after| s <= after).unwrap_or(0);
                let high = bound(filters.started_before_us, |s, before| s < before)
                    .unwrap_or(prefix.len());
                &prefix[low..high.max(low)]
            } else {
                filtered = ordered.iter().copied().filter(keep).collect();
                &filtered
            }
        };
        let total = order.len();
        let start = (page - 1).saturating_mul(limit).min(total);
        let end = (start + limit).min(total);
        let tied = |a: usize, b: usize| data_for_stream.tied(resource, sorting, order[a], order[b]);
        // The tie group an edge cuts through (empty when the rows on either side differ).
        let group_at = |edge: usize| -> std::ops::Range<usize> {
            if edge == 0 || edge >= total || !tied(edge - 1, edge) {
                return edge..edge;
            }
            let mut low = edge - 1;
            while low > 0 && tied(low - 1, edge) {
                low -= 1;
            }
            let mut high = edge + 1;
            while high < total && tied(high, edge) {
                high += 1;
            }
            low..high
        };
        let groups = [group_at(start), group_at(end)];
        // Only the page, widened to the groups its edges cut, is copied and reshuffled.
        let low = groups[0].start.min(start);
        let high = groups[1].end.max(end);
        let mut window: Vec<usize> = order[low..high].to_vec();
        let mut rng = shared.rng.lock().unwrap();
        for group in groups {
            rng.shuffle(&mut window[group.start - low..group.end - low]);
        }
        drop(rng);
        let rows: Vec<_> = window[start - low..end - low]
            .iter()
            .map(|&position| data_for_stream.rows[position].clone())
            .collect();
        (rows, total, seed, version, low != start || high != end)
    };
    let mut items: Vec<Value> = rows.iter().map(|row| row.render(stream, seed)).collect();
    if let (Some(FaultKind::ItemWithoutId), Some(first)) = (fault, items.first_mut()) {
        first.as_object_mut().expect("objects").remove("id");
    }
    let envelope = json!({
        "items": items,
        "pagination": {"total_count": total, "max_page": total.div_ceil(limit)},
    });
    let body = bytes::Bytes::from(if matches!(fault, Some(FaultKind::Indented)) {
        serde_json::to_vec_pretty(&envelope).expect("serializes")
    } else {
        serde_json::to_vec(&envelope).expect("serializes")
    });
    // A page whose edges cut a tie group is reshuffled on every request, so it is never kept.
    if cacheable && !shuffled {
        let mut cache = shared.page_cache.lock().unwrap();
        cache.insert(key, (version, body.clone()));
    }
    body
}
