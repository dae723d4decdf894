//! The Airbyte protocol messages this source emits, and how each is framed as one JSON line.
//!
//! Every message leaves the process through [`crate::output`]; this module only turns values into bytes.
//! RECORD messages are framed by hand around the raw bytes Polar sent (see [`RecordFrame`]) so that records
//! pass through without being re-encoded; every other message goes through serde.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

/// Milliseconds since the Unix epoch, the unit of every `emitted_at`.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Airbyte's `failure_type`: who has to act on an error. (The names are the protocol's.)
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureType {
    /// The user must change something (config, token scopes, catalog).
    ConfigError,
    /// Retrying later may succeed (rate limits, outages).
    TransientError,
    /// Something unexpected: a bug here or an API answering off-contract.
    SystemError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Warn,
    Info,
    Debug,
}

/// A stream's lifecycle as Airbyte's STREAM_STATUS trace describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamStatus {
    Started,
    Running,
    Complete,
    Incomplete,
}

/// One Airbyte message other than RECORD.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Message {
    Log {
        log: LogBody,
    },
    Spec {
        spec: Value,
    },
    ConnectionStatus {
        #[serde(rename = "connectionStatus")]
        connection_status: ConnectionStatus,
    },
    Catalog {
        catalog: Value,
    },
    State {
        state: Value,
    },
    Trace {
        trace: Value,
    },
}

#[derive(Debug, Serialize)]
pub struct LogBody {
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ConnectionStatus {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Message {
    pub fn log(level: LogLevel, message: impl Into<String>) -> Self {
        Message::Log {
            log: LogBody {
                level,
                message: bounded(message.into()),
            },
        }
    }

    pub fn connection_succeeded(note: Option<String>) -> Self {
        Message::ConnectionStatus {
            connection_status: ConnectionStatus {
                status: "SUCCEEDED",
                message: note.map(bounded),
            },
        }
    }

    pub fn connection_failed(message: impl Into<String>) -> Self {
        Message::ConnectionStatus {
            connection_status: ConnectionStatus {
                status: "FAILED",
                message: Some(bounded(message.into())),
            },
        }
    }

    pub fn stream_status(stream: &str, status: StreamStatus) -> Self {
        Message::Trace {
            trace: json!({
                "type": "STREAM_STATUS",
                "emitted_at": now_millis(),
                "stream_status": {"stream_descriptor": {"name": stream}, "status": status},
            }),
        }
    }

    /// STREAM_STATUS RUNNING with reason RATE_LIMITED, as the CDK emits while it waits out a 429.
    pub fn rate_limited(stream: &str, quota_reset_millis: u64) -> Self {
        Message::Trace {
            trace: json!({
                "type": "STREAM_STATUS",
                "emitted_at": now_millis(),
                "stream_status": {
                    "stream_descriptor": {"name": stream},
                    "status": StreamStatus::Running,
                    "reasons": [{"type": "RATE_LIMITED", "rate_limited": {"quota_reset": quota_reset_millis}}],
                },
            }),
        }
    }

    pub fn estimate(stream: &str, row_estimate: u64) -> Self {
        Message::Trace {
            trace: json!({
                "type": "ESTIMATE",
                "emitted_at": now_millis(),
                "estimate": {"name": stream, "type": "STREAM", "row_estimate": row_estimate},
            }),
        }
    }

    /// A TRACE ERROR. `stream` is set when the error belongs to one stream.
    pub fn error(
        failure_type: FailureType,
        message: &str,
        internal_message: Option<&str>,
        stream: Option<&str>,
    ) -> Self {
        let mut error =
            json!({"message": bounded(message.to_owned()), "failure_type": failure_type});
        if let Some(internal) = internal_message {
            error["internal_message"] = json!(bounded(internal.to_owned()));
        }
        if let Some(stream) = stream {
            error["stream_descriptor"] = json!({"name": stream});
        }
        Message::Trace {
            trace: json!({"type": "ERROR", "emitted_at": now_millis(), "error": error}),
        }
    }

    /// A STREAM state: `stream_state` is the checkpoint, `record_count` the records emitted since the previous
    /// state of this stream.
    pub fn stream_state(stream: &str, stream_state: Value, record_count: u64) -> Self {
        Message::State {
            state: json!({
                "type": "STREAM",
                "stream": {"stream_descriptor": {"name": stream}, "stream_state": stream_state},
                // A double, as the protocol asks ("should always have a decimal point").
                "sourceStats": {"recordCount": record_count as f64},
            }),
        }
    }

    /// Appends this message and a newline to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        // Serializing these types cannot fail: they hold only strings, numbers and `Value`s.
        serde_json::to_writer(&mut *out, self).expect("Airbyte message serializes");
        out.push(b'\n');
    }
}

/// Frames RECORD lines of one stream emitted at one moment: the envelope's bytes before and after `data`
/// are built once, and each record is written as prefix, Polar's bytes, suffix.
pub struct RecordFrame {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// Records get Airbyte's CDC cursor field [`UPDATED_AT`] (see [`RecordFrame::write`]).
    pub cdc: bool,
}

/// The cursor field of a stream synced incrementally: when the record last changed (`modified_at`, or
/// `created_at` while Polar has not set `modified_at`), or, on a deletion record, when it was deleted. Added
/// to every record of such a stream, so a destination that keeps the latest version of each `id` always has
/// a value to order by.
pub const UPDATED_AT: &str = "_ab_cdc_updated_at";
/// Airbyte's deletion marker: set on the record that says `id` was deleted.
pub const DELETED_AT: &str = "_ab_cdc_deleted_at";

impl RecordFrame {
    pub fn new(stream: &str, emitted_at: u64, cdc: bool) -> RecordFrame {
        let mut prefix = b"{\"type\":\"RECORD\",\"record\":{\"stream\":".to_vec();
        serde_json::to_writer(&mut prefix, stream).expect("a string serializes");
        prefix.extend_from_slice(b",\"data\":");
        let suffix = format!(",\"emitted_at\":{emitted_at}}}}}\n").into_bytes();
        RecordFrame {
            prefix,
            suffix,
            cdc,
        }
    }

    /// Appends one RECORD line to `out`, with `data` (the text of one JSON value) exactly as Polar sent it.
    ///
    /// A raw value keeps the server's whitespace; JSON whitespace may include line breaks, which would break
    /// the one-message-per-line framing, so unless the caller knows `data` is `single_line` (Polar answers
    /// compact JSON) it is checked, and an item with line breaks has its whitespace between tokens dropped.
    /// Every token, numbers and strings included, stays byte for byte.
    ///
    /// `updated` (raw JSON, for a frame with `cdc`) is added as the object's last field [`UPDATED_AT`].
    pub fn write(&self, out: &mut Vec<u8>, data: &str, single_line: bool, updated: Option<&str>) {
        out.reserve(self.prefix.len() + data.len() + self.suffix.len() + 48);
        out.extend_from_slice(&self.prefix);
        let start = out.len();
        if single_line || memchr::memchr2(b'\n', b'\r', data.as_bytes()).is_none() {
            out.extend_from_slice(data.as_bytes());
        } else {
            write_without_whitespace(out, data.as_bytes());
        }
        if let Some(updated) = updated.filter(|_| self.cdc) {
            // `data` is an object with at least its `id`: its last byte is the closing brace.
            if out.len() > start && out.last() == Some(&b'}') {
                out.pop();
                out.extend_from_slice(b",\"");
                out.extend_from_slice(UPDATED_AT.as_bytes());
                out.extend_from_slice(b"\":");
                out.extend_from_slice(updated.as_bytes());
                out.push(b'}');
            }
        }
        out.extend_from_slice(&self.suffix);
    }

    /// Appends the RECORD line of a deletion: `{"id": id, _ab_cdc_updated_at: updated, _ab_cdc_deleted_at:
    /// deleted}` (the cursor may be later than the deletion: see `incremental::read_changes`).
    pub fn write_deletion(&self, out: &mut Vec<u8>, id: &str, updated: &str, deleted: &str) {
        let data = json!({"id": id, UPDATED_AT: updated, DELETED_AT: deleted});
        out.extend_from_slice(&self.prefix);
        serde_json::to_writer(&mut *out, &data).expect("a deletion serializes");
        out.extend_from_slice(&self.suffix);
    }
}

/// Copies valid JSON `text` to `out` without the whitespace between tokens (inside strings nothing changes:
/// a raw newline cannot occur there, JSON escapes it).
fn write_without_whitespace(out: &mut Vec<u8>, text: &[u8]) {
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
            in_string = byte == b'"';
            out.push(byte);
        }
    }
}

/// `text`, at most `max_chars` characters of it, with `...` where it was cut: for what messages quote of a
/// server's answers.
pub fn shortened(text: &str, max_chars: usize) -> String {
    let mut cut: String = text.chars().take(max_chars).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

/// The most characters a message for people (a LOG, a TRACE error, a connection status) holds: whatever it
/// quotes (a state blob, a server's body), a message stays readable and a line stays small.
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// `message`, cut to [`MAX_MESSAGE_CHARS`] with a note of how much was left out.
fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE_CHARS {
        return message;
    }
    let total = message.chars().count();
    if total <= MAX_MESSAGE_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push_str(&format!(
        "... ({} more characters)",
        total - MAX_MESSAGE_CHARS
    ));
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn record_keeps_numbers_byte_for_byte_and_stays_on_one_line() {
        let raw: Box<RawValue> =
            serde_json::from_str("{\n  \"id\": \"a b\",\n  \"n\": 1.50,\r\n \"big\": 123456789012345678901234, \"s\": \"x\\\" \\n y\"\n}").unwrap();
        let mut out = Vec::new();
        RecordFrame::new("orders", 7, false).write(&mut out, raw.get(), false, None);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"orders\",\"data\":{\"id\":\"a b\",\"n\":1.50,\"big\":123456789012345678901234,\"s\":\"x\\\" \\n y\"},\"emitted_at\":7}}\n"
        );
    }

    #[test]
    fn compact_record_passes_through_untouched() {
        let raw: Box<RawValue> = serde_json::from_str("{\"id\":\"x\",\"a\":[1, 2]}").unwrap();
        let mut out = Vec::new();
        RecordFrame::new("products", 1, false).write(&mut out, raw.get(), true, None);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("\"data\":{\"id\":\"x\",\"a\":[1, 2]}")
        );
    }
}
