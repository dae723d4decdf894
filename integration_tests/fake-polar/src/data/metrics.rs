//! The `metrics` stream: not a list of objects but daily figures computed for a span of days.

use serde_json::{Map, Value, json};

use super::{DAY, chance, literal, price_cents, rng_for, timestamp};

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
        let reason_names: Vec<String> = (0..8)
            .map(|k| literal("subscriptions", "customer_cancellation_reason", k))
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
