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
    #[error(
        "the {what} file '{path}' is not valid JSON (line {line}, column {column}): {reason}{hint}"
    )]
    NotJson {
        what: &'static str,
        path: String,
        line: usize,
        column: usize,
        reason: String,
        /// What the file should hold, where that helps (starts with ". ").
        hint: &'static str,
    },
    #[error("the {what} file '{path}' {problem}")]
    WrongShape {
        what: &'static str,
        path: String,
        problem: String,
    },
}

/// Reads `path` as JSON, or as JSON lines (one value per line, as a run's STATE messages are when picked out
/// of its output with `grep`), which it returns as an array.
pub fn read_json_or_lines(what: &'static str, path: &Path) -> Result<Value, InputError> {
    let bytes = read_bytes(what, path)?;
    let whole = parse_json(what, &path.display().to_string(), &bytes);
    let Err(InputError::NotJson {
        what,
        path,
        line,
        column,
        reason,
        ..
    }) = whole
    else {
        return whole;
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    if lines.len() >= 2 {
        let values: Option<Vec<Value>> = lines
            .iter()
            .map(|line| serde_json::from_str(line.trim_start_matches('\u{feff}')).ok())
            .collect();
        if let Some(values) = values {
            return Ok(Value::Array(values));
        }
    }
    Err(InputError::NotJson {
        what,
        path,
        line,
        column,
        reason,
        hint: ". It must hold a JSON array of STATE messages, or one STATE message per line (as \
               `grep '\"STATE\"' output.jsonl` picks them out of a run's output)",
    })
}

/// Reads `path` as JSON. `what` names the file's role in messages ("config", "catalog", "state").
pub fn read_json_file(what: &'static str, path: &Path) -> Result<Value, InputError> {
    let bytes = read_bytes(what, path)?;
    parse_json(what, &path.display().to_string(), &bytes)
}

fn read_bytes(what: &'static str, path: &Path) -> Result<Vec<u8>, InputError> {
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
    std::fs::read(path).map_err(unreadable)
}

/// Parses `bytes` as JSON; `path` is only for messages.
pub fn parse_json(what: &'static str, path: &str, bytes: &[u8]) -> Result<Value, InputError> {
    // Some editors save UTF-8 with a byte-order mark, which JSON does not allow but means nothing here.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
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
        hint: "",
    })
}

fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    // serde_json's words for syntax and end-of-input errors are fixed texts ("trailing comma", "expected `,` or
    // `}`", "EOF while parsing a string") that never quote the input; the position is given apart.
    let own_words = || {
        let text = error.to_string();
        text.split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    match error.classify() {
        Category::Eof => format!(
            "the JSON ends too early: {} (unclosed object, array or string)",
            own_words()
        ),
        Category::Syntax => own_words(),
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
