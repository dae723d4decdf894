//! The stream table: everything that differs between Polar streams is a row here, and nothing else in the
//! connector knows a stream by name. Adding a stream is one row and one schema file.

/// One Polar list endpoint synced as one Airbyte stream.
#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    /// The list endpoint, with its trailing slash.
    pub path: &'static str,
    /// The scope an Organization Access Token needs to list it.
    pub scope: &'static str,
    pub description: &'static str,
    /// The `sorting` criteria sent on every page request, most significant first.
    ///
    /// Polar pages with SQL `OFFSET/LIMIT` over exactly these criteria and adds no tie-breaker, so they are
    /// chosen for stable paging while the organization keeps changing: first an immutable creation time in
    /// ascending order, so records created during a sync land after every page already read instead of
    /// pushing older records across page boundaries; then, where the API offers one, a key that breaks ties
    /// between records created in the same instant (unique for orders, organizations and individual
    /// customers). Each criterion is also the name of a field of the record, which the reader uses to detect
    /// ties and shifts (see `reader`).
    pub sorting: &'static [&'static str],
    /// Whether `sorting` orders every record uniquely (its last criterion is unique within an organization),
    /// so no two records can tie on every criterion. Where they can, tie groups at page boundaries are verified
    /// (see `reader::core`).
    pub unique_order: bool,
    /// The list's strict filter on the first sort criterion, when Polar has one (`created_after` on orders):
    /// the reader then pages by key through it, which no deletion or creation can shift (see `reader::core`).
    pub creation_filter: Option<&'static str>,
    /// Where the creation filter's field can be null (a subscription's `started_at` before it starts): the
    /// order (nulls first) in which the records the filter never returns are read, before the pass by key.
    pub null_tail: Option<&'static [&'static str]>,
    /// How Polar serves it: a paged list, or (metrics) periods.
    pub shape: Shape,
    /// The JSON schema of one record (Polar API 2026-10), from `schemas/<name>.json`.
    pub schema: &'static str,
    /// How the stream syncs incrementally, when Polar gives a signal for its changes (see `incremental`).
    pub incremental: Option<Incremental>,
}

/// How Polar serves a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A paged list (`{items, pagination}`) of records identified by `id`, read by the reader (`reader`).
    List,
    /// Polar's metrics: not a list, but one response per span of dates holding one record per `interval`
    /// period (`{periods, ...}`), identified by the period's `timestamp`, from the organization's first date
    /// to today; `limits` says that date and the longest span (see `periods`).
    Periods {
        limits: &'static str,
        interval: &'static str,
    },
}

/// The strict upper bound Polar pairs with a strict creation filter: read by key through one instant, a list
/// holds only that instant's records (see `reader::core`).
pub fn until_filter(after: &str) -> Option<&'static str> {
    match after {
        "created_after" => Some("created_before"),
        "started_after" => Some("started_before"),
        "start_timestamp" => Some("end_timestamp"),
        _ => None,
    }
}

impl StreamDef {
    /// The field that identifies a record: its primary key.
    pub fn primary_key(&self) -> &'static str {
        match self.shape {
            Shape::List => "id",
            Shape::Periods { .. } => "timestamp",
        }
    }

    /// The Airbyte sync modes the stream supports: full refresh, and incremental where Polar gives a signal
    /// for its changes.
    pub fn sync_modes(&self) -> &'static [&'static str] {
        if self.incremental.is_some() {
            &["full_refresh", "incremental"]
        } else {
            &["full_refresh"]
        }
    }

    /// The record fields any request of the stream sorts by (its pass, its unstarted tail, its incremental
    /// windows), each once, in the table's order.
    pub fn sort_fields(&self) -> Vec<&'static str> {
        let windows = self
            .incremental
            .iter()
            .flat_map(|incremental| incremental.windows)
            .map(Window::sorting);
        let mut fields: Vec<&'static str> = Vec::new();
        for field in std::iter::once(self.sorting)
            .chain(self.null_tail)
            .chain(windows)
            .flatten()
            .map(|criterion| criterion.trim_start_matches('-'))
        {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }

    /// The list filters any request of the stream sends (its creation filter and that filter's upper bound,
    /// its windows', and the one that reads changed records again), each once.
    pub fn filters(&self) -> Vec<&'static str> {
        let windows = self
            .incremental
            .iter()
            .flat_map(|incremental| incremental.windows)
            .filter_map(|window| match window {
                Window::After { filter, .. } => Some(*filter),
                _ => None,
            });
        let refetch = self.followed().and_then(|followed| match followed.refetch {
            Refetch::ById(filter) | Refetch::ByCustomer(filter) => Some(filter),
            Refetch::One => None,
        });
        let mut filters: Vec<&'static str> = Vec::new();
        for filter in self
            .creation_filter
            .into_iter()
            .chain(windows)
            .flat_map(|after| std::iter::once(after).chain(until_filter(after)))
            .chain(refetch)
        {
            if !filters.contains(&filter) {
                filters.push(filter);
            }
        }
        filters
    }

    /// The system events that name the stream's changed records, if Polar records any: its incremental syncs
    /// then read the change log.
    pub fn followed(&self) -> Option<&Followed> {
        self.incremental.as_ref()?.followed.as_ref()
    }
}

/// How a stream syncs incrementally: which windows of its list hold the records created (or changed) since
/// the cursor, and, where those windows miss changes, which system events name the changed records.
#[derive(Debug, Clone, Copy)]
pub struct Incremental {
    /// The windows of the list read from the cursor minus the lookback, each in turn (a record found in
    /// more than one is delivered once).
    pub windows: &'static [Window],
    /// The system events that name records the windows miss (changed after their creation), when Polar
    /// records any: the feed is read for them (scope `events:read`).
    pub followed: Option<Followed>,
    /// What an incremental sync of the stream catches, for the docs.
    pub catches: &'static str,
}

/// The system events that name a stream's changed records, and how those records are read again.
#[derive(Debug, Clone, Copy)]
pub struct Followed {
    /// polar-sdk's `SystemEvent` names (the feed is asked for these only).
    pub events: &'static [&'static str],
    /// The `metadata` key of those events that holds the record's id.
    pub id_key: &'static str,
    /// The system event that says a record was deleted.
    pub deleted_by: Option<&'static str>,
    /// The system event that says a record was created, where one names every creation.
    pub created_by: Option<&'static str>,
    pub refetch: Refetch,
}

/// A window of a stream's list that holds the records created or changed since a time.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// Paged by key through Polar's strict filter `filter` on the first field of `sorting`, from the time.
    After {
        filter: &'static str,
        sorting: &'static [&'static str],
    },
    /// Sorted newest first by the first criterion of `sorting` (`-<time field>`), read until that time
    /// passes the cursor.
    Newest { sorting: &'static [&'static str] },
    /// Sorted newest first by a time that is null until the record first changes (`-modified_at`): Postgres
    /// lists the nulls first, so the read starts at the first record with a time (found by bisection, see
    /// `reader::boundary`) and goes on until that time passes the cursor. Records never changed are not in
    /// it: a `Newest` window by creation time finds the new ones.
    ChangedNewest { sorting: &'static [&'static str] },
}

impl Window {
    /// The `sorting` the window's requests send.
    pub fn sorting(&self) -> &'static [&'static str] {
        match self {
            Window::After { sorting, .. }
            | Window::Newest { sorting }
            | Window::ChangedNewest { sorting } => sorting,
        }
    }
}

/// How records named by events are read again.
#[derive(Debug, Clone, Copy)]
pub enum Refetch {
    /// Through a list filter that takes many ids of the records themselves (`id` on refunds). Polar has no
    /// read by id for such a list, so an id the filter does not return is not read otherwise.
    ById(&'static str),
    /// Through a list filter that takes many customer ids (every system event names its customer); an id not
    /// found there is read by id.
    ByCustomer(&'static str),
    /// One read per record, `GET <path><id>` (no list filter exists).
    One,
}

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "customers",
        path: "/v1/customers/",
        scope: "customers:read",
        description: "Customers of the organization, individuals and teams, with billing details and metadata.",
        sorting: &["created_at", "email"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            windows: &[Window::Newest {
                sorting: &["-created_at", "email"],
            }],
            followed: Some(Followed {
                events: &["customer.created", "customer.updated", "customer.deleted"],
                id_key: "customer_id",
                deleted_by: Some("customer.deleted"),
                created_by: Some("customer.created"),
                refetch: Refetch::One,
            }),
            catches: "creates, updates and deletes",
        }),
        schema: include_str!("../schemas/customers.json"),
    },
    StreamDef {
        name: "products",
        path: "/v1/products/",
        scope: "products:read",
        description: "Products, one-time and recurring, archived included, with their prices, benefits and media.",
        sorting: &["created_at", "name"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/products.json"),
    },
    StreamDef {
        name: "orders",
        path: "/v1/orders/",
        scope: "orders:read",
        description: "Orders (purchases and subscription renewals) with amounts, taxes, refunds and line items.",
        sorting: &["created_at", "invoice_number"],
        unique_order: true,
        creation_filter: Some("created_after"),
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            windows: &[Window::After {
                filter: "created_after",
                sorting: &["created_at", "invoice_number"],
            }],
            followed: Some(Followed {
                events: &[
                    "order.paid",
                    "order.refunded",
                    "order.voided",
                    "order.unvoided",
                    "balance.order",
                    "balance.credit_order",
                    "balance.refund",
                    "balance.refund_reversal",
                    "balance.dispute",
                    "balance.dispute_reversal",
                ],
                id_key: "order_id",
                deleted_by: None,
                created_by: None,
                refetch: Refetch::ByCustomer("customer_id"),
            }),
            catches: "creates, and updates: payment, refunds, voids, disputes (orders are never deleted)",
        }),
        schema: include_str!("../schemas/orders.json"),
    },
    StreamDef {
        name: "subscriptions",
        path: "/v1/subscriptions/",
        scope: "subscriptions:read",
        description: "Subscriptions, active and ended, with their customer, product, prices and billing periods.",
        // Subscriptions cannot be sorted by creation time; `started_at` is set once when the subscription
        // starts (null before that). The started ones are paged by key through Polar's strict `started_after`
        // filter, which no creation or deletion can shift, as orders are by `created_after`. The filter never
        // returns the ones not started yet: they are read first, by offset, from the list sorted
        // `-started_at` (nulls first), until the first started one. That tail is usually one page (read in
        // one request, so nothing can move within it); a longer one is paged by offset, where a subscription
        // starting meanwhile (leaving the tail) can make one other unstarted subscription be missed until the
        // next sync. The customer, then the amount, split the unstarted ones into small tie groups.
        sorting: &["started_at", "customer", "amount"],
        unique_order: false,
        creation_filter: Some("started_after"),
        null_tail: Some(&["-started_at", "customer", "amount"]),
        shape: Shape::List,
        incremental: Some(Incremental {
            windows: &[Window::After {
                filter: "started_after",
                sorting: &["started_at", "customer", "amount"],
            }],
            followed: Some(Followed {
                events: &[
                    "subscription.created",
                    "subscription.updated",
                    "subscription.canceled",
                    "subscription.uncanceled",
                    "subscription.cycled",
                    "subscription.revoked",
                    "subscription.past_due",
                    "subscription.reactivated",
                    "subscription.reinstated",
                    "subscription.paused",
                    "subscription.resumed",
                    "subscription.product_updated",
                    "subscription.seats_updated",
                    "subscription.units_updated",
                    "subscription.billing_period_updated",
                    "subscription.update_cleared",
                    "subscription.migrated",
                ],
                id_key: "subscription_id",
                deleted_by: None,
                created_by: None,
                refetch: Refetch::ByCustomer("customer_id"),
            }),
            catches: "creates and the updates Polar records an event for (status, product, seats, billing \
                      period, cancellation, renewal); subscriptions are never deleted",
        }),
        schema: include_str!("../schemas/subscriptions.json"),
    },
    StreamDef {
        name: "refunds",
        path: "/v1/refunds/",
        scope: "refunds:read",
        description: "Refunds of orders, with amount, tax, reason and status.",
        sorting: &["created_at", "amount"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            windows: &[Window::Newest {
                sorting: &["-created_at", "amount"],
            }],
            followed: Some(Followed {
                events: &["balance.refund", "balance.refund_reversal"],
                id_key: "refund_id",
                deleted_by: None,
                created_by: None,
                refetch: Refetch::ById("id"),
            }),
            catches: "creates, and updates that move money (a refund succeeding or being reversed)",
        }),
        schema: include_str!("../schemas/refunds.json"),
    },
    StreamDef {
        name: "checkouts",
        path: "/v1/checkouts/",
        scope: "checkouts:read",
        description: "Checkout sessions, open, confirmed, succeeded, failed and expired.",
        sorting: &["created_at"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            // A checkout changes only until it expires (and Polar records no event for that): the window of
            // checkouts expiring after the cursor holds every one created or changed since, so no event is
            // needed (`checkout.created` names no customer to read it again by, anyway).
            windows: &[Window::Newest {
                sorting: &["-expires_at", "created_at"],
            }],
            followed: None,
            catches: "creates, and every change until the checkout expires",
        }),
        schema: include_str!("../schemas/checkouts.json"),
    },
    StreamDef {
        name: "benefits",
        path: "/v1/benefits/",
        scope: "benefits:read",
        description: "Benefits granted with products: custom, Discord, GitHub repository, downloadables, license keys, meter credits, feature flags and Slack shared channels.",
        sorting: &["created_at", "description"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/benefits.json"),
    },
    StreamDef {
        name: "organizations",
        path: "/v1/organizations/",
        scope: "organizations:read",
        description: "The organization the token belongs to, with its profile, settings and status.",
        sorting: &["created_at", "slug"],
        unique_order: true,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/organizations.json"),
    },
    StreamDef {
        name: "meters",
        path: "/v1/meters/",
        scope: "meters:read",
        description: "Meters of usage-based billing: the events each counts (filter) and how (aggregation), archived included.",
        sorting: &["created_at", "name"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/meters.json"),
    },
    StreamDef {
        name: "custom_fields",
        path: "/v1/custom-fields/",
        scope: "custom_fields:read",
        description: "Custom fields checkouts collect (text, number, date, checkbox and select), with their form properties.",
        // A slug is unique within an organization.
        sorting: &["created_at", "slug"],
        unique_order: true,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/custom_fields.json"),
    },
    StreamDef {
        name: "disputes",
        path: "/v1/disputes/",
        scope: "disputes:read",
        description: "Disputes (chargebacks) of orders' payments, with status, amounts, evidence deadline and the customer.",
        sorting: &["created_at", "amount"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/disputes.json"),
    },
    StreamDef {
        name: "discounts",
        path: "/v1/discounts/",
        scope: "discounts:read",
        description: "Discounts, fixed or percentage, once, forever or repeating, with their codes, limits, redemptions and products.",
        sorting: &["created_at", "name"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/discounts.json"),
    },
    StreamDef {
        name: "payments",
        path: "/v1/payments/",
        scope: "payments:read",
        description: "Payment attempts (card and other methods), succeeded, pending and failed, with decline reasons and their order and checkout.",
        sorting: &["created_at", "amount"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/payments.json"),
    },
    StreamDef {
        name: "checkout_links",
        path: "/v1/checkout-links/",
        scope: "checkout_links:read",
        description: "Checkout links: shareable links to a checkout of given products, with their discount, URLs and client secret.",
        sorting: &["created_at", "label"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/checkout_links.json"),
    },
    StreamDef {
        name: "license_keys",
        path: "/v1/license-keys/",
        scope: "license_keys:read",
        description: "License keys granted by license-key benefits, with the key itself, status, limits, usage and customer.",
        // Polar cannot sort license keys: it lists them by creation time, ascending, with no tie-breaker, and
        // ignores `sorting`. That is the order the reader assumes for every list (records created during the
        // sync land last, ties are verified), so it reads them like the others.
        sorting: &["created_at"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/license_keys.json"),
    },
    StreamDef {
        name: "benefit_grants",
        path: "/v1/benefit-grants/",
        scope: "benefits:read",
        description: "Benefit grants: which customer holds (or held) which benefit, granted, revoked or failed, with the benefit and its grant properties.",
        sorting: &["created_at"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: None,
        schema: include_str!("../schemas/benefit_grants.json"),
    },
    StreamDef {
        name: "customer_meters",
        path: "/v1/customer-meters/",
        scope: "customer_meters:read",
        description: "Each customer's usage of each meter: consumed and credited units and the balance, with the customer and the meter.",
        // A customer has one meter of each kind: the customer and the meter order records uniquely in practice;
        // ties are verified anyway, at no cost where none occur.
        sorting: &["created_at", "customer_id", "meter_id"],
        unique_order: false,
        creation_filter: None,
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            // The one list Polar sorts by modification time: new customer meters by creation time (one that
            // never changed has a null `modified_at`), changed ones by `modified_at`. No event is needed.
            windows: &[
                Window::Newest {
                    sorting: &["-created_at", "customer_id", "meter_id"],
                },
                Window::ChangedNewest {
                    sorting: &["-modified_at", "customer_id", "meter_id"],
                },
            ],
            followed: None,
            catches: "creates and updates (consumed and credited units, balance); a customer meter removed \
                      from the list is not seen",
        }),
        schema: include_str!("../schemas/customer_meters.json"),
    },
    StreamDef {
        name: "events",
        path: "/v1/events/",
        scope: "events:read",
        description: "Events: the usage events ingested for metered billing, and Polar's system events (orders paid, subscriptions changed, benefits granted, customers created, ...).",
        // Polar sorts events by `timestamp` only and filters them strictly by it (`start_timestamp`): read by
        // key through the filter, which no creation or deletion can shift.
        sorting: &["timestamp"],
        unique_order: false,
        creation_filter: Some("start_timestamp"),
        null_tail: None,
        shape: Shape::List,
        incremental: Some(Incremental {
            // Events never change: the new ones (late ones within the lookback included) are all there is.
            windows: &[Window::After {
                filter: "start_timestamp",
                sorting: &["timestamp"],
            }],
            followed: None,
            catches: "new events, late ones within the lookback window included (events never change)",
        }),
        schema: include_str!("../schemas/events.json"),
    },
    StreamDef {
        name: "metrics",
        path: "/v1/metrics/",
        scope: "metrics:read",
        description: "Polar's daily metrics of the organization (UTC days, from its first day to today): revenue, orders, MRR, active, new and churned subscriptions, checkouts, costs, and the rest Polar computes.",
        // Not a list: Polar computes each day's figures when asked (a past day's change as refunds and
        // cancellations land), so the stream is read whole at every sync, a few requests for years of days.
        sorting: &[],
        unique_order: true,
        creation_filter: None,
        null_tail: None,
        shape: Shape::Periods {
            limits: "/v1/metrics/limits",
            interval: "day",
        },
        incremental: None,
        schema: include_str!("../schemas/metrics.json"),
    },
];

/// Polar's system events feed (`GET /v1/events/?source=system`), the change log incremental syncs read. Not a
/// stream of its own: its pages are read once per sync and turned into the ids of changed records.
pub static SYSTEM_EVENTS: StreamDef = StreamDef {
    name: "system events",
    path: "/v1/events/",
    scope: "events:read",
    description: "Polar's system events: what changed in the organization, and when.",
    sorting: &["timestamp"],
    unique_order: false,
    creation_filter: Some("start_timestamp"),
    null_tail: None,
    shape: Shape::List,
    schema: "{}",
    incremental: None,
};

/// The stream called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|stream| stream.name == name)
}

/// Every scope the streams need, each once, in the table's order: "customers:read (customers), ...", with
/// what else `events:read` gives (the change log of the streams that follow it).
pub fn scopes_text() -> String {
    let mut scopes: Vec<(&str, Vec<&str>)> = Vec::new();
    for stream in STREAMS {
        match scopes.iter_mut().find(|(scope, _)| *scope == stream.scope) {
            Some((_, names)) => names.push(stream.name),
            None => scopes.push((stream.scope, vec![stream.name])),
        }
    }
    let change_log = format!(
        "Polar's change log, for incremental syncs of {}",
        change_log_names()
    );
    let mut parts: Vec<String> = scopes
        .iter()
        .map(|(scope, names)| {
            if *scope == SYSTEM_EVENTS.scope {
                format!("{scope} ({}, and {change_log})", names.join(", "))
            } else {
                format!("{scope} ({})", names.join(", "))
            }
        })
        .collect();
    if !scopes
        .iter()
        .any(|(scope, _)| *scope == SYSTEM_EVENTS.scope)
    {
        parts.push(format!("{} ({change_log})", SYSTEM_EVENTS.scope));
    }
    parts.join(", ")
}

/// The streams whose incremental syncs read Polar's change log (their changes are named by system events),
/// for messages: "customers, orders, ... and refunds".
pub fn change_log_names() -> String {
    let names: Vec<&str> = STREAMS
        .iter()
        .filter(|stream| stream.followed().is_some())
        .map(|stream| stream.name)
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// No stream sorts by more criteria than the page parser records.
const _: () = {
    let mut index = 0;
    while index < STREAMS.len() {
        assert!(
            STREAMS[index].sorting.len() <= crate::page::MAX_SORT_CRITERIA,
            "a stream sorts by more criteria than page::MAX_SORT_CRITERIA"
        );
        index += 1;
    }
};

/// The names of all streams, for messages.
pub fn names() -> String {
    STREAMS
        .iter()
        .map(|stream| stream.name)
        .collect::<Vec<_>>()
        .join(", ")
}
