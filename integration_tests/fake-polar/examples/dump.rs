//! Writes one page of generated objects per stream, for checking them against the Polar SDK
//! (`integration_tests/sdk_check.py --dump-dir DIR`), and times the generator.
//!
//! Usage: `cargo run -p fake-polar --example dump -- DIR COUNT [SEED]`
//! writes `DIR/<stream>.json`, each `{"items": [...], "pagination": {...}}` with COUNT objects whose
//! `created_at` increases from 2025-01-01T00:00:00Z, then prints the per-object generation time
//! (build with `--release` for meaningful numbers).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use fake_polar::data::{STREAMS, object};
use serde_json::{Map, Value, json};

/// 2025-01-01T00:00:00Z in Unix milliseconds.
const START_MS: i64 = 1_735_689_600_000;
/// Spacing between consecutive objects' `created_at`: 47 minutes and 13.789 seconds.
const STEP_MS: i64 = 47 * 60_000 + 13_789;
/// Objects generated per stream for the timing.
const TIMING_OBJECTS: u64 = 20_000;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, count, seed) = match args.as_slice() {
        [dir, count] => (dir, count, "42"),
        [dir, count, seed] => (dir, count, seed.as_str()),
        _ => bail!("usage: dump DIR COUNT [SEED]"),
    };
    let count: u64 = count
        .parse()
        .context("COUNT must be a non-negative integer")?;
    let seed: u64 = seed
        .parse()
        .context("SEED must be a non-negative integer")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;

    for stream in STREAMS {
        let items: Vec<_> = (0..count)
            .map(|i| object(stream, seed, i, START_MS + i as i64 * STEP_MS))
            .collect();
        let mut page = Map::new();
        page.insert("items".into(), Value::Array(items));
        page.insert(
            "pagination".into(),
            json!({"total_count": count, "max_page": 1}),
        );
        let path = format!("{dir}/{stream}.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&page)?)
            .with_context(|| format!("writing {path}"))?;
    }
    println!("wrote {count} objects per stream to {dir} (seed {seed})");

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "generation time per object ({profile} build, {TIMING_OBJECTS} objects per stream; \
         wall clock, and time on CPU where /proc/thread-self/schedstat exists):"
    );
    let (mut total_wall, mut total_cpu) = (0.0, Some(0.0));
    for stream in STREAMS {
        let cpu_before = cpu_ns();
        let started = Instant::now();
        for i in 0..TIMING_OBJECTS {
            // Build and drop each object, as a server generating pages on demand would.
            std::hint::black_box(object(stream, seed, i, START_MS + i as i64 * STEP_MS));
        }
        let wall = started.elapsed().as_nanos() as f64 / TIMING_OBJECTS as f64 / 1_000.0;
        let cpu = cpu_before
            .zip(cpu_ns())
            .map(|(before, after)| (after - before) as f64 / TIMING_OBJECTS as f64 / 1_000.0);
        total_wall += wall;
        total_cpu = total_cpu.zip(cpu).map(|(t, c)| t + c);
        println!(
            "  {stream:<14} {wall:>8.2} us wall {}",
            cpu.map_or(String::new(), |c| format!("{c:>8.2} us cpu"))
        );
    }
    println!(
        "  {:<14} {:>8.2} us wall {} (mean of the eight streams)",
        "all",
        total_wall / 8.0,
        total_cpu.map_or(String::new(), |c| format!("{:>8.2} us cpu", c / 8.0))
    );
    Ok(())
}

/// Nanoseconds this thread has spent on a CPU (Linux), so timings hold up on a busy machine.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
