//! The catalog in both directions: the one `discover` announces, and the configured catalog `read` is given.

use serde_json::{Value, json};

use crate::input::{InputError, json_type};
use crate::protocol::{DELETED_AT, UPDATED_AT};
use crate::streams::{self, STREAMS, StreamDef};

/// A stream the catalog selects, and how.
#[derive(Debug, Clone, Copy)]
pub struct Selected {
    pub stream: &'static StreamDef,
    /// The catalog asks for an incremental sync.
    pub asked_incremental: bool,
}

impl Selected {
    /// Synced incrementally: the catalog asks for it and the stream supports it.
    pub fn incremental(&self) -> bool {
        self.asked_incremental && self.stream.incremental.is_some()
    }

    /// Asked to sync incrementally, which the stream does not support: read in full (and logged).
    pub fn incremental_unsupported(&self) -> bool {
        self.asked_incremental && self.stream.incremental.is_none()
    }
}

/// The CATALOG message's `catalog`: every stream with its primary key (`id`; a metrics period's
/// `timestamp`), resumable; full refresh, and
/// incremental with a source-defined cursor where Polar gives a change signal.
pub fn discover() -> Value {
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|stream| {
            let mut schema: Value =
                serde_json::from_str(stream.schema).expect("embedded schemas are valid JSON");
            let mut entry = json!({
                "name": stream.name,
                "description": stream.description,
                "supported_sync_modes": stream.sync_modes(),
                "source_defined_primary_key": [[stream.primary_key()]],
                "is_resumable": true,
            });
            if stream.incremental.is_some() {
                add_cdc_fields(&mut schema);
                entry["source_defined_cursor"] = json!(true);
                entry["default_cursor_field"] = json!([UPDATED_AT]);
            }
            entry["json_schema"] = schema;
            entry
        })
        .collect();
    json!({ "streams": streams })
}

/// Declares Airbyte's CDC fields, which records of a stream synced incrementally carry.
fn add_cdc_fields(schema: &mut Value) {
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert(
            UPDATED_AT.into(),
            json!({"type": ["null", "string"], "format": "date-time", "airbyte_type": "timestamp_with_timezone",
                   "description": "When the record last changed (modified_at, or created_at before its first \
                   update; an event's timestamp), or when it was deleted. The cursor of incremental syncs."}),
        );
        properties.insert(
            DELETED_AT.into(),
            json!({"type": ["null", "string"], "format": "date-time", "airbyte_type": "timestamp_with_timezone",
                   "description": "Set when the record was deleted in Polar: this record carries only its id."}),
        );
    }
}

/// The streams a configured catalog selects, in its order, after checking its shape.
///
/// Lenient where Airbyte clients differ (unknown fields, empty `json_schema`, `incremental` on a stream that
/// only supports full refresh: PyAirbyte asks for it by default and gets a full refresh); strict where a
/// mistake would silently sync the wrong thing (unknown or duplicate streams, invalid sync modes).
pub fn parse_configured(path: &str, raw: &Value) -> Result<Vec<Selected>, InputError> {
    let wrong = |problem: String| InputError::WrongShape {
        what: "catalog",
        path: path.to_owned(),
        problem,
    };
    let entries = raw
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            wrong(format!(
                "must be a JSON object with a 'streams' array, found {}",
                describe_root(raw)
            ))
        })?;
    let mut selected: Vec<Selected> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = entry
            .get("stream")
            .and_then(|stream| stream.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| wrong(format!("has no 'stream.name' string in streams[{index}]")))?;
        let stream = streams::find(name).ok_or_else(|| {
            wrong(format!(
                "names the stream '{name}', which this source does not have (it has: {})",
                streams::names()
            ))
        })?;
        let asked_incremental = match entry.get("sync_mode") {
            None | Some(Value::Null) => false,
            Some(Value::String(mode)) if mode == "full_refresh" => false,
            Some(Value::String(mode)) if mode == "incremental" => true,
            Some(other) => {
                let shown = other
                    .as_str()
                    .map_or_else(|| json_type(other).to_owned(), |mode| format!("'{mode}'"));
                return Err(wrong(format!(
                    "gives stream '{name}' the sync_mode {shown}: it must be 'full_refresh' or 'incremental'"
                )));
            }
        };
        if selected.iter().any(|seen| seen.stream.name == name) {
            return Err(wrong(format!(
                "lists the stream '{name}' twice: select each stream once"
            )));
        }
        selected.push(Selected {
            stream,
            asked_incremental,
        });
    }
    Ok(selected)
}

fn describe_root(raw: &Value) -> String {
    match raw {
        Value::Object(_) => "an object without it".into(),
        other => json_type(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, mode: &str) -> Value {
        json!({"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
               "sync_mode": mode, "destination_sync_mode": "overwrite", "future_field": 1})
    }

    #[test]
    fn selects_streams_in_catalog_order() {
        let raw = json!({"streams": [entry("orders", "full_refresh"), entry("customers", "incremental"),
                                     entry("products", "incremental")]});
        let selected = parse_configured("c.json", &raw).unwrap();
        assert_eq!(
            selected
                .iter()
                .map(|s| (s.stream.name, s.incremental(), s.incremental_unsupported()))
                .collect::<Vec<_>>(),
            [
                ("orders", false, false),
                ("customers", true, false),
                ("products", false, true)
            ]
        );
    }

    #[test]
    fn rejects_what_would_sync_the_wrong_thing() {
        let cases = [
            (
                json!({"streams": [entry("nope", "full_refresh")]}),
                "names the stream 'nope'",
            ),
            (
                json!({"streams": [entry("orders", "INVALID")]}),
                "sync_mode 'INVALID'",
            ),
            (
                json!({"streams": [entry("orders", "full_refresh"), entry("orders", "full_refresh")]}),
                "twice",
            ),
            (
                json!({"streams": [{"sync_mode": "full_refresh"}]}),
                "streams[0]",
            ),
            (json!([1]), "found an array"),
            (json!({"stream": []}), "an object without it"),
        ];
        for (raw, expected) in cases {
            let message = parse_configured("c.json", &raw).unwrap_err().to_string();
            assert!(
                message.contains(expected) && message.contains("c.json"),
                "{message}"
            );
        }
    }

    #[test]
    fn discovered_streams_are_complete() {
        let catalog = discover();
        let streams = catalog["streams"].as_array().unwrap();
        assert_eq!(streams.len(), STREAMS.len());
        for stream in streams {
            let name = stream["name"].as_str().unwrap();
            assert_eq!(
                stream["source_defined_primary_key"],
                json!([[streams::find(name).unwrap().primary_key()]])
            );
            assert_eq!(stream["json_schema"]["type"], "object");
            let incremental =
                stream["supported_sync_modes"] == json!(["full_refresh", "incremental"]);
            assert_eq!(
                incremental,
                [
                    "customers",
                    "orders",
                    "subscriptions",
                    "refunds",
                    "checkouts",
                    "customer_meters",
                    "events"
                ]
                .contains(&stream["name"].as_str().unwrap())
            );
            if incremental {
                assert_eq!(stream["default_cursor_field"], json!([UPDATED_AT]));
                assert!(stream["json_schema"]["properties"][DELETED_AT].is_object());
            }
        }
    }
}
