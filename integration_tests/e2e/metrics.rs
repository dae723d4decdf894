//! The metrics stream: not a list, but Polar's daily figures asked for in spans of days.

use serde_json::Value;

use crate::harness::*;

fn metrics_catalog(files: &Files) -> std::path::PathBuf {
    files.json("catalog.json", &catalog(&["metrics"]))
}

#[test]
fn metrics_are_read_in_spans_of_the_limit_and_arrive_once_per_day() {
    let mut options = Options::with_records(0);
    options.metrics_max_days = 30;
    let server = FakePolar::start(options);
    let files = Files::new();
    let run = read(
        &config_file(&files, &server),
        Some(&metrics_catalog(&files)),
        None,
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let periods = server.metrics_periods();
    let delivered: Vec<&Value> = run.records("metrics");
    assert_eq!(delivered, periods.iter().collect::<Vec<_>>());
    let days: std::collections::HashSet<&str> = delivered
        .iter()
        .map(|period| period["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(days.len(), delivered.len(), "one record per day");
    // The limits, then one request per 30 days, each within the limit (the fake refuses longer spans).
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.stream == "metrics")
        .collect();
    assert_eq!(requests.len(), 1 + periods.len().div_ceil(30));
    assert!(requests.iter().all(|request| request.status == 200));
    let estimate = run
        .messages
        .iter()
        .find(|message| message["trace"]["type"] == "ESTIMATE")
        .expect("an estimate");
    assert_eq!(
        estimate["trace"]["estimate"]["row_estimate"],
        periods.len() as u64
    );
}

#[test]
fn metrics_without_their_scope_fail_that_stream_with_a_config_error() {
    let mut options = Options::with_records(5);
    options.scopes = Some(vec!["orders:read".into()]);
    let server = FakePolar::start(options);
    let files = Files::new();
    let run = read(
        &config_file(&files, &server),
        Some(&files.json("catalog.json", &catalog(&["orders", "metrics"]))),
        None,
    );
    run.compliant();
    assert_ne!(run.code, 0);
    assert_eq!(run.records("orders").len(), 5, "the other stream completes");
    let errors = run.trace_errors();
    let error = errors
        .iter()
        .find(|error| error["stream_descriptor"]["name"] == "metrics")
        .expect("a TRACE error for metrics");
    assert_eq!(error["failure_type"], "config_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("'metrics:read'") && message.contains("GET /v1/metrics/limits"),
        "{message}"
    );
}

#[test]
fn a_failing_metrics_request_is_retried_then_completes() {
    let server = FakePolar::start(Options::with_records(0));
    server.push_fault(Fault::status("metrics", 503).times(2));
    let files = Files::new();
    let run = read_with_env(
        &config_file(&files, &server),
        Some(&metrics_catalog(&files)),
        None,
        &[("SOURCE_POLAR_BACKOFF_BASE_MS", "1")],
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("retry 1 of"), "the retries are logged");
    assert_eq!(run.records("metrics").len(), server.metrics_periods().len());
}
