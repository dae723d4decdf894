//! The `neighbour` and `steady` scenarios: how the connector shares Polar's budget with the merchant's own
//! traffic (see the crate's doc comment), for one or more builds side by side.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_polar::{FakePolar, FixedWindow, Options, TokenBucket};

/// The eight original streams (the head of the fake's list): what 0.4.0 and this build both read.
const STREAMS: &[&str] = fake_polar::data::STREAMS.split_at(8).0;

/// Polar's window in small: 80 requests per 10 s.
const LIMIT: u32 = 80;
const WINDOW: Duration = Duration::from_secs(10);
/// The connector's default ceiling in production.
const DEFAULT_PER_MINUTE: f64 = 400.0;
/// When the changing share changes.
const CHANGE_AT: Duration = Duration::from_secs(15);

/// A merchant's share of each window: a label, the requests per window, and where it changes, what after.
struct Share {
    /// How `--shares` names it.
    key: &'static str,
    label: &'static str,
    merchant: u32,
    later: Option<u32>,
}

const SHARES: [Share; 5] = [
    Share {
        key: "0",
        label: "0 %",
        merchant: 0,
        later: None,
    },
    Share {
        key: "25",
        label: "25 %",
        merchant: 20,
        later: None,
    },
    Share {
        key: "50",
        label: "50 %",
        merchant: 40,
        later: None,
    },
    Share {
        key: "75",
        label: "75 %",
        merchant: 60,
        later: None,
    },
    Share {
        key: "25-75",
        label: "25 -> 75 %",
        merchant: 20,
        later: Some(60),
    },
];

pub fn run(
    scenario: &str,
    builds: &[(String, PathBuf)],
    records: usize,
    merchant_models: &[bool],
    shares: Option<&str>,
) -> anyhow::Result<()> {
    println!();
    if scenario == "steady" {
        println!(
            "{:<12} {:>6} {:>8} {:>8} {:>8} {:>10} {:>5}",
            "build", "pages", "requests", "wall s", "ideal s", "wall/ideal", "429s"
        );
        for (label, connector) in builds {
            steady(label, connector, records)?;
        }
        return Ok(());
    }
    for &merchant_first in merchant_models {
        println!(
            "neighbour: {LIMIT} per {} s window, 300 ms latency, default config, merchant {}",
            WINDOW.as_secs(),
            if merchant_first {
                "first"
            } else {
                "first come"
            }
        );
        println!(
            "{:<12} {:<11} {:>6} {:>8} {:>8} {:>8} {:>10} {:>5} {:>7} {:>9} {:>7} {:>17}",
            "build",
            "share",
            "pages",
            "requests",
            "wall s",
            "ideal s",
            "wall/ideal",
            "429s",
            "windows",
            "spent",
            "refused",
            "merchant refused"
        );
        let chosen =
            |share: &&Share| shares.is_none_or(|keys| keys.split(',').any(|key| key == share.key));
        for share in SHARES.iter().filter(chosen) {
            for (label, connector) in builds {
                neighbour(label, connector, records, share, merchant_first)?;
            }
        }
    }
    Ok(())
}

fn options(records: usize) -> Options {
    let mut options = Options::with_records(0);
    for stream in STREAMS.iter().copied() {
        options = options.count(
            stream,
            if stream == "organizations" {
                1
            } else {
                records
            },
        );
    }
    options
}

fn catalog() -> serde_json::Value {
    let streams: Vec<_> = STREAMS
        .iter()
        .map(|name| {
            serde_json::json!({
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            })
        })
        .collect();
    serde_json::json!({ "streams": streams })
}

/// Writes `config` and the catalog, runs `connector` against them, and returns its wall time.
fn sync(connector: &Path, config: serde_json::Value, name: &str) -> anyhow::Result<f64> {
    let dir =
        std::env::temp_dir().join(format!("source-polar-bench-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("config.json");
    let catalog_path = dir.join("catalog.json");
    std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
    std::fs::write(&catalog_path, serde_json::to_vec(&catalog())?)?;
    let measured = crate::run_connector(
        connector,
        &config_path,
        &["--catalog".as_ref(), catalog_path.as_os_str()],
        false,
        false,
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(measured.wall)
}

fn neighbour(
    label: &str,
    connector: &Path,
    records: usize,
    share: &Share,
    merchant_first: bool,
) -> anyhow::Result<()> {
    let mut options = options(records);
    options.latency = Duration::from_millis(300);
    options.fixed_window = Some(FixedWindow {
        others_later: share.later.map(|later| (CHANGE_AT, later)),
        merchant_first,
        ..FixedWindow::shared(LIMIT, WINDOW, share.merchant)
    });
    let server = FakePolar::start(options);
    eprintln!("[neighbour {label}, {}] running", share.label);
    // The default config: the production ceiling of 400 a minute.
    let mut config = server.config();
    config
        .as_object_mut()
        .expect("a config object")
        .remove("requests_per_minute");
    let wall = sync(connector, config, "neighbour")?;
    let requests = server.requests();
    let pages = requests.iter().filter(|r| r.status == 200).count();
    let refused = requests.iter().filter(|r| r.status == 429).count();
    let stats = server.window_stats();
    let ideal = ideal_seconds(pages as f64, share);
    let merchant = stats.others_served + stats.others_refused;
    println!(
        "{:<12} {:<11} {:>6} {:>8} {:>8.1} {:>8.1} {:>10.3} {:>5} {:>7} {:>9} {:>7} {:>17}",
        label,
        share.label,
        pages,
        requests.len(),
        wall,
        ideal,
        wall / ideal,
        refused,
        stats.windows,
        stats.windows_spent,
        stats.windows_refusing_us,
        format!(
            "{} of {} ({:.1} %)",
            stats.others_refused,
            merchant,
            100.0 * stats.others_refused as f64 / merchant.max(1) as f64
        ),
    );
    Ok(())
}

/// The shortest time `pages` can take: at what the merchant leaves per second, or at the connector's
/// ceiling where that is lower; where the share changes, at each rate in turn.
fn ideal_seconds(pages: f64, share: &Share) -> f64 {
    let per_second = |merchant: u32| {
        (f64::from(LIMIT - merchant) / WINDOW.as_secs_f64()).min(DEFAULT_PER_MINUTE / 60.0)
    };
    let first = per_second(share.merchant);
    match share.later {
        Some(later) if pages > first * CHANGE_AT.as_secs_f64() => {
            CHANGE_AT.as_secs_f64() + (pages - first * CHANGE_AT.as_secs_f64()) / per_second(later)
        }
        _ => pages / first,
    }
}

fn steady(label: &str, connector: &Path, records: usize) -> anyhow::Result<()> {
    let per_minute = 600;
    let mut options = options(records);
    options.latency = Duration::from_millis(150);
    options.token_bucket = Some(TokenBucket {
        per_minute,
        burst: 1,
    });
    let server = FakePolar::start(options);
    let mut config = server.config();
    config["requests_per_minute"] = per_minute.into();
    eprintln!("[steady {label}] running");
    let wall = sync(connector, config, "steady")?;
    let requests = server.requests();
    let pages = requests.iter().filter(|r| r.status == 200).count();
    let refused = requests.iter().filter(|r| r.status == 429).count();
    let ideal = pages as f64 / (f64::from(per_minute) / 60.0);
    // `BENCH_REQUESTS=1`: every request the fake saw, when it came, and its answer, on stderr.
    if std::env::var_os("BENCH_REQUESTS").is_some() {
        for request in &requests {
            eprintln!(
                "{:>9.3} {} {} {}",
                request.received.as_secs_f64(),
                request.status,
                request.stream,
                request.page
            );
        }
    }
    println!(
        "{:<12} {:>6} {:>8} {:>8.1} {:>8.1} {:>10.3} {:>5}",
        label,
        pages,
        requests.len(),
        wall,
        ideal,
        wall / ideal,
        refused
    );
    Ok(())
}
