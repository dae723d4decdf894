//! The edges a user touches: stopping a sync with a signal (as PID 1 in a container too), a base URL written
//! with `/v1`, state files picked out of a run's output by hand, JSON error texts, a config with a byte-order
//! mark.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

/// The connector, started through `unshare --fork --pid` so that it is PID 1 of a new PID namespace (as in a
/// container without `--init`), where the machine allows it; else started directly.
fn spawn_as_init(args: &[&std::ffi::OsStr]) -> (std::process::Child, bool) {
    let bin = env!("CARGO_BIN_EXE_source-polar");
    let namespaced = Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc", "true"])
        .status()
        .is_ok_and(|status| status.success());
    let mut command = if namespaced {
        let mut command = Command::new("unshare");
        command.args(["--fork", "--pid", "--mount-proc", bin]);
        command
    } else {
        eprintln!("unshare --pid is not permitted here: the connector runs as an ordinary process");
        Command::new(bin)
    };
    let child = command
        .args(args)
        .env("SOURCE_POLAR_CONCURRENT_STREAMS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start source-polar");
    (child, namespaced)
}

/// The pid, in this namespace, of the process `unshare --fork` started.
fn forked_child(unshare: u32) -> u32 {
    let started = Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().expect("a pid");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "unshare forked nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_stops_the_sync_in_order_even_as_pid_1() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let mut options = Options::with_records(3000);
        options.latency = Duration::from_millis(100);
        let server = FakePolar::start(options);
        let files = Files::new();
        let config = config_file(&files, &server);
        let (mut child, namespaced) =
            spawn_as_init(&["read".as_ref(), "--config".as_ref(), config.as_os_str()]);
        let target = if namespaced {
            forked_child(child.id())
        } else {
            child.id()
        };
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        // Wait until the sync has checkpointed at least once, then ask it to stop.
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the sync ended before the signal"
            );
            let is_state = line.contains("\"type\":\"STATE\"");
            lines.push(line);
            if is_state {
                break;
            }
        }
        let sent = Instant::now();
        let killed = Command::new("kill")
            .args([format!("-{signal}"), target.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "SIG{signal}: the sync took {:?} to stop",
            sent.elapsed()
        );
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        let stdout: String = lines.concat() + &rest;
        let run = Run {
            messages: stdout
                .lines()
                .map(|line| serde_json::from_str(line).expect("whole JSON lines"))
                .collect(),
            stdout: stdout.clone(),
            stderr: String::new(),
            code,
        };
        run.compliant();
        let last = run.messages.last().unwrap();
        assert_eq!(last["type"], "LOG", "SIG{signal}: {last}");
        assert!(
            last["log"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("interrupted by SIG{signal}")),
            "{last}"
        );
        assert!(!run.of_type("STATE").is_empty());
        let requests = server.requests().len();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            server.requests().len(),
            requests,
            "no request after the stop"
        );
    }
}

#[test]
fn a_base_url_written_with_v1_reaches_the_lists() {
    let server = FakePolar::start(Options::with_records(3));
    let files = Files::new();
    let mut config = server.config();
    config["base_url"] = json!(format!("{}/v1", server.url()));
    let config = files.json("config.json", &config);
    let catalog = files.json("catalog.json", &catalog(&["orders"]));
    let run = run(
        &[
            &"--debug",
            &"read",
            &"--config",
            &config,
            &"--catalog",
            &catalog,
        ],
        &[],
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_same_records(&run, &server, "orders");
    let debug: Vec<&str> = run
        .messages
        .iter()
        .filter(|m| m["log"]["level"] == "DEBUG")
        .map(|m| m["log"]["message"].as_str().unwrap())
        .collect();
    assert!(
        debug[0].ends_with(&format!(
            "{}/v1/orders/?page=1&limit=100&sorting=created_at&sorting=invoice_number",
            server.url()
        )),
        "the debug log shows the URL requested: {}",
        debug[0]
    );
}

#[test]
fn states_picked_out_of_a_run_with_grep_resume_it() {
    let server = FakePolar::start(Options::with_records(250));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &catalog(&["refunds", "customers"]));
    let first = read(&config, Some(&catalog), None);
    assert_eq!(first.code, 0);
    // `grep '"STATE"' messages.jsonl > state.json`: every STATE line, one per line, the last per stream last.
    let grepped: String = first
        .stdout
        .lines()
        .filter(|line| line.contains("\"STATE\""))
        .map(|line| format!("{line}\n"))
        .collect();
    let state = files.text("state.json", &grepped);
    let second = read(&config, Some(&catalog), Some(&state));
    second.compliant();
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert!(second.trace_errors().is_empty());

    // What the connector does not use is named in a WARN, not dropped in silence.
    let legacy = files.json("legacy.json", &json!({"refunds": {"cursor": "2025-01-01"}}));
    let run = read(&config, Some(&catalog), Some(&legacy));
    run.compliant();
    assert_eq!(run.code, 0);
    let warned = run.messages.iter().any(|m| {
        m["log"]["level"] == "WARN"
            && m["log"]["message"]
                .as_str()
                .unwrap()
                .contains("neither a STREAM nor a GLOBAL state (keys: refunds)")
    });
    assert!(warned, "{}", run.stdout);

    // A state file that is neither says what it must hold.
    let broken = files.text("broken-state.json", "{\"type\": \"STATE\"}\nnot json\n");
    let run = read(&config, Some(&catalog), Some(&broken));
    run.compliant();
    assert_eq!(run.code, 1);
    let message = run.error_message();
    assert!(message.contains("one STATE message per line"), "{message}");
}

#[test]
fn json_errors_say_what_is_wrong_and_a_byte_order_mark_is_fine() {
    let server = FakePolar::start(Options::with_records(3));
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&["orders"]));
    for (text, expected) in [
        (
            "{\"organization_access_token\": \"polar_oat_secret9\",}",
            "trailing comma",
        ),
        (
            "{\"organization_access_token\": \"polar_oat_secret9\" \"x\": 1}",
            "expected `,` or `}`",
        ),
        (
            "{\"organization_access_token\": \"polar_oat_secret9",
            "EOF while parsing a string",
        ),
    ] {
        let config = files.text("config.json", text);
        let run = read(&config, Some(&catalog), None);
        run.compliant();
        assert_eq!(run.code, 1);
        let message = run.error_message();
        assert!(message.contains(expected), "{message}");
        assert!(!run.stdout.contains("secret9"), "the input is never quoted");
    }
    let config: Value = server.config();
    let with_bom = files.text("bom.json", &format!("\u{feff}{config}"));
    let run = read(&with_bom, Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_same_records(&run, &server, "orders");
}
