//! Faults on the way: what is retried and recovered, and how what cannot be recovered is reported.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

fn status_fault(stream: &str, status: u16, retry_after: Option<&str>, body: &str) -> Fault {
    Fault::new(
        stream,
        FaultKind::Status {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.to_owned(),
        },
    )
}

/// Reads refunds and customers with `faults` injected; returns the run and the server.
fn read_with_faults(faults: Vec<Fault>, env: &[(&str, &str)]) -> (Run, FakePolar) {
    let server = FakePolar::start(Options::with_records(250));
    for fault in faults {
        server.push_fault(fault);
    }
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&["refunds", "customers"]));
    let run = read_with_env(&config_file(&files, &server), Some(&catalog), None, env);
    run.compliant();
    (run, server)
}

#[test]
fn transient_faults_are_survived_with_exact_records() {
    let scenarios: Vec<(&str, Vec<Fault>)> = vec![
        (
            "500, 502, 504, 408 in a row",
            vec![
                status_fault("refunds", 500, None, "{\"detail\": \"boom\"}").pages(2, 2),
                status_fault(
                    "refunds",
                    502,
                    None,
                    "<html><body>Bad gateway</body></html>",
                )
                .pages(2, 2),
                status_fault("refunds", 504, None, "").pages(2, 2),
                status_fault("refunds", 408, None, "").pages(2, 2),
            ],
        ),
        (
            "503 with Retry-After as an HTTP date",
            vec![status_fault("refunds", 503, Some(&httpdate_in(1)), "").pages(3, 3)],
        ),
        (
            "a body cut short",
            vec![
                Fault::new("refunds", FaultKind::CutBody)
                    .pages(1, 1)
                    .times(2),
            ],
        ),
        (
            "malformed JSON",
            vec![Fault::new("refunds", FaultKind::MalformedJson).pages(2, 2)],
        ),
        (
            "an HTML page with 200",
            vec![
                Fault::new(
                    "refunds",
                    FaultKind::Body("<html>maintenance</html>".into()),
                )
                .pages(2, 2),
            ],
        ),
        (
            "a slow answer past the timeout",
            vec![Fault::new("refunds", FaultKind::Delay(Duration::from_secs(3))).pages(2, 2)],
        ),
        (
            "an indented body",
            vec![
                Fault::new("refunds", FaultKind::Indented)
                    .pages(1, 3)
                    .times(3),
            ],
        ),
    ];
    for (name, faults) in scenarios {
        let (run, server) =
            read_with_faults(faults, &[("SOURCE_POLAR_REQUEST_TIMEOUT_MS", "1000")]);
        assert_eq!(run.code, 0, "{name}: {}", run.stdout);
        assert_same_records(&run, &server, "refunds");
        assert_same_records(&run, &server, "customers");
        assert_eq!(
            run.statuses("refunds").last().unwrap(),
            "COMPLETE",
            "{name}"
        );
    }
}

fn httpdate_in(seconds: u64) -> String {
    // RFC 7231 IMF-fixdate, computed without a date crate: the server only needs a parseable future date.
    let at = std::time::SystemTime::now() + Duration::from_secs(seconds + 1);
    httpdate::fmt_http_date(at)
}

#[test]
fn rate_limits_are_honoured_and_reported() {
    let started = Instant::now();
    let (run, server) = read_with_faults(
        vec![status_fault("refunds", 429, Some("2"), "").pages(2, 2)],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_same_records(&run, &server, "refunds");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was waited out"
    );
    let rate_limited: Vec<_> = run
        .messages
        .iter()
        .filter(|m| m["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED")
        .collect();
    // The stream that met the 429 first; then any other whose request waits for the same pause. Each is a
    // RUNNING status with exactly one reason (the platform counts no other).
    assert!(!rate_limited.is_empty());
    assert_eq!(
        rate_limited[0]["trace"]["stream_status"]["stream_descriptor"]["name"],
        "refunds"
    );
    for message in &rate_limited {
        let status = &message["trace"]["stream_status"];
        assert_eq!(status["status"], "RUNNING");
        assert_eq!(status["reasons"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn exhausted_retries_fail_the_stream_as_transient_and_spare_the_others() {
    let (run, server) = read_with_faults(
        vec![
            status_fault("refunds", 503, None, "")
                .pages(2, 2)
                .times(100),
        ],
        &[("SOURCE_POLAR_MAX_ATTEMPTS", "4")],
    );
    assert_ne!(run.code, 0);
    assert_eq!(
        run.statuses("refunds"),
        ["STARTED", "RUNNING", "INCOMPLETE"]
    );
    assert_eq!(run.statuses("customers").last().unwrap(), "COMPLETE");
    assert_same_records(&run, &server, "customers");
    let errors = run.trace_errors();
    let stream_error = errors
        .iter()
        .find(|e| e["stream_descriptor"]["name"] == "refunds")
        .expect("a stream error");
    assert_eq!(stream_error["failure_type"], "transient_error");
    let message = stream_error["message"].as_str().unwrap();
    assert!(
        message.contains("Polar kept answering 503 Service Unavailable for GET /v1/refunds/ page 2 after 4 attempts over"),
        "{message}"
    );
    assert!(
        errors.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("refunds"),
        "the final error names the stream"
    );
    let attempts = server
        .requests()
        .iter()
        .filter(|r| r.stream == "refunds" && r.page == 2)
        .count();
    assert_eq!(attempts, 4);
}

#[test]
fn a_missing_scope_fails_only_its_stream() {
    let mut options = Options::with_records(120);
    options.scopes = Some(
        STREAMS
            .iter()
            .filter(|stream| **stream != "refunds")
            .map(|s| format!("{s}:read"))
            .collect(),
    );
    let server = FakePolar::start(options);
    let files = Files::new();
    let run = read(&config_file(&files, &server), None, None);
    run.compliant();
    assert_ne!(run.code, 0);
    assert_eq!(run.statuses("refunds"), ["STARTED", "INCOMPLETE"]);
    let error = run
        .trace_errors()
        .into_iter()
        .find(|e| e["stream_descriptor"]["name"] == "refunds")
        .unwrap();
    assert_eq!(error["failure_type"], "config_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("lacks the 'refunds:read' scope"),
        "{error}"
    );
    for stream in STREAMS.iter().filter(|s| **s != "refunds") {
        assert_same_records(&run, &server, stream);
        assert_eq!(run.statuses(stream).last().unwrap(), "COMPLETE");
    }
}

#[test]
fn off_contract_answers_fail_loudly_as_system_errors() {
    for (fault, expected) in [
        (
            Fault::new("refunds", FaultKind::ItemWithoutId).pages(2, 2),
            "item 0 of the page has no 'id'",
        ),
        (
            Fault::new(
                "refunds",
                FaultKind::Body("{\"pagination\": {\"total_count\": 1, \"max_page\": 1}}".into()),
            ),
            "no 'items' array",
        ),
        (
            status_fault("refunds", 400, None, "{\"detail\": \"bad\"}"),
            "HTTP 400: {\"detail\": \"bad\"}",
        ),
        (
            status_fault("refunds", 404, None, "{\"detail\": \"Not Found\"}"),
            "does not accept API version 2026-10",
        ),
    ] {
        let (run, _server) = read_with_faults(vec![fault], &[]);
        assert_ne!(run.code, 0);
        let error = run
            .trace_errors()
            .into_iter()
            .find(|e| e["stream_descriptor"]["name"] == "refunds")
            .unwrap()
            .clone();
        assert_eq!(error["failure_type"], "system_error");
        assert!(
            error["message"].as_str().unwrap().contains(expected),
            "{error}"
        );
        assert_eq!(run.statuses("customers").last().unwrap(), "COMPLETE");
    }
}

#[test]
fn an_invalid_token_fails_every_stream_as_a_config_error() {
    let server = FakePolar::start(Options::with_records(3));
    let files = Files::new();
    let mut config = server.config();
    config["organization_access_token"] = json!("polar_oat_wrong_token_value");
    let run = read(&files.json("config.json", &config), None, None);
    run.compliant();
    assert_ne!(run.code, 0);
    assert!(!run.stdout.contains("polar_oat_wrong_token_value"));
    let last = (*run.trace_errors().last().unwrap()).clone();
    assert_eq!(last["failure_type"], "config_error");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("401 Unauthorized")
    );
}

#[test]
fn churn_during_the_sync_loses_and_doubles_nothing() {
    for (creates, deletes) in [(2, 0), (0, 1), (1, 2), (0, 3)] {
        let server = FakePolar::start(Options::with_records(600));
        server.set_churn(Churn {
            stream: "refunds".into(),
            creates_per_request: creates,
            deletes_per_request: deletes,
            requests: 6,
        });
        let before = server.ids("refunds");
        let files = Files::new();
        let catalog = files.json("catalog.json", &catalog(&["refunds"]));
        let run = read_with_env(
            &config_file(&files, &server),
            Some(&catalog),
            None,
            &[("SOURCE_POLAR_PAGES_AHEAD", "1")],
        );
        run.compliant();
        assert_eq!(run.code, 0, "churn +{creates}/-{deletes}: {}", run.stdout);
        assert_survivors_delivered(&run, &server, "refunds", &before);
    }
}

#[test]
fn the_tightest_prefetch_budget_still_completes_with_ties_and_churn() {
    // One page of budget for eight streams reading four pages ahead, two requests in flight: pages wait for
    // permits while ties and deletions make readers fetch extra pages of their own. Nothing may hang (the
    // harness fails a run that outlives its limit) and every record must arrive exactly once.
    let mut options = Options::with_records(450);
    options.tie_every = 7;
    let server = FakePolar::start(options);
    server.set_churn(Churn {
        stream: "refunds".into(),
        creates_per_request: 0,
        deletes_per_request: 1,
        requests: 4,
    });
    let before = server.ids("refunds");
    let files = Files::new();
    let run = read_with_env(
        &config_file(&files, &server),
        None,
        None,
        &[
            ("SOURCE_POLAR_PAGES_BUFFERED", "1"),
            ("SOURCE_POLAR_PAGES_AHEAD", "4"),
            ("SOURCE_POLAR_MAX_IN_FLIGHT", "2"),
        ],
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    for stream in STREAMS.iter().filter(|stream| **stream != "refunds") {
        assert_same_records(&run, &server, stream);
    }
    let (deleted, _) = server.churned();
    assert!(!deleted.is_empty(), "the churn ran");
    // `record_ids` fails on an id delivered twice.
    assert_survivors_delivered(&run, &server, "refunds", &before);
}

#[test]
fn a_reader_that_goes_away_ends_the_process_quietly() {
    use std::io::{BufRead, BufReader, Read};
    let server = FakePolar::start(Options::with_records(3000));
    let files = Files::new();
    let config = config_file(&files, &server);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_source-polar"))
        .args(["read", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with('{'));
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("stdout was closed"), "{stderr}");
}
