//! `fake-polar`: run the Polar-like server, or watch a whole demo sync against it.
//!
//! - `fake-polar serve`: serve generated data on 127.0.0.1 until interrupted (for `docker run`, PyAirbyte or
//!   manual runs of the connector).
//! - `fake-polar demo`: start the server, run `source-polar read` (the binary next to this one) against it,
//!   and show the sync as it happens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fake_polar::{FakePolar, Options};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "A local server that behaves like Polar's list API, for tests and demos")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Serve generated data until interrupted.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Rounds of changes (records created, updated and deleted, with their system events) made at start,
        /// so that the events feed and changed records are served too.
        #[arg(long, default_value_t = 0)]
        change_rounds: usize,
    },
    /// Run a demo sync: start the server, run source-polar read against it, show what happens.
    Demo {
        #[command(flatten)]
        data: DataArgs,
        /// Print every RECORD message instead of a sample.
        #[arg(long)]
        all_records: bool,
    },
}

#[derive(clap::Args)]
struct DataArgs {
    /// Records per stream (organizations get one, as an organization token sees only its own).
    #[arg(long, default_value_t = 250)]
    records: usize,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Requests per minute before 429 Too Many Requests (0: no limit).
    #[arg(long, default_value_t = 0)]
    rate_limit: u32,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

impl DataArgs {
    fn options(&self, port: u16) -> Options {
        let mut options = Options::with_records(self.records).count("organizations", 1);
        options.latency = Duration::from_millis(self.latency_ms);
        options.rate_limit_per_minute = (self.rate_limit > 0).then_some(self.rate_limit);
        options.seed = self.seed;
        options.port = port;
        options
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Mode::Serve {
            data,
            port,
            change_rounds,
        } => {
            let server = FakePolar::start(data.options(port));
            for round in 0..change_rounds {
                server.change_round(round);
            }
            println!(
                "fake Polar API on {} (token {})",
                server.url(),
                fake_polar::TOKEN
            );
            println!("config: {}", server.config());
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Mode::Demo { data, all_records } => demo(&data, all_records),
    }
}

fn demo(data: &DataArgs, all_records: bool) -> anyhow::Result<()> {
    let connector = sibling("source-polar")?;
    let server = FakePolar::start(data.options(0));
    let dir = std::env::temp_dir().join(format!("source-polar-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("config.json");
    let mut config = server.config();
    if data.rate_limit > 0 {
        config["requests_per_minute"] = data.rate_limit.into();
    }
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    eprintln!("== Fake Polar API listening on {}", server.url());
    eprintln!(
        "== Running: {} read --config {}\n",
        connector.display(),
        config_path.display()
    );
    let started = Instant::now();
    let mut child = Command::new(&connector)
        .args(["read", "--config"])
        .arg(&config_path)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", connector.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut records: BTreeMap<String, u64> = BTreeMap::new();
    let out = std::io::stdout();
    let mut out = out.lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let message: Value =
            serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))?;
        if message["type"] == "RECORD" {
            let stream = message["record"]["stream"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let count = records.entry(stream).or_default();
            *count += 1;
            if !all_records && *count > 2 {
                continue;
            }
            let mut shown = line.clone();
            if !all_records && shown.len() > 220 {
                shown.truncate(shown.floor_char_boundary(220));
                shown.push_str("...");
            }
            writeln!(out, "{shown}")?;
        } else if message["type"] != "STATE" || all_records {
            writeln!(out, "{line}")?;
        }
    }
    let status = child.wait()?;
    eprintln!(
        "\n== Sync finished in {:.1} s with {status}",
        started.elapsed().as_secs_f64()
    );
    eprintln!("{:<15} {:>8} {:>8}", "stream", "records", "server");
    for stream in fake_polar::data::STREAMS {
        let served = server.ids(stream).len();
        eprintln!(
            "{stream:<15} {:>8} {served:>8}",
            records.get(*stream).copied().unwrap_or(0)
        );
    }
    eprintln!(
        "{:<15} {:>8} {:>8}",
        "metrics",
        records.get("metrics").copied().unwrap_or(0),
        server.metrics_periods().len()
    );
    eprintln!(
        "(RECORD lines: two per stream shown, STATE lines hidden; --all-records shows everything)"
    );
    std::fs::remove_dir_all(&dir).ok();
    if !status.success() {
        bail!("source-polar exited with {status}");
    }
    Ok(())
}

/// A binary built next to this one (`cargo build` puts the workspace's binaries in one directory).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let path = here.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "{} not found: build the workspace first (cargo build --release --workspace)",
            path.display()
        );
    }
    Ok(path)
}
