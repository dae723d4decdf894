//! `bench`: measures `source-polar read` against the fake Polar server.
//!
//! For each scenario it starts the fake (records per stream, latency, server rate limit), writes a connector
//! config, runs `source-polar read --config F` (the binary next to this one) as a child process whose stdout
//! is counted and discarded, and measures the child's wall time, CPU time (user + sys) and peak RSS with
//! `/usr/bin/time -f "%e %U %S %M"` (Debian package `time`), falling back to polling `/proc/<pid>` when
//! that is missing. Requests, pages (status 200) and 429s come from the fake's request log.
//!
//! Scenarios (`--scenario NAME`, or `all`, the default):
//! - `cost`: no latency, no server limit, `requests_per_minute` 100000, `--records` per stream
//!   (default 100000): the connector's own CPU and memory cost. The fake first serves every page once to a
//!   first run of the connector and keeps the bodies, so during the measured run it answers from memory: Polar's CPU is not
//!   on the connector's machine, and the fake generating objects on the same two cores would be measured as
//!   contention. `cost10x`: the same with 10x the records, without the cache (it would need the whole
//!   dataset in memory), so there the fake generates every page while the connector runs.
//! - `paced`: 150 ms latency, server limit 500/min, config `requests_per_minute` 500, `--paced-records`
//!   per stream (default 12500: 8 x 125 pages = 1000 requests, a 2-minute bound). Target: wall/bound <= 1.05,
//!   no 429s.
//! - `shared`: Polar's own limiter, a fixed 60-second window of 500 requests for the organization, of which the
//!   merchant's other traffic spends 250 (evenly), 429 with `Retry-After: 60`; 300 ms latency; the connector's
//!   default ceiling of 400 per minute; `--shared-records` per stream (default 9375: 750 pages, a 3-minute
//!   bound). Target: wall within 1.10x of pages / (budget left per second); the 429s and the other traffic
//!   refused are reported.
//! - `latency`: 150 ms latency, no limit, `--latency-records` per stream (default 20000); `latency-serial`:
//!   the same with one stream, one page ahead and one request in flight (`SOURCE_POLAR_*` = 1).
//! - `plain`: the `latency` setting fetched by a minimal HTTP/1.1 client inside this binary with the
//!   connector's default concurrency (8 streams x 4 pages ahead, 8 in flight), bodies read and discarded:
//!   the floor the connector's wall time is compared with.
//!
//! - `incremental`: a shop with `--incremental-records` (default 100000) customers, orders, subscriptions,
//!   checkouts, customer meters and usage events, 2% as many refunds, 40 products and 15 benefits, paced as
//!   `paced` (150 ms latency, 500 per minute). A first sync reads everything and leaves its cursors; then 0.5%
//!   of the orders, subscriptions, checkouts and customer meters change or are created (half each), 0.5% more
//!   events arrive (one in ten late) and 0.1% of the customers change (half created, 40% updated, 10%
//!   deleted), with their system events; the incremental sync that follows is measured against the first.
//!   Target: at most 5% of the full sync's requests and time. Requests are reported per stream.
//!   `--scale K` runs it K times faster (rate limit and rate times K, latency over K) and reports times scaled
//!   back; `--changed-permille N` sets the share that changes (default 5).
//!
//! - `neighbour`: Polar's fixed window in small (80 requests per 10 s for the organization, `Retry-After: 10`),
//!   300 ms latency, the default config (400 a minute), the eight original streams at `--neighbour-records`
//!   (default 3000) each, with the merchant's own traffic spending 0 %, 25 %, 50 % and 75 % of every window
//!   (spread evenly), and 25 % turning into 75 % 15 s in. Reported per build: time against the ideal (pages
//!   over the budget left, or over the ceiling when that is lower), our 429s, windows spent and windows that
//!   refused us, and the merchant's requests refused. Both merchant models in one run (`--merchant` picks one): "first
//!   come" (the merchant is refused once the window is spent) and "merchant first" (its requests are always
//!   counted, so only ours are refused). `steady`: a token bucket at exactly the configured
//!   600 a minute (burst 1), 150 ms latency, nothing else competing: time against pages / rate.
//!   `--compare LABEL=PATH` runs another build of the connector beside this one.
//!
//! Run: `cargo build --release -p source-polar && cargo build --release -p fake-polar --bin bench &&
//! target/release/bench [--records N] [--scenario NAME|all] [--concurrency-one] [--cold]`.
//! `--concurrency-one` runs every connector scenario with `SOURCE_POLAR_CONCURRENT_STREAMS=1`,
//! `SOURCE_POLAR_PAGES_AHEAD=1` and `SOURCE_POLAR_MAX_IN_FLIGHT=1`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use fake_polar::{API_VERSION, FakePolar, FixedWindow, Options, TOKEN};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

mod neighbour;

#[derive(Parser)]
#[command(about = "Benchmark source-polar read against the fake Polar server")]
struct Cli {
    /// Records per stream for `cost` (`cost10x` uses 10x).
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Records per stream for `paced`.
    #[arg(long, default_value_t = 12_500)]
    paced_records: usize,
    /// Records per stream for `shared`.
    #[arg(long, default_value_t = 9_375)]
    shared_records: usize,
    /// Records per stream for `latency`, `latency-serial` and `plain`.
    #[arg(long, default_value_t = 20_000)]
    latency_records: usize,
    /// Customers, orders, subscriptions and checkouts of the shop in `incremental`.
    #[arg(long, default_value_t = 100_000)]
    incremental_records: usize,
    /// `incremental` at this many times Polar's pace: the rate limit and the connector's rate multiplied, the
    /// latency divided, so that a large organization takes minutes; times are reported scaled back.
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// `incremental`: the share of orders, subscriptions, checkouts, customer meters and events that change
    /// between the two syncs, per thousand (customers: always one per thousand).
    #[arg(long, default_value_t = 5)]
    changed_permille: usize,
    /// Records in each of the eight original streams for `neighbour` and `steady`.
    #[arg(long, default_value_t = 3_000)]
    neighbour_records: usize,
    /// Another build to run beside this one in `neighbour` and `steady`, as LABEL=PATH (for example
    /// `0.4.0=/tmp/v040-target/release/source-polar`).
    #[arg(long)]
    compare: Option<String>,
    /// `neighbour`'s merchant models: `first-come` (the merchant is refused once the window is spent),
    /// `merchant-first` (its requests are always counted), or `both`, one after the other in one run.
    #[arg(long, default_value = "both")]
    merchant: String,
    /// `neighbour`'s merchant shares to run, comma-separated: 0, 25, 50, 75, 25-75 (default: all).
    #[arg(long)]
    shares: Option<String>,
    /// cost, cost10x, paced, shared, latency, latency-serial, plain, incremental, neighbour, steady, or all.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Run the connector with one stream, one page ahead and one request in flight.
    #[arg(long)]
    concurrency_one: bool,
    /// `cost` without the warmed page cache: the fake generates pages while the connector runs, as in
    /// `cost10x` (to compare the two like for like).
    #[arg(long)]
    cold: bool,
}

struct Scenario {
    name: &'static str,
    records: usize,
    latency: Duration,
    server_limit: Option<u32>,
    requests_per_minute: u32,
    serial: bool,
    plain: bool,
    /// Fetch every page once before the measured run, so the fake serves cached bodies (see below).
    warm: bool,
    /// Polar's fixed window, shared with other traffic.
    fixed: Option<FixedWindow>,
}

#[derive(Default)]
struct Measured {
    wall: f64,
    cpu: Option<f64>,
    rss_kb: Option<u64>,
    lines: u64,
    records: u64,
    /// The last STATE of each stream.
    states: Vec<serde_json::Value>,
}

const SCENARIOS: [&str; 10] = [
    "cost",
    "cost10x",
    "paced",
    "shared",
    "latency",
    "latency-serial",
    "plain",
    "incremental",
    "neighbour",
    "steady",
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let names: Vec<&str> = if cli.scenario == "all" {
        SCENARIOS.to_vec()
    } else {
        cli.scenario.split(',').map(str::trim).collect()
    };
    let connector = std::env::current_exe()?.with_file_name("source-polar");
    if !connector.exists() {
        bail!(
            "{} not found: cargo build --release -p source-polar",
            connector.display()
        );
    }
    let time = Path::new("/usr/bin/time");
    let use_time = time.exists();
    if !use_time {
        eprintln!("/usr/bin/time missing (Debian package `time`): polling /proc instead");
    }
    println!(
        "{:<15} {:>9} {:>7} {:>8} {:>8} {:>7} {:>11} {:>8} {:>5} {:>8} {:>10}",
        "scenario",
        "records",
        "pages",
        "requests",
        "wall s",
        "CPU s",
        "rec/CPU-s",
        "RSS MB",
        "429s",
        "bound s",
        "wall/bound"
    );
    for name in names {
        if name == "incremental" {
            incremental(
                &connector,
                use_time,
                cli.incremental_records,
                cli.scale.max(1),
                cli.changed_permille,
            )?;
            continue;
        }
        if name == "neighbour" || name == "steady" {
            let mut builds = Vec::new();
            if let Some(compare) = &cli.compare {
                let (label, path) = compare
                    .split_once('=')
                    .context("--compare takes LABEL=PATH")?;
                builds.push((label.to_owned(), PathBuf::from(path)));
            }
            builds.push(("this build".to_owned(), connector.clone()));
            let models: &[bool] = match cli.merchant.as_str() {
                "first-come" => &[false],
                "merchant-first" => &[true],
                "both" => &[false, true],
                other => {
                    bail!("--merchant takes first-come, merchant-first or both, not {other:?}")
                }
            };
            neighbour::run(
                name,
                &builds,
                cli.neighbour_records,
                models,
                cli.shares.as_deref(),
            )?;
            continue;
        }
        let latency = Duration::from_millis(150);
        let scenario = match name {
            "cost" | "cost10x" => Scenario {
                name: if name == "cost" { "cost" } else { "cost10x" },
                records: if name == "cost" {
                    cli.records
                } else {
                    cli.records * 10
                },
                latency: Duration::ZERO,
                server_limit: None,
                requests_per_minute: 100_000,
                serial: false,
                plain: false,
                warm: name == "cost" && !cli.cold,
                fixed: None,
            },
            "paced" => Scenario {
                name: "paced",
                records: cli.paced_records,
                latency,
                server_limit: Some(500),
                requests_per_minute: 500,
                serial: false,
                plain: false,
                warm: false,
                fixed: None,
            },
            "shared" => Scenario {
                name: "shared",
                records: cli.shared_records,
                latency: Duration::from_millis(300),
                server_limit: None,
                // The connector's default ceiling in production.
                requests_per_minute: 400,
                serial: false,
                plain: false,
                warm: false,
                fixed: Some(FixedWindow::shared(500, Duration::from_secs(60), 250)),
            },
            "latency" | "latency-serial" | "plain" => Scenario {
                name: match name {
                    "latency" => "latency",
                    "plain" => "plain",
                    _ => "latency-serial",
                },
                records: cli.latency_records,
                latency,
                server_limit: None,
                requests_per_minute: 100_000,
                serial: name == "latency-serial",
                plain: name == "plain",
                warm: false,
                fixed: None,
            },
            other => bail!("unknown scenario {other:?}; one of {SCENARIOS:?} or all"),
        };
        let mut options = Options::with_records(scenario.records);
        options.latency = scenario.latency;
        options.rate_limit_per_minute = scenario.server_limit;
        options.fixed_window = scenario.fixed;
        eprintln!(
            "[{}] starting the fake with {} records per stream",
            scenario.name, scenario.records
        );
        options.cache_pages = scenario.warm;
        let server = FakePolar::start(options);
        let mut config = server.config();
        config["requests_per_minute"] = scenario.requests_per_minute.into();
        let config_path = std::env::temp_dir().join(format!(
            "source-polar-bench-{}-{}.json",
            std::process::id(),
            scenario.name
        ));
        std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
        let serial = scenario.serial || cli.concurrency_one;
        if scenario.warm {
            // The connector's own requests (orders ask for `created_after` filters a page-number client would
            // not), so that the measured run is served from the cache.
            eprintln!("[{}] warming the fake's page cache", scenario.name);
            run_connector(&connector, &config_path, &[], serial, false)?;
            server.clear_requests();
        }
        eprintln!("[{}] running", scenario.name);
        let measured = if scenario.plain {
            plain_client(&server.url())?
        } else {
            run_connector(&connector, &config_path, &[], serial, use_time)?
        };
        let _ = std::fs::remove_file(&config_path);
        let requests = server.requests();
        let pages = requests.iter().filter(|r| r.status == 200).count();
        let throttled = requests.iter().filter(|r| r.status == 429).count();
        // Every list's records, and a metrics period per day.
        let total_records = scenario.records * STREAMS.len() + server.metrics_periods().len();
        if !scenario.plain && measured.records as usize != total_records {
            eprintln!(
                "[{}] warning: {} RECORD lines, {} expected ({} lines in all)",
                scenario.name, measured.records, total_records, measured.lines
            );
        }
        // The rate-limit bound: with a shared fixed window, the pages over the budget the other traffic leaves;
        // otherwise the requests over the connector's own rate.
        let bound = match scenario.fixed {
            Some(fixed) => Some(
                pages as f64 / (f64::from(fixed.limit - fixed.others) / fixed.window.as_secs_f64()),
            ),
            None => (scenario.requests_per_minute < 100_000)
                .then(|| requests.len() as f64 / (f64::from(scenario.requests_per_minute) / 60.0)),
        };
        let dash = || "-".to_owned();
        println!(
            "{:<15} {:>9} {:>7} {:>8} {:>8.2} {:>7} {:>11} {:>8} {:>5} {:>8} {:>10}",
            scenario.name,
            if scenario.plain {
                total_records
            } else {
                measured.records as usize
            },
            pages,
            requests.len(),
            measured.wall,
            measured.cpu.map_or_else(dash, |cpu| format!("{cpu:.2}")),
            match measured.cpu {
                Some(cpu) if cpu > 0.0 && !scenario.plain =>
                    format!("{:.0}", measured.records as f64 / cpu),
                _ => dash(),
            },
            measured
                .rss_kb
                .map_or_else(dash, |kb| format!("{:.1}", kb as f64 / 1024.0)),
            throttled,
            bound.map_or_else(dash, |b| format!("{b:.1}")),
            bound.map_or_else(dash, |b| format!("{:.3}", measured.wall / b)),
        );
        if scenario.fixed.is_some() {
            let stats = server.window_stats();
            println!(
                "{:<15} other traffic: {} requests served, {} refused (429) by the shared window",
                "", stats.others_served, stats.others_refused
            );
        }
        std::io::stdout().flush()?;
        drop(server);
    }
    Ok(())
}

/// Runs the connector (`read --config F` and `extra` arguments), counting its output lines in a thread, and
/// measures it; the last STATE of each stream is kept.
fn run_connector(
    connector: &Path,
    config: &Path,
    extra: &[&std::ffi::OsStr],
    serial: bool,
    use_time: bool,
) -> anyhow::Result<Measured> {
    let time_file: PathBuf =
        std::env::temp_dir().join(format!("source-polar-bench-{}.time", std::process::id()));
    let mut command = if use_time {
        let mut command = Command::new("/usr/bin/time");
        command
            .arg("-f")
            .arg("%e %U %S %M")
            .arg("-o")
            .arg(&time_file)
            .arg(connector);
        command
    } else {
        Command::new(connector)
    };
    command
        .arg("read")
        .arg("--config")
        .arg(config)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if serial {
        command
            .env("SOURCE_POLAR_CONCURRENT_STREAMS", "1")
            .env("SOURCE_POLAR_PAGES_AHEAD", "1")
            .env("SOURCE_POLAR_PAGES_BUFFERED", "1")
            .env("SOURCE_POLAR_MAX_IN_FLIGHT", "1");
    }
    let started = Instant::now();
    let mut child = command.spawn().context("start the connector")?;
    let stdout = child.stdout.take().expect("piped stdout");
    // `BENCH_LOGS=1`: the connector's LOG and TRACE lines go to stderr.
    let show_logs = std::env::var_os("BENCH_LOGS").is_some();
    let sink = std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 20, stdout);
        let mut line = Vec::with_capacity(4096);
        let (mut lines, mut records) = (0u64, 0u64);
        let mut states = std::collections::BTreeMap::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    lines += 1;
                    if line.starts_with(br#"{"type":"RECORD""#)
                        || line.windows(17).any(|w| w == br#""type":"RECORD""#)
                    {
                        records += 1;
                    } else if show_logs
                        && (line.starts_with(br#"{"type":"LOG""#)
                            || line.starts_with(br#"{"type":"TRACE""#))
                    {
                        eprint!("{}", String::from_utf8_lossy(&line));
                    } else if line.starts_with(br#"{"type":"STATE""#)
                        && let Ok(message) = serde_json::from_slice::<serde_json::Value>(&line)
                    {
                        let stream = message["state"]["stream"]["stream_descriptor"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        states.insert(stream, message["state"].clone());
                    }
                }
            }
        }
        (lines, records, states.into_values().collect::<Vec<_>>())
    });
    // /proc fallback: the connector's own pid (without /usr/bin/time the child is the connector).
    let pid = child.id();
    let (mut hwm_kb, mut ticks) = (None, None);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if !use_time {
            if let Some(kb) = proc_hwm_kb(pid) {
                hwm_kb = Some(hwm_kb.unwrap_or(0).max(kb));
            }
            if let Some(t) = proc_cpu_ticks(pid) {
                ticks = Some(t);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed().as_secs_f64();
    let (lines, records, states) = sink.join().expect("the sink thread");
    if !status.success() {
        eprintln!("warning: the connector exited with {status}");
    }
    let mut measured = Measured {
        wall,
        lines,
        records,
        states,
        ..Measured::default()
    };
    if use_time {
        let text = std::fs::read_to_string(&time_file).context("read /usr/bin/time's output")?;
        let _ = std::fs::remove_file(&time_file);
        // The last line holds the numbers (a "Command exited with non-zero status" line may precede it).
        let fields: Vec<f64> = text
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // Wall time stays the bench's own clock (finer than %e's hundredths, same span).
        if let [_elapsed, user, sys, rss] = fields[..] {
            measured.cpu = Some(user + sys);
            measured.rss_kb = Some(rss as u64);
        } else {
            eprintln!("warning: unexpected /usr/bin/time output {text:?}");
        }
    } else {
        measured.cpu = ticks.map(|t| t as f64 / 100.0);
        measured.rss_kb = hwm_kb;
    }
    Ok(measured)
}

fn proc_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which ends with ')'): state is field 3; utime, stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

const STREAMS: &[&str] = fake_polar::data::STREAMS;

/// A minimal HTTP/1.1 client fetching every page of every stream with the connector's default concurrency
/// (8 streams, 4 pages ahead per stream, 8 requests in flight), bodies read and discarded.
fn plain_client(base: &str) -> anyhow::Result<Measured> {
    let addr = base.trim_start_matches("http://").to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let bytes = runtime.block_on(async move {
        let pool = Arc::new(std::sync::Mutex::new(Vec::<Conn>::new()));
        let global = Arc::new(tokio::sync::Semaphore::new(8));
        let mut streams = tokio::task::JoinSet::new();
        for stream in STREAMS {
            let (addr, pool, global) = (addr.clone(), pool.clone(), global.clone());
            streams.spawn(async move {
                let permit = global.clone().acquire_owned().await?;
                let first = fetch(&addr, &pool, stream, 1).await?;
                drop(permit);
                let envelope: serde_json::Value = serde_json::from_slice(&first)?;
                let max_page = envelope["pagination"]["max_page"].as_u64().unwrap_or(1);
                let mut bytes = first.len() as u64;
                let ahead = Arc::new(tokio::sync::Semaphore::new(4));
                let mut pages = tokio::task::JoinSet::new();
                for page in 2..=max_page {
                    let ahead_permit = ahead.clone().acquire_owned().await?;
                    let permit = global.clone().acquire_owned().await?;
                    let (addr, pool) = (addr.clone(), pool.clone());
                    pages.spawn(async move {
                        let body = fetch(&addr, &pool, stream, page).await;
                        drop((permit, ahead_permit));
                        body.map(|b| b.len() as u64)
                    });
                }
                while let Some(result) = pages.join_next().await {
                    bytes += result??;
                }
                anyhow::Ok(bytes)
            });
        }
        let mut bytes = 0;
        while let Some(result) = streams.join_next().await {
            bytes += result??;
        }
        anyhow::Ok(bytes)
    })?;
    let wall = started.elapsed().as_secs_f64();
    eprintln!("[plain] {bytes} body bytes");
    Ok(Measured {
        wall,
        ..Measured::default()
    })
}

/// A first page's path and the `sorting` parameters the connector sends for `stream` (from its stream table),
/// so the fake does the same work.
fn page_path(stream: &str) -> (&'static str, String) {
    let def = source_polar::streams::find(stream).expect("a stream of the table");
    let sorting = def
        .sorting
        .iter()
        .map(|criterion| format!("&sorting={criterion}"))
        .collect();
    (def.path, sorting)
}

type Conn = tokio::io::BufReader<tokio::net::TcpStream>;

/// GETs one page over a pooled keep-alive connection (or a new one) and returns its body.
async fn fetch(
    addr: &str,
    pool: &std::sync::Mutex<Vec<Conn>>,
    stream: &str,
    page: u64,
) -> anyhow::Result<Vec<u8>> {
    let pooled = pool.lock().unwrap().pop();
    let mut conn = match pooled {
        Some(conn) => conn,
        None => {
            let socket = tokio::net::TcpStream::connect(addr).await?;
            socket.set_nodelay(true)?;
            tokio::io::BufReader::with_capacity(64 * 1024, socket)
        }
    };
    let (path, sorting) = page_path(stream);
    let request = format!(
        "GET {path}?page={page}&limit=100{sorting} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {TOKEN}\r\nPolar-Version: {API_VERSION}\r\nAccept: application/json\r\n\r\n"
    );
    conn.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            bail!("connection closed in headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if let Some(length) = length {
        body.resize(length, 0);
        conn.read_exact(&mut body).await?;
    } else if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..]).await?;
            line.clear();
            conn.read_line(&mut line).await?; // CRLF after the chunk (or after the empty trailer)
            if size == 0 {
                break;
            }
        }
    } else {
        conn.read_to_end(&mut body).await?;
        close = true;
    }
    if status != 200 {
        bail!("{stream} page {page}: status {status}");
    }
    if !close {
        pool.lock().unwrap().push(conn);
    }
    Ok(body)
}

/// The `incremental` scenario (see the module's documentation).
fn incremental(
    connector: &Path,
    use_time: bool,
    records: usize,
    scale: u32,
    changed_permille: usize,
) -> anyhow::Result<()> {
    let mut options = Options::with_records(0)
        .count("customers", records)
        .count("orders", records)
        .count("subscriptions", records)
        .count("checkouts", records)
        .count("refunds", records / 50)
        .count("customer_meters", records)
        .count("events", records)
        .count("products", 40)
        .count("benefits", 15)
        .count("organizations", 1);
    options.latency = Duration::from_millis(150) / scale;
    options.rate_limit_per_minute = Some(500 * scale);
    eprintln!(
        "[incremental] starting the fake with {records} customers, orders, subscriptions, checkouts, customer \
         meters and events"
    );
    let server = FakePolar::start(options);
    let mut config = server.config();
    config["requests_per_minute"] = (500 * scale).into();
    let dir = std::env::temp_dir().join(format!(
        "source-polar-bench-incremental-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
    let streams: Vec<serde_json::Value> = fake_polar::data::STREAMS
        .iter()
        .map(|name| {
            let incremental = fake_polar::TRACKED_STREAMS.contains(name)
                || fake_polar::LISTED_CHANGES.contains(name);
            serde_json::json!({
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": if incremental { "incremental" } else { "full_refresh" },
                "destination_sync_mode": if incremental { "append_dedup" } else { "overwrite" },
            })
        })
        .collect();
    let catalog_path = dir.join("catalog.json");
    std::fs::write(
        &catalog_path,
        serde_json::to_vec(&serde_json::json!({ "streams": streams }))?,
    )?;

    eprintln!("[incremental] first sync: everything, at 500 requests per minute");
    let first = run_connector(
        connector,
        &config_path,
        &["--catalog".as_ref(), catalog_path.as_os_str()],
        false,
        use_time,
    )?;
    let first_requests = per_stream(&server.requests());
    server.clear_requests();

    // What changed since: 0.5% of orders, subscriptions and checkouts (half created, half updated: checkouts
    // only change until they expire, so the updated ones are among the new), 0.1% of customers.
    let changed = records * changed_permille / 1000;
    for stream in ["orders", "subscriptions", "checkouts"] {
        for _ in 0..changed / 2 {
            server.create(stream, Duration::ZERO);
        }
        for k in 0..changed - changed / 2 {
            server.update(stream, k * 7919, Duration::ZERO);
        }
    }
    // Customer meters: 0.5% changed (half new, half updated); events: 0.5% new, one in ten of them late (dated
    // ten minutes before they appear, within the lookback window).
    for _ in 0..changed / 2 {
        server.create("customer_meters", Duration::ZERO);
    }
    for k in 0..changed - changed / 2 {
        server.update("customer_meters", k * 7919, Duration::ZERO);
    }
    for k in 0..changed {
        let late = if k % 10 == 0 {
            Duration::from_secs(600)
        } else {
            Duration::ZERO
        };
        server.create("events", late);
    }
    let customers = records / 1000;
    for _ in 0..customers / 2 {
        server.create("customers", Duration::ZERO);
    }
    for k in 0..customers * 2 / 5 {
        server.update("customers", k * 7919, Duration::ZERO);
    }
    for k in 0..customers / 10 {
        server.delete_customer(k * 104_729, Duration::ZERO);
    }
    let state_path = dir.join("state.json");
    std::fs::write(&state_path, serde_json::to_vec(&first.states)?)?;
    eprintln!(
        "[incremental] incremental sync after {} system events",
        server.event_count()
    );
    let second = run_connector(
        connector,
        &config_path,
        &[
            "--catalog".as_ref(),
            catalog_path.as_os_str(),
            "--state".as_ref(),
            state_path.as_os_str(),
        ],
        false,
        use_time,
    )?;
    let second_requests = per_stream(&server.requests());
    let _ = std::fs::remove_dir_all(&dir);

    let total = |counts: &std::collections::BTreeMap<String, usize>| counts.values().sum::<usize>();
    println!(
        "incremental: {:<22} {:>9} {:>9} {:>9}",
        "requests per stream", "full", "incr.", "incr./full"
    );
    for (stream, full) in &first_requests {
        let incremental = second_requests.get(stream).copied().unwrap_or(0);
        println!(
            "incremental: {stream:<22} {full:>9} {incremental:>9} {:>9.3}",
            incremental as f64 / *full as f64
        );
    }
    for (stream, incremental) in second_requests
        .iter()
        .filter(|(stream, _)| !first_requests.contains_key(*stream))
    {
        println!(
            "incremental: {stream:<22} {:>9} {incremental:>9} {:>9}",
            0, "-"
        );
    }
    let (full_total, incremental_total) = (total(&first_requests), total(&second_requests));
    println!(
        "incremental: {:<22} {full_total:>9} {incremental_total:>9} {:>9.3}",
        "all requests",
        incremental_total as f64 / full_total as f64
    );
    let scaled = f64::from(scale);
    println!(
        "incremental: {:<22} {:>9.1} {:>9.1} {:>9.3}",
        if scale > 1 {
            "wall s (scaled back)"
        } else {
            "wall s"
        },
        first.wall * scaled,
        second.wall * scaled,
        second.wall / first.wall
    );
    // The rate-limit bound at Polar's 500 a minute.
    let bound = |requests: usize| requests as f64 / (500.0 / 60.0);
    println!(
        "incremental: {:<22} {:>9.1} {:>9.1}",
        "bound s (500/min)",
        bound(full_total),
        bound(incremental_total)
    );
    println!(
        "incremental: {:<22} {:>9} {:>9} {:>9.3}",
        "records",
        first.records,
        second.records,
        second.records as f64 / first.records.max(1) as f64
    );
    println!(
        "incremental: {:<22} {:>9} {:>9}",
        "peak RSS MB",
        first
            .rss_kb
            .map_or("-".into(), |kb| format!("{:.1}", kb as f64 / 1024.0)),
        second
            .rss_kb
            .map_or("-".into(), |kb| format!("{:.1}", kb as f64 / 1024.0)),
    );
    std::io::stdout().flush()?;
    Ok(())
}

/// Requests per list (`change log` for the system events feed), reads by id counted with their list.
fn per_stream(requests: &[fake_polar::LoggedRequest]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for request in requests {
        let name = if request.source.as_deref() == Some("system") {
            "change log".to_owned()
        } else {
            request.stream.clone()
        };
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}
