//! source-polar: an Airbyte source connector for Polar.sh.
//!
//! `main` parses the command line, starts the stdout writer and the async runtime, runs one command, and
//! turns its outcome into Airbyte messages and an exit code. Errors are typed inside the modules and become a
//! TRACE ERROR with the right `failure_type` here.
//!
//! The runtime is single-threaded: a sync waits on Polar's rate limit and latency, and handling a page costs
//! about a millisecond, so one thread multiplexes every request and parses every page, and the stdout writer
//! has its own thread. A second worker thread only added cross-thread wake-ups (about a fifth of the CPU).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use source_polar::cli::{Cli, Command};
use source_polar::client::{self, PolarClient};
use source_polar::config::{self, Config};
use source_polar::input::{self, InputError};
use source_polar::output::{Output, OutputClosed};
use source_polar::protocol::{FailureType, LogLevel, Message};
use source_polar::state::cursor;
use source_polar::tuning::Tuning;
use source_polar::{catalog, check, signals, state, streams, sync};

/// A command that failed as a whole: reported as one TRACE ERROR, exit code 1.
struct Failure {
    failure_type: FailureType,
    message: String,
}

impl Failure {
    fn config(message: impl Into<String>) -> Self {
        Failure {
            failure_type: FailureType::ConfigError,
            message: message.into(),
        }
    }
}

impl From<InputError> for Failure {
    fn from(error: InputError) -> Self {
        Failure::config(capitalized(&error.to_string()))
    }
}

enum Outcome {
    Done(ExitCode),
    Failed(Failure),
}

fn main() -> ExitCode {
    let cli = Cli::from_env();
    if let Command::Streams { .. } = cli.command {
        // A tool's command, not Airbyte's: one JSON document, no messages.
        let facts = serde_json::to_string_pretty(&source_polar::stream_facts::facts())
            .expect("the facts serialize");
        println!("{facts}");
        return ExitCode::SUCCESS;
    }
    let (output, writer) = Output::start(std::io::stdout(), cli.debug_enabled());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("source-polar: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        // Handlers for SIGTERM and SIGINT are installed before anything else: as PID 1 in a container (`docker
        // run` without `--init`), the process receives no signal it has no handler for.
        let stop = match signals::Stop::install() {
            Ok(stop) => stop,
            Err(error) => {
                eprintln!("source-polar: cannot handle SIGTERM and SIGINT: {error}");
                return Some(ExitCode::FAILURE);
            }
        };
        let outcome = tokio::select! {
            outcome = run(cli.command, &output) => outcome,
            signal = stop.received() => {
                // The command is dropped here: no more requests, and what it already sent to the writer
                // (whole messages, the last STATE of each stream among them) is flushed below.
                let said = tokio::time::timeout(
                    Duration::from_secs(2),
                    output.log(LogLevel::Warn, signal.message()),
                );
                let _ = said.await;
                return Some(signal.exit_code());
            }
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(OutputClosed) => return None,
        };
        match outcome {
            Outcome::Done(code) => Some(code),
            Outcome::Failed(failure) => {
                let sent = output
                    .send(&Message::error(
                        failure.failure_type,
                        &failure.message,
                        None,
                        None,
                    ))
                    .await;
                sent.ok().map(|()| ExitCode::FAILURE)
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(output);
    match (writer.finish(), code) {
        (Ok(()), Some(code)) => code,
        _ => {
            // Nobody reads stdout any more: stop quietly (one line for whoever reads stderr).
            eprintln!("source-polar: stdout was closed before the command finished; stopping");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, output: &Output) -> Result<Outcome, OutputClosed> {
    match command {
        Command::Spec => {
            output
                .send(&Message::Spec {
                    spec: config::spec(),
                })
                .await?;
            Ok(Outcome::Done(ExitCode::SUCCESS))
        }
        Command::Check { config } => check(&config, output).await,
        Command::Discover { config } => {
            if let Err(failure) = load_config(&config, output) {
                return Ok(Outcome::Failed(failure));
            }
            output
                .send(&Message::Catalog {
                    catalog: catalog::discover(),
                })
                .await?;
            Ok(Outcome::Done(ExitCode::SUCCESS))
        }
        Command::Read {
            config,
            catalog,
            state,
        } => read(&config, catalog.as_deref(), state.as_deref(), output).await,
        Command::Streams { .. } => unreachable!("answered before the runtime starts"),
    }
}

/// Reads and validates the config; from then on the output cuts the token out of whatever it writes.
fn load_config(path: &Path, output: &Output) -> Result<Config, Failure> {
    let raw = input::read_json_file("config", path)?;
    protect_token(&raw, output);
    Config::from_json(&raw).map_err(|error| {
        Failure::config(format!(
            "Config validation error in '{}': {error}",
            path.display()
        ))
    })
}

async fn check(path: &Path, output: &Output) -> Result<Outcome, OutputClosed> {
    let raw = match input::read_json_file("config", path) {
        Ok(raw) => raw,
        Err(error) => return Ok(Outcome::Failed(error.into())),
    };
    protect_token(&raw, output);
    let config = match Config::from_json(&raw) {
        Ok(config) => config,
        Err(error) => {
            output
                .send(&Message::connection_failed(format!(
                    "Config validation error: {error}"
                )))
                .await?;
            return Ok(Outcome::Done(ExitCode::SUCCESS));
        }
    };
    // A check answers within about a minute even when Polar is unreachable.
    let mut tuning = match Tuning::from_env() {
        Ok(tuning) => tuning,
        Err(error) => {
            return Ok(Outcome::Failed(Failure::config(capitalized(
                &error.to_string(),
            ))));
        }
    };
    tuning.max_attempts = tuning.max_attempts.min(3);
    tuning.max_retry_wait = tuning.max_retry_wait.min(Duration::from_secs(30));
    let client = match PolarClient::new(Arc::new(config), tuning, output.debug_enabled()) {
        Ok(client) => client,
        Err(error) => return Ok(Outcome::Failed(Failure::config(error.to_string()))),
    };
    match check::check(&client, output).await? {
        Ok(note) => {
            if let Some(note) = &note {
                output.log(LogLevel::Warn, note.clone()).await?;
            }
            output.send(&Message::connection_succeeded(note)).await?
        }
        Err(message) => output.send(&Message::connection_failed(message)).await?,
    }
    Ok(Outcome::Done(ExitCode::SUCCESS))
}

async fn read(
    config_path: &Path,
    catalog_path: Option<&Path>,
    state_path: Option<&Path>,
    output: &Output,
) -> Result<Outcome, OutputClosed> {
    let prepared = (|| -> Result<_, Failure> {
        let config = load_config(config_path, output)?;
        let streams: Vec<catalog::Selected> = match catalog_path {
            Some(path) => {
                let raw = input::read_json_file("catalog", path)?;
                catalog::parse_configured(&path.display().to_string(), &raw)?
            }
            None => streams::STREAMS
                .iter()
                .map(|stream| catalog::Selected {
                    stream,
                    asked_incremental: false,
                })
                .collect(),
        };
        let state = match state_path {
            Some(path) => state::parse(
                &path.display().to_string(),
                &input::read_json_or_lines("state", path)?,
            )?,
            None => state::ParsedState::default(),
        };
        let tuning =
            Tuning::from_env().map_err(|error| Failure::config(capitalized(&error.to_string())))?;
        // A state an incremental stream cannot start from is the user's to fix, before any request.
        let mut starts = HashMap::new();
        for selected in streams.iter().filter(|selected| selected.incremental()) {
            let start = cursor::start(
                selected.stream,
                client::PAGE_SIZE,
                state.streams.get(selected.stream.name),
            )
            .map_err(|problem| Failure::config(capitalized(&problem.to_string())))?;
            starts.insert(selected.stream.name, start);
        }
        Ok((config, streams, state, tuning, starts))
    })();
    let (config, streams, state, tuning, starts) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => return Ok(Outcome::Failed(failure)),
    };
    for ignored in &state.ignored {
        output
            .log(
                LogLevel::Warn,
                format!(
                    "Ignoring {ignored} in the input state: this connector reads only per-stream states (STREAM, or \
                     GLOBAL with stream_states); the streams it would have concerned start from their first page"
                ),
            )
            .await?;
    }
    let state = state.streams;
    let unsupported: Vec<&str> = streams
        .iter()
        .filter(|selected| selected.incremental_unsupported())
        .map(|selected| selected.stream.name)
        .collect();
    if !unsupported.is_empty() {
        output
            .log(
                LogLevel::Info,
                format!(
                    "Incremental sync was requested for {}, which Polar records no changes for: they are read in \
                     full",
                    unsupported.join(", ")
                ),
            )
            .await?;
    }
    if streams.is_empty() {
        output
            .log(
                LogLevel::Warn,
                "The catalog selects no streams: nothing to read",
            )
            .await?;
        return Ok(Outcome::Done(ExitCode::SUCCESS));
    }
    let lookback = config.lookback;
    let client = match PolarClient::new(Arc::new(config), tuning.clone(), output.debug_enabled()) {
        Ok(client) => Arc::new(client),
        Err(error) => return Ok(Outcome::Failed(Failure::config(error.to_string()))),
    };
    let outcome = sync::read(client, output, streams, starts, &state, &tuning, lookback).await?;
    if outcome.failed.is_empty() {
        return Ok(Outcome::Done(ExitCode::SUCCESS));
    }
    let failure_type = sync::overall_failure_type(&outcome.failed);
    let summary: Vec<String> = outcome
        .failed
        .iter()
        .map(|(name, error)| format!("{name}: {error}"))
        .collect();
    Ok(Outcome::Failed(Failure {
        failure_type,
        message: format!(
            "During the sync, these streams did not sync successfully: {}",
            summary.join(" | ")
        ),
    }))
}

/// Tells the output the config's token, valid or not, before anything could quote it.
fn protect_token(raw: &serde_json::Value, output: &Output) {
    if let Some(token) = raw
        .get("organization_access_token")
        .and_then(serde_json::Value::as_str)
    {
        output.protect(token);
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
