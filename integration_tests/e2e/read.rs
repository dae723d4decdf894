//! Full reads: what arrives, in which order, and that it matches the server and the schemas.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::harness::*;

fn discovered_schemas(files: &Files) -> HashMap<String, Value> {
    let config = files.json(
        "discover-config.json",
        &json!({"organization_access_token": "polar_oat_x"}),
    );
    let run = run(&[&"discover", &"--config", &config], &[]);
    run.of_type("CATALOG")[0]["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| {
            (
                stream["name"].as_str().unwrap().to_owned(),
                stream["json_schema"].clone(),
            )
        })
        .collect()
}

/// Every key of `value` is described by `schema` (recursively), so no field Polar sends is undocumented. A
/// free-form map (the SDK's `dict[str, Any]`: no `properties`, `additionalProperties: true`) takes any key.
fn assert_covered(value: &Value, schema: &Value, at: &str) {
    let free_form = schema.get("properties").is_none()
        && schema.get("additionalProperties") == Some(&Value::Bool(true));
    if free_form {
        return;
    }
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let free_values = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, inner) in object {
                match (properties.and_then(|p| p.get(key)), free_values) {
                    (Some(sub), _) => assert_covered(inner, sub, &format!("{at}.{key}")),
                    (None, Some(values)) => assert_covered(inner, values, &format!("{at}.{key}")),
                    (None, None) => panic!("{at}.{key} is not described by the schema"),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    assert_covered(item, item_schema, &format!("{at}[]"));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn full_read_delivers_every_record_once_in_protocol_order() {
    let server = FakePolar::start(
        Options::with_records(230)
            .count("products", 0)
            .count("organizations", 1),
    );
    let files = Files::new();
    let run = read(&config_file(&files, &server), None, None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.is_empty(), "nothing on stderr: {}", run.stderr);
    assert!(run.trace_errors().is_empty());
    for stream in STREAMS {
        assert_same_records(&run, &server, stream);
        let sequence = run.sequence(stream);
        // Subscriptions: the unstarted ones first (one page here, checkpointed by nothing: their records fold
        // into the first page of the started ones), then the started ones by key.
        let listed = if *stream == "subscriptions" {
            server
                .objects(stream)
                .iter()
                .filter(|object| !object["started_at"].is_null())
                .count()
        } else {
            server.objects(stream).len()
        };
        let expected_pages = listed.div_ceil(100).max(1);
        let mut expected = vec!["STARTED".to_owned(), "RUNNING".to_owned()];
        for _ in 0..expected_pages {
            if server.objects(stream).is_empty() {
                expected.push("STATE".into());
            } else {
                expected.extend(["RECORD".to_owned(), "STATE".to_owned()]);
            }
        }
        // The final STATE (stream complete) follows the last page's: consecutive STATEs fold into one.
        expected.push("COMPLETE".to_owned());
        assert_eq!(sequence, expected, "{stream}");
        assert_eq!(
            run.state_record_count(stream) as usize,
            server.objects(stream).len(),
            "{stream}: recordCount"
        );
    }
    for record in run.of_type("RECORD") {
        assert!(
            record["record"]["emitted_at"].is_u64(),
            "emitted_at is integer milliseconds"
        );
    }
    let estimates: Vec<_> = run
        .messages
        .iter()
        .filter(|m| m["trace"]["type"] == "ESTIMATE")
        .collect();
    assert_eq!(estimates.len(), STREAMS.len() + PERIODS.len());
    // Metrics: every day from the organization's first to today, each period exactly as Polar computed it.
    assert_eq!(
        run.records("metrics"),
        server.metrics_periods().iter().collect::<Vec<_>>()
    );
    assert!(
        run.records("metrics").len() > 366,
        "more days than one request serves"
    );
    assert_eq!(
        run.sequence("metrics"),
        ["STARTED", "RUNNING", "RECORD", "STATE", "COMPLETE"]
    );
    assert_eq!(
        run.state_record_count("metrics") as usize,
        server.metrics_periods().len()
    );
    assert!(
        estimates
            .iter()
            .any(|e| e["trace"]["estimate"]["name"] == "orders"
                && e["trace"]["estimate"]["row_estimate"] == 230)
    );
    // Each record is one line whose data is the server's JSON, byte for byte.
    assert_eq!(run.stdout.lines().count(), run.messages.len());
}

#[test]
fn requests_follow_polar_conventions() {
    let server = FakePolar::start(Options::with_records(150));
    let files = Files::new();
    let run = read(&config_file(&files, &server), None, None);
    assert_eq!(run.code, 0);
    let (metrics, requests): (Vec<_>, Vec<_>) = server
        .requests()
        .into_iter()
        .partition(|request| request.stream == "metrics");
    assert_eq!(
        requests.len(),
        STREAMS.len() * 2 + 2,
        "two pages for each stream of 150 records, the page of subscriptions not started yet, and the change \
         log's deletions of the customers' pass"
    );
    // Metrics: the limits, then the days in spans of at most 366 (the fake's limit, as Polar's).
    let spans = server.metrics_periods().len().div_ceil(366);
    assert_eq!(metrics.len(), 1 + spans, "{metrics:?}");
    assert_eq!(metrics[0].record.as_deref(), Some("limits"));
    for request in &requests {
        assert_eq!(request.limit, 100);
        assert_eq!(request.polar_version, "2026-10");
        assert!(
            request
                .user_agent
                .starts_with(concat!("source-polar/", env!("CARGO_PKG_VERSION"))),
            "{}",
            request.user_agent
        );
        assert_eq!(request.authorization, format!("Bearer {TOKEN}"));
        // Ascending, but for the subscriptions not started yet, read nulls first.
        let unstarted = request.stream == "subscriptions" && request.sorting[0] == "-started_at";
        assert!(
            !request.sorting.is_empty() && (!request.sorting[0].starts_with('-') || unstarted),
            "ascending: {:?}",
            request.sorting
        );
    }
    let orders: Vec<_> = requests.iter().filter(|r| r.stream == "orders").collect();
    assert_eq!(orders[0].sorting, ["created_at", "invoice_number"]);
    let subscriptions: Vec<_> = requests
        .iter()
        .filter(|r| r.stream == "subscriptions")
        .collect();
    // The ones not started yet first (nulls first), then the started ones by key, from 1970.
    assert_eq!(
        subscriptions[0].sorting,
        ["-started_at", "customer", "amount"]
    );
    assert_eq!(
        subscriptions[1].sorting,
        ["started_at", "customer", "amount"]
    );
}

#[test]
fn every_record_validates_against_its_schema_and_the_schema_covers_every_field() {
    let server = FakePolar::start(Options::with_records(120));
    let files = Files::new();
    let schemas = discovered_schemas(&files);
    let run = read(&config_file(&files, &server), None, None);
    assert_eq!(run.code, 0);
    for stream in STREAMS {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schemas[*stream])
            .expect("the stream schema compiles");
        let records = run.records(stream);
        assert_eq!(records.len(), 120);
        for record in records {
            if let Err(error) = validator.validate(record) {
                panic!(
                    "{stream} record {} does not match its schema: {error}",
                    record["id"]
                );
            }
            assert_covered(record, &schemas[*stream], stream);
        }
    }
}

#[test]
fn a_catalog_selects_streams_and_incremental_where_unsupported_reads_in_full() {
    let server = FakePolar::start(Options::with_records(40));
    let files = Files::new();
    let mut selected = catalog(&["orders", "customers", "benefits"]);
    selected["streams"][1]["sync_mode"] = json!("incremental");
    selected["streams"][1]["cursor_field"] = json!(["created_at"]);
    selected["streams"][2]["sync_mode"] = json!("incremental");
    let catalog_path = files.json("catalog.json", &selected);
    let run = read(&config_file(&files, &server), Some(&catalog_path), None);
    run.compliant();
    assert_eq!(run.code, 0);
    assert_same_records(&run, &server, "orders");
    assert_same_records(&run, &server, "customers");
    assert_same_records(&run, &server, "benefits");
    assert!(run.records("products").is_empty() && run.statuses("products").is_empty());
    assert!(
        run.stdout.contains(
            "Incremental sync was requested for benefits, which Polar records no changes for"
        ),
        "the incremental request is explained"
    );
    assert!(
        run.records("customers")
            .iter()
            .all(|r| r["_ab_cdc_updated_at"].is_string())
    );
    assert!(
        run.records("orders")
            .iter()
            .all(|r| r.get("_ab_cdc_updated_at").is_none())
    );
    let asked: std::collections::HashSet<_> =
        server.requests().iter().map(|r| r.stream.clone()).collect();
    // Besides the three streams, the change log, for the deletions during the customers' pass.
    assert_eq!(
        asked,
        ["orders", "customers", "benefits", "events"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

#[test]
fn ties_across_page_boundaries_are_recovered_exactly() {
    // Every 7 consecutive records share a creation time and the server reshuffles ties on every request,
    // as Postgres may: checkouts (sorted by creation time alone) then show duplicates and gaps at page edges.
    let mut options = Options::with_records(450);
    options.tie_every = 7;
    let server = FakePolar::start(options);
    let files = Files::new();
    for _ in 0..3 {
        server.clear_requests();
        let run = read(&config_file(&files, &server), None, None);
        run.compliant();
        assert_eq!(run.code, 0, "{}", run.stdout);
        for stream in STREAMS {
            assert_same_records(&run, &server, stream);
        }
    }
}

#[test]
fn the_benchmarks_page_cache_serves_the_same_records() {
    // The benchmark warms the fake's page cache before measuring; a cached page must be the page itself, and
    // pages whose edges cut a tie group must still be reshuffled (so never cached).
    let mut options = Options::with_records(450);
    options.tie_every = 7;
    options.cache_pages = true;
    let server = FakePolar::start(options);
    let files = Files::new();
    for _ in 0..2 {
        let run = read(&config_file(&files, &server), None, None);
        run.compliant();
        assert_eq!(run.code, 0, "{}", run.stdout);
        for stream in STREAMS {
            assert_same_records(&run, &server, stream);
        }
    }
    // Streams with a tie-breaker have stable pages (kept); checkouts, sorted by creation time alone, has a tie
    // group across every page edge (not kept).
    let distinct_pages: std::collections::HashSet<(String, u32)> = server
        .requests()
        .iter()
        .filter(|request| request.status == 200 && request.limit == 100)
        .map(|request| (request.stream.clone(), request.page))
        .collect();
    let cached = server.cached_pages();
    assert!(cached > 0, "pages were cached");
    assert!(
        cached < distinct_pages.len(),
        "{cached} of {} pages cached: pages with shuffled ties must not be",
        distinct_pages.len()
    );
}

#[test]
fn debug_logging_shows_each_request_without_the_token() {
    let server = FakePolar::start(Options::with_records(120));
    let files = Files::new();
    let catalog_path = files.json("catalog.json", &catalog(&["orders"]));
    let config = config_file(&files, &server);
    for debug in [
        read_with_env(
            &config,
            Some(&catalog_path),
            None,
            &[("LOG_LEVEL", "debug")],
        ),
        run(
            &[
                &"--debug",
                &"read",
                &"--config",
                &config,
                &"--catalog",
                &catalog_path,
            ],
            &[],
        ),
    ] {
        debug.compliant();
        assert_eq!(debug.code, 0);
        let lines: Vec<&str> = debug
            .messages
            .iter()
            .filter(|m| m["type"] == "LOG" && m["log"]["level"] == "DEBUG")
            .map(|m| m["log"]["message"].as_str().unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("GET /v1/orders/ page 1 -> 200 in "),
            "{}",
            lines[0]
        );
    }
    let quiet = read(&config, Some(&catalog_path), None);
    assert!(quiet.messages.iter().all(|m| m["log"]["level"] != "DEBUG"));
}

#[test]
fn secrets_in_records_pass_through_and_appear_in_no_other_message() {
    let server = FakePolar::start(Options::with_records(120));
    let files = Files::new();
    let catalog = files.json(
        "catalog.json",
        &catalog(&["checkouts", "checkout_links", "license_keys"]),
    );
    let run = read_with_env(
        &config_file(&files, &server),
        Some(&catalog),
        None,
        &[("LOG_LEVEL", "debug")],
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let mut secrets: Vec<String> = ["checkouts", "checkout_links"]
        .iter()
        .flat_map(|stream| run.records(stream))
        .map(|record| {
            record["client_secret"]
                .as_str()
                .expect("a client secret")
                .to_owned()
        })
        .collect();
    secrets.extend(
        run.records("license_keys")
            .iter()
            .map(|record| record["key"].as_str().expect("a key").to_owned()),
    );
    assert_eq!(secrets.len(), 360, "every record keeps its secret");
    for line in run
        .stdout
        .lines()
        .filter(|line| !line.starts_with(r#"{"type":"RECORD""#))
    {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a secret left a record: {line}"
            );
        }
    }
    assert!(
        run.stdout.contains(r#""level":"DEBUG""#),
        "debug logging was on"
    );
}
