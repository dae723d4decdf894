//! The catalog in both directions: the one `discover` announces, and the configured catalog `read` is given.

use serde_json::{Value, json};

use crate::input::{InputError, json_type};
use crate::streams::{self, STREAMS, StreamDef};

/// The CATALOG message's `catalog`: every stream, full refresh, primary key `id`, resumable.
pub fn discover() -> Value {
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|stream| {
            let schema: Value =
                serde_json::from_str(stream.schema).expect("embedded schemas are valid JSON");
            json!({
                "name": stream.name,
                "description": stream.description,
                "json_schema": schema,
                "supported_sync_modes": ["full_refresh"],
                "source_defined_primary_key": [["id"]],
                "is_resumable": true,
            })
        })
        .collect();
    json!({ "streams": streams })
}

/// The streams a configured catalog selects, in its order, after checking its shape.
///
/// Lenient where Airbyte clients differ (unknown fields, empty `json_schema`, `incremental` on a stream that
/// only supports full refresh: PyAirbyte asks for it by default and gets a full refresh); strict where a
/// mistake would silently sync the wrong thing (unknown or duplicate streams, invalid sync modes).
pub fn parse_configured(path: &str, raw: &Value) -> Result<Vec<&'static StreamDef>, InputError> {
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
    let mut selected: Vec<&'static StreamDef> = Vec::with_capacity(entries.len());
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
        match entry.get("sync_mode") {
            None | Some(Value::Null) => {}
            Some(Value::String(mode)) if mode == "full_refresh" || mode == "incremental" => {}
            Some(other) => {
                let shown = other
                    .as_str()
                    .map_or_else(|| json_type(other).to_owned(), |mode| format!("'{mode}'"));
                return Err(wrong(format!(
                    "gives stream '{name}' the sync_mode {shown}: it must be 'full_refresh' (or 'incremental', \
                     read as a full refresh)"
                )));
            }
        }
        if selected.iter().any(|seen| seen.name == name) {
            return Err(wrong(format!(
                "lists the stream '{name}' twice: select each stream once"
            )));
        }
        selected.push(stream);
    }
    Ok(selected)
}

/// Whether any selected stream asked for an incremental sync (read as a full refresh, and logged).
pub fn asks_incremental(raw: &Value) -> bool {
    raw.get("streams")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries
                .iter()
                .any(|entry| entry.get("sync_mode") == Some(&json!("incremental")))
        })
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
        let raw = json!({"streams": [entry("orders", "full_refresh"), entry("customers", "incremental")]});
        let selected = parse_configured("c.json", &raw).unwrap();
        assert_eq!(
            selected.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["orders", "customers"]
        );
        assert!(asks_incremental(&raw));
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
        assert_eq!(streams.len(), 8);
        for stream in streams {
            assert_eq!(stream["source_defined_primary_key"], json!([["id"]]));
            assert_eq!(stream["json_schema"]["type"], "object");
        }
    }
}
