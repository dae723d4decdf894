//! A broken or hostile server (or proxy) in front of Polar, misbehaving in one way at a time: the connector
//! prints no token, loses nothing silently, and never stalls. One scenario per way.

use serde_json::{Value, json};

use crate::harness::*;

/// Reads `streams` from a server misbehaving as `hostile` says.
fn read_hostile(streams: &[&str], hostile: Vec<Hostile>, env: &[(&str, &str)]) -> (Run, FakePolar) {
    let server = FakePolar::start(Options::with_records(250));
    for rule in hostile {
        server.push_hostile(rule);
    }
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(streams));
    let run = read_with_env(&config_file(&files, &server), Some(&catalog), None, env);
    run.compliant();
    (run, server)
}

/// An error body quoting the request's `Authorization` header, as some gateways do.
fn echo_authorization(status: u16) -> impl Fn(&mut Answer) + Send + Sync {
    move |answer: &mut Answer| {
        answer.status = status;
        let echoed = json!({
            "detail": "request rejected",
            "request": {"headers": {"authorization": answer.authorization}},
            "token": answer.authorization.trim_start_matches("Bearer "),
            "url_encoded": answer.authorization.replace(' ', "%20"),
        });
        answer.set_json(&echoed);
    }
}

#[test]
fn an_error_body_echoing_the_token_is_quoted_without_it() {
    for status in [422, 400, 409, 418] {
        let (run, _server) = read_hostile(
            &["refunds", "customers"],
            vec![Hostile::pages("refunds", echo_authorization(status)).after_requests(1)],
            &[],
        );
        assert_eq!(run.code, 1, "{}", run.stdout);
        let message = run.error_message();
        assert!(message.contains(&format!("HTTP {status}")), "{message}");
        assert!(message.contains("[redacted]"), "{message}");
        assert_eq!(
            run.record_ids("customers").len(),
            250,
            "other streams go on"
        );
    }
}

#[test]
fn a_check_against_a_server_echoing_the_token_does_not_show_it() {
    let server = FakePolar::start(Options::with_records(10));
    for stream in STREAMS {
        server.push_hostile(Hostile::pages(stream, echo_authorization(422)));
    }
    let files = Files::new();
    let config = config_file(&files, &server);
    let run = run(&[&"check", &"--config", &config], &[]);
    run.compliant();
    let status = &run.of_type("CONNECTION_STATUS")[0]["connectionStatus"];
    assert_eq!(status["status"], "FAILED", "{}", run.stdout);
    assert!(
        status["message"].as_str().unwrap().contains("[redacted]"),
        "{status}"
    );
}

#[test]
fn a_page_field_echoing_the_token_is_not_quoted() {
    let (run, _server) = read_hostile(
        &["refunds"],
        vec![Hostile::pages("refunds", |answer: &mut Answer| {
            let mut page = answer.json();
            page["pagination"]["total_count"] = Value::String(answer.authorization.clone());
            answer.set_json(&page);
        })],
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.error_message().contains("total_count"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_record_echoing_the_token_is_delivered_without_it() {
    let (run, _server) = read_hostile(
        &["customers"],
        vec![Hostile::pages("customers", |answer: &mut Answer| {
            let mut page = answer.json();
            page["items"][0]["name"] = Value::String(answer.authorization.clone());
            answer.set_json(&page);
        })],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let records = run.records("customers");
    assert_eq!(records.len(), 250);
    assert!(
        records
            .iter()
            .any(|record| record["name"] == "Bearer [redacted]"),
        "the echoed token is cut out of the record"
    );
}

/// A catalog syncing `streams` incrementally.
fn incremental(streams: &[&str]) -> Value {
    let mut catalog = catalog(streams);
    for entry in catalog["streams"].as_array_mut().unwrap() {
        entry["sync_mode"] = json!("incremental");
        entry["destination_sync_mode"] = json!("append_dedup");
    }
    catalog
}

fn requests_of(server: &FakePolar, stream: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|request| request.stream == stream)
        .count()
}

/// The list page's items, rewritten by `change`.
fn rewrite_items(
    change: impl Fn(&mut Vec<Value>) + Send + Sync,
) -> impl Fn(&mut Answer) + Send + Sync {
    move |answer: &mut Answer| {
        let mut page = answer.json();
        if let Some(items) = page["items"].as_array_mut() {
            change(items);
        }
        answer.set_json(&page);
    }
}

#[test]
fn keyed_lists_served_out_of_order_fail_instead_of_losing_records() {
    // Orders by `created_after`, and events by `start_timestamp`: newest first instead of oldest first.
    for stream in ["orders", "events"] {
        let (run, _server) = read_hostile(
            &[stream],
            vec![Hostile::pages(
                stream,
                rewrite_items(|items| items.reverse()),
            )],
            &[],
        );
        assert_eq!(run.code, 1, "{stream}: {}", run.stdout);
        assert_ne!(run.statuses(stream).last().unwrap(), "COMPLETE");
        let error = &run.trace_errors()[0];
        assert_eq!(error["failure_type"], "system_error", "{stream}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("not in ascending order"),
            "{stream}: {message}"
        );
    }
}

#[test]
fn a_change_log_served_out_of_order_fails_the_streams_that_follow_it() {
    let server = FakePolar::start(Options::with_records(250));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental(&["customers"]));
    let first = read(&config, Some(&catalog), None);
    first.compliant();
    assert_eq!(first.code, 0, "{}", first.stdout);
    let state = files.json("state.json", &first.last_states());
    for pick in 0..5 {
        server.update("customers", pick * 17, std::time::Duration::ZERO);
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    server.push_hostile(Hostile::pages(
        "events",
        rewrite_items(|items| items.reverse()),
    ));
    let run = read(&config, Some(&catalog), Some(&state));
    run.compliant();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_ne!(run.statuses("customers").last().unwrap(), "COMPLETE");
    assert!(
        run.error_message().contains("not in ascending order"),
        "{}",
        run.stdout
    );
}

/// An answer whose `Date` says 2099.
fn dated_2099(answer: &mut Answer) {
    answer.set_header("date", "Thu, 31 Dec 2099 23:59:59 GMT");
}

#[test]
fn a_server_clock_in_2099_is_not_trusted_and_a_cursor_in_the_future_is_refused() {
    let server = FakePolar::start(Options::with_records(250));
    for stream in ["customers", "orders", "events"] {
        server.push_hostile(Hostile::pages(stream, dated_2099));
    }
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental(&["customers", "orders"]));
    let run = read(&config, Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let warned = run.of_type("LOG").iter().any(|log| {
        log["log"]["message"]
            .as_str()
            .is_some_and(|text| text.contains("this machine's clock") && text.contains("2099"))
    });
    assert!(warned, "the far-off Date is said: {}", run.stdout);
    let latest_allowed = chrono::Utc::now() + chrono::Duration::minutes(5);
    for state in run.last_states().as_array().unwrap() {
        let cursor = state["stream"]["stream_state"]["cursor"].as_str().unwrap();
        let cursor = chrono::DateTime::parse_from_rfc3339(cursor).unwrap();
        assert!(
            cursor <= latest_allowed,
            "a cursor past this machine's clock: {cursor}"
        );
    }

    // A clock behind this machine's is said too, and used: the earlier clock can only read again.
    let behind = FakePolar::start(Options::with_records(50));
    for stream in ["customers", "orders", "events"] {
        behind.push_hostile(Hostile::pages(stream, |answer: &mut Answer| {
            answer.set_header("date", "Mon, 01 Jan 2024 00:00:00 GMT");
        }));
    }
    let behind_config = files.json("behind.json", &behind.config());
    let run = read(&behind_config, Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("behind this machine's clock"));
    for state in run.last_states().as_array().unwrap() {
        let cursor = state["stream"]["stream_state"]["cursor"].as_str().unwrap();
        assert!(
            cursor.starts_with("2024-01-01"),
            "the earlier clock is used: {cursor}"
        );
    }

    // A state whose cursor lies in the future (left by such a server, or edited) is a config error.
    for future in ["2099-12-31T23:59:59Z", "9999-12-31T00:00:00Z"] {
        let state = files.json(
            "future.json",
            &json!([{"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "customers"},
                "stream_state": {"cursor": future},
            }}]),
        );
        let run = read(&config, Some(&catalog), Some(&state));
        run.compliant();
        assert_eq!(run.code, 1);
        let error = &run.trace_errors()[0];
        assert_eq!(error["failure_type"], "config_error");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("later than this machine's clock"),
            "{error}"
        );
    }
}

#[test]
fn a_404_on_a_read_by_id_that_is_not_polars_deletes_nothing() {
    for (body, says) in [
        (
            "<html><body>404 Not Found</body></html>",
            "no deletion is inferred",
        ),
        (r#"{"detail": "Not Found"}"#, "does not accept API version"),
    ] {
        let server = FakePolar::start(Options::with_records(250));
        let files = Files::new();
        let config = config_file(&files, &server);
        let catalog = files.json("catalog.json", &incremental(&["customers"]));
        let first = read(&config, Some(&catalog), None);
        assert_eq!(first.code, 0, "{}", first.stdout);
        let state = files.json("state.json", &first.last_states());
        let updated = server
            .update("customers", 7, std::time::Duration::ZERO)
            .expect("a customer to update");
        let body = body.to_owned();
        server.push_hostile(Hostile::reads("customers", move |answer: &mut Answer| {
            answer.status = 404;
            answer.set_header("content-type", "text/html");
            answer.body = body.clone().into_bytes();
        }));
        server.clear_requests();
        let run = read(&config, Some(&catalog), Some(&state));
        run.compliant();
        assert!(
            server
                .requests()
                .iter()
                .any(|r| r.record.as_deref() == Some(updated.as_str())),
            "the updated customer is read by id"
        );
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.records("customers")
                .iter()
                .all(|record| record["_ab_cdc_deleted_at"].is_null()),
            "no deletion is emitted"
        );
        assert!(
            run.error_message().contains(says),
            "{}",
            run.error_message()
        );
    }
}

#[test]
fn a_count_lower_than_what_exists_loses_nothing() {
    let (run, server) = read_hostile(
        &["customers"],
        vec![Hostile::pages("customers", |answer: &mut Answer| {
            let mut page = answer.json();
            page["pagination"] = json!({"total_count": 100, "max_page": 1});
            answer.set_json(&page);
        })],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_same_records(&run, &server, "customers");
    assert!(run.stdout.contains("count is lower than what it serves"));
}

#[test]
fn a_huge_retry_after_fails_its_stream_at_once_and_stalls_no_other() {
    for retry_after in ["1000000000", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        let started = std::time::Instant::now();
        let value = retry_after.to_owned();
        let (run, _server) = read_hostile(
            &["refunds", "customers"],
            vec![Hostile::pages("refunds", move |answer: &mut Answer| {
                answer.status = 429;
                answer.set_header("retry-after", value.clone());
                answer.body.clear();
            })],
            &[],
        );
        assert!(
            started.elapsed().as_secs() < 30,
            "{retry_after}: {:?}",
            started.elapsed()
        );
        assert_eq!(run.code, 1);
        assert_eq!(run.record_ids("customers").len(), 250, "{retry_after}");
        assert_eq!(run.statuses("customers").last().unwrap(), "COMPLETE");
        let message = run.error_message();
        assert!(message.contains("past the retry budget"), "{message}");
    }
}

#[test]
fn rate_limit_headers_on_a_success_pause_within_the_retry_budget_and_say_so() {
    for millis in [false, true] {
        // A number of seconds, or a Unix time in milliseconds two seconds ahead (not 55,000 years).
        let reset = if millis {
            (chrono::Utc::now().timestamp_millis() + 2_000).to_string()
        } else {
            "3600".to_owned()
        };
        let started = std::time::Instant::now();
        let value = reset.clone();
        let (run, server) = read_hostile(
            &["customers"],
            vec![
                Hostile::pages("customers", move |answer: &mut Answer| {
                    answer.set_header("x-ratelimit-remaining", "0");
                    answer.set_header("x-ratelimit-reset", value.clone());
                })
                .times(1),
            ],
            &[("SOURCE_POLAR_MAX_RETRY_WAIT_MS", "3000")],
        );
        let elapsed = started.elapsed();
        assert_eq!(run.code, 0, "{}", run.stdout);
        assert_same_records(&run, &server, "customers");
        assert!(elapsed.as_secs() < 20, "{reset}: {elapsed:?}");
        assert!(
            run.stdout.contains("x-ratelimit-remaining: 0"),
            "{}",
            run.stdout
        );
        let rate_limited = run
            .of_type("TRACE")
            .iter()
            .any(|trace| trace["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED");
        assert!(rate_limited, "the wait is announced");
        assert_eq!(
            run.stdout.contains("past what is left of the retry budget"),
            !millis,
            "{reset}"
        );
    }
}

/// A server that answers every request with the body of its first answer (it ignores `page` and filters).
fn replaying_first_answer() -> impl Fn(&mut Answer) + Send + Sync {
    let first: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);
    move |answer: &mut Answer| {
        let mut first = first.lock().unwrap();
        match &*first {
            Some(body) => answer.body = body.clone(),
            None => *first = Some(answer.body.clone()),
        }
    }
}

#[test]
fn a_server_ignoring_page_or_key_fails_after_a_few_requests() {
    for (stream, says) in [
        ("customers", "ignores the 'page' parameter"),
        ("orders", "not after the filter"),
    ] {
        let (run, server) = read_hostile(
            &[stream],
            vec![Hostile::pages(stream, replaying_first_answer())],
            &[],
        );
        assert_eq!(run.code, 1, "{stream}: {}", run.stdout);
        let error = &run.trace_errors()[0];
        assert_eq!(error["failure_type"], "system_error");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
        assert!(
            requests_of(&server, stream) <= 3,
            "{stream}: {}",
            requests_of(&server, stream)
        );
    }
}

#[test]
fn a_count_of_a_billion_with_short_pages_fails_after_two_requests() {
    let (run, server) = read_hostile(
        &["customers"],
        vec![Hostile::pages("customers", |answer: &mut Answer| {
            let mut page = answer.json();
            page["items"].as_array_mut().unwrap().truncate(50);
            page["pagination"] = json!({"total_count": 1_000_000_000u64, "max_page": 10_000_000});
            answer.set_json(&page);
        })],
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        requests_of(&server, "customers"),
        2,
        "a page short of its count is asked for once more"
    );
    let error = &run.trace_errors()[0];
    assert_eq!(error["failure_type"], "system_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not page as Polar does"),
        "{error}"
    );
}

#[test]
fn a_page_past_the_size_cap_fails_with_a_message_naming_the_cap() {
    let (run, server) = read_hostile(
        &["customers"],
        vec![Hostile::pages("customers", |answer: &mut Answer| {
            let mut page = answer.json();
            page["items"][0]["name"] = Value::String("x".repeat(20 << 20));
            answer.set_json(&page);
        })],
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(requests_of(&server, "customers"), 1, "not retried");
    let message = run.error_message();
    assert!(message.contains("SOURCE_POLAR_MAX_PAGE_BYTES"), "{message}");
    assert!(message.contains("8192 KiB"), "{message}");
}

#[test]
fn off_contract_bodies_are_named_and_not_retried() {
    type Rewrite = Box<dyn Fn(&mut Answer) + Send + Sync>;
    let cases: Vec<(&str, Rewrite)> = vec![
        (
            "'pagination.total_count' is -1",
            Box::new(|answer: &mut Answer| {
                let mut page = answer.json();
                page["pagination"]["total_count"] = json!(-1);
                answer.set_json(&page);
            }),
        ),
        (
            "'pagination.total_count' is 1.5",
            Box::new(|answer: &mut Answer| {
                let mut page = answer.json();
                page["pagination"]["total_count"] = json!(1.5);
                answer.set_json(&page);
            }),
        ),
        (
            "'pagination.total_count' is \"1\"",
            Box::new(|answer: &mut Answer| {
                let mut page = answer.json();
                page["pagination"]["total_count"] = json!("1");
                answer.set_json(&page);
            }),
        ),
        (
            "'pagination.total_count' is 1e400",
            Box::new(|answer: &mut Answer| {
                let mut page = answer.json();
                page["pagination"]["total_count"] = json!("big");
                answer.set_json(&page);
                let text = String::from_utf8(answer.body.clone()).unwrap();
                answer.body = text.replacen("\"big\"", "1e400", 1).into_bytes();
            }),
        ),
        // Well-formed JSON of the wrong shape: the server answered, but not as Polar's contract says.
        (
            "the body has no 'items' array",
            Box::new(|answer: &mut Answer| answer.set_json(&json!({"detail": "Not Found"}))),
        ),
        (
            "the body is JSON but not what Polar sends",
            Box::new(|answer: &mut Answer| answer.set_json(&json!([]))),
        ),
        (
            "item 0 of the page is not a JSON object",
            Box::new(|answer: &mut Answer| {
                let mut page = answer.json();
                page["items"][0] = json!("not a record");
                answer.set_json(&page);
            }),
        ),
        (
            "has 'id' more than once",
            Box::new(|answer: &mut Answer| {
                let text = String::from_utf8(answer.body.clone()).unwrap();
                answer.body = text
                    .replacen("\"id\":", "\"id\":\"other\",\"id\":", 1)
                    .into_bytes();
            }),
        ),
    ];
    for (says, rewrite) in cases {
        let (run, server) = read_hostile(
            &["customers"],
            vec![Hostile::pages("customers", move |answer: &mut Answer| {
                rewrite(answer)
            })],
            &[],
        );
        assert_eq!(run.code, 1, "{says}");
        assert_eq!(requests_of(&server, "customers"), 1, "{says}: not retried");
        let error = &run.trace_errors()[0];
        assert_eq!(error["failure_type"], "system_error", "{says}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{says}: {message}");
        assert!(!message.contains("not valid JSON"), "{message}");
    }
}

#[test]
fn a_redirect_says_where_it_pointed() {
    for (location, says) in [
        (
            Some("https://login.example.com/sso?next=/v1/customers/"),
            "a redirect to 'https://login.example.com/sso",
        ),
        (None, "a redirect without a Location header"),
    ] {
        let (run, _server) = read_hostile(
            &["customers"],
            vec![Hostile::pages("customers", move |answer: &mut Answer| {
                answer.status = 302;
                answer.body.clear();
                if let Some(location) = location {
                    answer.set_header("location", location);
                }
            })],
            &[],
        );
        assert_eq!(run.code, 1);
        assert!(
            run.error_message().contains(says),
            "{}",
            run.error_message()
        );
    }
}

#[test]
fn a_huge_state_blob_is_not_quoted_whole() {
    let server = FakePolar::start(Options::with_records(50));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &catalog(&["customers"]));
    let blob = "x".repeat(10 << 20);
    let state = files.json(
        "state.json",
        &json!([{"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "customers"},
            "stream_state": {"page": 3, "limit": 100, "junk": blob},
        }}]),
    );
    let run = read(&config, Some(&catalog), Some(&state));
    run.compliant();
    assert_eq!(run.records("customers").len(), 50);
    let longest = run.stdout.lines().map(str::len).max().unwrap();
    assert!(longest < 20_000, "a line of {longest} bytes");
}

#[test]
fn deletions_past_the_change_log_cap_are_streamed_not_collected() {
    let server = FakePolar::start(Options::with_records(300));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental(&["customers"]));
    let mut destination = Destination::default();
    let first = read(&config, Some(&catalog), None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    destination.merge(&first);
    let state = files.json("state.json", &first.last_states());
    let deleted: Vec<String> = (0..30)
        .filter_map(|pick| server.delete_customer(pick * 7, std::time::Duration::ZERO))
        .collect();
    assert!(deleted.len() >= 20, "{} deleted", deleted.len());
    // The change log keeps at most 10 changes of a stream here: the rest are read again, page by page.
    let run = read_with_env(
        &config,
        Some(&catalog),
        Some(&state),
        &[("SOURCE_POLAR_MAX_CHANGES_PER_STREAM", "10")],
    );
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("reading them again from Polar's change log")
    );
    let deletions: std::collections::HashSet<&str> = run
        .records("customers")
        .iter()
        .filter(|record| !record["_ab_cdc_deleted_at"].is_null())
        .map(|record| record["id"].as_str().unwrap())
        .collect();
    for id in &deleted {
        assert!(
            deletions.contains(id.as_str()),
            "the deletion of {id} is written"
        );
    }
    destination.merge(&run);
    destination.assert_equals_server(&server, "customers", &[]);
}

#[test]
fn every_stream_waiting_for_a_spent_budget_says_so_when_the_wait_starts() {
    // Refunds meet a 429 (the organization's budget is spent for 3 s): customers, still paging, wait too, and
    // Airbyte hears it from their own RATE_LIMITED status when their wait begins.
    let mut options = Options::with_records(0)
        .count("customers", 1_000)
        .count("refunds", 250);
    options.latency = std::time::Duration::from_millis(300);
    let server = FakePolar::start(options);
    server.push_fault(
        Fault::new(
            "refunds",
            FaultKind::Status {
                status: 429,
                retry_after: Some("3".into()),
                body: String::new(),
            },
        )
        .pages(2, 2),
    );
    // Customers' first page comes late, so that their next requests are asked for well inside the pause.
    server.push_fault(
        Fault::new(
            "customers",
            FaultKind::Delay(std::time::Duration::from_millis(1_200)),
        )
        .pages(1, 1),
    );
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&["refunds", "customers"]));
    let run = read(&config_file(&files, &server), Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_same_records(&run, &server, "customers");
    let rate_limited = |stream: &str| {
        run.of_type("TRACE").iter().any(|trace| {
            let status = &trace["trace"]["stream_status"];
            status["stream_descriptor"]["name"] == stream
                && status["reasons"].as_array().is_some_and(|reasons| {
                    reasons.len() == 1 && reasons[0]["type"] == "RATE_LIMITED"
                })
        })
    };
    assert!(rate_limited("refunds"));
    assert!(rate_limited("customers"), "{}", run.stdout);
    assert!(run.stdout.contains("waits"), "a LOG says how long and why");
}

#[test]
fn a_rate_limited_change_log_sends_no_status_for_a_stream_outside_the_catalog() {
    let server = FakePolar::start(Options::with_records(100));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental(&["customers"]));
    let first = read(&config, Some(&catalog), None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let state = files.json("state.json", &first.last_states());
    server.update("customers", 3, std::time::Duration::ZERO);
    server.push_hostile(
        Hostile::pages("events", |answer: &mut Answer| {
            answer.status = 429;
            answer.set_header("retry-after", "1");
            answer.body.clear();
        })
        .times(1),
    );
    let run = read(&config, Some(&catalog), Some(&state));
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("429"),
        "the change log was rate limited"
    );
    for trace in run.of_type("TRACE") {
        let name = &trace["trace"]["stream_status"]["stream_descriptor"]["name"];
        assert!(name.is_null() || name == "customers", "a status for {name}");
    }
}
