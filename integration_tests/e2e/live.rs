//! A live organization: records created and deleted while the sync pages, every tuning setting, a rate budget
//! shared with the merchant's own traffic, and a server that promises more than it serves.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// Reads every stream of `server` with `env` while each of `churns` (stream, creates and deletes per request,
/// requests) runs, and checks that every record that lived through the sync arrived once.
fn read_while_churning(
    server: &FakePolar,
    churns: &[(&str, usize, usize, usize)],
    env: &[(&str, &str)],
) {
    let before: Vec<(&str, Vec<String>)> = churns
        .iter()
        .map(|(stream, ..)| (*stream, server.ids(stream)))
        .collect();
    for (stream, creates, deletes, requests) in churns {
        server.set_churn(Churn {
            stream: stream.to_string(),
            creates_per_request: *creates,
            deletes_per_request: *deletes,
            requests: *requests,
        });
    }
    let files = Files::new();
    let run = read_with_env(&config_file(&files, server), None, None, env);
    run.compliant();
    assert_eq!(run.code, 0, "{env:?}: {}", run.stdout);
    for (stream, ids) in &before {
        assert_eq!(run.statuses(stream).last().unwrap(), "COMPLETE", "{stream}");
        assert_survivors_delivered(&run, server, stream, ids);
    }
}

#[test]
fn records_created_during_the_sync_do_not_fail_it() {
    // One record created before every request of every stream, as a shop that sells while it syncs: the count
    // Polar reports at the end includes records created after the last page was read. Subscriptions too,
    // though they sort by `started_at` with nulls last: a new one lands before the ones not started yet, not
    // after everything read.
    let server = FakePolar::start(Options::with_records(918).count("organizations", 1));
    let churns: Vec<_> = STREAMS
        .iter()
        .map(|stream| (*stream, 1, 0, usize::MAX))
        .collect();
    read_while_churning(&server, &churns, &[]);
}

#[test]
fn every_tuning_finishes_exactly_while_records_are_deleted_and_created() {
    let settings: &[&[(&str, &str)]] = &[
        &[("SOURCE_POLAR_MAX_IN_FLIGHT", "1")],
        &[("SOURCE_POLAR_MAX_IN_FLIGHT", "2")],
        &[("SOURCE_POLAR_MAX_IN_FLIGHT", "4")],
        &[("SOURCE_POLAR_MAX_IN_FLIGHT", "6")],
        &[("SOURCE_POLAR_PAGES_BUFFERED", "16")],
        &[
            ("SOURCE_POLAR_CONCURRENT_STREAMS", "1"),
            ("SOURCE_POLAR_MAX_IN_FLIGHT", "3"),
        ],
        &[
            ("SOURCE_POLAR_PAGES_AHEAD", "8"),
            ("SOURCE_POLAR_PAGES_BUFFERED", "1"),
            ("SOURCE_POLAR_MAX_IN_FLIGHT", "1"),
        ],
    ];
    for env in settings {
        let server = FakePolar::start(
            Options::with_records(0)
                .count("orders", 700)
                .count("customers", 650)
                .count("refunds", 500),
        );
        // Orders lose a record before the current position, customers gain one at the end, refunds both in
        // turn: the count changes mid-stream in every way.
        let churns = [
            ("orders", 0, 1, 6),
            ("customers", 1, 0, 6),
            ("refunds", 2, 1, 6),
        ];
        read_while_churning(&server, &churns, env);
    }
}

#[test]
fn orders_paged_by_key_are_exact_when_creations_balance_deletions() {
    // One order created and one deleted before every request: `total_count` never changes, the blind spot of
    // offset paging. Orders page by key through `created_after`, which no deletion or creation can shift.
    let server = FakePolar::start(Options::with_records(0).count("orders", 900));
    let before = server.ids("orders");
    let run = read_under_balanced_churn(&server, "orders");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_survivors_delivered(&run, &server, "orders", &before);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .skip(1)
            .all(|r| r.page == 1 && r.created_after.is_some())
    );
    // One page of 100 per request, less the order that shares the last creation time: ten requests.
    assert!(requests.len() <= 11, "{} requests", requests.len());
}

#[test]
fn ties_and_deletions_together_lose_nothing() {
    // Every 5 records share a creation time (checkouts sort by creation time alone, so they tie), the server
    // reshuffles ties on every request, and records are deleted before the current position while paging.
    for env in [&[][..], &[("SOURCE_POLAR_PAGES_AHEAD", "1")][..]] {
        let mut options = Options::with_records(0)
            .count("checkouts", 900)
            .count("refunds", 700);
        options.tie_every = 5;
        let server = FakePolar::start(options);
        read_while_churning(
            &server,
            &[("checkouts", 0, 1, 8), ("refunds", 0, 1, 8)],
            env,
        );
    }
}

#[test]
fn unusable_tuning_is_a_config_error_naming_the_variable() {
    let server = FakePolar::start(Options::with_records(5));
    let files = Files::new();
    let config = config_file(&files, &server);
    for (name, value) in [
        ("SOURCE_POLAR_MAX_IN_FLIGHT", "0"),
        ("SOURCE_POLAR_PAGES_BUFFERED", "lots"),
        ("SOURCE_POLAR_REQUEST_TIMEOUT_MS", "-5"),
    ] {
        for command in ["read", "check"] {
            let run = run(&[&command, &"--config", &config], &[(name, value)]);
            run.compliant();
            assert_eq!(run.code, 1, "{name}={value} {command}: {}", run.stdout);
            let errors = run.trace_errors();
            assert_eq!(errors.len(), 1, "{}", run.stdout);
            assert_eq!(errors[0]["failure_type"], "config_error");
            let message = errors[0]["message"].as_str().unwrap();
            assert!(
                message.contains(name) && message.contains("from 1 to"),
                "{message}"
            );
        }
        assert!(
            server.requests().is_empty(),
            "nothing is requested with a bad setting"
        );
    }
}

#[test]
fn a_fixed_window_shared_with_other_traffic_is_waited_out_with_one_cut_per_episode() {
    // Polar's limiter in small: 40 requests per 2-second window for the organization, of which the merchant's
    // own traffic sends 16; a 429 asks to wait the whole window. The connector's ceiling is far above.
    let mut options = Options::with_records(600).count("organizations", 1);
    options.fixed_window = Some(FixedWindow::shared(40, Duration::from_secs(2), 16));
    let server = FakePolar::start(options);
    let files = Files::new();
    let mut config = server.config();
    config["requests_per_minute"] = json!(3000);
    let run = read(&files.json("config.json", &config), None, None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    for stream in STREAMS {
        assert_same_records(&run, &server, stream);
    }
    let requests = server.requests();
    let ours_refused = requests.iter().filter(|r| r.status == 429).count();
    let episodes = run
        .messages
        .iter()
        .filter(|m| {
            m["log"]["message"].as_str().is_some_and(|text| {
                text.starts_with("Polar's rate limit for the organization is spent")
            })
        })
        .count();
    let rate_limited_traces = run
        .messages
        .iter()
        .filter(|m| m["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED")
        .count();
    // A request that waits a second or more for a spent window says so too, with a LOG.
    let waits = run
        .messages
        .iter()
        .filter(|m| {
            m["log"]["message"]
                .as_str()
                .is_some_and(|text| text.contains("more for Polar's rate limit"))
        })
        .count();
    assert!(episodes >= 1, "the window was spent at least once");
    assert_eq!(
        rate_limited_traces,
        ours_refused + waits,
        "each 429 is reported, and each wait for the budget"
    );
    // Several requests in flight see each spent window: the pace is cut once per episode, not per 429.
    assert!(
        episodes < ours_refused,
        "{episodes} cuts for {ours_refused} refused requests"
    );
    // After the first cut the pace settles near what the window leaves: few of our requests are refused,
    // and the merchant's own traffic is hardly squeezed.
    let pages = requests.iter().filter(|r| r.status == 200).count();
    assert!(
        ours_refused * 4 < pages,
        "{ours_refused} refused for {pages} pages served"
    );
    let stats = server.window_stats();
    assert!(
        stats.others_refused * 4 <= stats.others_served,
        "the merchant's traffic: {stats:?}"
    );
}

#[test]
fn the_pace_learns_what_the_merchant_leaves_and_stops_spending_the_window() {
    // A window long enough to learn from: 60 requests per 6 s for the organization, the merchant's own traffic
    // sending half of it; the connector's ceiling (450 a minute) is above what is left. In both merchant models ("first come": the
    // merchant is refused once the window is spent; "merchant first": only we are), after the first windows
    // the sync stays under what is left: few later windows refuse it, and the merchant keeps nearly all its
    // requests.
    for merchant_first in [false, true] {
        let mut options = Options::with_records(0)
            .count("customers", 7_000)
            .count("refunds", 7_000);
        options.latency = Duration::from_millis(100);
        options.fixed_window = Some(FixedWindow {
            merchant_first,
            ..FixedWindow::shared(60, Duration::from_secs(6), 30)
        });
        let server = FakePolar::start(options);
        let files = Files::new();
        let mut config = server.config();
        config["requests_per_minute"] = json!(450);
        let catalog = files.json("catalog.json", &catalog(&["customers", "refunds"]));
        let run = read(&files.json("config.json", &config), Some(&catalog), None);
        run.compliant();
        assert_eq!(run.code, 0, "{}", run.stdout);
        for stream in ["customers", "refunds"] {
            assert_same_records(&run, &server, stream);
        }
        let stats = server.window_stats();
        // About 5 windows of our 30 pages each; learning takes the first one or two.
        assert!(stats.windows >= 4, "{stats:?}");
        assert!(
            stats.windows_refusing_us <= 3,
            "merchant first: {merchant_first}: {stats:?}"
        );
        let merchant = stats.others_served + stats.others_refused;
        assert!(
            stats.others_refused * 20 <= merchant,
            "merchant first: {merchant_first}: {stats:?}"
        );
        if merchant_first {
            assert_eq!(
                stats.others_refused, 0,
                "the merchant's requests always count"
            );
        }
    }
}

#[test]
fn a_server_that_promises_endless_pages_is_not_followed() {
    // A misbehaving proxy answers every page after the first with no items and a million pages to come.
    let server = FakePolar::start(Options::with_records(250));
    server.push_fault(
        Fault::new(
            "customers",
            FaultKind::Body(
                json!({"items": [], "pagination": {"total_count": 250, "max_page": 1_000_000}})
                    .to_string(),
            ),
        )
        .pages(2, u32::MAX)
        .times(usize::MAX),
    );
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&["customers"]));
    let run = read(&config_file(&files, &server), Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let customers_requests = server
        .requests()
        .iter()
        .filter(|r| r.stream == "customers")
        .count();
    // Pages 1 to 3 (2 and 3 fetched ahead, as the count allows), and page 2 once more.
    assert!(customers_requests <= 4, "{customers_requests} requests");
    let errors = run.trace_errors();
    // The empty page 2, asked for again, is still empty while the count says 250: the server does not page as
    // Polar does, which another attempt does not cure.
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(
            "Polar answered page 2 of customers with 0 records where 100 were asked for, twice"
        ),
        "{}",
        errors[0]["message"]
    );
}

#[test]
fn subscriptions_paged_by_key_are_exact_when_creations_balance_deletions() {
    // One subscription created and one deleted before every request, anywhere in the order: `total_count`
    // never changes. The started ones page by key through `started_after`, which nothing can shift: every one
    // that lived through the sync arrives. The ones not started yet (which that filter never returns) are
    // read first, from the list sorted nulls first, by offset: that tail stays exposed to balanced churn when
    // it spans pages (here a quarter of the subscriptions), as the README says.
    let server = FakePolar::start(Options::with_records(0).count("subscriptions", 900));
    let before: Vec<String> = server
        .objects("subscriptions")
        .iter()
        .filter(|object| !object["started_at"].is_null())
        .map(|object| object["id"].as_str().unwrap().to_owned())
        .collect();
    let run = read_under_balanced_churn(&server, "subscriptions");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_survivors_delivered(&run, &server, "subscriptions", &before);
    let unstarted = run
        .records("subscriptions")
        .iter()
        .filter(|record| record["started_at"].is_null())
        .count();
    assert!(unstarted > 0, "the unstarted tail is delivered too");
    let requests = server.requests();
    assert_eq!(requests[0].sorting, ["-started_at", "customer", "amount"]);
    assert!(
        requests
            .iter()
            .any(|r| r.sorting.first().map(String::as_str) == Some("started_at")),
        "then the pass by key"
    );
    assert!(requests.len() <= 14, "{} requests", requests.len());
}

/// Reads `stream` alone while one of its records is created and one deleted before every request (the count
/// never moves: the blind spot of offset paging); the output is checked for compliance.
fn read_under_balanced_churn(server: &FakePolar, stream: &str) -> Run {
    server.set_churn(Churn {
        stream: stream.into(),
        creates_per_request: 1,
        deletes_per_request: 1,
        requests: usize::MAX,
    });
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&[stream]));
    let run = read(&config_file(&files, server), Some(&catalog), None);
    run.compliant();
    run
}

/// The LOG lines of a run.
fn log_lines(run: &Run) -> Vec<String> {
    run.of_type("LOG")
        .iter()
        .map(|message| message["log"]["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn customers_are_exact_under_balanced_churn_with_the_change_log_as_witness() {
    // One customer created and one deleted (from the half already read) before every request: `total_count`
    // never moves, and a customer slips back across a page boundary already read every few pages. Polar
    // writes `customer.deleted` for each deletion; after its pass the reader asks the change log for the
    // pass's deletions and searches the boundaries read while one happened. Every customer that lived through
    // the sync arrives, exactly once.
    let server = FakePolar::start(Options::with_records(0).count("customers", 900));
    let before = server.ids("customers");
    let run = read_under_balanced_churn(&server, "customers");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_survivors_delivered(&run, &server, "customers", &before);
    let logs = log_lines(&run);
    assert!(
        logs.iter().any(|line| line.contains("the change log names")
            && line.contains("deletions during the pass")),
        "{logs:?}"
    );
    // The cost: the change log's pages and the searches, against the pass's ten pages.
    let requests = server.requests();
    let feed = requests.iter().filter(|r| r.stream == "events").count();
    let customers = requests.iter().filter(|r| r.stream == "customers").count();
    assert!(feed >= 1, "the change log was read");
    // Customers the change log says were created during the pass after its last read of the end are read by
    // id (the churn creates one before every request, the change log's own included).
    assert!(
        requests
            .iter()
            .any(|r| r.stream == "customers" && r.record.is_some()),
        "a customer created during the pass was read by id"
    );
    assert!(customers <= 40, "{customers} requests for 10 pages");
}

#[test]
fn without_events_read_customers_say_that_balanced_churn_can_hide_one() {
    // The same churn with a token that cannot read the change log: the stream syncs as offset paging allows,
    // and says what that leaves open; the other streams are not touched.
    let mut options = Options::with_records(0).count("customers", 900);
    options.scopes = Some(vec!["customers:read".into()]);
    let server = FakePolar::start(options);
    let run = read_under_balanced_churn(&server, "customers");
    let logs = log_lines(&run);
    assert!(
        logs.iter().any(|line| line.contains("lacks 'events:read'")
            && line.contains("can make one other record be missed")),
        "{logs:?}"
    );
    // Loud if the count shows a loss, never a silent failure of the sync itself.
    if run.code != 0 {
        assert!(run.error_message().contains("customers"), "{}", run.stdout);
    }
}

#[test]
fn a_thousand_events_in_one_millisecond_arrive_exactly_once() {
    // A bulk import: 1,000 usage events stamped with the same millisecond, among the organization's others.
    // Polar orders the feed by timestamp alone, so offsets inside that millisecond mean nothing (the fake
    // reshuffles them on every request). The reader reads that millisecond alone (`start_timestamp` just
    // before it, `end_timestamp` just after) until the distinct events account for its count.
    let server = FakePolar::start(Options::with_records(0).count("events", 300));
    let burst = server.burst_of_events(1000, Duration::from_secs(3600));
    let before = server.ids("events");
    assert_eq!(before.len(), 1300);
    let files = Files::new();
    let catalog = files.json("catalog.json", &catalog(&["events"]));
    let run = read(&config_file(&files, &server), Some(&catalog), None);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    // Exactly once each (record_ids asserts no id came twice), the whole burst among them.
    let delivered: std::collections::HashSet<String> =
        run.record_ids("events").into_iter().collect();
    assert_eq!(delivered.len(), before.len());
    assert!(burst.iter().all(|id| delivered.contains(id)));
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.page > 1 && r.created_after.is_some()),
        "the instant was paged within"
    );
    let logs = log_lines(&run);
    assert!(
        logs.iter().any(|line| line.contains("share the instant")),
        "{logs:?}"
    );
}
