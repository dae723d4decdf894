//! Deterministic Polar API objects (API version `2026-10`) for the list streams.
//!
//! This module owns the fake *data*: what one object of a stream looks like. It does not know about
//! pages, filters or HTTP; the server, the end-to-end tests and the benchmark ask it for object
//! `index` of a stream and get the same JSON every time ([`object`], [`object_id`]).
//!
//! The objects are generated, not written here: `templates/<stream>.json` holds one object per variant
//! of the stream's type (both customer types, the eight benefits, ...), each with every field of that
//! type, written from the official Python SDK `polar-sdk` 1.0.2 by `templates/generate.py` (CI checks
//! they are current with `--check`, and `integration_tests/sdk_check.py` loads every page the fake
//! serves with the SDK's own types). An object is a copy of its template where this module writes only
//! what a list's semantics need:
//! - ids, and the placeholders left in the template: ids and times ([`fill`]) become ids and times
//!   derived from the object, `organization_id` the organization's;
//! - times: `created_at` is the caller's, other times offsets from it (statuses decide which are set);
//! - sort fields (names, emails, slugs, codes, statuses, invoice numbers), unique where Polar keeps
//!   them unique, statuses cycled from the SDK's literals (`literals` of the template);
//! - cross-references: object `i` of most streams belongs to customer `i` (order `i` of subscription
//!   `i`, checkout `i`, ...), products are among the first 32 (even ones one-time, odd ones recurring)
//!   and benefits among the first 8 (benefit `b` has type `b % 8`). An embedded object is written by
//!   the same function as the stream's own ([`customer_into`], ...), into whatever shape the template
//!   gives it, so its ids, names and amounts are those of its stream's object; only its times differ.
//! - amounts: prices from the product, an order's subtotal, discount, tax, total and refunds from them.
//!
//! Variants and statuses are chosen cyclically from the index, so the first k objects of a stream cover
//! its k variants. Everything belongs to organization 0 ([`organization_id`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Months, Timelike};
use fastrand::Rng;
use serde_json::{Value, json};

mod metrics;
pub use metrics::{metrics_limits, metrics_response};

/// The list streams the fake serves, in the connector's order, each with the function that writes what its
/// objects need into a copy of its template (`templates/<stream>.json`): one row a stream.
macro_rules! generated_streams {
    ($($stream:literal => $into:ident),* $(,)?) => {
        /// The streams, in the connector's order (a test holds it to the connector's stream table).
        pub const STREAMS: &[&str] = &[$($stream),*];

        /// Each stream's template file and the function that writes an object into a copy of it.
        const GENERATORS: &[(&str, &str, Generator)] = &[
            $(($stream, include_str!(concat!("../templates/", $stream, ".json")), $into)),*
        ];
    };
}

/// Writes object `index` of a stream (seed, index, created_at_ms) into a copy of its template.
type Generator = fn(&mut Value, u64, u64, i64);

generated_streams! {
    "customers" => customer_into,
    "products" => product_into,
    "orders" => order_into,
    "subscriptions" => subscription_into,
    "refunds" => refund_into,
    "checkouts" => checkout_into,
    "benefits" => benefit_into,
    "organizations" => organization_into,
    "meters" => meter_into,
    "custom_fields" => custom_field_into,
    "disputes" => dispute_into,
    "discounts" => discount_into,
    "payments" => payment_into,
    "checkout_links" => checkout_link_into,
    "license_keys" => license_key_into,
    "benefit_grants" => benefit_grant_into,
    "customer_meters" => customer_meter_into,
    "events" => user_event_into,
}

/// One object of `stream`, a pure function of (stream, seed, index, created_at_ms):
/// same inputs, same object. `created_at_ms` (Unix milliseconds, UTC) becomes its `created_at`
/// (other timestamps are derived from it). Panics on an unknown stream name.
pub fn object(stream: &str, seed: u64, index: u64, created_at_ms: i64) -> Value {
    let Some(templates) = templates().get(stream) else {
        panic!("unknown Polar stream {stream:?}; expected one of {STREAMS:?}");
    };
    let mut object = templates.variants[(index % templates.variants.len() as u64) as usize].clone();
    (templates.generator)(&mut object, seed, index, created_at_ms);
    object
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
// Templates
// ---------------------------------------------------------------------------------------------

/// A stream's templates: one object per variant of its type, the values of its literal fields, and the
/// function that writes an object into a copy of one.
struct Templates {
    variants: Vec<Value>,
    literals: HashMap<String, Vec<Value>>,
    generator: Generator,
}

/// The placeholders the templates carry for an id and a time (see `templates/generate.py`).
const ID: &str = "00000000-0000-4000-8000-000000000000";
const TIME: &str = "2026-01-01T00:00:00.000000Z";

fn templates() -> &'static HashMap<&'static str, Templates> {
    static TEMPLATES: OnceLock<HashMap<&'static str, Templates>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        GENERATORS
            .iter()
            .map(|(stream, text, generator)| {
                let file: Value = serde_json::from_str(text).expect("templates are JSON");
                let variants = file["variants"].as_object().expect("variants").values();
                let literals = file["literals"].as_object().expect("literals").iter();
                let templates = Templates {
                    variants: variants.cloned().collect(),
                    literals: literals
                        .map(|(field, values)| (field.clone(), values.as_array().unwrap().clone()))
                        .collect(),
                    generator: *generator,
                };
                (*stream, templates)
            })
            .collect()
    })
}

/// Value `k` (cyclically) of the literal field `field` of `stream`'s type, as the SDK lists them.
fn literal(stream: &str, field: &str, k: u64) -> &'static str {
    let values = &templates()[stream].literals[field];
    values[(k % values.len() as u64) as usize]
        .as_str()
        .expect("string literal")
}

/// Sets `key` of the object `o` to `value` where `o` has that field (embedded shapes have fewer).
fn put(o: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(slot) = o.get_mut(key) {
        *slot = value.into();
    }
}

/// Replaces the placeholders left in `o` (after the fields written by hand): an id becomes the id of
/// child `k` of entity `index` of `ns` (the organization's for `organization_id`), a time `created`.
fn fill(o: &mut Value, ns: &str, seed: u64, index: u64, created: i64) {
    fn walk(v: &mut Value, key: &str, f: &mut dyn FnMut(&str, &mut Value)) {
        match v {
            Value::Object(map) => map.iter_mut().for_each(|(k, v)| walk(v, k, f)),
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, key, f)),
            Value::String(_) => f(key, v),
            _ => {}
        }
    }
    let (mut k, mut time) = (0, None);
    walk(o, "", &mut |key, v| match v.as_str() {
        Some(ID) if key == "organization_id" => *v = organization_id(seed).into(),
        Some(ID) => {
            k += 1;
            *v = uuid(ns, seed, child_index(index, 64, k) | 1 << 63).into();
        }
        Some(TIME) => {
            *v = time
                .get_or_insert_with(|| timestamp(created))
                .clone()
                .into()
        }
        _ => {}
    });
}

/// The fields every object has: id, creation and modification times, organization.
fn stamp(o: &mut Value, stream: &str, seed: u64, index: u64, created: i64) {
    let h = hash(stream, seed, index);
    put(o, "id", object_id(stream, seed, index));
    put(o, "created_at", timestamp(created));
    // Null until the first update, for about a third of objects.
    let modified =
        (!h.is_multiple_of(3)).then(|| timestamp(created + MINUTE + (h >> 8) as i64 % (90 * DAY)));
    put(o, "modified_at", modified);
    put(o, "organization_id", organization_id(seed));
}

// ---------------------------------------------------------------------------------------------
// Ids, randomness, times
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
    Rng::with_seed(hash(ns, seed, index))
}

/// A well-mixed 64-bit value of entity `index` of `ns`, for the choices made per object.
fn hash(ns: &str, seed: u64, index: u64) -> u64 {
    mix64(namespace_key(ns, seed).rotate_left(21) ^ mix64(index))
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

/// True with probability `num / den`.
fn chance(r: &mut Rng, num: u32, den: u32) -> bool {
    r.u32(..den) < num
}

/// A catalog price in cents, between `lo` and `hi` dollars, ending in `00` or `99`.
fn price_cents(r: &mut Rng, lo: i64, hi: i64) -> i64 {
    let dollars = r.i64(lo..=hi);
    if chance(r, 1, 2) {
        dollars * 100 - 1
    } else {
        dollars * 100
    }
}

/// `amount * basis_points / 10_000`, rounded half up.
fn apply_bp(amount: i64, bp: i64) -> i64 {
    (amount * bp + 5_000).div_euclid(10_000)
}

/// An `&'static str` pool entry chosen by `h`.
fn pick(h: u64, items: &[&'static str]) -> &'static str {
    items[(h % items.len() as u64) as usize]
}

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
// Customers, organizations
// ---------------------------------------------------------------------------------------------

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Mateo", "Sofia", "Leo", "Amelia",
    "Hugo", "Chloe", "Elias", "Hannah", "Arjun", "Priya", "Yuki", "Kenji", "Fatima", "Omar",
    "Ingrid", "Lars", "Camille", "Giulia", "Diego", "Aisha", "Kwame", "Zoe", "Nora", "Felix",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
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
    "Kowalski",
    "Novak",
    "Okafor",
    "Haddad",
    "Lopez",
    "Schmidt",
    "Moreau",
    "Costa",
    "Sato",
    "Chen",
    "Singh",
    "Brown",
    "Wilson",
    "Larsen",
    "Jansen",
];
const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Hooli",
    "Vandelay",
    "Tyrell",
    "Aperture",
    "Wonka",
    "Nimbus",
    "Lumen",
    "Northwind",
    "Bluebird",
    "Quantum",
    "Cobalt",
    "Juniper",
    "Halcyon",
    "Kestrel",
    "Sable",
];
const COMPANY_SUFFIXES: &[&str] = &["Labs", "Inc", "Studio", "GmbH", "Ltd", "Software", "Cloud"];

/// Customer `index`'s type, name, email and external id: even indexes are individuals, odd ones teams (a
/// quarter of which have no email). Emails carry the index, so they are unique.
fn customer_profile(seed: u64, index: u64) -> (&'static str, String, Option<String>, String) {
    let h = hash("customers", seed, index);
    let (first, last) = (pick(h, FIRST_NAMES), pick(h >> 8, LAST_NAMES));
    let external_id = format!("usr_{:012x}", h >> 16);
    if index % 2 == 1 {
        let company = pick(h >> 16, COMPANIES);
        let suffix = pick(h >> 24, COMPANY_SUFFIXES);
        let email = !(h >> 32).is_multiple_of(4);
        let email = email.then(|| format!("billing+{index}@{}.com", company.to_lowercase()));
        ("team", format!("{company} {suffix}"), email, external_id)
    } else {
        let local = format!("{first}.{last}{index}").to_lowercase();
        let email = Some(format!("{local}@example.com"));
        ("individual", format!("{first} {last}"), email, external_id)
    }
}

/// `customers` object `index`, as [`customer_profile`] describes it.
fn customer_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (kind, name, email, external_id) = customer_profile(seed, index);
    stamp(o, "customers", seed, index, created);
    put(o, "type", kind);
    put(o, "email", email);
    put(o, "billing_name", name.clone());
    put(o, "name", name);
    put(o, "external_id", external_id);
    fill(o, "customers", seed, index, created);
}

/// `organizations` object `index` (0 is the organization every object belongs to).
fn organization_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let h = hash("organizations", seed, index);
    let name = format!("{} {}", pick(h, COMPANIES), pick(h >> 8, COMPANY_SUFFIXES));
    let slug = format!("{}-{index}", name.to_lowercase().replace(' ', "-"));
    stamp(o, "organizations", seed, index, created);
    put(o, "email", format!("billing@{slug}.com"));
    put(o, "website", format!("https://{slug}.com"));
    put(o, "name", name);
    put(o, "slug", slug);
    put(
        o,
        "status",
        literal("organizations", "status", index.wrapping_add(4)),
    );
    fill(o, "organizations", seed, index, created);
}

// ---------------------------------------------------------------------------------------------
// Catalog: meters, benefits, custom fields, products, discounts
// ---------------------------------------------------------------------------------------------

/// The organization's meters: (name, the event name it counts).
const METERS: &[(&str, &str)] = &[
    ("API requests", "api.request"),
    ("LLM tokens", "llm.completion"),
    ("Storage (GB)", "storage.snapshot"),
    ("Active users", "user.active"),
];

/// The name of `events` object `index`: the event its meter (`index % 4`) counts.
pub fn user_event_name(index: u64) -> &'static str {
    METERS[(index % METERS.len() as u64) as usize].1
}

/// `meters` object `index`: meter `index % 4`'s name (numbered past the first four), counting its
/// event; every seventh is archived.
fn meter_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (name, event) = METERS[(index % METERS.len() as u64) as usize];
    stamp(o, "meters", seed, index, created);
    match index / METERS.len() as u64 {
        0 => put(o, "name", name),
        n => put(o, "name", format!("{name} {}", n + 1)),
    }
    put(
        o,
        "archived_at",
        (index % 7 == 6).then(|| timestamp(created + 30 * DAY)),
    );
    if let Some(clause) = o.pointer_mut("/filter/clauses/0") {
        *clause = json!({"property": "name", "operator": "eq", "value": event});
    }
    fill(o, "meters", seed, index, created);
}

const BENEFIT_DESCRIPTIONS: [&str; 8] = [
    "Priority support",
    "Private Discord community",
    "Access to the private repository",
    "Source code and assets",
    "Pro license key",
    "Monthly API credits",
    "Beta features",
    "Shared Slack channel",
];

/// `benefits` object `index`, of type `index % 8` (the template's variant order).
fn benefit_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    stamp(o, "benefits", seed, index, created);
    let description = BENEFIT_DESCRIPTIONS[(index % 8) as usize];
    match index / 8 {
        0 => put(o, "description", description),
        n => put(o, "description", format!("{description} ({})", n + 1)),
    }
    if let Some(properties) = o.get_mut("properties") {
        put(properties, "meter_id", object_id("meters", seed, index % 4));
        put(properties, "units", 1_000);
    }
    fill(o, "benefits", seed, index, created);
}

const CUSTOM_FIELDS: [(&str, &str); 5] = [
    ("company", "Company name"),
    ("team_size", "Team size"),
    ("start_date", "Preferred start date"),
    ("marketing_consent", "Send me product updates"),
    ("role", "Your role"),
];

/// `custom_fields` object `index`, of type `index % 5` (text, number, date, checkbox, select); slugs are
/// numbered past the first five (a slug is unique in an organization).
fn custom_field_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (slug, name) = CUSTOM_FIELDS[(index % 5) as usize];
    stamp(o, "custom_fields", seed, index, created);
    match index / 5 {
        0 => put(o, "slug", slug),
        n => put(o, "slug", format!("{slug}_{}", n + 1)),
    }
    put(o, "name", name);
    fill(o, "custom_fields", seed, index, created);
}

const PRODUCT_NAMES: [&str; 16] = [
    "Starter Kit",
    "Pro Plan",
    "Icon Pack",
    "Team Plan",
    "Video Course",
    "Business Plan",
    "E-book",
    "API Access",
    "Templates Bundle",
    "Sponsorship",
    "Font Family",
    "Cloud Hosting",
    "Plugin License",
    "Support Plan",
    "Design System",
    "Usage Plan",
];

/// Products referenced by other objects are among the first 32.
const PRODUCTS: u64 = 32;

/// The one-time product for `index` (even product indexes).
fn one_time_product(index: u64) -> u64 {
    2 * (index % (PRODUCTS / 2))
}

/// The recurring product for `index` (odd product indexes).
fn recurring_product(index: u64) -> u64 {
    2 * (index % (PRODUCTS / 2)) + 1
}

/// The price of product `index`, in cents.
fn product_price(seed: u64, index: u64) -> i64 {
    let h = hash("products", seed, index);
    let dollars = 5 + (h % 96) as i64;
    dollars * 100 - ((h >> 8) % 2) as i64
}

/// Product `index`'s billing interval: none for a one-time product, else month or year.
fn product_interval(index: u64) -> Option<&'static str> {
    (index % 2 == 1).then_some(if index % 4 == 1 { "month" } else { "year" })
}

/// `products` object `index`: one-time (even) or recurring (odd), with one price of the template's types
/// (cycling through them), up to two benefits among the first eight, a file for a third, a custom field
/// for a quarter, and every tenth archived. Embedded products (orders, checkouts) take the fields they have.
fn product_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let name = match index / 16 {
        0 => PRODUCT_NAMES[(index % 16) as usize].to_owned(),
        n => format!("{} {}", PRODUCT_NAMES[(index % 16) as usize], n + 1),
    };
    let interval = product_interval(index);
    stamp(o, "products", seed, index, created);
    put(o, "description", format!("{name}, by the team behind it"));
    put(o, "name", name);
    put(o, "is_recurring", interval.is_some());
    put(o, "recurring_interval", interval);
    put(o, "visibility", "public");
    put(o, "is_archived", index % 10 == 9);
    for key in ["trial_interval", "trial_interval_count", "meter_interval"] {
        put(o, key, Value::Null);
    }
    if let Some(Value::Array(prices)) = o.get_mut("prices") {
        // Legacy prices are recurring ones: a one-time product takes the next type instead.
        let n = prices.len();
        let legacy = |k: usize| prices[k % n].get("legacy").is_some();
        let k = (index as usize / 2..)
            .find(|&k| interval.is_some() || !legacy(k))
            .unwrap()
            % n;
        let mut price = prices[k].take();
        price_into(&mut price, seed, index, created);
        *prices = vec![price];
    }
    if let Some(Value::Array(benefits)) = o.get_mut("benefits") {
        let kinds = benefits.len() as u64;
        let kept: Vec<u64> = (0..index % 3).map(|j| (index + j) % kinds).collect();
        *benefits = kept
            .into_iter()
            .map(|b| {
                let mut benefit = benefits[b as usize].take();
                benefit_into(&mut benefit, seed, b, created - 30 * DAY);
                benefit
            })
            .collect();
    }
    if let Some(Value::Array(medias)) = o.get_mut("medias") {
        medias.truncate(usize::from(index.is_multiple_of(3)));
        for media in medias {
            put(media, "name", "cover.png");
            put(media, "mime_type", "image/png");
        }
    }
    if let Some(Value::Array(fields)) = o.get_mut("attached_custom_fields") {
        fields.truncate(usize::from(index.is_multiple_of(4)));
        attached_custom_fields_into(fields, seed, created);
    }
    fill(o, "products", seed, index, created);
}

/// The custom fields a product or checkout of time `created` attaches: custom field 0, defined 60 days before.
fn attached_custom_fields_into(fields: &mut [Value], seed: u64, created: i64) {
    for field in fields {
        put(
            field,
            "custom_field_id",
            object_id("custom_fields", seed, 0),
        );
        if let Some(def) = field.get_mut("custom_field") {
            custom_field_into(def, seed, 0, created - 60 * DAY);
        }
    }
}

/// The price of product `index` into a price-shaped `o` (any of the SDK's price types).
fn price_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let cents = product_price(seed, index);
    put(o, "id", uuid("prices", seed, index));
    put(o, "product_id", object_id("products", seed, index));
    put(o, "created_at", timestamp(created));
    put(o, "recurring_interval", product_interval(index));
    put(o, "is_archived", false);
    for key in ["price_amount", "preset_amount", "cap_amount"] {
        put(o, key, cents);
    }
    put(o, "minimum_amount", cents / 2);
    put(o, "maximum_amount", cents * 10);
    put(o, "meter_id", object_id("meters", seed, index % 4));
    if let Some(meter) = o.get_mut("meter") {
        put(meter, "id", object_id("meters", seed, index % 4));
        put(meter, "name", METERS[(index % 4) as usize].0);
    }
}

/// Discounts referenced by other objects are among the first 24.
const DISCOUNTS: u64 = 24;

/// A discount's effect: (basis points, fixed cents); one is zero.
fn discount_effect(seed: u64, index: u64) -> (i64, i64) {
    let h = hash("discounts", seed, index);
    if index % 4 >= 2 {
        (500 * (1 + (h % 10) as i64), 0)
    } else {
        (0, 100 * (1 + (h % 20) as i64))
    }
}

/// `discounts` object `index`: fixed (`index % 4` 0, 1) or percentage (2, 3), repeating (odd) or once or
/// forever; codes are unique; a third end 90 days after creation.
fn discount_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    const WORDS: [&str; 6] = [
        "LAUNCH",
        "WELCOME",
        "SPRING",
        "BLACKFRIDAY",
        "STUDENT",
        "LOYAL",
    ];
    let h = hash("discounts", seed, index);
    let word = WORDS[(index % 6) as usize];
    let (bp, cents) = discount_effect(seed, index);
    stamp(o, "discounts", seed, index, created);
    put(
        o,
        "name",
        format!("{} {word}", if bp > 0 { "Percent" } else { "Amount" }),
    );
    put(o, "code", format!("{word}{index}"));
    put(o, "type", if bp > 0 { "percentage" } else { "fixed" });
    let duration = match (index % 2, index / 4 % 2) {
        (1, _) => "repeating",
        (_, 0) => "once",
        _ => "forever",
    };
    put(o, "duration", duration);
    put(o, "duration_in_months", 3);
    put(o, "basis_points", bp);
    put(o, "amount", cents);
    put(o, "amounts", json!({"usd": cents}));
    put(o, "redemptions_count", (h % 50) as i64);
    put(o, "max_redemptions", (index % 3 == 1).then_some(100));
    put(o, "max_redemptions_per_customer", Value::Null);
    put(
        o,
        "ends_at",
        (index.is_multiple_of(3)).then(|| timestamp(created + 90 * DAY)),
    );
    if let Some(Value::Array(products)) = o.get_mut("products") {
        for (k, product) in products.iter_mut().enumerate() {
            let p = (index + k as u64) % PRODUCTS;
            product_into(product, seed, p, created - 60 * DAY);
        }
    }
    fill(o, "discounts", seed, index, created);
}

// ---------------------------------------------------------------------------------------------
// Subscriptions, orders, refunds, disputes, payments
// ---------------------------------------------------------------------------------------------

/// The discount of subscription, order or checkout `index`, for one in five: a fixed one (a multiple of
/// four), the variant the templates embed.
fn discount_of(index: u64) -> Option<u64> {
    (index % 5 == 2).then_some(4 * index % DISCOUNTS)
}

/// Puts discount `d` (or null) into `o`'s `discount` and `discount_id`.
fn discount_ref(o: &mut Value, seed: u64, d: Option<u64>, created: i64) {
    put(o, "discount_id", d.map(|d| object_id("discounts", seed, d)));
    match (d, o.get_mut("discount")) {
        (Some(d), Some(discount)) => discount_into(discount, seed, d, created - 90 * DAY),
        _ => put(o, "discount", Value::Null),
    }
}

/// Puts customer `c` into `o`'s `customer_id` and `customer`, where it has them.
fn customer_ref(o: &mut Value, seed: u64, c: u64, created: i64) {
    put(o, "customer_id", object_id("customers", seed, c));
    if let Some(customer) = o.get_mut("customer") {
        customer_into(customer, seed, c, created - 10 * DAY);
    }
}

/// Puts product `p` into `o`'s `product_id` and `product`, where it has them.
fn product_ref(o: &mut Value, seed: u64, p: u64, created: i64) {
    put(o, "product_id", object_id("products", seed, p));
    if let Some(product) = o.get_mut("product") {
        product_into(product, seed, p, created - 100 * DAY);
    }
}

/// `subscriptions` object `index`: customer `index`'s subscription to a recurring product, status cycling
/// through the SDK's eight (`started_at` null while incomplete); its times follow from the status.
fn subscription_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let status = literal("subscriptions", "status", index);
    let p = recurring_product(index);
    let interval = product_interval(p).expect("recurring");
    let started = (!status.starts_with("incomplete")).then_some(created + MINUTE);
    let start = started.unwrap_or(created);
    let periods = (index % 7) as u32;
    let period_start = add_interval(start, interval, periods);
    let period_end = add_interval(period_start, interval, 1);
    let canceling = status == "active" && index.is_multiple_of(3);
    let ended = match status {
        "canceled" | "incomplete_expired" | "unpaid" => Some(period_end),
        _ => None,
    };
    let canceled = (status == "canceled" || canceling).then_some(period_start + DAY);
    let ts = |ms: Option<i64>| ms.map(timestamp);
    stamp(o, "subscriptions", seed, index, created);
    put(o, "status", status);
    put(
        o,
        "amount",
        apply_discount(seed, product_price(seed, p), discount_of(index)),
    );
    put(o, "currency", "usd");
    put(o, "recurring_interval", interval);
    put(o, "recurring_interval_count", 1);
    put(o, "started_at", ts(started));
    put(o, "current_period_start", timestamp(period_start));
    put(o, "current_period_end", timestamp(period_end));
    put(
        o,
        "trial_start",
        ts((status == "trialing").then_some(start)),
    );
    put(
        o,
        "trial_end",
        ts((status == "trialing").then_some(start + 14 * DAY)),
    );
    put(o, "cancel_at_period_end", canceling);
    put(o, "canceled_at", ts(canceled));
    put(o, "ends_at", ts(canceling.then_some(period_end).or(ended)));
    put(o, "ended_at", ts(ended));
    put(
        o,
        "past_due_at",
        ts((status == "past_due").then_some(period_start)),
    );
    let reason = canceled.map(|_| literal("subscriptions", "customer_cancellation_reason", index));
    put(o, "customer_cancellation_reason", reason);
    put(o, "customer_cancellation_comment", Value::Null);
    put(o, "checkout_id", object_id("checkouts", seed, index));
    for key in [
        "pending_update",
        "current_meter_period_start",
        "current_meter_period_end",
    ] {
        put(o, key, Value::Null);
    }
    put(o, "meters", json!([]));
    customer_ref(o, seed, index, created);
    product_ref(o, seed, p, created);
    discount_ref(o, seed, discount_of(index), created);
    if let Some(prices) = o.pointer("/product/prices").cloned() {
        put(o, "prices", prices);
    } else if let Some(Value::Array(prices)) = o.get_mut("prices") {
        let k = (p / 2) as usize % prices.len();
        let mut price = prices[k].take();
        price_into(&mut price, seed, p, created);
        *prices = vec![price];
    }
    fill(o, "subscriptions", seed, index, created);
}

/// `amount` less discount `d`'s effect.
fn apply_discount(seed: u64, amount: i64, d: Option<u64>) -> i64 {
    let Some(d) = d else { return amount };
    let (bp, cents) = discount_effect(seed, d);
    (amount - apply_bp(amount, bp) - cents).max(0)
}

/// An order's amounts in cents.
struct OrderAmounts {
    subtotal: i64,
    discount: i64,
    tax: i64,
    refunded: i64,
    refunded_tax: i64,
}

/// Order `index`: (status, billing reason, product, subscription if any, amounts).
fn order_plan(seed: u64, index: u64) -> (&'static str, &'static str, u64, bool, OrderAmounts) {
    let status = literal("orders", "status", index);
    let reason = literal("orders", "billing_reason", index);
    let subscribed = reason != "purchase";
    let product = if subscribed {
        recurring_product(index)
    } else {
        one_time_product(index)
    };
    let subtotal = product_price(seed, product) * (1 + (index.is_multiple_of(3)) as i64);
    let discount = subtotal - apply_discount(seed, subtotal, discount_of(index));
    let tax_bp = [0, 800, 1900, 2000][(hash("orders", seed, index) % 4) as usize];
    let tax = apply_bp(subtotal - discount, tax_bp);
    let share = match status {
        "refunded" => 2,
        "partially_refunded" => 1,
        _ => 0,
    };
    let (refunded, refunded_tax) = ((subtotal - discount) * share / 2, tax * share / 2);
    let amounts = OrderAmounts {
        subtotal,
        discount,
        tax,
        refunded,
        refunded_tax,
    };
    (status, reason, product, subscribed, amounts)
}

/// `orders` object `index`: customer `index`'s order, a purchase of a one-time product or an invoice of
/// subscription `index`; status and billing reason cycle through the SDK's; invoice numbers are unique.
fn order_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (status, reason, product, subscribed, a) = order_plan(seed, index);
    let net = a.subtotal - a.discount;
    let paid = matches!(status, "paid" | "refunded" | "partially_refunded");
    stamp(o, "orders", seed, index, created);
    put(o, "status", status);
    put(o, "billing_reason", reason);
    put(o, "paid", paid);
    put(o, "subtotal_amount", a.subtotal);
    put(o, "discount_amount", a.discount);
    put(o, "net_amount", net);
    put(o, "tax_amount", a.tax);
    put(o, "total_amount", net + a.tax);
    put(o, "due_amount", if paid { 0 } else { net + a.tax });
    put(o, "refunded_amount", a.refunded);
    put(o, "refunded_tax_amount", a.refunded_tax);
    put(o, "platform_fee_amount", apply_bp(net + a.tax, 400) + 40);
    put(o, "platform_fee_currency", "usd");
    put(
        o,
        "invoice_number",
        format!("{:04X}-{:06}", seed & 0xFFFF, index + 1),
    );
    put(o, "is_invoice_generated", paid);
    put(
        o,
        "receipt_number",
        paid.then(|| format!("R{:04X}-{:06}", seed & 0xFFFF, index + 1)),
    );
    put(o, "seats", Value::Null);
    put(o, "billing_name", customer_profile(seed, index).1);
    put(
        o,
        "checkout_id",
        (!subscribed).then(|| object_id("checkouts", seed, index)),
    );
    put(
        o,
        "next_payment_attempt_at",
        (status == "pending").then(|| timestamp(created + DAY)),
    );
    customer_ref(o, seed, index, created);
    product_ref(o, seed, product, created);
    discount_ref(o, seed, discount_of(index), created);
    put(
        o,
        "subscription_id",
        subscribed.then(|| object_id("subscriptions", seed, index)),
    );
    match o.get_mut("subscription") {
        Some(subscription) if subscribed => {
            subscription_into(subscription, seed, index, created - 30 * DAY)
        }
        _ => put(o, "subscription", Value::Null),
    }
    let name = PRODUCT_NAMES[(product % 16) as usize];
    put(o, "description", name);
    if let Some(item) = o.pointer_mut("/items/0") {
        put(item, "label", name);
        put(item, "amount", a.subtotal);
        put(item, "tax_amount", a.tax);
        put(item, "proration", false);
        put(item, "product_price_id", uuid("prices", seed, product));
        put(
            item,
            "start_timestamp",
            subscribed.then(|| timestamp(created)),
        );
        put(
            item,
            "end_timestamp",
            subscribed.then(|| timestamp(created + 30 * DAY)),
        );
    }
    fill(o, "orders", seed, index, created);
}

/// The order refund `index` is of: a refunded or partially refunded order in its block of six.
fn refund_order(index: u64) -> u64 {
    let block = 6 * (index / 6);
    let wanted = if index.is_multiple_of(2) {
        "refunded"
    } else {
        "partially_refunded"
    };
    (block..block + 6)
        .find(|&o| literal("orders", "status", o) == wanted)
        .unwrap_or(block)
}

/// `refunds` object `index`: a refund of [`refund_order`], for the amount it says was refunded.
fn refund_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let order = refund_order(index);
    let (_, _, _, subscribed, a) = order_plan(seed, order);
    stamp(o, "refunds", seed, index, created);
    put(o, "status", literal("refunds", "status", index / 2));
    let reason = literal("refunds", "reason", index);
    put(o, "reason", reason);
    put(o, "amount", a.refunded);
    put(o, "tax_amount", a.refunded_tax);
    put(o, "order_id", object_id("orders", seed, order));
    put(
        o,
        "subscription_id",
        subscribed.then(|| object_id("subscriptions", seed, order)),
    );
    put(o, "customer_id", object_id("customers", seed, order));
    put(o, "revoke_benefits", reason == "fraudulent");
    match o.get_mut("dispute") {
        Some(dispute) if reason == "dispute_prevention" => {
            dispute_into(dispute, seed, index, created - DAY)
        }
        _ => put(o, "dispute", Value::Null),
    }
    fill(o, "refunds", seed, index, created);
}

/// `disputes` object `index`: a dispute of order `index`'s payment, for its total.
fn dispute_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (_, _, _, _, a) = order_plan(seed, index);
    let status = literal("disputes", "status", index);
    stamp(o, "disputes", seed, index, created);
    put(o, "status", status);
    put(
        o,
        "resolved",
        matches!(status, "won" | "lost" | "prevented"),
    );
    put(o, "closed", matches!(status, "won" | "lost"));
    put(o, "amount", a.subtotal - a.discount);
    put(o, "tax_amount", a.tax);
    put(o, "reason", "fraudulent");
    put(
        o,
        "evidence_due_by",
        (status == "needs_response").then(|| timestamp(created + 7 * DAY)),
    );
    put(o, "order_id", object_id("orders", seed, index));
    put(o, "payment_id", object_id("payments", seed, index));
    customer_ref(o, seed, index, created);
    fill(o, "disputes", seed, index, created);
}

/// `payments` object `index`: the payment of order `index` (card, Korean card or another method).
fn payment_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (_, reason, _, _, a) = order_plan(seed, index);
    let status = literal("payments", "status", index);
    stamp(o, "payments", seed, index, created);
    put(o, "status", status);
    put(o, "amount", a.subtotal - a.discount + a.tax);
    if o["method"] != "card" && o["method"] != "kr_card" {
        put(
            o,
            "method",
            ["paypal", "sepa_debit", "ideal"][(index % 3) as usize],
        );
    }
    let trigger = if reason == "purchase" {
        "purchase"
    } else {
        "subscription_cycle"
    };
    put(o, "trigger", trigger);
    let failed = status == "failed";
    put(o, "decline_reason", failed.then_some("insufficient_funds"));
    put(
        o,
        "decline_message",
        failed.then_some("Your card has insufficient funds."),
    );
    put(o, "order_id", object_id("orders", seed, index));
    put(o, "checkout_id", object_id("checkouts", seed, index));
    fill(o, "payments", seed, index, created);
}

// ---------------------------------------------------------------------------------------------
// Checkouts, checkout links, benefit grants, license keys, customer meters, events
// ---------------------------------------------------------------------------------------------

/// A client secret of `ns` object `index`.
fn client_secret(ns: &str, seed: u64, index: u64) -> String {
    format!(
        "polar_c_{:016x}{:016x}",
        hash(ns, seed, index),
        hash(ns, seed, !index)
    )
}

/// Keeps product `p` of `o`'s `products` (shaped like its first element).
fn products_ref(o: &mut Value, seed: u64, p: u64, created: i64) {
    if let Some(Value::Array(products)) = o.get_mut("products") {
        products.truncate(1);
        for product in products {
            product_into(product, seed, p, created - 100 * DAY);
        }
    }
}

/// `checkouts` object `index`: customer `index`'s checkout of a product, status cycling through the SDK's;
/// it expires an hour after creation.
fn checkout_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let status = literal("checkouts", "status", index);
    let p = if index.is_multiple_of(2) {
        one_time_product(index)
    } else {
        recurring_product(index)
    };
    let d = discount_of(index);
    let amount = product_price(seed, p);
    let net = apply_discount(seed, amount, d);
    let tax = apply_bp(net, 2000);
    let h = hash("checkouts", seed, index);
    stamp(o, "checkouts", seed, index, created);
    put(o, "status", status);
    put(o, "expires_at", timestamp(created + HOUR));
    put(o, "client_secret", client_secret("checkouts", seed, index));
    let url = format!(
        "https://polar.sh/checkout/{}",
        client_secret("checkouts", seed, index)
    );
    put(o, "url", url);
    put(o, "amount", amount);
    put(o, "discount_amount", amount - net);
    put(o, "net_amount", net);
    put(o, "tax_amount", tax);
    put(o, "total_amount", net + tax);
    put(o, "subtotal_amount", amount);
    put(o, "currency", "usd");
    put(o, "is_free_product_price", false);
    put(o, "is_payment_required", true);
    put(
        o,
        "customer_ip_address",
        format!("203.0.113.{}", h % 250 + 1),
    );
    put(o, "embed_origin", Value::Null);
    put(
        o,
        "success_url",
        format!("https://example.com/thanks?checkout={index}"),
    );
    customer_ref(o, seed, index, created);
    let (_, name, email, external_id) = customer_profile(seed, index);
    put(o, "customer_email", email);
    put(o, "customer_billing_name", name.clone());
    put(o, "customer_name", name);
    put(o, "external_customer_id", external_id);
    products_ref(o, seed, p, created);
    product_ref(o, seed, p, created);
    if let Some(price) = o.pointer("/product/prices/0").cloned() {
        put(o, "product_price", price);
    }
    put(o, "product_price_id", uuid("prices", seed, p));
    discount_ref(o, seed, d, created);
    if let Some(Value::Array(fields)) = o.get_mut("attached_custom_fields") {
        attached_custom_fields_into(fields, seed, created);
    }
    fill(o, "checkouts", seed, index, created);
}

/// `checkout_links` object `index`: a shareable link to product `index % 32`.
fn checkout_link_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let p = index % PRODUCTS;
    let secret = client_secret("checkout_links", seed, index);
    stamp(o, "checkout_links", seed, index, created);
    put(
        o,
        "label",
        format!(
            "{} link {}",
            PRODUCT_NAMES[(p % 16) as usize],
            index / 16 + 1
        ),
    );
    put(
        o,
        "success_url",
        format!("https://example.com/thanks?link={index}"),
    );
    put(o, "return_url", Value::Null);
    put(o, "allow_discount_codes", index.is_multiple_of(2));
    put(
        o,
        "url",
        format!("https://polar.sh/checkout-links/{secret}"),
    );
    put(o, "client_secret", secret);
    for key in ["trial_interval", "trial_interval_count"] {
        put(o, key, Value::Null);
    }
    products_ref(o, seed, p, created);
    discount_ref(o, seed, discount_of(index), created);
    fill(o, "checkout_links", seed, index, created);
}

/// `benefit_grants` object `index`: customer `index`'s grant of benefit `index % 8`; of every five, one
/// revoked and one that failed (with the error).
fn benefit_grant_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let (revoked, failed) = (index % 5 == 4, index % 5 == 3);
    stamp(o, "benefit_grants", seed, index, created);
    put(o, "granted_at", (!failed).then(|| timestamp(created)));
    put(o, "is_granted", !revoked && !failed);
    put(
        o,
        "revoked_at",
        revoked.then(|| timestamp(created + 20 * DAY)),
    );
    put(o, "is_revoked", revoked);
    match o.get_mut("error") {
        Some(error) if failed => {
            put(error, "message", "The Discord server could not be reached");
            put(error, "type", "BenefitActionRequiredError");
        }
        _ => put(o, "error", Value::Null),
    }
    put(
        o,
        "subscription_id",
        object_id("subscriptions", seed, index),
    );
    put(o, "order_id", Value::Null);
    put(o, "benefit_id", object_id("benefits", seed, index % 8));
    for key in ["member", "member_id"] {
        put(o, key, Value::Null);
    }
    customer_ref(o, seed, index, created);
    if let Some(benefit) = o.get_mut("benefit") {
        // The same type as the stream's (`Benefit`), of any variant.
        *benefit = object("benefits", seed, index % 8, created - 30 * DAY);
    }
    fill(o, "benefit_grants", seed, index, created);
}

/// `license_keys` object `index`: customer `index`'s key of the license-key benefit (4).
fn license_key_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let h = hash("license_keys", seed, index);
    let key = format!("POLAR-{:016X}-{:08X}", h, h >> 32);
    stamp(o, "license_keys", seed, index, created);
    put(o, "display_key", format!("****-{}", &key[key.len() - 6..]));
    put(o, "key", key);
    put(o, "status", literal("license_keys", "status", index));
    put(o, "benefit_id", object_id("benefits", seed, 4));
    put(o, "usage", (h % 100) as i64);
    put(o, "limit_usage", 100);
    put(o, "limit_activations", 3);
    put(o, "validations", (h >> 8) as i64 % 500);
    put(o, "last_validated_at", timestamp(created + HOUR));
    for key in ["expires_at", "member", "member_id"] {
        put(o, key, Value::Null);
    }
    customer_ref(o, seed, index, created);
    fill(o, "license_keys", seed, index, created);
}

/// `customer_meters` object `index`: customer `index / 4`'s use of meter `index % 4`.
fn customer_meter_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let h = hash("customer_meters", seed, index);
    let consumed = (h % 100_000) as f64 / 10.0;
    let credited = ((h >> 20) % 10) as i64 * 1_000;
    let meter = index % METERS.len() as u64;
    stamp(o, "customer_meters", seed, index, created);
    put(o, "consumed_units", consumed);
    put(o, "credited_units", credited);
    put(o, "balance", credited as f64 - consumed);
    put(o, "meter_id", object_id("meters", seed, meter));
    if let Some(m) = o.get_mut("meter") {
        meter_into(m, seed, meter, created - 60 * DAY);
    }
    customer_ref(o, seed, index / METERS.len() as u64, created);
    fill(o, "customer_meters", seed, index, created);
}

/// `events` object `index`: a usage event (`source: user`) of customer `index / 4`, the event meter
/// `index % 4` counts.
fn user_event_into(o: &mut Value, seed: u64, index: u64, created: i64) {
    let name = user_event_name(index);
    let h = hash("events", seed, index);
    put(o, "id", object_id("events", seed, index));
    put(o, "timestamp", timestamp(created));
    put(o, "organization_id", organization_id(seed));
    put(o, "name", name);
    put(o, "label", name);
    put(o, "child_count", 0);
    for key in ["parent_id", "member_id", "external_member_id"] {
        put(o, key, Value::Null);
    }
    if let Some(cost) = o.pointer_mut("/metadata/_cost") {
        put(cost, "amount", format!("0.{:04}", h % 10_000));
    }
    if let Some(llm) = o.pointer_mut("/metadata/_llm") {
        let (input, output) = ((h % 4_000) as i64, ((h >> 16) % 2_000) as i64);
        put(llm, "input_tokens", input);
        put(llm, "output_tokens", output);
        put(llm, "total_tokens", input + output);
    }
    customer_ref(o, seed, index / METERS.len() as u64, created);
    let external = o.pointer("/customer/external_id").cloned();
    put(o, "external_customer_id", external);
    fill(o, "events", seed, index, created);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stream's objects keep their template's fields, carry their own id and time, and name the
    /// same customer in `customer_id` and the embedded `customer` (as the stream's own object does).
    #[test]
    fn objects_are_their_templates_with_consistent_ids() {
        let created = 1_767_225_600_000 + 7 * DAY + 123;
        for stream in STREAMS {
            let variants = &templates()[stream].variants;
            for index in 0..40 {
                let o = object(stream, 7, index, created);
                assert_eq!(
                    o,
                    object(stream, 7, index, created),
                    "{stream} is deterministic"
                );
                let template = &variants[index as usize % variants.len()];
                let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
                assert_eq!(keys(&o), keys(template), "{stream} {index}");
                assert_eq!(o["id"], object_id(stream, 7, index), "{stream} {index}");
                let time = if *stream == "events" {
                    &o["timestamp"]
                } else {
                    &o["created_at"]
                };
                assert_eq!(time, &timestamp(created), "{stream} {index}");
                let text = o.to_string();
                assert!(
                    !text.contains(ID) && !text.contains(TIME),
                    "{stream} {index}: {text}"
                );
                if o["customer"].is_object() {
                    if let Some(id) = o.get("customer_id") {
                        assert_eq!(&o["customer"]["id"], id, "{stream} {index}");
                    }
                    let c = o["customer"]["id"].as_str().unwrap();
                    let k = (0..40)
                        .find(|&k| object_id("customers", 7, k) == c)
                        .unwrap();
                    let own = object("customers", 7, k, created);
                    assert_eq!(o["customer"]["email"], own["email"], "{stream} {index}");
                }
            }
        }
    }

    #[test]
    fn sort_fields_polar_keeps_unique_are_unique() {
        let unique = |stream: &str, field: &str| {
            let values: std::collections::HashSet<String> = (0..500)
                .map(|i| object(stream, 3, i, 0)[field].to_string())
                .collect();
            assert_eq!(values.len(), 500, "{stream}.{field}");
        };
        unique("orders", "invoice_number");
        unique("organizations", "slug");
        unique("custom_fields", "slug");
        unique("discounts", "code");
        let emails: Vec<Value> = (0..500)
            .map(|i| object("customers", 3, i, 0)["email"].clone())
            .collect();
        let set: std::collections::HashSet<String> = emails
            .iter()
            .filter(|e| !e.is_null())
            .map(Value::to_string)
            .collect();
        assert_eq!(set.len(), emails.iter().filter(|e| !e.is_null()).count());
        assert!(
            emails.iter().step_by(2).all(|e| e.is_string()),
            "individuals have an email"
        );
    }

    #[test]
    fn amounts_add_up() {
        for index in 0..60 {
            let o = object("orders", 5, index, 0);
            let n = |k: &str| o[k].as_i64().unwrap();
            assert_eq!(n("net_amount"), n("subtotal_amount") - n("discount_amount"));
            assert_eq!(n("total_amount"), n("net_amount") + n("tax_amount"));
            assert!(n("refunded_amount") <= n("net_amount"));
            let refund = object("refunds", 5, index, 0);
            let order = (0..60)
                .map(|k| object("orders", 5, k, 0))
                .find(|order| order["id"] == refund["order_id"])
                .unwrap();
            assert_eq!(refund["amount"], order["refunded_amount"]);
            assert_ne!(order["refunded_amount"], 0);
        }
    }
}
