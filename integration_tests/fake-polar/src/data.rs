//! Deterministic, realistic Polar API objects (API version `2026-10`) for the list streams.
//!
//! This module owns the fake *data*: what one object of a stream looks like. It does not know about
//! pages, filters or HTTP; the server, the end-to-end tests and the benchmark ask it for object
//! `index` of a stream and get the same JSON every time ([`object`], [`object_id`]).
//!
//! Ground truth is the official Python SDK `polar-sdk` 1.0.2, module `polar.v2026_10`
//! (`outputs.py`, enum values from `literals.py`): every object carries every field of its type or
//! union variant, required and optional, and `integration_tests/sdk_check.py` checks pages with the
//! SDK's own loader.
//!
//! How it is built:
//! - Every entity (customer, product, subscription, order, ...) has a *plan*: everything about it
//!   that is a pure function of `(seed, index)` (ids, names, prices, amounts, status, random
//!   offsets). Rendering a plan at a creation time gives the JSON; all other timestamps are offsets
//!   from that creation time. So a customer embedded in an order has the same id, name and email
//!   as object `index` of the `customers` stream; only its timestamps may differ.
//! - Variants (customer types, benefit types, price types, statuses, billing reasons) are chosen
//!   cyclically from the index, so the first k objects of a stream cover its k variants; the
//!   seeded RNG ([`fastrand::Rng::with_seed`]) adds variety on top.
//! - References point at indexes at or near the referrer's own (order `i` of customer `i`, or of a
//!   subscription in the same block of 40; refund `i` of an order in the same block of 6;
//!   products among the first 32), so they resolve when the streams have similar sizes.
//!   Everything belongs to organization 0 ([`organization_id`]).

use chrono::{DateTime, Datelike, Months, Timelike};
use fastrand::Rng;
use serde_json::{Map, Value, json};

/// Builds a JSON object like `json!({...})` but moves each value in with `Value::from` instead of
/// re-serializing it (`json!` deep-copies nested `Value`s, which dominated the generation time).
/// Values are expressions; `{ ... }` nests an object and `null` is JSON null.
macro_rules! obj {
    (@fill $m:ident) => {};
    (@fill $m:ident $key:literal : { $($inner:tt)* } $(, $($rest:tt)*)?) => {
        $m.insert(String::from($key), obj!({ $($inner)* }));
        $(obj!(@fill $m $($rest)*);)?
    };
    (@fill $m:ident $key:literal : null $(, $($rest:tt)*)?) => {
        $m.insert(String::from($key), Value::Null);
        $(obj!(@fill $m $($rest)*);)?
    };
    (@fill $m:ident $key:literal : $value:expr $(, $($rest:tt)*)?) => {
        $m.insert(String::from($key), Value::from($value));
        $(obj!(@fill $m $($rest)*);)?
    };
    ({ $($body:tt)* }) => {{
        #[allow(unused_mut)]
        let mut m = Map::new();
        obj!(@fill m $($body)*);
        Value::Object(m)
    }};
}

/// The streams, in the connector's order.
pub const STREAMS: &[&str] = &[
    "customers",
    "products",
    "orders",
    "subscriptions",
    "refunds",
    "checkouts",
    "benefits",
    "organizations",
    "meters",
    "custom_fields",
    "disputes",
    "discounts",
    "payments",
    "checkout_links",
    "license_keys",
    "benefit_grants",
    "customer_meters",
    "events",
];

/// One object of `stream`, a pure function of (stream, seed, index, created_at_ms):
/// same inputs, same object. `created_at_ms` (Unix milliseconds, UTC) becomes its `created_at`
/// (other timestamps are derived from it). Panics on an unknown stream name.
pub fn object(stream: &str, seed: u64, index: u64, created_at_ms: i64) -> Value {
    match stream {
        "customers" => customer(seed, index, created_at_ms),
        "products" => product(&product_plan(seed, index), created_at_ms),
        "orders" => order(seed, index, created_at_ms),
        "subscriptions" => subscription(seed, index, created_at_ms),
        "refunds" => refund(seed, index, created_at_ms),
        "checkouts" => checkout(seed, index, created_at_ms),
        "benefits" => benefit(seed, index, created_at_ms, false),
        "organizations" => organization(seed, index, created_at_ms),
        "meters" => meter_record(seed, index, created_at_ms),
        "custom_fields" => custom_field_record(seed, index, created_at_ms),
        "disputes" => dispute_record(seed, index, created_at_ms),
        "discounts" => discount_record(seed, index, created_at_ms),
        "payments" => payment(seed, index, created_at_ms),
        "checkout_links" => checkout_link(seed, index, created_at_ms),
        "license_keys" => license_key(seed, index, created_at_ms),
        "benefit_grants" => benefit_grant(seed, index, created_at_ms),
        "customer_meters" => customer_meter(seed, index, created_at_ms),
        "events" => user_event(seed, index, created_at_ms),
        other => panic!("unknown Polar stream {other:?}; expected one of {STREAMS:?}"),
    }
}

/// The object's id for (stream, seed, index): a UUID-formatted string, unique per (stream, seed, index).
pub fn object_id(stream: &str, seed: u64, index: u64) -> String {
    uuid(stream, seed, index)
}

/// The organization that owns every generated object (organization 0 of the seed).
pub fn organization_id(seed: u64) -> String {
    object_id("organizations", seed, 0)
}

// ---------------------------------------------------------------------------------------------
// Ids and randomness
// ---------------------------------------------------------------------------------------------

const fn fnv1a(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// splitmix64's finalizer: a bijection on u64 with good avalanche.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn namespace_key(ns: &str, seed: u64) -> u64 {
    mix64(fnv1a(ns) ^ mix64(seed ^ 0x6a09_e667_f3bc_c909))
}

/// The RNG of entity `index` in namespace `ns`.
fn rng_for(ns: &str, seed: u64, index: u64) -> Rng {
    Rng::with_seed(mix64(
        namespace_key(ns, seed).rotate_left(21) ^ mix64(index),
    ))
}

/// The index of child `k` (of at most `slots`) of entity `parent`, for ids of nested objects
/// (prices, files, items): distinct for distinct (parent, k) while `parent < 2^64 / slots`.
fn child_index(parent: u64, slots: u64, k: u64) -> u64 {
    parent.wrapping_mul(slots).wrapping_add(k)
}

/// A version-4-shaped UUID for (namespace, seed, index). Within one (namespace, seed) it is
/// injective in `index`: `x = mix64(index ^ k)` is a bijection and all 64 bits of `x` are stored
/// (62 in the low half, 2 in the high half); the other bits only look random.
pub fn uuid(ns: &str, seed: u64, index: u64) -> String {
    let k = namespace_key(ns, seed);
    let x = mix64(index ^ k);
    let hi = (mix64(x ^ k.rotate_left(32)) & !0xF003) | 0x4000 | (x >> 62);
    let lo = (x & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut out = String::with_capacity(36);
    for (i, word) in [hi, lo].into_iter().enumerate() {
        for n in 0..16 {
            if matches!(16 * i + n, 8 | 12 | 16 | 20) {
                out.push('-');
            }
            out.push(HEX[((word >> (60 - 4 * n)) & 0xF) as usize] as char);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn pick<T: Copy>(r: &mut Rng, items: &[T]) -> T {
    items[r.usize(..items.len())]
}

/// True with probability `num / den`.
fn chance(r: &mut Rng, num: u32, den: u32) -> bool {
    r.u32(..den) < num
}

fn hex_token(r: &mut Rng, len: usize) -> String {
    (0..len).map(|_| HEX[r.usize(..16)] as char).collect()
}

fn alnum_token(r: &mut Rng, len: usize) -> String {
    (0..len).map(|_| r.alphanumeric()).collect()
}

fn digit_token(r: &mut Rng, len: usize) -> String {
    (0..len).map(|_| r.digit(10)).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Shallow-merges the fields of `extra` into the object `base`.
fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Formats Unix milliseconds like Polar does: `2026-03-04T05:06:07.123000Z`.
pub fn timestamp(ms: i64) -> String {
    timestamp_us(ms.saturating_mul(1_000))
}

/// Formats Unix microseconds like Polar does: `2026-03-04T05:06:07.123456Z`.
pub fn timestamp_us(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000) as u32;
    let dt = DateTime::from_timestamp(secs, 0).expect("timestamp within chrono's range");
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        return format!("{}.{micros:06}Z", dt.format("%Y-%m-%dT%H:%M:%S"));
    }
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |start: usize, width: usize, mut v: u32| {
        for i in (start..start + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, dt.month());
    put(8, 2, dt.day());
    put(11, 2, dt.hour());
    put(14, 2, dt.minute());
    put(17, 2, dt.second());
    put(20, 6, micros);
    String::from_utf8(b.to_vec()).expect("ascii")
}

/// A derived timestamp: `ms` plus a random sub-millisecond part, formatted.
fn ts_jitter(r: &mut Rng, ms: i64) -> String {
    timestamp_us(ms.saturating_mul(1_000) + r.i64(0..1_000))
}

/// A derived timestamp `base + offset`, the offset drawn from `range` (ms).
fn ts_in(r: &mut Rng, base: i64, range: std::ops::Range<i64>) -> String {
    let offset = r.i64(range);
    ts_jitter(r, base + offset)
}

/// `modified_at`: null for about a third of objects, otherwise some time after creation.
/// Returns an offset in ms (drawn at plan time) so renders stay pure.
fn modified_offset(r: &mut Rng, max_days: i64) -> Option<i64> {
    if chance(r, 1, 3) {
        None
    } else {
        Some(r.i64(MINUTE..max_days * DAY))
    }
}

fn ts_offset(created: i64, offset: Option<i64>) -> Value {
    match offset {
        Some(o) => Value::String(timestamp_us((created + o) * 1_000 + (o.rem_euclid(997)))),
        None => Value::Null,
    }
}

/// `ms` plus `count` billing intervals (calendar months and years, like Polar's periods).
fn add_interval(ms: i64, interval: &str, count: u32) -> i64 {
    let Some(dt) = DateTime::from_timestamp_millis(ms) else {
        return ms;
    };
    let shifted = match interval {
        "day" => Some(dt + chrono::Duration::days(count as i64)),
        "week" => Some(dt + chrono::Duration::weeks(count as i64)),
        "month" => dt.checked_add_months(Months::new(count)),
        _ => dt.checked_add_months(Months::new(12 * count)),
    };
    shifted.map_or(ms, |d| d.timestamp_millis())
}

// ---------------------------------------------------------------------------------------------
// Realistic pools: people, companies, places, money
// ---------------------------------------------------------------------------------------------

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Mateo", "Sofia", "Leo", "Amelia",
    "Hugo", "Chloe", "Elias", "Hannah", "Arjun", "Priya", "Yuki", "Kenji", "Fatima", "Omar",
    "Ingrid", "Lars", "Camille", "Louis", "Giulia", "Marco", "Lucia", "Diego", "Aisha", "Kwame",
    "Zoe", "Ethan", "Nora", "Felix", "Maya", "Samuel", "Elena", "Jonas", "Clara",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Garcia",
    "Martin",
    "Muller",
    "Rossi",
    "Silva",
    "Kim",
    "Nguyen",
    "Patel",
    "Tanaka",
    "Dubois",
    "Andersson",
    "Nielsen",
    "Kowalski",
    "Novak",
    "Okafor",
    "Haddad",
    "Lopez",
    "Schmidt",
    "Fischer",
    "Bernard",
    "Moreau",
    "Costa",
    "Santos",
    "Sato",
    "Chen",
    "Wang",
    "Singh",
    "Brown",
    "Wilson",
    "Taylor",
    "Clarke",
    "Evans",
    "Larsen",
    "Jansen",
    "de Vries",
    "OBrien",
];

const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "proton.me",
    "icloud.com",
    "fastmail.com",
    "yahoo.com",
    "hey.com",
    "gmx.de",
    "hotmail.co.uk",
    "orange.fr",
];

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Hooli",
    "Vandelay",
    "Tyrell",
    "Soylent",
    "Aperture",
    "Cyberdyne",
    "Wonka",
    "Stark",
    "Nimbus",
    "Lumen",
    "Northwind",
    "Bluebird",
    "Quantum",
    "Pixel",
    "Cobalt",
    "Juniper",
    "Copperleaf",
    "Driftwood",
    "Halcyon",
    "Kestrel",
    "Monarch",
    "Orchid",
    "Sable",
];

const COMPANY_SUFFIXES: &[&str] = &[
    "Labs",
    "Inc",
    "Studio",
    "GmbH",
    "Ltd",
    "Collective",
    "Software",
    "Systems",
    "Analytics",
    "AB",
    "BV",
    "SAS",
    "Cloud",
    "Works",
];

const STREETS: &[&str] = &[
    "Market Street",
    "Main Street",
    "Baker Street",
    "Hauptstrasse",
    "Rue de Rivoli",
    "Keizersgracht",
    "Via Roma",
    "Calle Mayor",
    "Queen Street West",
    "George Street",
    "Drottninggatan",
    "Bahnhofstrasse",
    "Avenida Paulista",
    "Park Avenue",
    "Mission Street",
];

/// A city with everything an address, a currency and a tax rate need.
#[derive(Clone, Copy)]
struct Place {
    country: &'static str,
    state: Option<&'static str>,
    city: &'static str,
    postal: &'static str,
    currency: &'static str,
    locale: &'static str,
    /// Sales tax / VAT in basis points.
    tax_bp: i64,
    /// `(tax id type, prefix, digits)` for business customers.
    tax_id: (&'static str, &'static str, usize),
}

const PLACES: &[Place] = &[
    Place {
        country: "US",
        state: Some("CA"),
        city: "San Francisco",
        postal: "94107",
        currency: "usd",
        locale: "en-US",
        tax_bp: 0,
        tax_id: ("us_ein", "", 9),
    },
    Place {
        country: "US",
        state: Some("NY"),
        city: "New York",
        postal: "10001",
        currency: "usd",
        locale: "en-US",
        tax_bp: 888,
        tax_id: ("us_ein", "", 9),
    },
    Place {
        country: "US",
        state: Some("TX"),
        city: "Austin",
        postal: "78701",
        currency: "usd",
        locale: "en",
        tax_bp: 825,
        tax_id: ("us_ein", "", 9),
    },
    Place {
        country: "US",
        state: Some("WA"),
        city: "Seattle",
        postal: "98101",
        currency: "usd",
        locale: "en-US",
        tax_bp: 1035,
        tax_id: ("us_ein", "", 9),
    },
    Place {
        country: "CA",
        state: Some("ON"),
        city: "Toronto",
        postal: "M5V 2T6",
        currency: "cad",
        locale: "en-CA",
        tax_bp: 1300,
        tax_id: ("ca_gst_hst", "", 9),
    },
    Place {
        country: "GB",
        state: None,
        city: "London",
        postal: "EC1V 9HX",
        currency: "gbp",
        locale: "en-GB",
        tax_bp: 2000,
        tax_id: ("gb_vat", "GB", 9),
    },
    Place {
        country: "DE",
        state: None,
        city: "Berlin",
        postal: "10115",
        currency: "eur",
        locale: "de",
        tax_bp: 1900,
        tax_id: ("eu_vat", "DE", 9),
    },
    Place {
        country: "FR",
        state: None,
        city: "Paris",
        postal: "75011",
        currency: "eur",
        locale: "fr",
        tax_bp: 2000,
        tax_id: ("eu_vat", "FR", 11),
    },
    Place {
        country: "NL",
        state: None,
        city: "Amsterdam",
        postal: "1017 CT",
        currency: "eur",
        locale: "nl",
        tax_bp: 2100,
        tax_id: ("eu_vat", "NL", 12),
    },
    Place {
        country: "ES",
        state: None,
        city: "Madrid",
        postal: "28013",
        currency: "eur",
        locale: "es",
        tax_bp: 2100,
        tax_id: ("eu_vat", "ES", 9),
    },
    Place {
        country: "IT",
        state: None,
        city: "Milan",
        postal: "20121",
        currency: "eur",
        locale: "it",
        tax_bp: 2200,
        tax_id: ("eu_vat", "IT", 11),
    },
    Place {
        country: "SE",
        state: None,
        city: "Stockholm",
        postal: "111 57",
        currency: "sek",
        locale: "sv",
        tax_bp: 2500,
        tax_id: ("eu_vat", "SE", 12),
    },
    Place {
        country: "CH",
        state: None,
        city: "Zurich",
        postal: "8001",
        currency: "chf",
        locale: "de-CH",
        tax_bp: 810,
        tax_id: ("ch_vat", "CHE", 9),
    },
    Place {
        country: "AU",
        state: Some("NSW"),
        city: "Sydney",
        postal: "2000",
        currency: "aud",
        locale: "en-AU",
        tax_bp: 1000,
        tax_id: ("au_abn", "", 11),
    },
    Place {
        country: "BR",
        state: Some("SP"),
        city: "Sao Paulo",
        postal: "01310-100",
        currency: "brl",
        locale: "pt-BR",
        tax_bp: 0,
        tax_id: ("br_cnpj", "", 14),
    },
    Place {
        country: "IN",
        state: Some("KA"),
        city: "Bengaluru",
        postal: "560001",
        currency: "inr",
        locale: "en-IN",
        tax_bp: 1800,
        tax_id: ("in_gst", "29", 13),
    },
    Place {
        country: "JP",
        state: None,
        city: "Tokyo",
        postal: "150-0002",
        currency: "jpy",
        locale: "ja",
        tax_bp: 1000,
        tax_id: ("jp_cn", "", 13),
    },
    Place {
        country: "IE",
        state: None,
        city: "Dublin",
        postal: "D02 X285",
        currency: "eur",
        locale: "en-IE",
        tax_bp: 2300,
        tax_id: ("eu_vat", "IE", 8),
    },
];

/// A first and last name (ASCII, so they can go into email addresses).
fn person(r: &mut Rng) -> (&'static str, &'static str) {
    (pick(r, FIRST_NAMES), pick(r, LAST_NAMES))
}

fn company_name(r: &mut Rng) -> String {
    format!("{} {}", pick(r, COMPANY_WORDS), pick(r, COMPANY_SUFFIXES))
}

fn address(r: &mut Rng, place: &Place) -> Value {
    // Polar often only knows the country (checkouts that don't require a full address).
    if chance(r, 1, 6) {
        return obj!({"line1": null, "line2": null, "postal_code": null, "city": null, "state": null, "country": place.country});
    }
    let number = r.u32(1..400);
    let line2 = match r.u32(..4) {
        0 => Value::String(format!("Suite {}", r.u32(100..900))),
        1 => Value::String(format!("Floor {}", r.u32(1..30))),
        _ => Value::Null,
    };
    obj!({
        "line1": format!("{number} {}", pick(r, STREETS)),
        "line2": line2,
        "postal_code": place.postal,
        "city": place.city,
        "state": place.state.map(|s| format!("{}-{s}", place.country)),
        "country": place.country,
    })
}

fn tax_id(r: &mut Rng, place: &Place) -> Value {
    let (kind, prefix, digits) = place.tax_id;
    json!([format!("{prefix}{}", digit_token(r, digits)), kind])
}

/// Currencies products are priced in besides `usd`.
const PRICE_CURRENCIES: [&str; 2] = ["usd", "eur"];

/// A catalog price in cents, between `lo` and `hi` dollars, ending in `00` or `99`.
fn price_cents(r: &mut Rng, lo: i64, hi: i64) -> i64 {
    let dollars = r.i64(lo..=hi);
    if chance(r, 1, 2) {
        dollars * 100 - 1
    } else {
        dollars * 100
    }
}

/// Converts a USD amount to `currency` at a fixed, rounded rate.
fn convert_cents(usd: i64, currency: &str) -> i64 {
    match currency {
        "eur" => (usd * 92 / 100 / 100) * 100 + if usd % 100 == 99 { 99 } else { 0 },
        _ => usd,
    }
}

/// `amount * basis_points / 10_000`, rounded half up.
fn apply_bp(amount: i64, bp: i64) -> i64 {
    (amount * bp + 5_000).div_euclid(10_000)
}

// ---------------------------------------------------------------------------------------------
// Metadata and custom fields
// ---------------------------------------------------------------------------------------------

/// Polar `metadata`: string, integer, float and boolean values.
fn metadata(r: &mut Rng) -> Value {
    const KEYS: usize = 9;
    let n = r.usize(0..=4);
    let start = r.usize(..KEYS);
    let mut m = Map::new();
    for k in 0..n {
        let (key, value) = match (start + k) % KEYS {
            0 => (
                "source",
                json!(pick(r, &["web", "api", "import", "partner", "mobile"])),
            ),
            1 => ("crm_id", Value::String(format!("hs_{}", digit_token(r, 9)))),
            2 => ("seats_requested", json!(r.i64(1..250))),
            3 => ("lifetime_value", json!(r.u32(100..500_000) as f64 / 100.0)),
            4 => ("vip", json!(r.bool())),
            5 => (
                "utm_campaign",
                json!(pick(
                    r,
                    &[
                        "spring_launch",
                        "newsletter",
                        "producthunt",
                        "black_friday",
                        "webinar"
                    ]
                )),
            ),
            6 => ("legacy_user_id", json!(r.i64(1_000..9_999_999))),
            7 => ("churn_risk", json!(r.u32(0..100) as f64 / 100.0)),
            _ => ("beta_tester", json!(r.bool())),
        };
        m.insert(key.to_owned(), value);
    }
    Value::Object(m)
}

/// A custom field definition of the organization. `k` in `0..CUSTOM_FIELDS.len()`.
struct CustomFieldDef {
    kind: &'static str,
    slug: &'static str,
    name: &'static str,
    help: Option<&'static str>,
    options: &'static [(&'static str, &'static str)],
}

const CUSTOM_FIELDS: &[CustomFieldDef] = &[
    CustomFieldDef {
        kind: "text",
        slug: "company",
        name: "Company name",
        help: Some("As it should appear on your invoice"),
        options: &[],
    },
    CustomFieldDef {
        kind: "number",
        slug: "team_size",
        name: "Team size",
        help: Some("Including yourself"),
        options: &[],
    },
    CustomFieldDef {
        kind: "date",
        slug: "start_date",
        name: "Preferred start date",
        help: Some("We will onboard you on that day"),
        options: &[],
    },
    CustomFieldDef {
        kind: "checkbox",
        slug: "marketing_consent",
        name: "Send me product updates",
        help: Some("At most one email a month"),
        options: &[],
    },
    CustomFieldDef {
        kind: "select",
        slug: "role",
        name: "Your role",
        help: Some("Helps us tailor onboarding"),
        options: &[
            ("developer", "Developer"),
            ("designer", "Designer"),
            ("manager", "Manager"),
            ("founder", "Founder"),
        ],
    },
    CustomFieldDef {
        kind: "text",
        slug: "github_username",
        name: "GitHub username",
        help: Some("We invite this account to the private repository"),
        options: &[],
    },
    CustomFieldDef {
        kind: "number",
        slug: "years_experience",
        name: "Years of experience",
        help: None,
        options: &[],
    },
    CustomFieldDef {
        kind: "date",
        slug: "birthday",
        name: "Date of birth",
        help: None,
        options: &[],
    },
    CustomFieldDef {
        kind: "checkbox",
        slug: "terms_accepted",
        name: "I accept the terms of service",
        help: None,
        options: &[],
    },
    CustomFieldDef {
        kind: "select",
        slug: "heard_from",
        name: "How did you hear about us?",
        help: None,
        options: &[
            ("twitter", "X / Twitter"),
            ("friend", "A friend"),
            ("search", "Search engine"),
            ("newsletter", "Newsletter"),
            ("podcast", "Podcast"),
        ],
    },
];

fn custom_field(seed: u64, k: usize, created: i64) -> Value {
    let def = &CUSTOM_FIELDS[k];
    let mut r = rng_for("custom_fields", seed, k as u64);
    let modified = modified_offset(&mut r, 90);
    let maybe = |v: Value, r: &mut Rng| if chance(r, 1, 3) { Value::Null } else { v };
    let form = obj!({
        "form_label": maybe(json!(def.name), &mut r),
        "form_help_text": def.help.map_or(Value::Null, |h| maybe(json!(h), &mut r)),
        "form_placeholder": maybe(Value::String(format!("e.g. {}", def.name.to_lowercase())), &mut r),
    });
    let specific = match def.kind {
        "text" => obj!({
            "textarea": maybe(json!(r.bool()), &mut r),
            "min_length": maybe(json!(2), &mut r),
            "max_length": maybe(json!(pick(&mut r, &[40, 120, 500])), &mut r),
        }),
        "number" => {
            obj!({"ge": maybe(json!(0), &mut r), "le": maybe(json!(if def.slug == "team_size" { 10_000 } else { 80 }), &mut r)})
        }
        // Date bounds are Unix timestamps in seconds.
        "date" => obj!({
            "ge": maybe(json!(if def.slug == "birthday" { -1_577_923_200 } else { 1_735_689_600 }), &mut r),
            "le": maybe(json!(if def.slug == "birthday" { 1_262_304_000 } else { 1_893_456_000 }), &mut r),
        }),
        "checkbox" => obj!({}),
        _ => {
            obj!({"options": def.options.iter().map(|(value, label)| obj!({"value": *value, "label": *label})).collect::<Vec<_>>()})
        }
    };
    obj!({
        "created_at": timestamp(created),
        "modified_at": ts_offset(created, modified),
        "id": uuid("custom_fields", seed, k as u64),
        "metadata": metadata(&mut r),
        "type": def.kind,
        "slug": def.slug,
        "name": def.name,
        "organization_id": organization_id(seed),
        "properties": merge(form, specific),
    })
}

fn attached_custom_field(seed: u64, k: usize, order: usize, required: bool, created: i64) -> Value {
    obj!({
        "custom_field_id": uuid("custom_fields", seed, k as u64),
        "custom_field": custom_field(seed, k, created),
        "order": order,
        "required": required,
    })
}

/// `custom_fields` object `index`: the first ones are the fields checkouts collect; the others repeat their
/// definitions under new ids and numbered slugs (a slug is unique in an organization).
fn custom_field_record(seed: u64, index: u64, created: i64) -> Value {
    let k = index as usize % CUSTOM_FIELDS.len();
    let mut record = custom_field(seed, k, created);
    if index >= CUSTOM_FIELDS.len() as u64 {
        let n = index / CUSTOM_FIELDS.len() as u64 + 1;
        record["id"] = json!(uuid("custom_fields", seed, index));
        record["slug"] = json!(format!("{}_{n}", CUSTOM_FIELDS[k].slug));
        record["name"] = json!(format!("{} {n}", CUSTOM_FIELDS[k].name));
    }
    record
}

/// A value a customer typed into custom field `k`; `None` (null) when left empty.
fn custom_field_value(r: &mut Rng, k: usize, required: bool) -> Value {
    if !required && chance(r, 1, 4) {
        return Value::Null;
    }
    let def = &CUSTOM_FIELDS[k];
    match def.kind {
        "text" if def.slug == "company" => Value::String(company_name(r)),
        "text" => Value::String(format!(
            "{}-{}",
            pick(r, FIRST_NAMES).to_lowercase(),
            r.u32(1..999)
        )),
        "number" => json!(r.i64(1..60)),
        "date" => Value::String(format!(
            "{}-{:02}-{:02}",
            r.i32(1960..2027),
            r.u32(1..13),
            r.u32(1..29)
        )),
        "checkbox" => json!(required || r.bool()),
        _ => json!(pick(r, def.options).0),
    }
}

fn custom_field_data(r: &mut Rng, fields: &[(usize, bool)]) -> Value {
    let mut m = Map::new();
    for &(k, required) in fields {
        m.insert(
            CUSTOM_FIELDS[k].slug.to_owned(),
            custom_field_value(r, k, required),
        );
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------------------------

/// `customers` object `index`: even indexes are individuals, odd ones teams.
fn customer(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("customers", seed, index);
    let team = index % 2 == 1;
    let place = pick(&mut r, PLACES);
    let (first, last) = person(&mut r);
    let modified = modified_offset(&mut r, 200);
    let (name, email, billing_name, tax) = if team {
        let company = company_name(&mut r);
        let slug = slugify(&company);
        let role = pick(&mut r, &["billing", "finance", "ops", "admin", "accounts"]);
        let tld = pick(&mut r, &["com", "io", "dev", "co", "eu"]);
        // Unique per index: the local part carries the index after a '+'.
        let email = (!chance(&mut r, 1, 4)).then(|| format!("{role}+{index}@{slug}.{tld}"));
        let billing = format!("{company}, attn. {first} {last}");
        let tax = if chance(&mut r, 2, 3) {
            tax_id(&mut r, &place)
        } else {
            Value::Null
        };
        let name = (!chance(&mut r, 1, 10)).then_some(company);
        (name, email, (!chance(&mut r, 1, 3)).then_some(billing), tax)
    } else {
        let full = format!("{first} {last}");
        let local = format!(
            "{}.{}",
            first.to_lowercase(),
            last.to_lowercase().replace(' ', "")
        );
        // Names have no digits, so `<first>.<last><index>` is unique per index.
        let email = Some(format!("{local}{index}@{}", pick(&mut r, EMAIL_DOMAINS)));
        let name = (!chance(&mut r, 1, 10)).then_some(full.clone());
        // Sole traders sometimes register a VAT number too.
        let tax = if chance(&mut r, 1, 15) {
            tax_id(&mut r, &place)
        } else {
            Value::Null
        };
        (name, email, chance(&mut r, 1, 3).then_some(full), tax)
    };
    let billing_address = if chance(&mut r, 3, 4) {
        address(&mut r, &place)
    } else {
        Value::Null
    };
    let external_id = chance(&mut r, 1, 2).then(|| format!("usr_{}", alnum_token(&mut r, 12)));
    let payment_method = chance(&mut r, 2, 3).then(|| uuid("payment_methods", seed, index));
    let deleted = chance(&mut r, 1, 20).then(|| r.i64(DAY..300 * DAY));
    let first_event = chance(&mut r, 1, 2).then(|| r.i64(-30 * DAY..60 * DAY));
    let avatar = chance(&mut r, 1, 3).then(|| {
        format!(
            "https://www.gravatar.com/avatar/{}?d=404",
            hex_token(&mut r, 32)
        )
    });
    obj!({
        "id": object_id("customers", seed, index),
        "created_at": timestamp(created),
        "modified_at": ts_offset(created, modified),
        "metadata": metadata(&mut r),
        "external_id": external_id,
        "email": email,
        "email_verified": r.bool(),
        "type": if team { "team" } else { "individual" },
        "name": name,
        "billing_name": billing_name,
        "billing_address": billing_address,
        "tax_id": tax,
        "locale": if chance(&mut r, 1, 4) { Value::Null } else { json!(place.locale) },
        "organization_id": organization_id(seed),
        "default_payment_method_id": payment_method,
        "deleted_at": ts_offset(created, deleted),
        "first_user_event_at": ts_offset(created, first_event),
        "avatar_url": avatar,
    })
}

/// The home place of customer `index` (the same draw as in [`customer`]).
fn customer_place(seed: u64, index: u64) -> Place {
    pick(&mut rng_for("customers", seed, index), PLACES)
}

// ---------------------------------------------------------------------------------------------
// Benefits
// ---------------------------------------------------------------------------------------------

/// Benefit types; `benefits` object `i` has type `BENEFIT_TYPES[i % 8]`.
pub const BENEFIT_TYPES: [&str; 8] = [
    "custom",
    "discord",
    "github_repository",
    "downloadables",
    "license_keys",
    "meter_credit",
    "feature_flag",
    "slack_shared_channel",
];

/// `benefits` object `index`; its type is `BENEFIT_TYPES[index % 8]`. `public` renders the
/// reduced `Benefit*Public` shape embedded in checkout products.
fn benefit(seed: u64, index: u64, created: i64, public: bool) -> Value {
    let mut r = rng_for("benefits", seed, index);
    let kind = BENEFIT_TYPES[(index % 8) as usize];
    let modified = modified_offset(&mut r, 120);
    let description = match kind {
        "custom" => pick(
            &mut r,
            &[
                "Priority email support",
                "1:1 onboarding call",
                "Early access to new releases",
                "Name in the credits",
            ],
        )
        .to_owned(),
        "discord" => pick(
            &mut r,
            &[
                "Access to the private Discord",
                "Supporter role on Discord",
                "Discord community access",
            ],
        )
        .to_owned(),
        "github_repository" => format!(
            "Access to the {} repository",
            pick(
                &mut r,
                &["pro", "premium-components", "starter-kit", "examples"]
            )
        ),
        "downloadables" => pick(
            &mut r,
            &[
                "Source files (Figma + PNG)",
                "eBook in PDF, EPUB and MOBI",
                "Sample pack download",
                "Course videos (1080p)",
            ],
        )
        .to_owned(),
        "license_keys" => pick(
            &mut r,
            &[
                "Commercial license key",
                "Pro license key",
                "Desktop app license",
            ],
        )
        .to_owned(),
        "meter_credit" => format!(
            "{} included API credits",
            pick(&mut r, &["1,000", "10,000", "50,000", "250,000"])
        ),
        "feature_flag" => pick(
            &mut r,
            &[
                "Beta features",
                "Advanced analytics",
                "Unlimited projects",
                "SSO login",
            ],
        )
        .to_owned(),
        _ => pick(
            &mut r,
            &[
                "Shared Slack channel with our team",
                "Private support channel on Slack",
            ],
        )
        .to_owned(),
    };
    let deleted = chance(&mut r, 1, 15);
    let common = obj!({
        "id": object_id("benefits", seed, index),
        "created_at": timestamp(created),
        "modified_at": ts_offset(created, modified),
        "type": kind,
        "description": description,
        "selectable": true,
        "deletable": true,
        "is_deleted": deleted,
        "organization_id": organization_id(seed),
    });
    if public {
        // Only meter credits expose (some of) their properties publicly.
        if kind != "meter_credit" {
            return common;
        }
        let mut properties = benefit_properties(&mut r, seed, index, kind);
        let units = properties["units"].take();
        let meter_id = properties["meter_id"].take();
        return merge(
            common,
            obj!({"properties": {"units": units, "meter_id": meter_id}}),
        );
    }
    let properties = benefit_properties(&mut r, seed, index, kind);
    let visibility = pick(&mut r, &["public", "public", "public", "private", "draft"]);
    merge(
        common,
        obj!({
            "metadata": metadata(&mut r),
            "visibility": visibility,
            "properties": properties,
            "visibility_configurable": kind != "feature_flag",
        }),
    )
}

fn benefit_properties(r: &mut Rng, seed: u64, index: u64, kind: &str) -> Value {
    match kind {
        "custom" => obj!({"note": if chance(r, 1, 3) { Value::Null } else {
            json!(pick(r, &["Reply to this email to book your call.", "Write to support@ with your order number.", "Thanks for your support!"]))
        }}),
        "discord" => obj!({
            "guild_id": format!("1{}", digit_token(r, 18)),
            "role_id": format!("1{}", digit_token(r, 18)),
            "kick_member": r.bool(),
        }),
        "github_repository" => obj!({
            "repository_owner": slugify(pick(r, COMPANY_WORDS)),
            "repository_name": pick(r, &["pro", "premium-components", "starter-kit", "examples", "sdk-private"]),
            "permission": pick(r, &["pull", "pull", "triage", "push", "maintain", "admin"]),
        }),
        "downloadables" => {
            let files: Vec<String> = (0..r.u64(1..4))
                .map(|k| uuid("benefit_files", seed, child_index(index, 8, k)))
                .collect();
            let archived: Map<String, Value> = files
                .iter()
                .map(|f| (f.clone(), json!(chance(r, 1, 5))))
                .collect();
            obj!({"archived": archived, "files": files})
        }
        "license_keys" => obj!({
            "prefix": if chance(r, 1, 3) { Value::Null } else { json!(pick(r, &["POLAR", "PRO", "ACME", "DEV"])) },
            "expires": if chance(r, 1, 2) { Value::Null } else {
                obj!({"ttl": r.u32(1..13), "timeframe": pick(r, &["year", "month", "day"])})
            },
            "activations": if chance(r, 1, 2) { Value::Null } else {
                obj!({"limit": r.u32(1..10), "enable_customer_admin": r.bool()})
            },
            "limit_usage": if chance(r, 2, 3) { Value::Null } else { json!(r.u32(1..5) * 100) },
        }),
        "meter_credit" => obj!({
            "units": pick(r, &[1_000, 10_000, 50_000, 250_000]),
            "rollover": r.bool(),
            "meter_id": uuid("meters", seed, r.u64(..METERS.len() as u64)),
        }),
        "feature_flag" => obj!({}),
        _ => obj!({
            "slack_integration_id": uuid("slack_integrations", seed, 0),
            "channel_name_template": pick(r, &["{customer_name}-support", "shared-{customer_email_local}", "ext-{metadata.company}"]),
            "private": !chance(r, 1, 5),
            "welcome_message": if chance(r, 1, 2) { Value::Null } else { json!("Welcome! This channel connects you directly with our team.") },
            "archive_on_revoke": r.bool(),
            "team_invitees": if chance(r, 1, 3) { Value::Null } else {
                json!((0..r.u32(1..4)).map(|_| format!("U0{}", alnum_token(r, 9).to_uppercase())).collect::<Vec<_>>())
            },
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Meters and discounts (small fixed sets per organization)
// ---------------------------------------------------------------------------------------------

struct MeterDef {
    name: &'static str,
    unit: &'static str,
    custom: Option<(&'static str, i64)>,
    event: &'static str,
    /// `(func, property)`: `count`, `unique` or a property aggregation.
    aggregation: (&'static str, Option<&'static str>),
}

const METERS: &[MeterDef] = &[
    MeterDef {
        name: "API Requests",
        unit: "scalar",
        custom: None,
        event: "api.request",
        aggregation: ("count", None),
    },
    MeterDef {
        name: "LLM Tokens",
        unit: "token",
        custom: None,
        event: "ai.completion",
        aggregation: ("sum", Some("total_tokens")),
    },
    MeterDef {
        name: "Storage",
        unit: "custom",
        custom: Some(("GB-hour", 1_000)),
        event: "storage.snapshot",
        aggregation: ("max", Some("gigabytes")),
    },
    MeterDef {
        name: "Monthly Active Users",
        unit: "scalar",
        custom: None,
        event: "user.active",
        aggregation: ("unique", Some("user_id")),
    },
];

/// `ProductPriceMeter` (`full == false`) or `Meter` (`full == true`) for meter `k`.
fn meter(seed: u64, k: usize, created: i64, full: bool) -> Value {
    let def = &METERS[k];
    let base = obj!({
        "id": uuid("meters", seed, k as u64),
        "name": def.name,
        "unit": def.unit,
        "custom_label": def.custom.map(|c| c.0),
        "custom_multiplier": def.custom.map(|c| c.1),
    });
    if !full {
        return base;
    }
    let mut r = rng_for("meters", seed, k as u64);
    let modified = modified_offset(&mut r, 60);
    let name_clause = obj!({"property": "name", "operator": "eq", "value": def.event});
    let filter = if k == 1 {
        // A nested filter: completions of some models, excluding cached ones.
        let mut filter = json!({"conjunction": "and", "clauses": [
            {"conjunction": "or", "clauses": [
                {"property": "model", "operator": "like", "value": "gpt-%"},
                {"property": "model", "operator": "like", "value": "claude-%"},
            ]},
            {"property": "cached", "operator": "ne", "value": true},
            {"property": "total_tokens", "operator": "gt", "value": 0},
        ]});
        filter["clauses"]
            .as_array_mut()
            .expect("array")
            .insert(0, name_clause);
        filter
    } else {
        obj!({"conjunction": "and", "clauses": vec![name_clause]})
    };
    let aggregation = match def.aggregation {
        ("count", _) => obj!({"func": "count"}),
        (func, property) => obj!({"func": func, "property": property}),
    };
    merge(
        base,
        obj!({
            "metadata": metadata(&mut r),
            "created_at": timestamp(created),
            "modified_at": ts_offset(created, modified),
            "filter": filter,
            "aggregation": aggregation,
            "organization_id": organization_id(seed),
            "archived_at": Value::Null,
        }),
    )
}

/// `meters` object `index`: the first ones are the meters products bill by; the others repeat their
/// definitions under new ids and numbered names, and one in seven is archived.
fn meter_record(seed: u64, index: u64, created: i64) -> Value {
    let k = index as usize % METERS.len();
    let mut record = meter(seed, k, created, true);
    if index >= METERS.len() as u64 {
        record["id"] = json!(uuid("meters", seed, index));
        record["name"] = json!(format!(
            "{} {}",
            METERS[k].name,
            index / METERS.len() as u64 + 1
        ));
    }
    if index % 7 == 6 {
        record["archived_at"] = json!(timestamp(created + 30 * DAY));
    }
    record
}

/// `discounts` object `index` (variant `index % 4`), restricted to up to two products (none: every product).
fn discount_record(seed: u64, index: u64, created: i64) -> Value {
    let mut record = discount_plan(seed, index).render(seed, created, true);
    let mut r = rng_for("discounts.products", seed, index);
    let products: Vec<Value> = (0..r.u64(0..3))
        .map(|k| {
            let plan = product_plan(seed, (index * 3 + k * 11) % 32);
            merge(
                product_base(&plan, seed, created - 10 * DAY),
                obj!({"metadata": plan.metadata()}),
            )
        })
        .collect();
    record["products"] = json!(products);
    record
}

/// The number of discounts the organization has; discount `d`'s variant is `d % 4`.
const DISCOUNTS: u64 = 24;

struct DiscountPlan {
    index: u64,
    /// `Some(usd cents)` for fixed discounts, `None` for percentage ones.
    fixed_usd: Option<i64>,
    basis_points: i64,
    duration: &'static str,
    months: Option<u32>,
    name: &'static str,
    code: Option<String>,
}

fn discount_plan(seed: u64, index: u64) -> DiscountPlan {
    let mut r = rng_for("discounts", seed, index);
    let variant = index % 4;
    let fixed = variant < 2;
    let repeating = variant % 2 == 1;
    let name = pick(
        &mut r,
        &[
            "Launch week",
            "Black Friday",
            "Student discount",
            "Partner deal",
            "Early bird",
            "Loyalty reward",
            "Summer sale",
        ],
    );
    let code = chance(&mut r, 2, 3).then(|| {
        format!(
            "{}{}",
            slugify(name).replace('-', "").to_uppercase(),
            pick(&mut r, &[10, 15, 20, 25, 50])
        )
    });
    DiscountPlan {
        index,
        fixed_usd: fixed.then(|| pick(&mut r, &[300, 500, 1_000, 2_000])),
        basis_points: pick(&mut r, &[1_000, 1_500, 2_000, 2_500, 5_000]),
        duration: if repeating {
            "repeating"
        } else {
            pick(&mut r, &["once", "forever"])
        },
        months: repeating.then(|| pick(&mut r, &[3, 6, 12])),
        name,
        code,
    }
}

impl DiscountPlan {
    /// The discount on `subtotal` cents in `currency`.
    fn amount_off(&self, subtotal: i64, currency: &str) -> i64 {
        match self.fixed_usd {
            Some(usd) => convert_cents(usd, currency).min(subtotal),
            None => apply_bp(subtotal, self.basis_points),
        }
    }

    /// `Discount*Base` (`full`) or `CheckoutDiscount*` (not `full`).
    fn render(&self, seed: u64, created: i64, full: bool) -> Value {
        let mut v = obj!({
            "duration": self.duration,
            "type": if self.fixed_usd.is_some() { "fixed" } else { "percentage" },
            "id": uuid("discounts", seed, self.index),
            "name": self.name,
            "code": self.code.clone(),
        });
        let o = v.as_object_mut().expect("object");
        if let Some(months) = self.months {
            o.insert("duration_in_months".into(), json!(months));
        }
        match self.fixed_usd {
            Some(usd) => {
                o.insert("amount".into(), json!(usd));
                o.insert("currency".into(), json!("usd"));
                o.insert(
                    "amounts".into(),
                    obj!({"usd": usd, "eur": convert_cents(usd, "eur")}),
                );
            }
            None => {
                o.insert("basis_points".into(), json!(self.basis_points));
            }
        }
        if !full {
            return v;
        }
        let mut r = rng_for("discounts.full", seed, self.index);
        let modified = modified_offset(&mut r, 30);
        let starts = chance(&mut r, 1, 2).then(|| r.i64(0..3 * DAY));
        let ends = chance(&mut r, 1, 2).then(|| r.i64(7..120) * DAY);
        let max = chance(&mut r, 1, 2).then(|| r.u32(1..20) * 50);
        merge(
            v,
            obj!({
                "created_at": timestamp(created),
                "modified_at": ts_offset(created, modified),
                "metadata": metadata(&mut r),
                "starts_at": ts_offset(created, starts),
                "ends_at": ts_offset(created, ends),
                "max_redemptions": max,
                "max_redemptions_per_customer": if chance(&mut r, 1, 2) { json!(1) } else { Value::Null },
                "redemptions_count": r.u32(0..max.unwrap_or(400)),
                "organization_id": organization_id(seed),
            }),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Products and prices
// ---------------------------------------------------------------------------------------------

/// Product templates, by `index % 8`. Together their prices cover all eight price variants.
const PRODUCT_TEMPLATES: usize = 8;
/// Templates sold once.
const ONE_TIME_TEMPLATES: [u64; 3] = [0, 2, 6];
/// Templates sold as subscriptions.
const RECURRING_TEMPLATES: [u64; 5] = [1, 3, 4, 5, 7];

#[derive(Clone)]
enum PriceKind {
    Fixed {
        amount: i64,
    },
    Custom {
        minimum: i64,
        maximum: Option<i64>,
        preset: Option<i64>,
    },
    LegacyFixed {
        amount: i64,
    },
    LegacyCustom {
        minimum: i64,
        maximum: Option<i64>,
        preset: Option<i64>,
    },
    SeatBased {
        tier_type: Option<&'static str>,
        tiers: Vec<(i64, Option<i64>, i64)>,
    },
    UnitBased {
        tier_type: &'static str,
        tiers: Vec<(Option<i64>, &'static str)>,
        minimum: Option<i64>,
        label: bool,
    },
    MeteredUnit {
        meter: usize,
        unit_amount: &'static str,
        cap: Option<i64>,
    },
    MeteredTiers {
        meter: usize,
        tier_type: &'static str,
        tiers: Vec<(Option<i64>, &'static str)>,
        cap: Option<i64>,
    },
}

#[derive(Clone)]
struct Price {
    id: String,
    currency: &'static str,
    tax_behavior: Option<&'static str>,
    source: &'static str,
    is_archived: bool,
    modified: Option<i64>,
    kind: PriceKind,
}

impl Price {
    fn is_metered(&self) -> bool {
        matches!(
            self.kind,
            PriceKind::MeteredUnit { .. } | PriceKind::MeteredTiers { .. }
        )
    }

    /// What the price charges up front for `quantity` seats or units (metered prices: nothing).
    fn charge(&self, quantity: i64) -> i64 {
        match &self.kind {
            PriceKind::Fixed { amount } | PriceKind::LegacyFixed { amount } => *amount,
            PriceKind::Custom {
                minimum, preset, ..
            }
            | PriceKind::LegacyCustom {
                minimum, preset, ..
            } => preset.unwrap_or((*minimum).max(500)),
            PriceKind::SeatBased { tiers, .. } => {
                let tier = tiers
                    .iter()
                    .find(|t| t.1.is_none_or(|max| quantity <= max))
                    .unwrap_or(&tiers[0]);
                tier.2 * quantity
            }
            PriceKind::UnitBased { tiers, .. } => tiered_cost(tiers, quantity, "volume"),
            PriceKind::MeteredUnit { .. } | PriceKind::MeteredTiers { .. } => 0,
        }
    }

    /// The usage charge for `units` consumed on a metered price.
    fn usage(&self, units: i64) -> i64 {
        match &self.kind {
            PriceKind::MeteredUnit {
                unit_amount, cap, ..
            } => {
                let cents =
                    (units as f64 * unit_amount.parse::<f64>().unwrap_or(0.0)).round() as i64;
                cap.map_or(cents, |c| cents.min(c))
            }
            PriceKind::MeteredTiers {
                tiers,
                tier_type,
                cap,
                ..
            } => {
                let cents = tiered_cost(tiers, units, tier_type);
                cap.map_or(cents, |c| cents.min(c))
            }
            _ => 0,
        }
    }

    fn render(&self, seed: u64, product_id: &str, created: i64) -> Value {
        let common = obj!({
            "created_at": timestamp(created),
            "modified_at": ts_offset(created, self.modified),
            "id": self.id.as_str(),
            "source": self.source,
            "price_currency": self.currency,
            "tax_behavior": self.tax_behavior,
            "is_archived": self.is_archived,
            "product_id": product_id,
        });
        let tiers_json = |tier_type: &str, tiers: &[(Option<i64>, &str)]| obj!({"type": tier_type, "tiers": tiers.iter().map(|(bound, amount)| obj!({"bound": *bound, "unit_amount": *amount})).collect::<Vec<_>>()});
        let specific = match self.kind.clone() {
            PriceKind::Fixed { amount } => obj!({"amount_type": "fixed", "price_amount": amount}),
            PriceKind::Custom {
                minimum,
                maximum,
                preset,
            } => obj!({
                "amount_type": "custom", "minimum_amount": minimum, "maximum_amount": maximum, "preset_amount": preset,
            }),
            PriceKind::LegacyFixed { amount } => obj!({
                "amount_type": "fixed", "type": "recurring", "recurring_interval": "month", "price_amount": amount, "legacy": true,
            }),
            PriceKind::LegacyCustom {
                minimum,
                maximum,
                preset,
            } => obj!({
                "amount_type": "custom", "type": "recurring", "recurring_interval": "month",
                "minimum_amount": minimum, "maximum_amount": maximum, "preset_amount": preset, "legacy": true,
            }),
            PriceKind::SeatBased { tier_type, tiers } => obj!({
                "amount_type": "seat_based",
                "seat_tiers": {
                    "seat_tier_type": tier_type,
                    "tiers": tiers.iter().map(|(min, max, per_seat)| obj!({"min_seats": *min, "max_seats": *max, "price_per_seat": *per_seat})).collect::<Vec<_>>(),
                    "minimum_seats": tiers[0].0,
                    "maximum_seats": tiers[tiers.len() - 1].1,
                },
            }),
            PriceKind::UnitBased {
                tier_type,
                tiers,
                minimum,
                label,
            } => obj!({
                "amount_type": "unit_based",
                "tiers": tiers_json(tier_type, &tiers),
                "minimum_units": minimum,
                "unit_label": if label { obj!({"en": {"=1": "credit", "other": "credits"}, "fr": {"=1": "crédit", "other": "crédits"}}) } else { Value::Null },
                "maximum_units": tiers[tiers.len() - 1].0,
            }),
            PriceKind::MeteredUnit {
                meter: k,
                unit_amount,
                cap,
            } => obj!({
                "amount_type": "metered_unit", "cap_amount": cap, "meter_id": uuid("meters", seed, k as u64),
                "meter": meter(seed, k, created, false), "unit_amount": unit_amount,
            }),
            PriceKind::MeteredTiers {
                meter: k,
                tier_type,
                tiers,
                cap,
            } => obj!({
                "amount_type": "metered_tiers", "cap_amount": cap, "meter_id": uuid("meters", seed, k as u64),
                "meter": meter(seed, k, created, false), "tiers": tiers_json(tier_type, &tiers),
            }),
        };
        merge(common, specific)
    }
}

/// A purchasable quantity for a unit-based price: a few licenses, or credits by the hundred.
fn unit_quantity(r: &mut Rng, kind: &PriceKind) -> i64 {
    let expensive = matches!(kind, PriceKind::UnitBased { tiers, .. } if tiers[0].1.parse::<f64>().unwrap_or(0.0) >= 100.0);
    if expensive {
        r.i64(5..60)
    } else {
        r.i64(1..50) * 100
    }
}

/// Cost in cents of `quantity` units on `(upper bound, cents per unit)` tiers.
fn tiered_cost(tiers: &[(Option<i64>, &str)], quantity: i64, tier_type: &str) -> i64 {
    let rate = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    if tier_type == "volume" {
        let tier = tiers
            .iter()
            .find(|t| t.0.is_none_or(|b| quantity <= b))
            .unwrap_or(&tiers[tiers.len() - 1]);
        return (quantity as f64 * rate(tier.1)).round() as i64;
    }
    let (mut cost, mut from) = (0.0, 0);
    for (bound, amount) in tiers {
        let upto = bound.map_or(quantity, |b| b.min(quantity));
        if upto > from {
            cost += (upto - from) as f64 * rate(amount);
            from = upto;
        }
    }
    cost.round() as i64
}

struct ProductPlan {
    seed: u64,
    id: String,
    template: u64,
    name: String,
    description: Option<&'static str>,
    visibility: &'static str,
    recurring: Option<(&'static str, u32)>,
    trial: Option<(&'static str, u32)>,
    meter_interval: Option<(&'static str, u32)>,
    is_archived: bool,
    is_deletable: bool,
    modified: Option<i64>,
    index: u64,
    prices: Vec<Price>,
    benefits: Vec<u64>,
    medias: Vec<u64>,
    custom_fields: Vec<(usize, bool)>,
}

impl ProductPlan {
    /// The product's metadata (drawn from its own RNG: only `Product` and `OrderProduct` carry it).
    fn metadata(&self) -> Value {
        metadata(&mut rng_for("products.metadata", self.seed, self.index))
    }

    fn is_recurring(&self) -> bool {
        self.recurring.is_some()
    }

    /// The non-archived prices in `currency`, falling back to USD.
    fn prices_in(&self, currency: &str) -> Vec<&Price> {
        let wanted = if self.prices.iter().any(|p| p.currency == currency) {
            currency
        } else {
            "usd"
        };
        let live: Vec<&Price> = self
            .prices
            .iter()
            .filter(|p| p.currency == wanted && !p.is_archived)
            .collect();
        if live.is_empty() {
            self.prices
                .iter()
                .filter(|p| p.currency == wanted)
                .collect()
        } else {
            live
        }
    }

    fn currencies(&self) -> impl Iterator<Item = &'static str> + '_ {
        PRICE_CURRENCIES
            .into_iter()
            .filter(|c| self.prices.iter().any(|p| p.currency == *c))
    }

    fn seat_based(&self) -> bool {
        self.prices
            .iter()
            .any(|p| matches!(p.kind, PriceKind::SeatBased { .. }))
    }
}

/// The index of a product with template `template` (`0..8`), spread over the first 32 products.
fn product_index(template: u64, spread: u64) -> u64 {
    template + PRODUCT_TEMPLATES as u64 * (spread % 4)
}

fn product_plan(seed: u64, index: u64) -> ProductPlan {
    let mut r = rng_for("products", seed, index);
    let template = index % PRODUCT_TEMPLATES as u64;
    let (names, descriptions): (&[&str], &[&str]) = match template {
        0 => (
            &[
                "The Async Rust Handbook (eBook)",
                "Icon Pack Pro",
                "Notion Finance Template",
                "SaaS Boilerplate",
                "Figma UI Kit",
            ],
            &[
                "Lifetime access, free updates.",
                "Includes source files and a commercial license.",
            ],
        ),
        1 => (
            &["API Pro", "Developer Plan", "Growth Plan"],
            &[
                "Everything in Free, plus usage-based API access.",
                "For teams shipping to production.",
            ],
        ),
        2 => (
            &[
                "Support the project",
                "Buy me a coffee",
                "Field Recordings Vol. 2 (pay what you want)",
            ],
            &["Pay what you want. Every bit helps keep this going."],
        ),
        3 => (
            &["Team Plan", "Business", "Studio Seats"],
            &[
                "Per-seat pricing for your whole team.",
                "Volume discounts from 10 seats.",
            ],
        ),
        4 => (
            &[
                "Premium Membership",
                "Pro Subscription",
                "Sponsor (Monthly)",
            ],
            &["Monthly membership with all the perks."],
        ),
        5 => (
            &["Patron", "Open Source Backer", "Sponsor tier"],
            &["Choose your monthly contribution."],
        ),
        6 => (
            &["AI Credits Pack", "Render Credits", "Translation Credits"],
            &["Credits never expire.", "Buy in bulk and save."],
        ),
        _ => (
            &["Enterprise Usage", "LLM Gateway", "Compute Plus"],
            &["Base fee plus tiered usage, billed on a separate meter cycle."],
        ),
    };
    let name = pick(&mut r, names).to_owned();
    let description = (!chance(&mut r, 1, 5)).then(|| pick(&mut r, descriptions));
    let interval = match template {
        4 | 5 => Some(("month", 1)),
        1 | 3 | 7 => Some(match r.u32(..6) {
            0 => ("year", 1),
            1 => ("month", 3),
            2 if template == 7 => ("week", 1),
            _ => ("month", 1),
        }),
        _ => None,
    };
    let trial = (interval.is_some() && chance(&mut r, 1, 3)).then(|| {
        pick(
            &mut r,
            &[("day", 7), ("day", 14), ("week", 2), ("month", 1)],
        )
    });
    let meter_interval = (template == 7).then_some(("month", 1));
    let product_id = object_id("products", seed, index);
    let multi_currency = !matches!(template, 4 | 5) && chance(&mut r, 1, 3);
    let mut specs: Vec<PriceKind> = Vec::with_capacity(2);
    match template {
        0 => specs.push(PriceKind::Fixed {
            amount: price_cents(&mut r, 9, 199),
        }),
        1 => {
            if (index / PRODUCT_TEMPLATES as u64) % 2 == 1 {
                // Every other template-1 product: licenses bought in bulk, billed per unit every period.
                specs.push(PriceKind::UnitBased {
                    tier_type: "volume",
                    tiers: vec![(Some(100), "900"), (None, "700")],
                    minimum: Some(5),
                    label: false,
                });
            } else {
                specs.push(PriceKind::Fixed {
                    amount: price_cents(&mut r, 19, 99),
                });
            }
            specs.push(PriceKind::MeteredUnit {
                meter: 0,
                unit_amount: pick(&mut r, &["0.05", "0.1", "0.25", "1"]),
                cap: chance(&mut r, 1, 2).then(|| r.i64(50..500) * 100),
            });
        }
        2 => specs.push(PriceKind::Custom {
            minimum: pick(&mut r, &[0, 100, 500]),
            maximum: chance(&mut r, 1, 2).then_some(100_000),
            preset: chance(&mut r, 2, 3).then(|| pick(&mut r, &[500, 1_000, 2_500])),
        }),
        3 => {
            let base = r.i64(8..30) * 100;
            let tiers = if chance(&mut r, 1, 3) {
                vec![(1, Some(r.i64(10..50)), base)]
            } else {
                vec![
                    (1, Some(9), base),
                    (10, Some(49), base * 8 / 10),
                    (50, None, base * 6 / 10),
                ]
            };
            specs.push(PriceKind::SeatBased {
                tier_type: if chance(&mut r, 1, 4) {
                    None
                } else {
                    Some(pick(&mut r, &["volume", "graduated"]))
                },
                tiers,
            });
        }
        4 => specs.push(PriceKind::LegacyFixed {
            amount: price_cents(&mut r, 5, 49),
        }),
        5 => specs.push(PriceKind::LegacyCustom {
            minimum: pick(&mut r, &[100, 300, 500]),
            maximum: chance(&mut r, 1, 2).then_some(50_000),
            preset: chance(&mut r, 1, 2).then_some(1_000),
        }),
        6 => specs.push(PriceKind::UnitBased {
            tier_type: pick(&mut r, &["volume", "graduated"]),
            tiers: if chance(&mut r, 1, 3) {
                vec![(Some(100_000), "1.2")]
            } else {
                vec![(Some(1_000), "2"), (Some(10_000), "1.5"), (None, "0.9")]
            },
            minimum: chance(&mut r, 1, 2).then_some(100),
            label: chance(&mut r, 2, 3),
        }),
        _ => {
            specs.push(PriceKind::Fixed {
                amount: price_cents(&mut r, 99, 499),
            });
            specs.push(PriceKind::MeteredTiers {
                meter: 1 + r.usize(..3),
                tier_type: pick(&mut r, &["graduated", "volume"]),
                tiers: vec![
                    (Some(1_000_000), "0"),
                    (Some(10_000_000), "0.002"),
                    (None, "0.0015"),
                ],
                cap: chance(&mut r, 1, 3).then(|| r.i64(100..2_000) * 100),
            });
        }
    }
    let tax_behavior = pick(
        &mut r,
        &[
            None,
            None,
            Some("location"),
            Some("inclusive"),
            Some("exclusive"),
        ],
    );
    let mut prices = Vec::with_capacity(specs.len() * 2 + 1);
    for currency in PRICE_CURRENCIES
        .into_iter()
        .take(if multi_currency { 2 } else { 1 })
    {
        for spec in &specs {
            prices.push(Price {
                id: uuid(
                    "product_prices",
                    seed,
                    child_index(index, 32, prices.len() as u64),
                ),
                currency,
                tax_behavior,
                source: "catalog",
                is_archived: false,
                modified: modified_offset(&mut r, 60),
                kind: convert_price(spec, currency),
            });
        }
    }
    if matches!(template, 0 | 1) && chance(&mut r, 1, 4) {
        // A price replaced by a new one: kept archived, as Polar does.
        let mut old = prices[0].clone();
        old.id = uuid(
            "product_prices",
            seed,
            child_index(index, 32, prices.len() as u64),
        );
        old.is_archived = true;
        if let PriceKind::Fixed { amount } = &mut old.kind {
            *amount -= 500.min(*amount / 2);
        }
        prices.push(old);
    }
    let n_benefits = r.u64(0..4);
    let first_benefit = r.u64(..16);
    let benefits = (0..n_benefits)
        .map(|k| (first_benefit + 3 * k) % 16)
        .collect();
    let medias = (0..r.u64(0..3)).map(|k| child_index(index, 8, k)).collect();
    let mut custom_fields = Vec::new();
    if chance(&mut r, 1, 2) {
        let k0 = r.usize(..CUSTOM_FIELDS.len());
        custom_fields.push((k0, r.bool()));
        if chance(&mut r, 1, 2) {
            custom_fields.push((
                (k0 + 1 + r.usize(..CUSTOM_FIELDS.len() - 1)) % CUSTOM_FIELDS.len(),
                r.bool(),
            ));
        }
    }
    let is_archived = chance(&mut r, 1, 12);
    ProductPlan {
        seed,
        id: product_id,
        template,
        name,
        description,
        visibility: if is_archived {
            "private"
        } else {
            pick(&mut r, &["public", "public", "public", "private", "draft"])
        },
        recurring: interval,
        trial,
        meter_interval,
        is_archived,
        is_deletable: chance(&mut r, 1, 4),
        modified: modified_offset(&mut r, 120),
        index,
        prices,
        benefits,
        medias,
        custom_fields,
    }
}

fn convert_price(spec: &PriceKind, currency: &str) -> PriceKind {
    let c = |v: i64| convert_cents(v, currency);
    match spec.clone() {
        PriceKind::Fixed { amount } => PriceKind::Fixed { amount: c(amount) },
        PriceKind::Custom {
            minimum,
            maximum,
            preset,
        } => PriceKind::Custom {
            minimum: c(minimum),
            maximum: maximum.map(c),
            preset: preset.map(c),
        },
        PriceKind::SeatBased { tier_type, tiers } => PriceKind::SeatBased {
            tier_type,
            tiers: tiers.into_iter().map(|(a, b, p)| (a, b, c(p))).collect(),
        },
        other => other,
    }
}

fn media(seed: u64, k: u64, created: i64) -> Value {
    let mut r = rng_for("product_media", seed, k);
    let id = uuid("product_media", seed, k);
    let (ext, mime) = pick(
        &mut r,
        &[
            ("png", "image/png"),
            ("jpg", "image/jpeg"),
            ("webp", "image/webp"),
        ],
    );
    let name = format!(
        "{}.{ext}",
        pick(
            &mut r,
            &["cover", "screenshot-1", "hero", "preview", "thumbnail"]
        )
    );
    let size = r.i64(20_000..4_000_000);
    let size_readable = if size < 1_048_576 {
        format!("{:.1} KB", size as f64 / 1024.0)
    } else {
        format!("{:.1} MB", size as f64 / 1_048_576.0)
    };
    let org = organization_id(seed);
    let path = format!("{org}/{id}/{name}");
    let uploaded = !chance(&mut r, 1, 15);
    let digest: Vec<u8> = (0..32).map(|_| r.u8(..)).collect();
    let sha_hex: String = digest
        .iter()
        .flat_map(|b| {
            [
                HEX[(b >> 4) as usize] as char,
                HEX[(b & 15) as usize] as char,
            ]
        })
        .collect();
    obj!({
        "id": id,
        "organization_id": org,
        "name": name,
        "path": path.clone(),
        "mime_type": mime,
        "size": size,
        "storage_version": if uploaded { Value::String(alnum_token(&mut r, 32)) } else { Value::Null },
        "checksum_etag": if uploaded { Value::String(format!("\"{}\"", hex_token(&mut r, 32))) } else { Value::Null },
        "checksum_sha256_base64": if uploaded { json!(base64(&digest)) } else { Value::Null },
        "checksum_sha256_hex": if uploaded { json!(sha_hex) } else { Value::Null },
        "last_modified_at": if uploaded { Value::String(ts_jitter(&mut r, created + 2 * SECOND)) } else { Value::Null },
        "version": if uploaded && chance(&mut r, 1, 3) { Value::String(format!("{}", r.u32(1..4))) } else { Value::Null },
        "service": "product_media",
        "is_uploaded": uploaded,
        "created_at": timestamp(created),
        "size_readable": size_readable,
        "public_url": format!("https://polar-public-files.s3.amazonaws.com/product_media/{path}"),
    })
}

/// The fields shared by `Product`, `OrderProduct` and `CheckoutProduct`.
fn product_base(plan: &ProductPlan, seed: u64, created: i64) -> Value {
    fn interval(v: Option<(&'static str, u32)>) -> (Option<&'static str>, Option<u32>) {
        (v.map(|x| x.0), v.map(|x| x.1))
    }
    let (trial, trial_count) = interval(plan.trial);
    let (recurring, recurring_count) = interval(plan.recurring);
    let (meter, meter_count) = interval(plan.meter_interval);
    obj!({
        "id": plan.id.clone(),
        "created_at": timestamp(created),
        "modified_at": ts_offset(created, plan.modified),
        "trial_interval": trial,
        "trial_interval_count": trial_count,
        "name": plan.name.clone(),
        "description": plan.description,
        "visibility": plan.visibility,
        "recurring_interval": recurring,
        "recurring_interval_count": recurring_count,
        "meter_interval": meter,
        "meter_interval_count": meter_count,
        "is_recurring": plan.is_recurring(),
        "is_archived": plan.is_archived,
        "organization_id": organization_id(seed),
    })
}

/// Full `Product` (the `products` stream, and embedded in subscriptions).
fn product(plan: &ProductPlan, created: i64) -> Value {
    let seed = plan.seed;
    let benefit_created = created - 3 * DAY;
    merge(
        product_base(plan, seed, created),
        obj!({
            "metadata": plan.metadata(),
            "is_deletable": plan.is_deletable,
            "prices": plan.prices.iter().map(|p| p.render(seed, &plan.id, created)).collect::<Vec<_>>(),
            "benefits": plan.benefits.iter().map(|&b| benefit(seed, b, benefit_created, false)).collect::<Vec<_>>(),
            "medias": plan.medias.iter().map(|&m| media(seed, m, created)).collect::<Vec<_>>(),
            "attached_custom_fields": plan.custom_fields.iter().enumerate()
                .map(|(order, &(k, required))| attached_custom_field(seed, k, order, required, created - 10 * DAY))
                .collect::<Vec<_>>(),
        }),
    )
}

/// `CheckoutProduct`: public benefits, prices in the checkout's currency.
fn checkout_product(plan: &ProductPlan, seed: u64, currency: &str, created: i64) -> Value {
    merge(
        product_base(plan, seed, created),
        obj!({
            "prices": plan.prices_in(currency).iter().map(|p| p.render(seed, &plan.id, created)).collect::<Vec<_>>(),
            "benefits": plan.benefits.iter().map(|&b| benefit(seed, b, created - 3 * DAY, true)).collect::<Vec<_>>(),
            "medias": plan.medias.iter().map(|&m| media(seed, m, created)).collect::<Vec<_>>(),
        }),
    )
}

/// `checkout_links` object `index`: a shareable link to a checkout of one or two products, one in three with a
/// discount applied. Carries its secret (`client_secret`, also in `url`), as Polar's do.
fn checkout_link(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("checkout_links", seed, index);
    let plans: Vec<ProductPlan> = (0..r.u64(1..3))
        .map(|k| product_plan(seed, (index * 5 + k * 7) % 32))
        .collect();
    let discount = chance(&mut r, 1, 3).then(|| discount_plan(seed, index % DISCOUNTS));
    let secret = format!("polar_cl_{}", alnum_token(&mut r, 48));
    let modified = modified_offset(&mut r, 40);
    let label = pick(
        &mut r,
        &[
            "Launch week",
            "Newsletter",
            "Partner deal",
            "Conference",
            "Twitter bio",
        ],
    );
    obj!({
        "id": object_id("checkout_links", seed, index),
        "created_at": timestamp(created),
        "modified_at": ts_offset(created, modified),
        "trial_interval": plans[0].trial.map(|trial| trial.0),
        "trial_interval_count": plans[0].trial.map(|trial| trial.1),
        "metadata": metadata(&mut r),
        "payment_processor": "stripe",
        "client_secret": secret.clone(),
        "success_url": if chance(&mut r, 2, 3) { json!("https://example.com/thanks?checkout_id={CHECKOUT_ID}") } else { Value::Null },
        "return_url": if chance(&mut r, 1, 3) { json!("https://example.com/pricing") } else { Value::Null },
        "label": if chance(&mut r, 3, 4) { json!(label) } else { Value::Null },
        "allow_discount_codes": r.bool(),
        "require_billing_address": chance(&mut r, 1, 4),
        "discount_id": discount.as_ref().map(|d| uuid("discounts", seed, d.index)),
        "seats": Value::Null,
        "units": Value::Null,
        "organization_id": organization_id(seed),
        "products": plans.iter().map(|plan| merge(checkout_product(plan, seed, "usd", created - 10 * DAY), obj!({"metadata": plan.metadata()}))).collect::<Vec<_>>(),
        "discount": discount.as_ref().map(|d| d.render(seed, created - DAY, true)),
        "url": format!("https://buy.polar.sh/{secret}"),
    })
}

/// `benefit_grants` object `index`: benefit `index % 40` granted to customer `index`, one in five revoked since,
/// one in nine with the error of a failed grant; `properties` as the benefit's type has them.
fn benefit_grant(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("benefit_grants", seed, index);
    let benefit_index = index % 40;
    let kind = BENEFIT_TYPES[(benefit_index % 8) as usize];
    let failed = index % 9 == 7;
    let revoked = !failed && index % 5 == 3;
    let granted_at = (!failed).then(|| timestamp(created + 2 * SECOND));
    let revoked_at = revoked.then(|| ts_in(&mut r, created, DAY..90 * DAY));
    let account = || {
        Value::String(digit_token(
            &mut rng_for("benefit_grants.account", seed, index),
            18,
        ))
    };
    let properties = match kind {
        "discord" => {
            obj!({"account_id": account(), "guild_id": digit_token(&mut r, 18), "role_id": digit_token(&mut r, 18), "granted_account_id": account()})
        }
        "github_repository" => {
            obj!({"account_id": account(), "repository_owner": "halcyon-labs", "repository_name": "premium-components", "permission": pick(&mut r, &["pull", "triage", "push"]), "granted_account_id": account()})
        }
        "downloadables" => {
            obj!({"files": (0..r.u64(1..4)).map(|k| uuid("files", seed, benefit_index * 4 + k)).collect::<Vec<_>>()})
        }
        "license_keys" => {
            obj!({"user_provided_key": Value::Null, "license_key_id": object_id("license_keys", seed, index), "display_key": format!("****-{}", &uuid("license_keys.key", seed, index).to_uppercase()[30..])})
        }
        "slack_shared_channel" => {
            obj!({"invited_email": format!("ops+{index}@example.com"), "channel_id": format!("C{}", alnum_token(&mut r, 10).to_uppercase()), "channel_name": "shared-support", "invite_id": format!("I{}", alnum_token(&mut r, 10).to_uppercase()), "invite_url": "https://join.slack.com/share/example", "connected_team_id": format!("T{}", alnum_token(&mut r, 9).to_uppercase())})
        }
        _ => obj!({}),
    };
    obj!({
        "created_at": timestamp(created),
        "modified_at": if revoked || failed { Value::String(ts_in(&mut r, created, MINUTE..DAY)) } else { Value::Null },
        "id": object_id("benefit_grants", seed, index),
        "granted_at": granted_at,
        "is_granted": !failed && !revoked,
        "revoked_at": revoked_at,
        "is_revoked": revoked,
        "subscription_id": if index.is_multiple_of(2) { Value::String(object_id("subscriptions", seed, index)) } else { Value::Null },
        "order_id": if index % 2 == 1 { Value::String(object_id("orders", seed, index)) } else { Value::Null },
        "customer_id": object_id("customers", seed, index),
        "member_id": Value::Null,
        "benefit_id": object_id("benefits", seed, benefit_index),
        "error": if failed { obj!({"message": "The customer's account is not connected.", "type": "BenefitActionRequiredError", "timestamp": timestamp(created + MINUTE)}) } else { Value::Null },
        "customer": customer(seed, index, created - 10 * DAY),
        "member": Value::Null,
        "benefit": benefit(seed, benefit_index, created - 30 * DAY, false),
        "properties": properties,
    })
}

/// License key statuses; `license_keys` object `i` has status `LICENSE_KEY_STATUSES[i % 3]`.
const LICENSE_KEY_STATUSES: [&str; 3] = ["granted", "revoked", "disabled"];

/// `license_keys` object `index`: a key granted by one of the license-key benefits (`benefits` objects
/// `8k + 4`) to customer `index`. Carries the key itself, as Polar's do.
fn license_key(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("license_keys", seed, index);
    let key = uuid("license_keys.key", seed, index).to_uppercase();
    let limited = chance(&mut r, 1, 2);
    let usage = r.i64(0..500);
    let validations = r.i64(0..2_000);
    let expires = chance(&mut r, 1, 3).then_some(365 * DAY);
    obj!({
        "id": object_id("license_keys", seed, index),
        "created_at": timestamp(created),
        "modified_at": if validations == 0 { Value::Null } else { Value::String(ts_in(&mut r, created, MINUTE..30 * DAY)) },
        "organization_id": organization_id(seed),
        "customer_id": object_id("customers", seed, index),
        "customer": customer(seed, index, created - 10 * DAY),
        "member_id": Value::Null,
        "member": Value::Null,
        "benefit_id": object_id("benefits", seed, 8 * (index % 4) + 4),
        "key": key.clone(),
        "display_key": format!("****-{}", &key[key.len() - 6..]),
        "status": LICENSE_KEY_STATUSES[(index % 3) as usize],
        "limit_activations": if limited { json!(pick(&mut r, &[1, 3, 5, 10])) } else { Value::Null },
        "usage": usage,
        "limit_usage": if limited { json!(usage + r.i64(0..1_000)) } else { Value::Null },
        "validations": validations,
        "last_validated_at": if validations == 0 { Value::Null } else { Value::String(ts_in(&mut r, created, HOUR..60 * DAY)) },
        "expires_at": ts_offset(created, expires),
    })
}

/// `customer_meters` object `index`: customer `index / 4`'s use of meter `index % 4` (one customer meter per
/// customer and meter); a quarter never changed since their creation (`modified_at` null).
fn customer_meter(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("customer_meters", seed, index);
    let k = (index % METERS.len() as u64) as usize;
    let customer_index = index / METERS.len() as u64;
    let credited: i64 = if chance(&mut r, 1, 2) {
        0
    } else {
        pick(&mut r, &[100, 1_000, 10_000, 50_000])
    };
    // Tokens and requests count whole units; storage is measured in fractions of a GB-hour.
    let consumed = if k == 2 {
        (r.f64() * 5_000.0 * 100.0).round() / 100.0
    } else {
        r.i64(0..60_000) as f64
    };
    obj!({
        "id": object_id("customer_meters", seed, index),
        "created_at": timestamp(created),
        "modified_at": if chance(&mut r, 1, 4) { Value::Null } else { Value::String(ts_in(&mut r, created, MINUTE..30 * DAY)) },
        "customer_id": object_id("customers", seed, customer_index),
        "meter_id": uuid("meters", seed, k as u64),
        "consumed_units": consumed,
        "credited_units": credited,
        "balance": credited as f64 - consumed,
        "customer": customer(seed, customer_index, created - 10 * DAY),
        "meter": meter(seed, k, created - 60 * DAY, true),
    })
}

/// The name of `events` object `index`: the event its meter (`index % 4`) counts.
pub fn user_event_name(index: u64) -> &'static str {
    METERS[(index % METERS.len() as u64) as usize].event
}

/// `events` object `index`: a usage event (`UserEvent`, `source: user`) of customer `index / 4`, one of the
/// events meter `index % 4` counts, with the properties it aggregates in `metadata`.
fn user_event(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("events", seed, index);
    let customer_index = index / METERS.len() as u64;
    let customer = customer(seed, customer_index, created - 10 * DAY);
    let metadata = match index % METERS.len() as u64 {
        0 => obj!({
            "endpoint": pick(&mut r, &["/v1/search", "/v1/embed", "/v1/render", "/v1/export"]),
            "status": pick(&mut r, &[200, 200, 200, 201, 400, 429, 500]),
            "duration_ms": (r.f64() * 900.0 * 10.0).round() / 10.0,
        }),
        1 => {
            let prompt = r.i64(10..4_000);
            let completion = r.i64(1..2_000);
            obj!({
                "model": pick(&mut r, &["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "claude-haiku-4"]),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "cached": chance(&mut r, 1, 5),
            })
        }
        2 => obj!({
            "gigabytes": (r.f64() * 500.0 * 100.0).round() / 100.0,
            "region": pick(&mut r, &["eu-west-1", "us-east-1", "ap-southeast-2"]),
        }),
        _ => obj!({"user_id": format!("usr_{}", alnum_token(&mut r, 12))}),
    };
    let name = user_event_name(index);
    obj!({
        "id": object_id("events", seed, index),
        "timestamp": timestamp(created),
        "organization_id": organization_id(seed),
        "customer_id": customer["id"].clone(),
        "external_customer_id": customer["external_id"].clone(),
        "customer": customer,
        "member_id": Value::Null,
        "external_member_id": Value::Null,
        "child_count": 0,
        "parent_id": Value::Null,
        "label": name,
        "name": name,
        "source": "user",
        "metadata": metadata,
    })
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/// Subscription statuses; `subscriptions` object `i` has status `SUBSCRIPTION_STATUSES[i % 8]`.
pub const SUBSCRIPTION_STATUSES: [&str; 8] = [
    "active",
    "canceled",
    "trialing",
    "past_due",
    "incomplete",
    "incomplete_expired",
    "unpaid",
    "paused",
];

const CANCELLATION_REASONS: [&str; 8] = [
    "customer_service",
    "low_quality",
    "missing_features",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
    "other",
];

struct SubscriptionPlan {
    index: u64,
    status: &'static str,
    product: ProductPlan,
    customer: u64,
    currency: &'static str,
    interval: &'static str,
    interval_count: u32,
    seats: Option<i64>,
    units: Option<i64>,
    amount: i64,
    discount: Option<DiscountPlan>,
    /// The RNG after planning; rendering continues from a clone of it.
    rng: Rng,
}

impl SubscriptionPlan {
    fn prices(&self) -> Vec<&Price> {
        self.product.prices_in(self.currency)
    }
}

fn subscription_plan(seed: u64, index: u64) -> SubscriptionPlan {
    let mut r = rng_for("subscriptions", seed, index);
    let status = SUBSCRIPTION_STATUSES[(index % 8) as usize];
    let template = RECURRING_TEMPLATES[(index % RECURRING_TEMPLATES.len() as u64) as usize];
    let product = product_plan(seed, product_index(template, index / 8));
    let customer = index;
    let home = customer_place(seed, customer).currency;
    let currency = product.currencies().find(|c| *c == home).unwrap_or("usd");
    let (interval, interval_count) = product.recurring.unwrap_or(("month", 1));
    let seats = product
        .seat_based()
        .then(|| pick(&mut r, &[1, 3, 5, 12, 25, 60]));
    let units = product
        .prices
        .iter()
        .find(|p| matches!(p.kind, PriceKind::UnitBased { .. }))
        .map(|p| unit_quantity(&mut r, &p.kind));
    let quantity = seats.or(units).unwrap_or(1);
    let amount = product
        .prices_in(currency)
        .iter()
        .map(|p| p.charge(quantity))
        .sum();
    let discount = chance(&mut r, 1, 5).then(|| discount_plan(seed, r.u64(..DISCOUNTS)));
    SubscriptionPlan {
        index,
        status,
        product,
        customer,
        currency,
        interval,
        interval_count,
        seats,
        units,
        amount,
        discount,
        rng: r,
    }
}

/// The fields of `OrderSubscription` (shared with `Subscription`).
fn subscription_base(plan: &SubscriptionPlan, seed: u64, r: &mut Rng, created: i64) -> Value {
    let status = plan.status;
    let started = !matches!(status, "incomplete" | "incomplete_expired");
    // Billing periods elapsed since creation: up to about 13 months' worth.
    let cycles = if matches!(
        status,
        "active" | "canceled" | "past_due" | "unpaid" | "paused"
    ) {
        let elapsed_days = r.i64(0..400);
        let days_per_cycle = plan.interval_count as i64
            * match plan.interval {
                "day" => 1,
                "week" => 7,
                "month" => 30,
                _ => 365,
            };
        (elapsed_days / days_per_cycle) as u32
    } else {
        0
    };
    let (period_start, mut trial) = match (status, plan.product.trial) {
        ("trialing", t) => (created, Some(t.unwrap_or(("day", 14)))),
        (_, Some(t)) if cycles > 0 && chance(r, 1, 2) => (0, Some(t)),
        _ => (0, None),
    };
    let trial_end = trial.map(|(i, c)| add_interval(created, i, c));
    let period_start = if status == "trialing" {
        period_start
    } else {
        let after_trial = trial_end.unwrap_or(created);
        add_interval(
            after_trial,
            plan.interval,
            plan.interval_count * cycles.saturating_sub(trial.is_some() as u32),
        )
    };
    let period_end = if status == "trialing" {
        trial_end.unwrap_or(created)
    } else {
        add_interval(period_start, plan.interval, plan.interval_count)
    };
    if status != "trialing" && cycles == 0 {
        trial = None;
    }
    // The meter cycle runs from creation independently of billing; the current meter period is
    // the one containing a moment inside the current billing period.
    let now = period_start + r.i64(0..(period_end - period_start).max(1));
    let meter_period = plan.product.meter_interval.map(|(i, c)| {
        let mut start = created;
        loop {
            let end = add_interval(start, i, c);
            if end > now || end <= start {
                break (start, end);
            }
            start = end;
        }
    });
    let cancel_at_period_end = status == "active" && chance(r, 1, 5);
    let canceled_at = match status {
        "canceled" => Some(period_start + r.i64(HOUR..(period_end - period_start).max(2 * HOUR))),
        _ if cancel_at_period_end => {
            Some(period_start + r.i64(HOUR..(period_end - period_start).max(2 * HOUR)))
        }
        _ => None,
    };
    let ended_at = match status {
        "canceled" => Some(if chance(r, 1, 2) {
            canceled_at.unwrap_or(period_end)
        } else {
            period_end
        }),
        "incomplete_expired" => Some(created + 23 * HOUR),
        _ => None,
    };
    let ends_at = if cancel_at_period_end {
        Some(period_end)
    } else {
        ended_at
    };
    let reason = canceled_at
        .is_some()
        .then(|| pick(r, &CANCELLATION_REASONS));
    let comment = reason.filter(|_| chance(r, 1, 2)).map(|_| {
        pick(
            r,
            &[
                "Too expensive for our current budget.",
                "We moved to an in-house solution.",
                "Not using it enough.",
                "Missing an integration we need.",
            ],
        )
    });
    let past_due_at =
        matches!(status, "past_due" | "unpaid").then(|| period_start + r.i64(MINUTE..3 * DAY));
    let paused_at = (status == "paused").then(|| period_start + r.i64(HOUR..10 * DAY));
    let resumes_at = paused_at
        .filter(|_| chance(r, 1, 2))
        .map(|p| p + r.i64(7..60) * DAY);
    let opt_ts =
        |v: Option<i64>, r: &mut Rng| v.map_or(Value::Null, |ms| Value::String(ts_jitter(r, ms)));
    obj!({
        "metadata": metadata(r),
        "created_at": timestamp(created),
        "modified_at": if chance(r, 1, 4) { Value::Null } else { Value::String(ts_in(r, created, SECOND..DAY)) },
        "id": object_id("subscriptions", seed, plan.index),
        "amount": plan.amount,
        "currency": plan.currency,
        "recurring_interval": plan.interval,
        "recurring_interval_count": plan.interval_count,
        "status": status,
        "current_period_start": timestamp(period_start),
        "current_period_end": timestamp(period_end),
        "current_meter_period_start": meter_period.map(|m| timestamp(m.0)),
        "current_meter_period_end": meter_period.map(|m| timestamp(m.1)),
        "trial_start": trial.map(|_| timestamp(created)),
        "trial_end": trial_end.filter(|_| trial.is_some()).map(timestamp),
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at.map(timestamp),
        "started_at": started.then(|| timestamp(created + 2 * SECOND)),
        "ends_at": ends_at.map(timestamp),
        "ended_at": ended_at.map(timestamp),
        "past_due_at": opt_ts(past_due_at, r),
        "pause_at_period_end": status == "active" && !cancel_at_period_end && chance(r, 1, 12),
        "paused_at": opt_ts(paused_at, r),
        "resumes_at": resumes_at.map(timestamp),
        "customer_id": object_id("customers", seed, plan.customer),
        "product_id": plan.product.id.clone(),
        "discount_id": plan.discount.as_ref().map(|d| uuid("discounts", seed, d.index)),
        "checkout_id": if chance(r, 3, 4) { Value::String(object_id("checkouts", seed, plan.index)) } else { Value::Null },
        "seats": plan.seats,
        "units": plan.units,
        "customer_cancellation_reason": reason,
        "customer_cancellation_comment": comment,
    })
}

/// `subscriptions` object `index`; its status is `SUBSCRIPTION_STATUSES[index % 8]`.
fn subscription(seed: u64, index: u64, created: i64) -> Value {
    let plan = subscription_plan(seed, index);
    let mut r = plan.rng.clone();
    let base = subscription_base(&plan, seed, &mut r, created);
    let product_created = created - r.i64(DAY..400 * DAY);
    let customer_created = created - r.i64(MINUTE..30 * DAY);
    let prices = plan.prices();
    let meters: Vec<Value> = prices
        .iter()
        .filter(|p| p.is_metered())
        .enumerate()
        .map(|(k, p)| {
            let meter_k = match p.kind {
                PriceKind::MeteredUnit { meter, .. } | PriceKind::MeteredTiers { meter, .. } => meter,
                _ => 0,
            };
            let consumed = if plan.status == "incomplete" { 0.0 } else { (r.f64() * 2_000_000.0).round() / 10.0 };
            let credited = if chance(&mut r, 1, 3) { pick(&mut r, &[1_000, 10_000]) } else { 0 };
            obj!({
                "created_at": timestamp(created),
                "modified_at": if chance(&mut r, 1, 5) { Value::Null } else { Value::String(ts_in(&mut r, created, HOUR..20 * DAY)) },
                "id": uuid("subscription_meters", seed, child_index(index, 4, k as u64)),
                "consumed_units": consumed,
                "credited_units": credited,
                "amount": p.usage((consumed as i64 - credited).max(0)),
                "meter_id": uuid("meters", seed, meter_k as u64),
                "meter": meter(seed, meter_k, product_created - 30 * DAY, true),
            })
        })
        .collect();
    let pending_update = (matches!(plan.status, "active" | "trialing") && chance(&mut r, 1, 3)).then(|| {
        let period_end = base["current_period_end"].clone();
        let upgrade = chance(&mut r, 1, 2).then(|| object_id("products", seed, product_index(RECURRING_TEMPLATES[r.usize(..5)], r.u64(..4))));
        obj!({
            "created_at": ts_jitter(&mut r, created + 5 * DAY),
            "modified_at": if chance(&mut r, 1, 2) { Value::Null } else { Value::String(ts_in(&mut r, created, 5 * DAY..6 * DAY)) },
            "id": uuid("subscription_updates", seed, index),
            "applies_at": period_end,
            "product_id": upgrade,
            "seats": plan.seats.map(|s| s + 2),
            "units": plan.units.map(|u| u + u / 5 + 1),
        })
    });
    let custom_data = if chance(&mut r, 1, 6) {
        Value::Null
    } else {
        custom_field_data(&mut r, &plan.product.custom_fields)
    };
    merge(
        base,
        obj!({
            "custom_field_data": custom_data,
            "customer": customer(seed, plan.customer, customer_created),
            "product": product(&plan.product, product_created),
            "discount": plan.discount.as_ref().map(|d| d.render(seed, product_created + DAY, true)),
            "prices": prices.iter().map(|p| p.render(seed, &plan.product.id, product_created)).collect::<Vec<_>>(),
            "meters": meters,
            "pending_update": pending_update,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/// Order statuses; `orders` object `i` has status `ORDER_STATUSES[i % 6]`.
pub const ORDER_STATUSES: [&str; 6] = [
    "paid",
    "refunded",
    "partially_refunded",
    "pending",
    "draft",
    "void",
];
/// Order billing reasons; `orders` object `i` has billing reason `BILLING_REASONS[i % 5]`.
pub const BILLING_REASONS: [&str; 5] = [
    "purchase",
    "subscription_create",
    "subscription_cycle",
    "subscription_update",
    "subscription_meter_cycle",
];

struct OrderItem {
    label: String,
    amount: i64,
    tax: i64,
    proration: bool,
    price_id: Option<String>,
    period: Option<(i64, i64)>,
}

struct OrderPlan {
    status: &'static str,
    reason: &'static str,
    customer: u64,
    product: Option<ProductPlan>,
    subscription: Option<SubscriptionPlan>,
    currency: &'static str,
    place: Place,
    items: Vec<OrderItem>,
    seats: Option<i64>,
    units: Option<i64>,
    discount: Option<DiscountPlan>,
    subtotal: i64,
    discount_amount: i64,
    net: i64,
    tax: i64,
    applied_balance: i64,
    refunded: i64,
    refunded_tax: i64,
    rng: Rng,
}

impl OrderPlan {
    fn total(&self) -> i64 {
        self.net + self.tax
    }

    fn paid(&self) -> bool {
        matches!(self.status, "paid" | "refunded" | "partially_refunded")
    }
}

/// The index of a subscription with status `SUBSCRIPTION_STATUSES[status]` and product template
/// `RECURRING_TEMPLATES[template]`, in block `block` of 40 (statuses cycle by 8, templates by 5).
fn subscription_index(status: usize, template: usize, block: u64) -> u64 {
    let within = (0..40u64)
        .find(|s| s % 8 == status as u64 && s % 5 == template as u64)
        .expect("8 and 5 are coprime");
    40 * block + within
}

/// The subscription an order with subscription billing reason `reason` belongs to: one that has
/// been invoiced (not trialing or incomplete), with metered prices for meter cycles, in the
/// order's block of 40.
fn order_subscription_index(r: &mut Rng, reason: &str, index: u64) -> u64 {
    // active, canceled, past_due, unpaid, paused
    const INVOICED: [usize; 5] = [0, 1, 3, 6, 7];
    let status = if reason == "subscription_update" {
        pick(r, &[0, 3])
    } else {
        pick(r, &INVOICED)
    };
    // Templates 1 and 7 carry metered prices.
    let template = if reason == "subscription_meter_cycle" {
        pick(r, &[0, 4])
    } else {
        r.usize(..RECURRING_TEMPLATES.len())
    };
    subscription_index(status, template, index / 40)
}

fn order_plan(seed: u64, index: u64) -> OrderPlan {
    let mut r = rng_for("orders", seed, index);
    let status = ORDER_STATUSES[(index % 6) as usize];
    let reason = BILLING_REASONS[(index % 5) as usize];
    let (customer, product, subscription) = if reason == "purchase" {
        let template = ONE_TIME_TEMPLATES[((index / 5) % 3) as usize];
        // Draft purchases are ad-hoc invoices without a catalog product.
        let product =
            (status != "draft").then(|| product_plan(seed, product_index(template, index / 15)));
        (index, product, None)
    } else {
        let sub = subscription_plan(seed, order_subscription_index(&mut r, reason, index));
        (sub.customer, None, Some(sub))
    };
    let place = customer_place(seed, customer);
    let currency = match (&subscription, &product) {
        (Some(s), _) => s.currency,
        (None, Some(p)) => p
            .currencies()
            .find(|c| *c == place.currency)
            .unwrap_or("usd"),
        (None, None) => "usd",
    };
    let mut seats = None;
    let mut units = None;
    let mut items = Vec::with_capacity(3);
    let mut item = |label: String,
                    amount: i64,
                    proration: bool,
                    price: Option<&Price>,
                    period: Option<(i64, i64)>| {
        items.push(OrderItem {
            label,
            amount,
            tax: 0,
            proration,
            price_id: price.map(|p| p.id.clone()),
            period,
        });
    };
    match (&subscription, &product) {
        (Some(sub), _) => {
            let prices = sub.prices();
            seats = sub.seats;
            units = sub.units;
            let quantity = sub.seats.or(sub.units).unwrap_or(1);
            let name = &sub.product.name;
            // Periods are filled in at render time from the order's creation time.
            for p in prices {
                match (reason, p.is_metered()) {
                    ("subscription_update", false) => {
                        let full = p.charge(quantity + 2) - p.charge(quantity);
                        let share = r.i64(10..90);
                        item(
                            format!("Remaining time on {name}"),
                            (full.max(500) * share) / 100,
                            true,
                            Some(p),
                            Some((0, 0)),
                        );
                    }
                    ("subscription_create" | "subscription_cycle", false) => {
                        let label = match (sub.seats, sub.units) {
                            (Some(s), _) => format!("{name} ({s} seats)"),
                            (None, Some(u)) => format!("{name} ({u} licenses)"),
                            _ => name.clone(),
                        };
                        item(
                            label,
                            if sub.status == "trialing" {
                                0
                            } else {
                                p.charge(quantity)
                            },
                            false,
                            Some(p),
                            Some((0, 0)),
                        );
                    }
                    ("subscription_cycle" | "subscription_meter_cycle", true) => {
                        let used = r.i64(0..3_000_000);
                        let meter_name = match p.kind {
                            PriceKind::MeteredUnit { meter, .. }
                            | PriceKind::MeteredTiers { meter, .. } => METERS[meter].name,
                            _ => "Usage",
                        };
                        item(
                            format!("{name} - {meter_name} ({used} units)"),
                            p.usage(used),
                            false,
                            Some(p),
                            Some((0, 0)),
                        );
                    }
                    _ => {}
                }
            }
        }
        (None, Some(prod)) => {
            let p = prod.prices_in(currency)[0];
            let quantity = if matches!(p.kind, PriceKind::UnitBased { .. }) {
                let u = unit_quantity(&mut r, &p.kind);
                units = Some(u);
                u
            } else {
                1
            };
            let label = match units {
                Some(u) => format!("{} ({u} credits)", prod.name),
                None => prod.name.clone(),
            };
            item(label, p.charge(quantity), false, Some(p), None);
        }
        (None, None) => {
            for _ in 0..r.usize(1..3) {
                let label = pick(
                    &mut r,
                    &[
                        "Consulting (4 hours)",
                        "Custom integration work",
                        "Priority support retainer",
                        "Onboarding workshop",
                    ],
                );
                item(
                    label.to_owned(),
                    price_cents(&mut r, 100, 900),
                    false,
                    None,
                    None,
                );
            }
        }
    }
    if items.is_empty() {
        items.push(OrderItem {
            label: "Usage (no consumption)".into(),
            amount: 0,
            tax: 0,
            proration: false,
            price_id: None,
            period: Some((0, 0)),
        });
    }
    let subtotal: i64 = items.iter().map(|i| i.amount).sum();
    let discount = match &subscription {
        Some(s) => s.discount.as_ref().map(|d| discount_plan(seed, d.index)),
        None => {
            (subtotal > 0 && chance(&mut r, 1, 4)).then(|| discount_plan(seed, r.u64(..DISCOUNTS)))
        }
    };
    let discount_amount = discount
        .as_ref()
        .map_or(0, |d| d.amount_off(subtotal, currency));
    let net = subtotal - discount_amount;
    let tax_bp = if chance(&mut r, 1, 8) {
        0
    } else {
        place.tax_bp
    };
    let tax = apply_bp(net, tax_bp);
    for it in &mut items {
        it.tax = if subtotal == 0 {
            0
        } else {
            apply_bp(
                it.amount - discount_amount * it.amount / subtotal.max(1),
                tax_bp,
            )
        };
    }
    let applied_balance = if chance(&mut r, 1, 10) {
        -(r.i64(1..20) * 100).min(net + tax)
    } else {
        0
    };
    let (refunded, refunded_tax) = match status {
        "refunded" => (net, tax),
        "partially_refunded" => {
            let share = r.i64(10..90);
            (net * share / 100, tax * share / 100)
        }
        _ => (0, 0),
    };
    OrderPlan {
        status,
        reason,
        customer,
        product,
        subscription,
        currency,
        place,
        items,
        seats,
        units,
        discount,
        subtotal,
        discount_amount,
        net,
        tax,
        applied_balance,
        refunded,
        refunded_tax,
        rng: r,
    }
}

/// A per-seed invoice prefix, like Polar's organization invoice prefixes.
fn invoice_prefix(seed: u64) -> String {
    let mut r = rng_for("invoice_prefix", seed, 0);
    let word = pick(&mut r, COMPANY_WORDS).to_uppercase();
    format!(
        "{}-{}",
        &word[..word.len().min(5)],
        hex_token(&mut r, 4).to_uppercase()
    )
}

/// `orders` object `index`; its status is `ORDER_STATUSES[index % 6]` and its billing reason
/// `BILLING_REASONS[index % 5]`.
fn order(seed: u64, index: u64, created: i64) -> Value {
    let plan = order_plan(seed, index);
    let mut r = plan.rng.clone();
    let status = plan.status;
    let paid = plan.paid();
    let total = plan.total();
    let customer_created = created - r.i64(MINUTE..300 * DAY);
    let product_created = customer_created - r.i64(DAY..200 * DAY);
    let sub_created = created - r.i64(0..200 * DAY);
    let product_plan_ref = plan
        .subscription
        .as_ref()
        .map(|s| &s.product)
        .or(plan.product.as_ref());
    let (period_start, period_end) = match &plan.subscription {
        Some(s) => (created, add_interval(created, s.interval, s.interval_count)),
        None => (created, created),
    };
    let billing_name = match (chance(&mut r, 1, 5), &plan.subscription) {
        (true, _) => Value::Null,
        _ => Value::String(format!(
            "{} {}",
            pick(&mut r, FIRST_NAMES),
            pick(&mut r, LAST_NAMES)
        )),
    };
    let billing_address = if chance(&mut r, 1, 6) {
        Value::Null
    } else {
        address(&mut r, &plan.place)
    };
    let items: Vec<Value> = plan
        .items
        .iter()
        .enumerate()
        .map(|(k, it)| {
            obj!({
                "created_at": timestamp(created),
                "modified_at": if it.proration || chance(&mut r, 1, 10) { Value::String(ts_in(&mut r, created, SECOND..MINUTE)) } else { Value::Null },
                "id": uuid("order_items", seed, child_index(index, 16, k as u64)),
                "label": it.label.clone(),
                "amount": it.amount,
                "tax_amount": it.tax,
                "proration": it.proration,
                "product_price_id": it.price_id.clone(),
                "start_timestamp": it.period.map(|_| timestamp(period_start)),
                "end_timestamp": it.period.map(|_| timestamp(period_end)),
            })
        })
        .collect();
    let description = match (plan.reason, product_plan_ref) {
        (_, Some(p))
            if plan.reason == "subscription_cycle" || plan.reason == "subscription_meter_cycle" =>
        {
            format!("Subscription renewal: {}", p.name)
        }
        (_, Some(p)) if plan.reason == "subscription_update" => {
            format!("Subscription update: {}", p.name)
        }
        (_, Some(p)) => p.name.clone(),
        (_, None) => plan.items[0].label.clone(),
    };
    let fields = product_plan_ref.map_or(&[][..], |p| &p.custom_fields[..]);
    let custom_data = if chance(&mut r, 1, 6) {
        Value::Null
    } else {
        custom_field_data(&mut r, fields)
    };
    let due = if matches!(status, "pending" | "draft") {
        total + plan.applied_balance
    } else {
        0
    };
    let fee = if paid && total > 0 {
        apply_bp(total, 400) + 40
    } else {
        0
    };
    let from_checkout =
        matches!(plan.reason, "purchase" | "subscription_create") && status != "draft";
    let subscription_json = plan.subscription.as_ref().map(|s| {
        let mut sr = s.rng.clone();
        subscription_base(s, seed, &mut sr, sub_created)
    });
    obj!({
        "id": object_id("orders", seed, index),
        "created_at": timestamp(created),
        "modified_at": if status == "draft" && chance(&mut r, 1, 2) { Value::Null } else { Value::String(ts_in(&mut r, created, SECOND..2 * DAY)) },
        "status": status,
        "paid": paid,
        "subtotal_amount": plan.subtotal,
        "discount_amount": plan.discount_amount,
        "net_amount": plan.net,
        "tax_amount": plan.tax,
        "total_amount": total,
        "applied_balance_amount": plan.applied_balance,
        "due_amount": due,
        "refunded_amount": plan.refunded,
        "refunded_tax_amount": plan.refunded_tax,
        "currency": plan.currency,
        "billing_reason": plan.reason,
        "billing_name": billing_name,
        "billing_address": billing_address,
        // Unique per index (the fake server relies on it), even for drafts.
        "invoice_number": format!("{}-{:05}", invoice_prefix(seed), index as u128 + 1),
        "is_invoice_generated": paid && chance(&mut r, 2, 3),
        "receipt_number": if paid && chance(&mut r, 3, 4) { Value::String(format!("{}-R{:05}", invoice_prefix(seed), index as u128 + 1)) } else { Value::Null },
        "seats": plan.seats,
        "units": plan.units,
        "customer_id": object_id("customers", seed, plan.customer),
        "product_id": product_plan_ref.map(|p| p.id.clone()),
        "discount_id": plan.discount.as_ref().map(|d| uuid("discounts", seed, d.index)),
        "subscription_id": plan.subscription.as_ref().map(|s| object_id("subscriptions", seed, s.index)),
        "checkout_id": from_checkout.then(|| object_id("checkouts", seed, index)),
        "next_payment_attempt_at": if status == "pending" && chance(&mut r, 1, 2) { Value::String(ts_in(&mut r, created, DAY..8 * DAY)) } else { Value::Null },
        "metadata": metadata(&mut r),
        "custom_field_data": custom_data,
        "platform_fee_amount": fee,
        "platform_fee_currency": if fee > 0 { json!("usd") } else { Value::Null },
        "customer": customer(seed, plan.customer, customer_created),
        "product": product_plan_ref.map(|p| merge(product_base(p, seed, product_created), obj!({"metadata": p.metadata()}))),
        "discount": plan.discount.as_ref().map(|d| d.render(seed, product_created + DAY, true)),
        "subscription": subscription_json,
        "items": items,
        "description": description,
        "refundable_amount": if paid { (plan.net - plan.refunded + plan.applied_balance.min(0)).max(0) } else { 0 },
        "refundable_tax_amount": if paid { plan.tax - plan.refunded_tax } else { 0 },
    })
}

// ---------------------------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------------------------

/// Refund statuses; `refunds` object `i` has status `REFUND_STATUSES[i % 4]`.
pub const REFUND_STATUSES: [&str; 4] = ["succeeded", "pending", "failed", "canceled"];
/// Refund reasons; `refunds` object `i` has reason `REFUND_REASONS[i % 7]`.
pub const REFUND_REASONS: [&str; 7] = [
    "customer_request",
    "duplicate",
    "fraudulent",
    "service_disruption",
    "satisfaction_guarantee",
    "dispute_prevention",
    "other",
];
const DISPUTE_STATUSES: [&str; 6] = [
    "prevented",
    "early_warning",
    "needs_response",
    "under_review",
    "lost",
    "won",
];

/// The order refund `index` belongs to: each block of six refunds goes to the refunded and the
/// partially refunded order of the matching block of six orders (three refunds each).
fn refund_order_index(index: u64) -> u64 {
    6 * (index / 6) + 1 + index % 2
}

/// `refunds` object `index`; status `REFUND_STATUSES[index % 4]`, reason `REFUND_REASONS[index % 7]`.
fn refund(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("refunds", seed, index);
    let order_index = refund_order_index(index);
    let order = order_plan(seed, order_index);
    let part = (index % 6) / 2; // which of the order's three refunds
    let split = |total: i64| {
        if part < 2 {
            total / 3
        } else {
            total - 2 * (total / 3)
        }
    };
    let (amount, tax) = (split(order.refunded.max(1)), split(order.refunded_tax));
    let reason = REFUND_REASONS[(index % 7) as usize];
    let disputed = reason == "dispute_prevention" || chance(&mut r, 1, 12);
    let dispute = disputed.then(|| {
        let status = if reason == "dispute_prevention" && index.is_multiple_of(2) { "prevented" } else { DISPUTE_STATUSES[((index / 7) % 6) as usize] };
        let closed = matches!(status, "prevented" | "won" | "lost");
        let needs_evidence = matches!(status, "needs_response" | "under_review");
        obj!({
            "created_at": ts_in(&mut r, created, -5 * DAY..-HOUR),
            "modified_at": if chance(&mut r, 1, 4) { Value::Null } else { Value::String(ts_in(&mut r, created, MINUTE..DAY)) },
            // Not one of the `disputes` stream's (those are keyed by order): a namespace of its own.
            "id": uuid("refund_disputes", seed, index),
            "status": status,
            "resolved": matches!(status, "won" | "lost"),
            "closed": closed,
            "amount": amount,
            "tax_amount": tax,
            "currency": order.currency,
            "reason": if status == "prevented" { Value::Null } else { json!(pick(&mut r, &["fraudulent", "product_not_received", "subscription_canceled", "unrecognized", "duplicate"])) },
            "evidence_due_by": if needs_evidence { Value::String(ts_in(&mut r, created, 7 * DAY..21 * DAY)) } else { Value::Null },
            "past_due": needs_evidence && chance(&mut r, 1, 4),
            "order_id": object_id("orders", seed, order_index),
            "payment_id": uuid("payments", seed, order_index),
        })
    });
    obj!({
        "created_at": timestamp(created),
        "modified_at": if chance(&mut r, 1, 3) { Value::Null } else { Value::String(ts_in(&mut r, created, SECOND..3 * DAY)) },
        "id": object_id("refunds", seed, index),
        "metadata": metadata(&mut r),
        "status": REFUND_STATUSES[(index % 4) as usize],
        "reason": reason,
        "amount": amount,
        "tax_amount": tax,
        "currency": order.currency,
        "organization_id": organization_id(seed),
        "order_id": object_id("orders", seed, order_index),
        "subscription_id": order.subscription.as_ref().map(|s| object_id("subscriptions", seed, s.index)),
        "customer_id": object_id("customers", seed, order.customer),
        "revoke_benefits": order.status == "refunded" && r.bool(),
        "dispute": dispute,
    })
}

/// `disputes` object `index`: a chargeback of order `index`, in status `DISPUTE_STATUSES[index % 6]`, with the
/// customer who raised it.
fn dispute_record(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("chargebacks", seed, index);
    let order = order_plan(seed, index);
    let status = DISPUTE_STATUSES[(index % 6) as usize];
    let needs_evidence = matches!(status, "needs_response" | "under_review");
    let reasons = [
        "fraudulent",
        "product_not_received",
        "subscription_canceled",
        "unrecognized",
        "duplicate",
    ];
    obj!({
        "created_at": timestamp(created),
        "modified_at": if chance(&mut r, 1, 4) { Value::Null } else { Value::String(ts_in(&mut r, created, MINUTE..DAY)) },
        "id": object_id("disputes", seed, index),
        "status": status,
        "resolved": matches!(status, "won" | "lost"),
        "closed": matches!(status, "prevented" | "won" | "lost"),
        "amount": (order.net + order.tax).max(1),
        "tax_amount": order.tax,
        "currency": order.currency,
        "reason": if status == "prevented" { Value::Null } else { json!(pick(&mut r, &reasons)) },
        "evidence_due_by": if needs_evidence { Value::String(ts_in(&mut r, created, 7 * DAY..21 * DAY)) } else { Value::Null },
        "past_due": needs_evidence && chance(&mut r, 1, 4),
        "order_id": object_id("orders", seed, index),
        "payment_id": uuid("payments", seed, index),
        "customer": customer(seed, order.customer, created - 30 * DAY),
        "case_id": if status == "prevented" { Value::Null } else { Value::String(format!("du_{}", alnum_token(&mut r, 24))) },
    })
}

/// `payments` object `index`: the payment of order `index` (`CardPayment`, `KrCardPayment` or `GenericPayment`
/// by `index % 5`); one in seven failed, one in eleven pending.
fn payment(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("payments", seed, index);
    let order = order_plan(seed, index);
    let status = if index % 7 == 5 {
        "failed"
    } else if index % 11 == 9 {
        "pending"
    } else {
        "succeeded"
    };
    let cycle = order.reason == "subscription_cycle";
    let trigger = match (cycle, status) {
        (true, "failed") => "retry_dunning",
        (true, _) => "subscription_cycle",
        _ => "purchase",
    };
    let last4 = digit_token(&mut r, 4);
    let (method, method_metadata) = match index % 5 {
        3 => (
            "kr_card",
            Some(
                obj!({"brand": if r.bool() { json!(pick(&mut r, &["hyundai", "samsung", "shinhan"])) } else { Value::Null }, "last4": last4}),
            ),
        ),
        4 => (
            pick(&mut r, &["ideal", "bancontact", "sepa_debit", "link"]),
            None,
        ),
        _ => (
            "card",
            Some(
                obj!({"brand": pick(&mut r, &["visa", "mastercard", "amex", "discover"]), "last4": last4}),
            ),
        ),
    };
    let mut record = obj!({
        "created_at": timestamp(created),
        "modified_at": if status == "pending" { Value::Null } else { Value::String(ts_in(&mut r, created, SECOND..MINUTE)) },
        "id": object_id("payments", seed, index),
        "processor": "stripe",
        "status": status,
        "amount": (order.net + order.tax).max(1),
        "currency": order.currency,
        "method": method,
        "trigger": trigger,
        "decline_reason": if status == "failed" { json!(pick(&mut r, &["card_declined", "insufficient_funds", "expired_card"])) } else { Value::Null },
        "decline_message": if status == "failed" { json!("Your card was declined.") } else { Value::Null },
        "organization_id": organization_id(seed),
        "checkout_id": if cycle { Value::Null } else { Value::String(uuid("checkouts", seed, index)) },
        "order_id": if status == "failed" && !cycle { Value::Null } else { Value::String(object_id("orders", seed, index)) },
        "processor_metadata": obj!({"intent_id": format!("pi_{}", alnum_token(&mut r, 24)), "charge_id": format!("ch_{}", alnum_token(&mut r, 24))}),
    });
    if let Some(metadata) = method_metadata {
        record["method_metadata"] = metadata;
    }
    record
}

// ---------------------------------------------------------------------------------------------
// Checkouts
// ---------------------------------------------------------------------------------------------

/// Checkout statuses; `checkouts` object `i` has status `CHECKOUT_STATUSES[i % 5]`.
pub const CHECKOUT_STATUSES: [&str; 5] = ["succeeded", "open", "expired", "confirmed", "failed"];

/// `checkouts` object `index`; its status is `CHECKOUT_STATUSES[index % 5]`.
fn checkout(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("checkouts", seed, index);
    let status = CHECKOUT_STATUSES[(index % 5) as usize];
    let primary = product_plan(
        seed,
        product_index(index % PRODUCT_TEMPLATES as u64, index / 8),
    );
    let mut products = vec![primary];
    if chance(&mut r, 1, 3) {
        // Upsell: a second product of a different template.
        let other = (products[0].template + 1 + r.u64(..7)) % PRODUCT_TEMPLATES as u64;
        products.push(product_plan(seed, product_index(other, r.u64(..4))));
    }
    let product = &products[0];
    let place = customer_place(seed, index);
    let currency = product
        .currencies()
        .find(|c| *c == place.currency)
        .unwrap_or("usd");
    let prices = product.prices_in(currency);
    let price = prices
        .iter()
        .find(|p| !p.is_metered())
        .copied()
        .unwrap_or(prices[0]);
    let (mut seats, mut min_seats, mut max_seats) = (None, None, None);
    let (mut units, mut min_units, mut max_units) = (None, None, None);
    let quantity = match &price.kind {
        PriceKind::SeatBased { tiers, .. } => {
            let s = pick(&mut r, &[1, 2, 5, 10, 20]);
            seats = Some(s);
            min_seats = Some(tiers[0].0);
            max_seats = tiers[tiers.len() - 1].1;
            s
        }
        PriceKind::UnitBased { tiers, minimum, .. } => {
            let u = unit_quantity(&mut r, &price.kind);
            units = Some(u);
            min_units = *minimum;
            max_units = tiers[tiers.len() - 1].0;
            u
        }
        _ => 1,
    };
    let amount = match &price.kind {
        PriceKind::Custom {
            minimum, maximum, ..
        }
        | PriceKind::LegacyCustom {
            minimum, maximum, ..
        } if chance(&mut r, 1, 2) => {
            r.i64(*minimum..=maximum.unwrap_or(20_000).max(*minimum)) / 100 * 100
        }
        _ => price.charge(quantity),
    };
    let customer_known =
        matches!(status, "succeeded" | "confirmed" | "failed") || chance(&mut r, 1, 3);
    let discountable = !matches!(
        price.kind,
        PriceKind::Custom { .. } | PriceKind::LegacyCustom { .. }
    ) && amount > 0;
    let discount = (chance(&mut r, 1, 4)).then(|| discount_plan(seed, r.u64(..DISCOUNTS)));
    let discount_amount = match (&discount, discountable) {
        (Some(d), true) => d.amount_off(amount, currency),
        _ => 0,
    };
    let net = amount - discount_amount;
    let tax_known = customer_known && chance(&mut r, 5, 6);
    let inclusive = price.tax_behavior == Some("inclusive");
    let tax = tax_known.then(|| {
        if inclusive {
            net - net * 10_000 / (10_000 + place.tax_bp)
        } else {
            apply_bp(net, place.tax_bp)
        }
    });
    let total = if inclusive {
        net
    } else {
        net + tax.unwrap_or(0)
    };
    let allow_trial = match r.u32(..4) {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    let trial_override = (product.is_recurring() && chance(&mut r, 1, 8)).then_some(("day", 30));
    let active_trial = if allow_trial == Some(false) {
        None
    } else {
        trial_override.or(product.trial)
    };
    let is_business = customer_known && chance(&mut r, 1, 4);
    let require_billing_address = is_business || chance(&mut r, 1, 4);
    let full_address = require_billing_address || place.country == "US";
    // A checkout linked to a customer shows that customer's details; anonymous ones what was typed.
    let linked = status == "succeeded" || (customer_known && chance(&mut r, 1, 2));
    let (first, last) = person(&mut r);
    let mut customer_name = Value::String(format!("{first} {last}"));
    let mut customer_email = Value::String(format!(
        "{}.{}+checkout{index}@{}",
        first.to_lowercase(),
        last.to_lowercase().replace(' ', ""),
        pick(&mut r, EMAIL_DOMAINS)
    ));
    let mut billing_address = address(&mut r, &place);
    if linked && let Value::Object(mut c) = customer(seed, index, created - DAY) {
        for (key, slot) in [
            ("name", &mut customer_name),
            ("email", &mut customer_email),
            ("billing_address", &mut billing_address),
        ] {
            match c.remove(key) {
                Some(Value::Null) | None => {}
                Some(v) => *slot = v,
            }
        }
    }
    let secret = format!("polar_c_{}", alnum_token(&mut r, 48));
    let site = format!(
        "https://{}.{}",
        slugify(pick(&mut r, COMPANY_WORDS)),
        pick(&mut r, &["com", "dev", "io"])
    );
    let mut processor = Map::new();
    processor.insert(
        "publishable_key".into(),
        Value::String(format!("pk_live_51{}", alnum_token(&mut r, 40))),
    );
    if matches!(status, "confirmed" | "succeeded" | "failed") && total > 0 {
        processor.insert(
            "intent_status".into(),
            json!(match status {
                "succeeded" => "succeeded",
                "failed" => "requires_payment_method",
                _ => "processing",
            }),
        );
        processor.insert(
            "intent_client_secret".into(),
            Value::String(format!(
                "pi_3{}_secret_{}",
                alnum_token(&mut r, 21),
                alnum_token(&mut r, 25)
            )),
        );
    }
    let address_mode = |required: bool| {
        if required {
            "required"
        } else if full_address {
            "optional"
        } else {
            "disabled"
        }
    };
    let customer_metadata = if chance(&mut r, 1, 2) {
        obj!({})
    } else {
        obj!({"signup_source": pick(&mut r, &["landing_page", "pricing_page", "docs"]), "account_age_days": r.i64(0..900), "newsletter": r.bool()})
    };
    let custom_data = match status {
        "open" | "expired" if chance(&mut r, 1, 2) => obj!({}),
        _ if chance(&mut r, 1, 6) => Value::Null,
        _ => custom_field_data(&mut r, &product.custom_fields),
    };
    let attached = if product.custom_fields.is_empty() && chance(&mut r, 1, 2) {
        Value::Null
    } else {
        Value::from(
            product
                .custom_fields
                .iter()
                .enumerate()
                .map(|(o, &(k, req))| attached_custom_field(seed, k, o, req, created - 20 * DAY))
                .collect::<Vec<_>>(),
        )
    };
    let product_created = created - r.i64(DAY..365 * DAY);
    let rendered: Vec<Value> = products
        .iter()
        .map(|p| checkout_product(p, seed, currency, product_created))
        .collect();
    // `prices` maps each product to the prices rendered in it; `product` is the first one.
    let price_map: Map<String, Value> = products
        .iter()
        .zip(&rendered)
        .map(|(p, v)| (p.id.clone(), v["prices"].clone()))
        .collect();
    let selected = rendered[0].clone();
    let opt = |cond: bool, v: Value| if cond { v } else { Value::Null };
    let customer_ip = if r.bool() {
        format!(
            "{}.{}.{}.{}",
            pick(
                &mut r,
                &[31, 46, 62, 77, 81, 92, 109, 146, 176, 185, 188, 213]
            ),
            r.u8(..),
            r.u8(..),
            r.u8(1..255)
        )
    } else {
        format!("2a02:{:x}:{:x}::{:x}", r.u16(..), r.u16(..), r.u16(1..))
    };
    let tax_id_value = tax_id(&mut r, &place);
    let session = obj!({
        "id": object_id("checkouts", seed, index),
        "created_at": timestamp(created),
        "modified_at": if status == "open" && chance(&mut r, 1, 2) { Value::Null } else { Value::String(ts_in(&mut r, created, SECOND..50 * MINUTE)) },
        "custom_field_data": custom_data,
        "payment_processor": "stripe",
        "status": status,
        "client_secret": secret.clone(),
        "url": format!("https://buy.polar.sh/{secret}"),
        "expires_at": timestamp(created + HOUR),
        "success_url": format!("{site}/thank-you?checkout_id={{CHECKOUT_ID}}"),
        "return_url": opt(chance(&mut r, 1, 2), Value::String(format!("{site}/pricing"))),
        "embed_origin": opt(chance(&mut r, 1, 5), json!(site)),
        "amount": amount,
        "seats": seats,
        "min_seats": min_seats,
        "max_seats": max_seats,
        "units": units,
        "min_units": min_units,
        "max_units": max_units,
        "discount_amount": discount_amount,
        "net_amount": net,
        "tax_amount": tax,
        "tax_behavior": tax.map(|_| if inclusive { "inclusive" } else { "exclusive" }),
        "total_amount": total,
        "currency": currency,
        "allow_trial": allow_trial,
        "active_trial_interval": active_trial.map(|t| t.0),
        "active_trial_interval_count": active_trial.map(|t| t.1),
        "trial_end": active_trial.map(|(i, c)| timestamp(add_interval(created, i, c))),
    });
    let rest = obj!({
        "organization_id": organization_id(seed),
        "product_id": product.id.clone(),
        "product_price_id": price.id.clone(),
        "discount_id": discount.as_ref().map(|d| uuid("discounts", seed, d.index)),
        "allow_discount_codes": !chance(&mut r, 1, 4),
        "require_billing_address": require_billing_address,
        "is_discount_applicable": discountable,
        "is_free_product_price": amount == 0,
        "is_payment_required": total > 0,
        "is_payment_setup_required": product.is_recurring() && (total == 0 || active_trial.is_some()),
        "is_payment_form_required": total > 0 || product.is_recurring(),
        "customer_id": opt(linked, Value::String(object_id("customers", seed, index))),
        "is_business_customer": is_business,
        "customer_name": opt(customer_known, customer_name),
        "customer_email": opt(customer_known || chance(&mut r, 1, 2), customer_email),
        "customer_ip_address": opt(status != "expired" || chance(&mut r, 1, 2), json!(customer_ip)),
        "customer_billing_name": opt(is_business, Value::String(company_name(&mut r))),
        "customer_billing_address": opt(customer_known, billing_address),
        "customer_tax_id": opt(is_business && chance(&mut r, 2, 3), tax_id_value[0].clone()),
        "locale": opt(chance(&mut r, 3, 4), json!(place.locale)),
        "payment_method_type": opt(matches!(status, "succeeded" | "confirmed" | "failed") && total > 0, json!(pick(&mut r, &["card", "card", "card", "apple_pay", "google_pay", "link"]))),
        "payment_processor_metadata": processor,
        "billing_address_fields": {
            "country": "required",
            "state": address_mode(matches!(place.country, "US" | "CA")),
            "city": address_mode(require_billing_address),
            "postal_code": address_mode(require_billing_address || place.country == "US"),
            "line1": address_mode(require_billing_address),
            "line2": if full_address { "optional" } else { "disabled" },
        },
        "trial_interval": trial_override.map(|t| t.0),
        "trial_interval_count": trial_override.map(|t| t.1),
        "metadata": metadata(&mut r),
        "external_customer_id": opt(chance(&mut r, 1, 3), Value::String(format!("usr_{}", alnum_token(&mut r, 12)))),
        "products": rendered,
        "product": selected,
        "product_price": price.render(seed, &product.id, product_created),
        "prices": price_map,
        "discount": discount.as_ref().map(|d| d.render(seed, created, false)),
        "subscription_id": opt(status == "succeeded" && product.is_recurring(), Value::String(object_id("subscriptions", seed, index))),
        "attached_custom_fields": attached,
        "customer_metadata": customer_metadata,
    });
    merge(session, rest)
}

// ---------------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------------

/// Organization statuses; `organizations` object `i` has status `ORGANIZATION_STATUSES[i % 8]`.
pub const ORGANIZATION_STATUSES: [&str; 8] = [
    "active",
    "created",
    "review",
    "snoozed",
    "denied",
    "blocked",
    "offboarding",
    "offboarded",
];

/// `organizations` object `index`; organization 0 (active) owns every other generated object.
fn organization(seed: u64, index: u64, created: i64) -> Value {
    let mut r = rng_for("organizations", seed, index);
    let status = ORGANIZATION_STATUSES[(index % 8) as usize];
    let name = company_name(&mut r);
    // Letters and dashes, then `-<index>`: unique per index.
    let slug = format!("{}-{index}", slugify(&name));
    let domain = format!(
        "{}.{}",
        slugify(&name),
        pick(&mut r, &["com", "dev", "io", "so"])
    );
    let place = pick(&mut r, PLACES);
    let onboarded = !matches!(status, "created");
    let operating = matches!(status, "active" | "review" | "snoozed");
    let socials: Vec<Value> = (0..r.usize(0..4))
        .map(|k| {
            let platform = [
                "x",
                "github",
                "linkedin",
                "youtube",
                "discord",
                "instagram",
                "threads",
                "tiktok",
                "facebook",
                "other",
            ][(k * 3 + r.usize(..3)) % 10];
            let handle = slugify(&name).replace('-', "");
            let url = match platform {
                "x" => format!("https://x.com/{handle}"),
                "github" => format!("https://github.com/{handle}"),
                "linkedin" => format!("https://www.linkedin.com/company/{handle}"),
                "youtube" => format!("https://www.youtube.com/@{handle}"),
                "discord" => format!("https://discord.gg/{}", alnum_token(&mut r, 8)),
                "instagram" => format!("https://www.instagram.com/{handle}"),
                "threads" => format!("https://www.threads.net/@{handle}"),
                "tiktok" => format!("https://www.tiktok.com/@{handle}"),
                "facebook" => format!("https://www.facebook.com/{handle}"),
                _ => format!("https://blog.{domain}"),
            };
            obj!({"platform": platform, "url": url})
        })
        .collect();
    let feature_settings = (!chance(&mut r, 1, 4)).then(|| {
        let mut flags = Map::new();
        for key in [
            "issue_funding_enabled",
            "wallets_enabled",
            "member_model_enabled",
            "checkout_localization_enabled",
            "reset_proration_behavior_enabled",
            "off_session_charges_enabled",
            "meter_cycling_enabled",
            "slack_benefit_enabled",
            "preview_access_enabled",
            "disputes_enabled",
            "sso_enabled",
            "dispute_auto_accept_enabled",
            "compass_enabled",
            "merchant_migration_enabled",
            "frame_ancestors_enforced",
        ] {
            flags.insert(key.into(), json!(chance(&mut r, 1, 3)));
        }
        flags.insert(
            "overview_metrics".into(),
            if chance(&mut r, 1, 2) {
                Value::Null
            } else {
                json!([
                    "revenue",
                    "orders",
                    "active_subscriptions",
                    "monthly_recurring_revenue"
                ])
            },
        );
        Value::Object(flags)
    });
    let email_settings: Map<String, Value> = [
        "order_confirmation",
        "payment_method_expiration_reminder",
        "subscription_cancellation",
        "subscription_confirmation",
        "subscription_cycled",
        "subscription_cycled_after_trial",
        "subscription_past_due",
        "subscription_paused",
        "subscription_resumed",
        "subscription_renewal_reminder",
        "subscription_revoked",
        "subscription_trial_conversion_reminder",
        "subscription_uncanceled",
        "subscription_updated",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), json!(!chance(&mut r, 1, 6))))
    .collect();
    let details = onboarded.then(|| r.i64(HOUR..10 * DAY));
    let resubmission = matches!(status, "snoozed" | "review")
        .then(|| r.i64(10 * DAY..30 * DAY))
        .filter(|_| r.bool());
    let account = onboarded && !chance(&mut r, 1, 5);
    obj!({
        "created_at": timestamp(created),
        "modified_at": if chance(&mut r, 1, 5) { Value::Null } else { Value::String(ts_in(&mut r, created, MINUTE..200 * DAY)) },
        "id": object_id("organizations", seed, index),
        "name": name,
        "slug": slug,
        "avatar_url": if chance(&mut r, 1, 3) { Value::Null } else { Value::String(format!("https://avatars.githubusercontent.com/u/{}?v=4", r.u32(1_000_000..190_000_000))) },
        "proration_behavior": pick(&mut r, &["invoice", "prorate", "next_period", "reset"]),
        "allow_customer_updates": r.bool(),
        "email": if chance(&mut r, 1, 4) { Value::Null } else { Value::String(format!("support@{domain}")) },
        "website": if chance(&mut r, 1, 4) { Value::Null } else { Value::String(format!("https://{domain}")) },
        "socials": socials,
        "status": status,
        "details_submitted_at": ts_offset(created, details),
        "onboarding_resubmission_requested_at": ts_offset(created, resubmission),
        "sso_enforced": chance(&mut r, 1, 10),
        "default_presentment_currency": pick(&mut r, &["usd", "usd", "eur", "gbp"]),
        "default_tax_behavior": pick(&mut r, &["location", "inclusive", "exclusive"]),
        "feature_settings": feature_settings,
        "subscription_settings": {
            "allow_multiple_subscriptions": r.bool(),
            "proration_behavior": pick(&mut r, &["invoice", "prorate", "next_period"]),
            "benefit_revocation_grace_period": pick(&mut r, &[0, 3, 7, 14]),
            "prevent_trial_abuse": r.bool(),
            "allow_customer_updates": r.bool(),
        },
        "customer_email_settings": email_settings,
        "customer_portal_settings": {
            "usage": {"show": r.bool()},
            "subscription": {"update_seats": r.bool(), "update_plan": r.bool(), "update_units": if chance(&mut r, 1, 3) { Value::Null } else { json!(r.bool()) }, "pause": if chance(&mut r, 1, 3) { Value::Null } else { json!(r.bool()) }},
            "customer": if chance(&mut r, 1, 3) { Value::Null } else { obj!({"allow_email_change": if chance(&mut r, 1, 4) { Value::Null } else { json!(r.bool()) }}) },
        },
        "dispute_settings": {"auto_accept_below_amount": if chance(&mut r, 2, 3) { Value::Null } else { json!(pick(&mut r, &[1_000, 2_500, 5_000])) }},
        "embed_hosts": if chance(&mut r, 1, 2) { json!([]) } else { json!([domain.clone(), format!("*.{domain}"), "localhost:3000".to_owned()]) },
        "country": if onboarded { json!(place.country) } else { Value::Null },
        "account_id": if account { Value::String(uuid("accounts", seed, index)) } else { Value::Null },
        "payout_account_id": if account && chance(&mut r, 3, 4) { Value::String(uuid("payout_accounts", seed, index)) } else { Value::Null },
        "capabilities": {
            "checkout_payments": operating,
            "subscription_renewals": operating || status == "offboarding",
            "payouts": status == "active",
            "refunds": !matches!(status, "created" | "offboarded"),
            "api_access": !matches!(status, "blocked" | "offboarded"),
            "dashboard_access": status != "blocked",
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Metrics (not a list: periods computed for a span of days)
// ---------------------------------------------------------------------------------------------

/// The metrics polar-sdk's `MetricPeriod` carries, with how each is expressed (`Metric.type`).
const METRICS: &[(&str, &str)] = &[
    ("active_subscriptions", "scalar"),
    ("committed_subscriptions", "scalar"),
    ("monthly_recurring_revenue", "currency"),
    ("trial_monthly_recurring_revenue", "currency"),
    ("committed_monthly_recurring_revenue", "currency"),
    ("trial_committed_monthly_recurring_revenue", "currency"),
    ("average_revenue_per_user", "currency"),
    ("checkouts", "scalar"),
    ("succeeded_checkouts", "scalar"),
    ("churned_subscriptions", "scalar"),
    ("churn_rate", "percentage"),
    ("seats_total", "scalar"),
    ("seats_claimed", "scalar"),
    ("seats_pending", "scalar"),
    ("seat_customers", "scalar"),
    ("new_seat_customers", "scalar"),
    ("churned_seat_customers", "scalar"),
    ("orders", "scalar"),
    ("revenue", "currency"),
    ("net_revenue", "currency"),
    ("cumulative_revenue", "currency"),
    ("net_cumulative_revenue", "currency"),
    ("costs", "currency_sub_cent"),
    ("cumulative_costs", "currency_sub_cent"),
    ("average_order_value", "currency"),
    ("net_average_order_value", "currency"),
    ("cost_per_user", "currency_sub_cent"),
    ("active_user_by_event", "scalar"),
    ("one_time_products", "scalar"),
    ("one_time_products_revenue", "currency"),
    ("one_time_products_net_revenue", "currency"),
    ("new_subscriptions", "scalar"),
    ("new_subscriptions_revenue", "currency"),
    ("new_subscriptions_net_revenue", "currency"),
    ("renewed_subscriptions", "scalar"),
    ("renewed_subscriptions_revenue", "currency"),
    ("renewed_subscriptions_net_revenue", "currency"),
    ("canceled_subscriptions", "scalar"),
    ("canceled_subscriptions_customer_service", "scalar"),
    ("canceled_subscriptions_low_quality", "scalar"),
    ("canceled_subscriptions_missing_features", "scalar"),
    ("canceled_subscriptions_switched_service", "scalar"),
    ("canceled_subscriptions_too_complex", "scalar"),
    ("canceled_subscriptions_too_expensive", "scalar"),
    ("canceled_subscriptions_unused", "scalar"),
    ("canceled_subscriptions_other", "scalar"),
    ("annual_recurring_revenue", "currency"),
    ("committed_annual_recurring_revenue", "currency"),
    ("checkouts_conversion", "percentage"),
    ("ltv", "currency"),
    ("gross_margin", "currency"),
    ("gross_margin_percentage", "percentage"),
    ("cashflow", "currency"),
    ("average_seats_per_customer", "scalar"),
    ("seat_utilization_rate", "percentage"),
];

/// The figures of day `day` (0: the organization's first) that the others derive from.
struct DayFigures {
    one_time: i64,
    new_subscriptions: i64,
    renewed: i64,
    canceled: [i64; 8],
    checkouts: i64,
    succeeded: i64,
    average_order: i64,
    refunded_share: f64,
    costs: f64,
}

fn day_figures(seed: u64, day: u64) -> DayFigures {
    let mut r = rng_for("metrics", seed, day);
    let one_time = r.i64(0..12);
    let new_subscriptions = r.i64(0..8);
    let renewed = r.i64(0..20);
    let canceled = std::array::from_fn(|_| if chance(&mut r, 1, 4) { r.i64(0..3) } else { 0 });
    let orders = one_time + new_subscriptions + renewed;
    let succeeded = orders.min(one_time + new_subscriptions);
    DayFigures {
        one_time,
        new_subscriptions,
        renewed,
        canceled,
        checkouts: succeeded + r.i64(0..30),
        succeeded,
        average_order: price_cents(&mut r, 900, 9_900),
        refunded_share: f64::from(r.u32(0..8)) / 100.0,
        costs: (r.f64() * 4_000.0 * 1_000.0).round() / 1_000.0,
    }
}

/// `GET /v1/metrics/` for days `first..first + days` (day 0 is `origin_ms`, the organization's first day):
/// polar-sdk's `MetricsResponse`, a period per day with every metric, the span's totals, and the metrics'
/// definitions.
pub fn metrics_response(seed: u64, origin_ms: i64, first: u64, days: u64) -> Value {
    let (mut cumulative, mut net_cumulative, mut cumulative_costs) = (0i64, 0i64, 0f64);
    let mut active: i64 = 40;
    let mut periods = Vec::new();
    let mut totals: Map<String, Value> = Map::new();
    for day in 0..first + days {
        let f = day_figures(seed, day);
        let orders = f.one_time + f.new_subscriptions + f.renewed;
        let revenue = orders * f.average_order;
        let net = (revenue as f64 * (1.0 - f.refunded_share)).round() as i64;
        let canceled: i64 = f.canceled.iter().sum();
        active = (active + f.new_subscriptions - canceled).max(0);
        cumulative += revenue;
        net_cumulative += net;
        cumulative_costs += f.costs;
        if day < first {
            continue;
        }
        let mrr = active * f.average_order;
        let customers = (active + f.one_time).max(1);
        let seats = active * 3;
        let mut values: Vec<(&str, Value)> = vec![
            ("active_subscriptions", active.into()),
            ("committed_subscriptions", (active - canceled).max(0).into()),
            ("monthly_recurring_revenue", mrr.into()),
            ("trial_monthly_recurring_revenue", (mrr / 10).into()),
            (
                "committed_monthly_recurring_revenue",
                (mrr - canceled * f.average_order).max(0).into(),
            ),
            (
                "trial_committed_monthly_recurring_revenue",
                (mrr / 12).into(),
            ),
            ("average_revenue_per_user", (revenue / customers).into()),
            ("checkouts", f.checkouts.into()),
            ("succeeded_checkouts", f.succeeded.into()),
            ("churned_subscriptions", canceled.into()),
            (
                "churn_rate",
                (canceled as f64 / (active + canceled).max(1) as f64).into(),
            ),
            ("seats_total", seats.into()),
            ("seats_claimed", (seats * 2 / 3).into()),
            ("seats_pending", (seats / 3).into()),
            ("seat_customers", active.into()),
            ("new_seat_customers", f.new_subscriptions.into()),
            ("churned_seat_customers", canceled.into()),
            ("orders", orders.into()),
            ("revenue", revenue.into()),
            ("net_revenue", net.into()),
            ("cumulative_revenue", cumulative.into()),
            ("net_cumulative_revenue", net_cumulative.into()),
            ("costs", f.costs.into()),
            (
                "cumulative_costs",
                ((cumulative_costs * 1_000.0).round() / 1_000.0).into(),
            ),
            (
                "average_order_value",
                if orders == 0 { 0 } else { revenue / orders }.into(),
            ),
            (
                "net_average_order_value",
                if orders == 0 { 0 } else { net / orders }.into(),
            ),
            (
                "cost_per_user",
                ((f.costs / customers as f64 * 1_000.0).round() / 1_000.0).into(),
            ),
            ("active_user_by_event", (customers * 4).into()),
            ("one_time_products", f.one_time.into()),
            (
                "one_time_products_revenue",
                (f.one_time * f.average_order).into(),
            ),
            (
                "one_time_products_net_revenue",
                ((f.one_time * f.average_order) as f64 * (1.0 - f.refunded_share))
                    .round()
                    .into(),
            ),
            ("new_subscriptions", f.new_subscriptions.into()),
            (
                "new_subscriptions_revenue",
                (f.new_subscriptions * f.average_order).into(),
            ),
            (
                "new_subscriptions_net_revenue",
                (f.new_subscriptions * f.average_order).into(),
            ),
            ("renewed_subscriptions", f.renewed.into()),
            (
                "renewed_subscriptions_revenue",
                (f.renewed * f.average_order).into(),
            ),
            (
                "renewed_subscriptions_net_revenue",
                (f.renewed * f.average_order).into(),
            ),
            ("canceled_subscriptions", canceled.into()),
        ];
        let reason_names: Vec<String> = CANCELLATION_REASONS
            .iter()
            .map(|reason| format!("canceled_subscriptions_{reason}"))
            .collect();
        for (name, count) in reason_names.iter().zip(f.canceled) {
            values.push((name.as_str(), count.into()));
        }
        values.extend([
            ("annual_recurring_revenue", (mrr * 12).into()),
            (
                "committed_annual_recurring_revenue",
                ((mrr - canceled * f.average_order).max(0) * 12).into(),
            ),
            (
                "checkouts_conversion",
                (f.succeeded as f64 / f.checkouts.max(1) as f64).into(),
            ),
            ("ltv", (f.average_order * 14).into()),
            ("gross_margin", (net - f.costs.round() as i64).into()),
            (
                "gross_margin_percentage",
                if net == 0 {
                    Value::from(0.0)
                } else {
                    ((net as f64 - f.costs) / net as f64).into()
                },
            ),
            ("cashflow", (net - f.costs.round() as i64).into()),
            (
                "average_seats_per_customer",
                (seats as f64 / active.max(1) as f64).into(),
            ),
            ("seat_utilization_rate", Value::from(2.0 / 3.0)),
        ]);
        let mut period = Map::new();
        period.insert(
            "timestamp".into(),
            timestamp(origin_ms + day as i64 * DAY)
                .replace(".000000Z", "Z")
                .into(),
        );
        for (name, value) in values {
            // The span's totals: sums, except the figures that are levels or ratios (the last day's).
            let summed = matches!(
                name,
                "orders"
                    | "revenue"
                    | "net_revenue"
                    | "costs"
                    | "checkouts"
                    | "succeeded_checkouts"
                    | "one_time_products"
                    | "new_subscriptions"
                    | "renewed_subscriptions"
                    | "churned_subscriptions"
                    | "canceled_subscriptions"
            ) || name.ends_with("_revenue")
                && !name.contains("recurring")
                && !name.starts_with("cumulative")
                && !name.starts_with("net_cumulative")
                || name.starts_with("canceled_subscriptions_");
            let total = match (summed, totals.get(name)) {
                (true, Some(Value::Number(sum))) => {
                    if let (Some(a), Some(b)) = (sum.as_i64(), value.as_i64()) {
                        Value::from(a + b)
                    } else {
                        Value::from(sum.as_f64().unwrap_or(0.0) + value.as_f64().unwrap_or(0.0))
                    }
                }
                _ => value.clone(),
            };
            totals.insert(name.into(), total);
            period.insert(name.into(), value);
        }
        periods.push(Value::Object(period));
    }
    let definitions: Map<String, Value> = METRICS
        .iter()
        .map(|(slug, kind)| {
            let display = slug
                .split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    chars.next().map_or(String::new(), |first| {
                        first.to_uppercase().chain(chars).collect()
                    })
                })
                .collect::<Vec<_>>()
                .join(" ");
            (
                (*slug).to_owned(),
                json!({"slug": slug, "display_name": display, "type": kind}),
            )
        })
        .collect();
    json!({"periods": periods, "totals": totals, "metrics": definitions})
}

/// `GET /v1/metrics/limits`: polar-sdk's `MetricsLimits`, from the organization's first day.
pub fn metrics_limits(origin_ms: i64, max_days: u32) -> Value {
    let limit = |min: u32, max: u32| json!({"min_days": min, "max_days": max});
    json!({
        "min_date": &timestamp(origin_ms)[..10],
        "intervals": {
            "hour": limit(0, 7),
            "day": limit(0, max_days),
            "week": limit(14, 1_830),
            "month": limit(60, 3_660),
            "year": limit(366, 36_600),
        },
    })
}
