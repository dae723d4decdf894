//! The command line: the four Airbyte commands and their options, with the help users read.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Airbyte source for Polar.sh.
///
/// Every command writes Airbyte protocol messages to stdout, one JSON object per line, and nothing else.
#[derive(Debug, Parser)]
#[command(name = "source-polar", version, propagate_version = true)]
pub struct Cli {
    /// Log every API request (method, path, status, latency) as DEBUG messages. Also on when the environment
    /// variable LOG_LEVEL is "debug", as the Airbyte platform sets it.
    #[arg(long, global = true)]
    pub debug: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the connector's specification: the config fields it accepts.
    Spec,
    /// Check a config: validate it, then verify with Polar that the token works and holds every scope.
    ///
    /// Exits 0 with CONNECTION_STATUS SUCCEEDED or FAILED (the message says what to fix).
    Check {
        /// The config file (JSON): organization_access_token, server, base_url, requests_per_minute.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the catalog: every stream with its JSON schema and sync modes.
    Discover {
        /// The config file (JSON), validated but not used to call Polar.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Sync the catalog's streams (all of them without --catalog) as RECORD messages, with progress, states and
    /// statuses. Exits non-zero if any stream failed.
    Read {
        /// The config file (JSON).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The configured catalog (JSON) selecting the streams; without it, every stream is read.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// The state of a previous attempt (JSON list of STATE messages): streams resume from their checkpoint.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// For tools, not Airbyte: print the stream table (paths, scopes, sorting, filters, sync modes, change
    /// events) as one JSON document.
    Streams {
        /// Print JSON (the only form today; required so that a later text form stays compatible).
        #[arg(long, required = true)]
        json: bool,
    },
}

impl Cli {
    /// The command line of this process, with the help naming every stream of the stream table.
    pub fn from_env() -> Cli {
        let streams: Vec<&str> = crate::streams::STREAMS
            .iter()
            .map(|stream| stream.name)
            .collect();
        let about = format!(
            "Airbyte source for Polar.sh: syncs {} and {}.",
            streams[..streams.len() - 1].join(", "),
            streams[streams.len() - 1]
        );
        let long_about = format!(
            "{about}\n\nEvery command writes Airbyte protocol messages to stdout, one JSON object per line, and \
             nothing else."
        );
        let matches = <Cli as clap::CommandFactory>::command()
            .about(about)
            .long_about(long_about)
            .get_matches();
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
            .unwrap_or_else(|error| error.exit())
    }

    /// Whether DEBUG logging is on: `--debug`, or `LOG_LEVEL=debug` in the environment.
    pub fn debug_enabled(&self) -> bool {
        self.debug
            || std::env::var("LOG_LEVEL")
                .is_ok_and(|level| level.trim().eq_ignore_ascii_case("debug"))
    }
}
