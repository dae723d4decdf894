//! The stream table as JSON, for the tools around the connector (`source-polar streams`): the test server's
//! paths, scopes, sort fields and filters, the benchmark, the SDK conformance check and the PyAirbyte test
//! read a stream's facts from here instead of writing them again.

use serde_json::{Value, json};

use crate::streams::{Followed, Refetch, STREAMS, SYSTEM_EVENTS, Shape, StreamDef, Window};

/// Every stream of the table, in its order, and the change log the incremental syncs read.
pub fn facts() -> Value {
    json!({
        "streams": STREAMS.iter().map(stream).collect::<Vec<_>>(),
        "change_log": stream(&SYSTEM_EVENTS),
    })
}

/// One stream's facts.
fn stream(stream: &StreamDef) -> Value {
    let incremental = stream.incremental.as_ref().map(|incremental| {
        let windows: Vec<Value> = incremental
            .windows
            .iter()
            .map(|window| {
                let (kind, filter) = match window {
                    Window::After { filter, .. } => ("after", Some(*filter)),
                    Window::Newest { .. } => ("newest", None),
                    Window::ChangedNewest { .. } => ("changed_newest", None),
                };
                json!({"kind": kind, "sorting": window.sorting(), "filter": filter})
            })
            .collect();
        json!({
            "windows": windows,
            "followed": incremental.followed.as_ref().map(followed),
            "catches": incremental.catches,
        })
    });
    let shape = match stream.shape {
        Shape::List => json!({"kind": "list"}),
        Shape::Periods { limits, interval } => {
            json!({"kind": "periods", "limits": limits, "interval": interval})
        }
    };
    json!({
        "name": stream.name,
        "path": stream.path,
        "scope": stream.scope,
        "description": stream.description,
        "primary_key": stream.primary_key(),
        "shape": shape,
        "sorting": stream.sorting,
        "unique_order": stream.unique_order,
        "creation_filter": stream.creation_filter,
        "null_tail": stream.null_tail,
        "sort_fields": stream.sort_fields(),
        "filters": stream.filters(),
        "sync_modes": stream.sync_modes(),
        "incremental": incremental,
    })
}

fn followed(followed: &Followed) -> Value {
    let refetch = match followed.refetch {
        Refetch::ById(filter) => json!({"kind": "by_id", "filter": filter}),
        Refetch::ByCustomer(filter) => json!({"kind": "by_customer", "filter": filter}),
        Refetch::One => json!({"kind": "one"}),
    };
    json!({
        "events": followed.events,
        "id_key": followed.id_key,
        "deleted_by": followed.deleted_by,
        "created_by": followed.created_by,
        "refetch": refetch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_says_what_its_requests_send() {
        let facts = facts();
        let streams = facts["streams"].as_array().unwrap();
        assert_eq!(streams.len(), STREAMS.len());
        let find = |name: &str| {
            streams
                .iter()
                .find(|stream| stream["name"] == name)
                .unwrap()
        };
        // Subscriptions: the pass by key, the unstarted tail first, the incremental window; refetched by
        // customer.
        let subscriptions = find("subscriptions");
        assert_eq!(
            subscriptions["sort_fields"],
            json!(["started_at", "customer", "amount"])
        );
        assert_eq!(
            subscriptions["filters"],
            json!(["started_after", "started_before", "customer_id"])
        );
        assert_eq!(
            subscriptions["sync_modes"],
            json!(["full_refresh", "incremental"])
        );
        // Checkouts: sorted by expiry in their incremental window only.
        assert_eq!(
            find("checkouts")["sort_fields"],
            json!(["created_at", "expires_at"])
        );
        assert_eq!(find("refunds")["filters"], json!(["id"]));
        assert_eq!(find("products")["sync_modes"], json!(["full_refresh"]));
        assert_eq!(find("metrics")["primary_key"], "timestamp");
        assert_eq!(find("metrics")["shape"]["kind"], "periods");
        assert_eq!(
            find("customers")["incremental"]["followed"]["deleted_by"],
            "customer.deleted"
        );
        assert_eq!(
            facts["change_log"]["filters"],
            json!(["start_timestamp", "end_timestamp"])
        );
    }
}
