//! Resumable full refresh: an attempt that dies midway leaves checkpoints; the next attempt resumes there.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::*;

/// The next attempt, given the last STATE of each stream of an earlier one, once Polar is back.
fn resume(
    server: &FakePolar,
    files: &Files,
    args: (&Path, &Path),
    states: &Value,
    env: &[(&str, &str)],
) -> Run {
    server.clear_faults();
    server.clear_requests();
    let state = files.json("state.json", states);
    let run = read_with_env(args.0, Some(args.1), Some(&state), env);
    run.compliant();
    assert_eq!(run.code, 0, "{}", run.stdout);
    run
}

fn refunds_requests(server: &FakePolar) -> Vec<u32> {
    server
        .requests()
        .iter()
        .filter(|r| r.stream == "refunds")
        .map(|r| r.page)
        .collect()
}

#[test]
fn an_interrupted_read_resumes_at_its_checkpoint() {
    let server = FakePolar::start(Options::with_records(1000).count("customers", 120));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &catalog(&["refunds", "customers"]));

    // A full read, for comparison: ten pages of refunds, and the empty eleventh that proves the full tenth
    // was the last (whatever the count says).
    let full = read(&config, Some(&catalog), None);
    assert_eq!(full.code, 0);
    let full_requests = refunds_requests(&server);
    assert_eq!(full_requests.len(), 11);

    // Attempt 1: Polar stops answering refunds after page 6.
    server.clear_requests();
    server.push_fault(
        Fault::status("refunds", 503)
            .pages(7, u32::MAX)
            .times(usize::MAX),
    );
    let env = [
        ("SOURCE_POLAR_MAX_ATTEMPTS", "2"),
        ("SOURCE_POLAR_PAGES_AHEAD", "1"),
    ];
    let first = read_with_env(&config, Some(&catalog), None, &env);
    first.compliant();
    assert_ne!(first.code, 0);
    assert_eq!(first.statuses("refunds").last().unwrap(), "INCOMPLETE");
    let first_requests = refunds_requests(&server);
    let first_ids = first.record_ids("refunds");
    assert_eq!(first_ids.len(), 600, "six pages arrived before the outage");
    let states = first.last_states();
    let refunds_state = states
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"]["stream_descriptor"]["name"] == "refunds")
        .unwrap();
    assert_eq!(refunds_state["stream"]["stream_state"]["page"], 7);
    assert_eq!(refunds_state["stream"]["stream_state"]["limit"], 100);

    // Attempt 2, given the last states, once Polar is back.
    let second = resume(&server, &files, (&config, &catalog), &states, &env);
    let mut second_requests = refunds_requests(&server);
    // Pages requested ahead are in flight together: the set of pages is the point, not their order.
    second_requests.sort_unstable();
    assert_eq!(
        second_requests,
        [6, 7, 8, 9, 10, 11],
        "one page of overlap, then from the checkpoint on"
    );
    assert!(
        second_requests.iter().all(|page| *page >= 6),
        "nothing before the overlap page is fetched again"
    );
    let mut union: std::collections::HashSet<String> = first_ids.into_iter().collect();
    union.extend(second.record_ids("refunds"));
    let expected: std::collections::HashSet<String> = server.ids("refunds").into_iter().collect();
    assert_eq!(
        union, expected,
        "the two attempts together deliver every refund"
    );
    // The customers stream had completed: it starts over.
    assert_eq!(second.records("customers").len(), 120);
    let final_state = second.last_states();
    for state in final_state.as_array().unwrap() {
        assert_eq!(
            state["stream"]["stream_state"],
            json!({"__ab_full_refresh_sync_complete": true})
        );
    }
    println!(
        "requests for refunds: full read {}, interrupted attempt {}, resumed attempt {}",
        full_requests.len(),
        first_requests.len(),
        second_requests.len()
    );
}

fn state_for_refunds(stream_state: Value) -> Value {
    json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "refunds"}, "stream_state": stream_state}}])
}

#[test]
fn stale_foreign_or_finished_checkpoints_restart_from_page_one() {
    let server = FakePolar::start(Options::with_records(250));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &catalog(&["refunds"]));
    let sorting = json!(["created_at", "amount"]);
    let cases = [
        (
            "finished",
            json!({"__ab_full_refresh_sync_complete": true}),
            None,
        ),
        (
            "cursor-based",
            json!({"__ab_no_cursor_state_message": true}),
            Some("not one this connector wrote"),
        ),
        (
            "other page size",
            json!({"page": 2, "limit": 50, "sorting": sorting, "last_id": "x"}),
            Some("another page size"),
        ),
        (
            "other order",
            json!({"page": 2, "limit": 100, "sorting": ["-created_at"], "last_id": "x"}),
            Some("another sort order"),
        ),
        (
            "beyond the end",
            json!({"page": 40, "limit": 100, "sorting": sorting, "last_id": "x"}),
            Some("restarting this stream from page 1"),
        ),
        (
            "unknown last record",
            json!({"page": 2, "limit": 100, "sorting": sorting, "last_id": "gone"}),
            Some("restarting this stream from page 1"),
        ),
    ];
    for (name, stream_state, warning) in cases {
        server.clear_requests();
        let state = files.json(&format!("{name}.json"), &state_for_refunds(stream_state));
        let run = read(&config, Some(&catalog), Some(&state));
        run.compliant();
        assert_eq!(run.code, 0, "{name}: {}", run.stdout);
        assert_same_records(&run, &server, "refunds");
        if let Some(warning) = warning {
            assert!(run.stdout.contains(warning), "{name}: the reason is logged");
        }
        assert!(
            refunds_requests(&server).contains(&1),
            "{name}: read from page 1"
        );
    }
}

#[test]
fn orders_paged_by_key_resume_at_their_creation_filter() {
    let server = FakePolar::start(Options::with_records(0).count("orders", 1000));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &catalog(&["orders"]));
    // Attempt 1: Polar stops answering orders after six pages.
    server.push_fault(
        Fault::status("orders", 503)
            .after_requests(6)
            .times(usize::MAX),
    );
    let env = [("SOURCE_POLAR_MAX_ATTEMPTS", "2")];
    let first = read_with_env(&config, Some(&catalog), None, &env);
    first.compliant();
    assert_ne!(first.code, 0);
    let first_ids = first.record_ids("orders");
    assert!(
        first_ids.len() >= 590,
        "{} orders before the outage",
        first_ids.len()
    );
    let states = first.last_states();
    let checkpoint = &states[0]["stream"]["stream_state"];
    let after = checkpoint["created_after"]
        .as_str()
        .expect("a creation filter")
        .to_owned();
    assert_eq!(checkpoint["page"], 1);
    // Records before the checkpoint are deleted between the attempts: paging by key does not care.
    server.set_churn(Churn {
        stream: "orders".into(),
        creates_per_request: 1,
        deletes_per_request: 3,
        requests: 3,
    });
    let second = resume(&server, &files, (&config, &catalog), &states, &env);
    let requests = server.requests();
    assert_eq!(requests[0].created_after.as_deref(), Some(after.as_str()));
    let (deleted, _) = server.churned();
    let delivered: std::collections::HashSet<String> = first_ids
        .into_iter()
        .chain(second.record_ids("orders"))
        .collect();
    for id in server.ids("orders") {
        assert!(delivered.contains(&id), "{id} never arrived");
    }
    assert!(!deleted.is_empty());
}
