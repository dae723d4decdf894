//! Reading the JSON files Airbyte hands us (config, catalog, state), with errors that name the file and the
//! problem instead of a serde dump.

use std::path::Path;

use serde_json::Value;

/// Larger inputs are rejected before parsing: no real config, catalog or state comes near this.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Why an input file could not be used; the message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the {what} file '{path}': {source}")]
    Unreadable {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the {what} file '{path}' is {size} bytes, more than the {MAX_INPUT_BYTES} bytes a {what} can be"
    )]
    TooLarge {
        what: &'static str,
        path: String,
        size: u64,
    },
    #[error("the {what} file '{path}' is empty: it must hold a JSON object")]
    Empty { what: &'static str, path: String },
    #[error("the {what} file '{path}' is not valid JSON (line {line}, column {column}): {reason}")]
    NotJson {
        what: &'static str,
        path: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("the {what} file '{path}' {problem}")]
    WrongShape {
        what: &'static str,
        path: String,
        problem: String,
    },
}

/// Reads `path` as JSON. `what` names the file's role in messages ("config", "catalog", "state").
pub fn read_json_file(what: &'static str, path: &Path) -> Result<Value, InputError> {
    let shown = path.display().to_string();
    let unreadable = |source| InputError::Unreadable {
        what,
        path: shown.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            what,
            path: shown,
            size,
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    parse_json(what, &shown, &bytes)
}

/// Parses `bytes` as JSON; `path` is only for messages.
pub fn parse_json(what: &'static str, path: &str, bytes: &[u8]) -> Result<Value, InputError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty {
            what,
            path: path.to_owned(),
        });
    }
    serde_json::from_slice(bytes).map_err(|error| InputError::NotJson {
        what,
        path: path.to_owned(),
        line: error.line(),
        column: error.column(),
        // serde_json's message may quote part of the input; keep only its classification, which never holds
        // input text, so that a malformed config cannot echo its token.
        reason: describe_json_error(&error),
    })
}

fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Eof => "the JSON ends too early (unclosed object, array or string)".into(),
        Category::Syntax => "syntax error".into(),
        Category::Data => "unexpected data".into(),
        Category::Io => "read error".into(),
    }
}

/// The JSON type of `value`, for messages such as "expected a string, found a number".
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
