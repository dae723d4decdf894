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

pub fn parse(path: &str, raw: &Value) -> Result<InputState, InputError> {
    let wrong = |problem: String| InputError::WrongShape {
        what: "state",
        path: path.to_owned(),
        problem,
    };
    let mut states = InputState::new();
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
        let mut stream_states: Vec<&Value> = state.get("stream").into_iter().collect();
        for key in ["global", "global_"] {
            if let Some(list) = state
                .get(key)
                .and_then(|global| global.get("stream_states"))
                .and_then(Value::as_array)
            {
                stream_states.extend(list);
            }
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
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_form_clients_send() {
        for empty in [json!([]), json!({}), json!(null)] {
            assert!(parse("s.json", &empty).unwrap().is_empty());
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
            let states = parse("s.json", &form).unwrap();
            assert_eq!(states["orders"], json!({"page": 3}), "{form}");
        }
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
