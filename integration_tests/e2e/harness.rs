//! Running the connector and checking what it printed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{LazyLock, OnceLock};

use jsonschema::Validator;
use serde_json::{Value, json};

pub use fake_polar::{
    Answer, Churn, FakePolar, Fault, FaultKind, FixedWindow, Hostile, Options, TOKEN,
};

/// The list streams, in the connector's order (the fake's list is the same); the connector's last stream,
/// `metrics`, is not a list (see [`PERIODS`]).
pub use fake_polar::data::STREAMS;

/// The streams that are not lists (Polar's metrics, a period per day), by the stream table.
pub static PERIODS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    source_polar::streams::STREAMS
        .iter()
        .filter(|stream| stream.shape != source_polar::streams::Shape::List)
        .map(|stream| stream.name)
        .collect()
});

/// The streams that sync incrementally (Polar gives a signal for their changes), by the stream table.
pub static INCREMENTAL: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    source_polar::streams::STREAMS
        .iter()
        .filter(|stream| stream.incremental.is_some())
        .map(|stream| stream.name)
        .collect()
});

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One of Airbyte's reference files: from `../shared/airbyte/` beside the repository when it is there (the
/// project's ground truth), else the copy kept in `integration_tests/airbyte/`.
pub fn airbyte_file(name: &str) -> PathBuf {
    let shared = repo().join("../shared/airbyte").join(name);
    if shared.exists() {
        shared
    } else {
        repo().join("integration_tests/airbyte").join(name)
    }
}

/// What one run of the connector printed.
#[derive(Debug)]
pub struct Run {
    pub messages: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// A scratch directory holding the files of one test.
pub struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn json(&self, name: &str, value: &Value) -> PathBuf {
        self.text(name, &value.to_string())
    }

    pub fn text(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs `source-polar` with `args` (and extra environment), with quick retry settings for tests.
pub fn run(args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_source-polar"));
    for arg in args {
        command.arg(arg);
    }
    command
        .env("SOURCE_POLAR_BACKOFF_BASE_MS", "20")
        .env("SOURCE_POLAR_BACKOFF_MAX_MS", "200")
        .env("SOURCE_POLAR_REQUEST_TIMEOUT_MS", "5000")
        .env_remove("LOG_LEVEL")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = output_within(command, RUN_LIMIT);
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
    let messages = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"))
        })
        .collect();
    Run {
        messages,
        stdout,
        stderr,
        code: output.status.code().unwrap_or(-1),
    }
}

/// Longer than any test's sync takes, even on a loaded machine: a process still running then is stuck.
const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs `command` to completion like `Command::output`, but kills it and fails the test if it outlives
/// `limit` (a hang must fail, not stall the suite).
fn output_within(mut command: Command, limit: std::time::Duration) -> std::process::Output {
    use std::io::Read;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run source-polar");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for source-polar") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("source-polar did not finish within {limit:?}: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader").expect("read stdout"),
        stderr: stderr.join().expect("stderr reader").expect("read stderr"),
    }
}

/// `read` with a config, optionally a catalog and a state.
pub fn read(config: &Path, catalog: Option<&Path>, state: Option<&Path>) -> Run {
    read_with_env(config, catalog, state, &[])
}

pub fn read_with_env(
    config: &Path,
    catalog: Option<&Path>,
    state: Option<&Path>,
    env: &[(&str, &str)],
) -> Run {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"read", &"--config", &config];
    if let Some(catalog) = catalog.as_ref() {
        args.push(&"--catalog");
        args.push(catalog);
    }
    if let Some(state) = state.as_ref() {
        args.push(&"--state");
        args.push(state);
    }
    run(&args, env)
}

/// A configured catalog selecting `streams`.
pub fn catalog(streams: &[&str]) -> Value {
    json!({"streams": streams.iter().map(|name| json!({
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh",
        "destination_sync_mode": "overwrite",
    })).collect::<Vec<_>>()})
}

fn protocol_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = airbyte_file("airbyte_protocol.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let protocol: Value = serde_json::from_str(&text).expect("the protocol is JSON");
        let schema =
            json!({"$ref": "#/definitions/AirbyteMessage", "definitions": protocol["definitions"]});
        jsonschema::draft7::new(&schema).expect("the protocol schema compiles")
    })
}

impl Run {
    /// The compliance check every test's output passes.
    pub fn compliant(&self) -> &Self {
        let validator = protocol_validator();
        for message in &self.messages {
            if let Err(error) = validator.validate(message) {
                panic!("not a valid AirbyteMessage ({error}): {message}");
            }
        }
        assert!(
            !self.stdout.contains(TOKEN) && !self.stderr.contains(TOKEN),
            "the token leaked:\n{}{}",
            self.stdout,
            self.stderr
        );
        // Any eight characters of its secret part are a leak too (a proxy may cut or encode what it echoes).
        let secret = TOKEN.trim_start_matches("polar_oat_").as_bytes();
        for piece in secret.windows(8) {
            let piece = std::str::from_utf8(piece).expect("ASCII");
            assert!(
                !self.stdout.contains(piece) && !self.stderr.contains(piece),
                "part of the token ({piece}) leaked:\n{}{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }

    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|message| message["type"] == kind)
            .collect()
    }

    pub fn records(&self, stream: &str) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|message| message["type"] == "RECORD" && message["record"]["stream"] == stream)
            .map(|message| &message["record"]["data"])
            .collect()
    }

    /// Ids of the records of `stream`, asserting none came twice.
    pub fn record_ids(&self, stream: &str) -> Vec<String> {
        let ids: Vec<String> = self
            .records(stream)
            .iter()
            .map(|data| data["id"].as_str().expect("string id").to_owned())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            assert!(seen.insert(id), "{stream}: id {id} delivered twice");
        }
        ids
    }

    /// The message of the first TRACE ERROR (the run must have one).
    pub fn error_message(&self) -> String {
        let errors = self.trace_errors();
        let error = errors
            .first()
            .unwrap_or_else(|| panic!("no TRACE ERROR in:\n{}", self.stdout));
        error["message"].as_str().expect("a message").to_owned()
    }

    pub fn trace_errors(&self) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
            .map(|m| &m["trace"]["error"])
            .collect()
    }

    pub fn statuses(&self, stream: &str) -> Vec<String> {
        self.messages
            .iter()
            .filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "STREAM_STATUS")
            .filter(|m| m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream)
            .filter(|m| m["trace"]["stream_status"].get("reasons").is_none())
            .map(|m| {
                m["trace"]["stream_status"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// The stream's messages reduced to a sequence of kinds: STARTED, RUNNING, RECORD, STATE, COMPLETE...
    /// (consecutive RECORDs and LOG/ESTIMATE messages folded away).
    pub fn sequence(&self, stream: &str) -> Vec<String> {
        let mut kinds: Vec<String> = Vec::new();
        for message in &self.messages {
            let kind = match message["type"].as_str().unwrap() {
                "RECORD" if message["record"]["stream"] == stream => "RECORD".to_owned(),
                "STATE" if message["state"]["stream"]["stream_descriptor"]["name"] == stream => {
                    "STATE".to_owned()
                }
                "TRACE"
                    if message["trace"]["type"] == "STREAM_STATUS"
                        && message["trace"]["stream_status"]["stream_descriptor"]["name"]
                            == stream =>
                {
                    message["trace"]["stream_status"]["status"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                }
                "TRACE"
                    if message["trace"]["type"] == "ERROR"
                        && message["trace"]["error"]["stream_descriptor"]["name"] == stream =>
                {
                    "ERROR".to_owned()
                }
                _ => continue,
            };
            if kinds.last() != Some(&kind) || (kind != "RECORD" && kind != "STATE") {
                kinds.push(kind);
            }
        }
        kinds
    }

    /// The sum of `sourceStats.recordCount` over the stream's STATE messages.
    pub fn state_record_count(&self, stream: &str) -> f64 {
        self.of_type("STATE")
            .iter()
            .filter(|m| m["state"]["stream"]["stream_descriptor"]["name"] == stream)
            .map(|m| {
                m["state"]["sourceStats"]["recordCount"]
                    .as_f64()
                    .expect("recordCount")
            })
            .sum()
    }

    pub fn last_states(&self) -> Value {
        let mut last: BTreeMap<String, Value> = BTreeMap::new();
        for message in self.of_type("STATE") {
            let name = message["state"]["stream"]["stream_descriptor"]["name"]
                .as_str()
                .unwrap()
                .to_owned();
            last.insert(name, message["state"].clone());
        }
        Value::Array(last.into_values().collect())
    }
}

/// Compares delivered records with the server's objects as multisets, by id and content.
/// Records of a stream synced incrementally carry `_ab_cdc_updated_at`: it must be `modified_at`, or
/// `created_at` while that is null, and is left out of the comparison.
pub fn assert_same_records(run: &Run, server: &FakePolar, stream: &str) {
    let delivered: HashMap<String, Value> = run
        .records(stream)
        .into_iter()
        .map(|data| {
            let mut data = data.clone();
            if let Some(cursor) = data.as_object_mut().unwrap().remove("_ab_cdc_updated_at") {
                // `modified_at`, else `created_at`; an event's `timestamp`.
                let expected = ["modified_at", "created_at", "timestamp"]
                    .iter()
                    .map(|field| &data[*field])
                    .find(|value| !value.is_null())
                    .unwrap_or(&Value::Null);
                assert_eq!(&cursor, expected, "{stream}: the cursor is the last change");
            }
            (data["id"].as_str().unwrap().to_owned(), data)
        })
        .collect();
    assert_eq!(
        delivered.len(),
        run.records(stream).len(),
        "{stream}: duplicate ids"
    );
    let expected = server.objects(stream);
    assert_eq!(delivered.len(), expected.len(), "{stream}: record count");
    for object in &expected {
        let id = object["id"].as_str().unwrap();
        assert_eq!(
            delivered.get(id),
            Some(object),
            "{stream}: record {id} differs or is missing"
        );
    }
}

/// Every record of `stream` that existed before the sync (`before`) and was not deleted by the server's churn
/// during it arrived, and none twice.
pub fn assert_survivors_delivered(run: &Run, server: &FakePolar, stream: &str, before: &[String]) {
    let (deleted, _) = server.churned();
    let delivered: std::collections::HashSet<String> = run.record_ids(stream).into_iter().collect();
    for id in before.iter().filter(|id| !deleted.contains(id)) {
        assert!(
            delivered.contains(id),
            "{stream}: {id} lived through the sync but was not delivered"
        );
    }
}

/// A config file for `server`.
pub fn config_file(files: &Files, server: &FakePolar) -> PathBuf {
    files.json("config.json", &server.config())
}

/// A destination in "Incremental | Append + Deduped" mode: per stream, the latest version of each `id` by the
/// cursor `_ab_cdc_updated_at` (later messages win ties), deletions applied.
#[derive(Debug, Default)]
pub struct Destination {
    pub tables: HashMap<String, HashMap<String, Value>>,
}

impl Destination {
    /// Merges the records of a run.
    pub fn merge(&mut self, run: &Run) {
        for message in run.of_type("RECORD") {
            let stream = message["record"]["stream"].as_str().unwrap().to_owned();
            let data = &message["record"]["data"];
            let id = data["id"]
                .as_str()
                .expect("every record has an id")
                .to_owned();
            let cursor = data["_ab_cdc_updated_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.timestamp_micros());
            let table = self.tables.entry(stream).or_default();
            let current = table.get(&id).and_then(|row| {
                row["_ab_cdc_updated_at"]
                    .as_str()
                    .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                    .map(|at| at.timestamp_micros())
            });
            if current.is_some_and(|current| cursor.is_none_or(|cursor| cursor < current)) {
                continue;
            }
            table.insert(id, data.clone());
        }
    }

    /// The table of `stream` without deleted rows, each row without Airbyte's CDC fields.
    pub fn rows(&self, stream: &str) -> HashMap<String, Value> {
        self.tables
            .get(stream)
            .into_iter()
            .flatten()
            .filter(|(_, row)| row["_ab_cdc_deleted_at"].is_null())
            .map(|(id, row)| {
                let mut row = row.clone();
                let fields = row.as_object_mut().unwrap();
                fields.remove("_ab_cdc_updated_at");
                fields.remove("_ab_cdc_deleted_at");
                (id.clone(), row)
            })
            .collect()
    }

    /// The table of `stream` equals the server's objects, except the ids in `unsettled` (changed while the
    /// sync ran: either version may be there).
    pub fn assert_equals_server(&self, server: &FakePolar, stream: &str, unsettled: &[String]) {
        let rows = self.rows(stream);
        let objects: HashMap<String, Value> = server
            .objects(stream)
            .into_iter()
            .map(|object| (object["id"].as_str().unwrap().to_owned(), object))
            .collect();
        for (id, object) in &objects {
            if unsettled.contains(id) {
                continue;
            }
            assert_eq!(
                rows.get(id),
                Some(object),
                "{stream}: row {id} differs from Polar's"
            );
        }
        for id in rows.keys() {
            assert!(
                objects.contains_key(id) || unsettled.contains(id),
                "{stream}: row {id} was deleted in Polar but is still in the destination"
            );
        }
    }
}

/// The state to pass to the next sync: the earlier state's streams, updated by the last STATE of each stream
/// in `run` (as Airbyte keeps it).
pub fn next_state(earlier: &Value, run: &Run) -> Value {
    let mut by_stream: BTreeMap<String, Value> = BTreeMap::new();
    for state in earlier
        .as_array()
        .into_iter()
        .flatten()
        .chain(run.last_states().as_array().unwrap())
    {
        let name = state["stream"]["stream_descriptor"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        by_stream.insert(name, state.clone());
    }
    Value::Array(by_stream.into_values().collect())
}
