//! The input state `read --state` is given, in every form Airbyte clients send, reduced to one checkpoint
//! per stream.
//!
//! Accepted: `[]`, `{}`, `null`, a list of STATE messages (type STREAM, or GLOBAL with `stream_states`,
//! with or without the `type` field, PyAirbyte's `"global_": null` included), or one such message alone.
//! Entries that are not stream states (legacy blobs) carry no checkpoint for a full-refresh source and are
//! ignored.

use std::collections::HashMap;

use serde_json::Value;

use crate::input::{InputError, json_type};

/// Each stream's last `stream_state`, by stream name.
pub type InputState = HashMap<String, Value>;

/// The input state, and what of it this connector does not use (for a WARN each, never silently).
#[derive(Debug, Default)]
pub struct ParsedState {
    pub streams: InputState,
    pub ignored: Vec<String>,
}

pub fn parse(path: &str, raw: &Value) -> Result<ParsedState, InputError> {
    let wrong = |problem: String| InputError::WrongShape {
        what: "state",
        path: path.to_owned(),
        problem,
    };
    let mut states = InputState::new();
    let mut ignored = Vec::new();
    let messages: Vec<&Value> = match raw {
        Value::Null => Vec::new(),
        Value::Array(messages) => messages.iter().collect(),
        Value::Object(object) if object.is_empty() => Vec::new(),
        Value::Object(_) => vec![raw],
        other => {
            return Err(wrong(format!(
                "must be a JSON array of state messages, found {}",
                json_type(other)
            )));
        }
    };
    for (index, message) in messages.into_iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(wrong(format!(
                "has {} at [{index}] where a state message belongs",
                json_type(message)
            )));
        };
        // A whole AirbyteMessage ({"type": "STATE", "state": {...}}) or just its `state`.
        let state = match message.get("state") {
            Some(Value::Object(state)) => state,
            _ => message,
        };
        let mut stream_states: Vec<&Value> = state
            .get("stream")
            .into_iter()
            .filter(|stream| !stream.is_null())
            .collect();
        for key in ["global", "global_"] {
            let Some(global) = state.get(key).filter(|global| !global.is_null()) else {
                continue;
            };
            if let Some(list) = global.get("stream_states").and_then(Value::as_array) {
                stream_states.extend(list);
            }
            if global.get("shared_state").is_some_and(|shared| {
                !shared.is_null() && shared != &Value::Object(Default::default())
            }) {
                ignored.push(format!("the GLOBAL state's 'shared_state' at [{index}]"));
            }
        }
        if stream_states.is_empty() {
            // A legacy state object ({"orders": {...}}, or type LEGACY with `data`): nothing per stream here.
            let keys: Vec<&str> = state.keys().map(String::as_str).take(8).collect();
            ignored.push(format!(
                "a state at [{index}] that is neither a STREAM nor a GLOBAL state (keys: {})",
                keys.join(", ")
            ));
        }
        for stream_state in stream_states {
            let Some(name) = stream_state
                .pointer("/stream_descriptor/name")
                .and_then(Value::as_str)
            else {
                if stream_state.is_null() {
                    continue;
                }
                return Err(wrong(format!(
                    "has a stream state without 'stream_descriptor.name' at [{index}]"
                )));
            };
            let blob = stream_state
                .get("stream_state")
                .cloned()
                .unwrap_or(Value::Null);
            states.insert(name.to_owned(), blob);
        }
    }
    Ok(ParsedState {
        streams: states,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_form_clients_send() {
        for empty in [json!([]), json!({}), json!(null)] {
            let parsed = parse("s.json", &empty).unwrap();
            assert!(parsed.streams.is_empty() && parsed.ignored.is_empty());
        }
        let stream = json!({"stream_descriptor": {"name": "orders"}, "stream_state": {"page": 3}});
        let forms = [
            json!([{"type": "STREAM", "stream": stream}]),
            json!([{"type": "STATE", "state": {"type": "STREAM", "stream": stream}}]),
            json!([{"type": "STREAM", "stream": stream, "global_": null, "data": null, "sourceStats": null}]),
            json!({"type": "STREAM", "stream": stream}),
            json!([{"type": "GLOBAL", "global": {"shared_state": {}, "stream_states": [stream]}}]),
        ];
        for form in forms {
            let parsed = parse("s.json", &form).unwrap();
            assert_eq!(parsed.streams["orders"], json!({"page": 3}), "{form}");
            assert!(parsed.ignored.is_empty(), "{form}: {:?}", parsed.ignored);
        }
    }

    #[test]
    fn what_is_not_used_is_named() {
        let legacy = parse("s.json", &json!({"orders": {"cursor": 1}, "refunds": {}})).unwrap();
        assert!(legacy.streams.is_empty());
        assert_eq!(legacy.ignored.len(), 1);
        assert!(
            legacy.ignored[0].contains("neither a STREAM nor a GLOBAL"),
            "{:?}",
            legacy.ignored
        );
        assert!(legacy.ignored[0].contains("orders") && legacy.ignored[0].contains("refunds"));
        let global = json!([{"type": "GLOBAL", "global": {"shared_state": {"cdc": 1},
            "stream_states": [{"stream_descriptor": {"name": "orders"}, "stream_state": {"page": 2}}]}}]);
        let parsed = parse("s.json", &global).unwrap();
        assert_eq!(parsed.streams["orders"], json!({"page": 2}));
        assert_eq!(parsed.ignored, ["the GLOBAL state's 'shared_state' at [0]"]);
    }

    #[test]
    fn rejects_what_cannot_be_state() {
        assert!(
            parse("s.json", &json!("x"))
                .unwrap_err()
                .to_string()
                .contains("s.json")
        );
        assert!(parse("s.json", &json!([1])).is_err());
        assert!(
            parse(
                "s.json",
                &json!([{"type": "STREAM", "stream": {"stream_state": {}}}])
            )
            .is_err()
        );
    }
}
