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
use serde_json::json;

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
        let page = json!({"items": items, "pagination": {"total_count": count, "max_page": 1}});
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
    println!("generation time per object ({profile} build, {TIMING_OBJECTS} objects per stream):");
    let mut total_ns = 0.0;
    let mut total_bytes = 0usize;
    for stream in STREAMS {
        let started = Instant::now();
        let mut bytes = 0usize;
        for i in 0..TIMING_OBJECTS {
            let v = object(stream, seed, i, START_MS + i as i64 * STEP_MS);
            // Keep the value alive enough that the work isn't optimized away.
            bytes += v.as_object().map_or(0, |o| o.len());
        }
        let ns = started.elapsed().as_nanos() as f64 / TIMING_OBJECTS as f64;
        total_ns += ns;
        total_bytes += bytes;
        println!("  {stream:<14} {:>8.2} us", ns / 1_000.0);
    }
    println!(
        "  {:<14} {:>8.2} us (mean of the eight streams; {total_bytes} top-level fields built)",
        "all",
        total_ns / 8_000.0
    );
    Ok(())
}
