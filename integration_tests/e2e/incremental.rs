//! Incremental syncs against a Polar-like server that keeps changing: records created, updated and deleted
//! between and during syncs, with their system events (some late), merged as a deduplicating destination
//! would merge them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

/// The incremental streams whose changes Polar's system events name (the others' lists show them), by the
/// stream table.
static FOLLOWING_EVENTS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    source_polar::streams::STREAMS
        .iter()
        .filter(|stream| stream.followed().is_some())
        .map(|stream| stream.name)
        .collect()
});

/// A catalog syncing the incremental streams incrementally and products in full.
fn incremental_catalog() -> Value {
    incremental_catalog_of(&INCREMENTAL)
}

/// A catalog syncing `streams` incrementally and products in full.
fn incremental_catalog_of(streams: &[&str]) -> Value {
    let mut names = streams.to_vec();
    names.push("products");
    let mut catalog = catalog(&names);
    for entry in catalog["streams"].as_array_mut().unwrap() {
        if entry["stream"]["name"] != "products" {
            entry["sync_mode"] = json!("incremental");
            entry["destination_sync_mode"] = json!("append_dedup");
        }
    }
    catalog
}

fn shop() -> FakePolar {
    FakePolar::start(
        Options::with_records(0)
            .count("customers", 3_000)
            .count("orders", 3_000)
            .count("subscriptions", 3_000)
            .count("refunds", 800)
            .count("checkouts", 3_000)
            .count("customer_meters", 3_000)
            .count("events", 3_000)
            .count("products", 30),
    )
}

fn requests_by_stream(server: &FakePolar) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for request in server.requests() {
        *counts.entry(request.stream).or_insert(0) += 1;
    }
    counts
}

#[test]
fn incremental_syncs_keep_a_deduplicating_destination_equal_to_polar() {
    let server = shop();
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental_catalog());
    let mut destination = Destination::default();

    // The first sync reads everything and leaves a cursor per incremental stream.
    let first = read(&config, Some(&catalog), None);
    first.compliant();
    assert_eq!(first.code, 0, "{}", first.stdout);
    destination.merge(&first);
    for stream in INCREMENTAL.iter().copied() {
        destination.assert_equals_server(&server, stream, &[]);
        let state = first
            .last_states()
            .as_array()
            .unwrap()
            .iter()
            .find(|state| state["stream"]["stream_descriptor"]["name"] == stream)
            .unwrap()["stream"]["stream_state"]
            .clone();
        assert!(state["cursor"].is_string(), "{stream}: {state}");
        for record in first.records(stream) {
            // When it last changed: `modified_at`, else `created_at`; an event's `timestamp` (events never change).
            let expected = ["modified_at", "created_at", "timestamp"]
                .iter()
                .map(|field| &record[*field])
                .find(|value| !value.is_null())
                .unwrap();
            assert_eq!(&record["_ab_cdc_updated_at"], expected, "{stream}");
        }
    }
    let full_requests = server.requests().len();
    let mut state = first.last_states();

    for round in 0..5 {
        server.change_round(round);
        server.clear_requests();
        // Changes keep coming while the sync runs: those it does not see are the next sync's (the system
        // events they write among them).
        let events_before: std::collections::HashSet<String> =
            server.ids("events").into_iter().collect();
        let stop = Arc::new(AtomicBool::new(false));
        let during = std::thread::scope(|scope| {
            let changer = scope.spawn(|| {
                let mut touched = Vec::new();
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) && k < 40 {
                    let stream = INCREMENTAL[k % INCREMENTAL.len()];
                    // Events are only ever added.
                    if stream != "events" {
                        touched.extend(server.update(stream, k * 31 + round, Duration::ZERO));
                    }
                    touched.push(server.create(stream, Duration::ZERO));
                    if k % 10 == 3 {
                        touched.extend(server.delete_customer(k + round, Duration::ZERO));
                    }
                    k += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                touched
            });
            let state_file = files.json("state.json", &state);
            let run = read(&config, Some(&catalog), Some(&state_file));
            stop.store(true, Ordering::Relaxed);
            (run, changer.join().unwrap())
        });
        let (run, mut touched) = during;
        touched.extend(
            server
                .ids("events")
                .into_iter()
                .filter(|id| !events_before.contains(id)),
        );
        run.compliant();
        assert_eq!(run.code, 0, "round {round}: {}", run.stdout);
        // Each sync reads again what changed within the lookback window (an hour: every round so far), and
        // still costs less than reading everything.
        let requests = requests_by_stream(&server);
        let made = server.requests().len();
        assert!(
            made < full_requests && (round > 0 || made * 4 < full_requests),
            "round {round}: an incremental sync made {requests:?} requests, a full one {full_requests}"
        );
        destination.merge(&run);
        for stream in INCREMENTAL.iter().copied() {
            destination.assert_equals_server(&server, stream, &touched);
        }
        state = next_state(&state, &run);
    }

    // A sync with nothing changing while it runs settles everything the last one could not see.
    let state_file = files.json("state.json", &state);
    let last = read(&config, Some(&catalog), Some(&state_file));
    last.compliant();
    assert_eq!(last.code, 0, "{}", last.stdout);
    destination.merge(&last);
    for stream in INCREMENTAL.iter().copied() {
        destination.assert_equals_server(&server, stream, &[]);
    }
    assert!(
        last.stdout.contains("deleted"),
        "deletions were reported: {}",
        last.stdout
    );
    // The feed is asked for the events the streams follow: the benefit events among them are never read.
    let read_events: usize = last
        .stdout
        .split("Read ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .expect("the count of events read");
    let benefit_events = 20 * 5;
    assert!(
        read_events + benefit_events <= server.event_count(),
        "{read_events} events read of {}",
        server.event_count()
    );
}

#[test]
fn an_interrupted_incremental_sync_resumes_from_its_last_state() {
    let server = shop();
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental_catalog());
    let env = [
        ("SOURCE_POLAR_MAX_ATTEMPTS", "1"),
        ("SOURCE_POLAR_PAGES_AHEAD", "1"),
    ];
    let mut destination = Destination::default();

    // The first (full) read of customers stops at page 2: its checkpoint carries the cursor to set.
    server.push_fault(
        Fault::status("customers", 500)
            .pages(2, u32::MAX)
            .times(usize::MAX),
    );
    let broken = read_with_env(&config, Some(&catalog), None, &env);
    broken.compliant();
    assert_ne!(broken.code, 0);
    destination.merge(&broken);
    let state = next_state(&json!([]), &broken);
    let customers_state = state
        .as_array()
        .unwrap()
        .iter()
        .find(|state| state["stream"]["stream_descriptor"]["name"] == "customers")
        .expect("customers checkpointed")["stream"]["stream_state"]
        .clone();
    assert_eq!(customers_state["page"], 2, "{customers_state}");
    assert!(customers_state["cursor"].is_string(), "{customers_state}");
    server.clear_faults();
    let resumed = read(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
    );
    resumed.compliant();
    assert_eq!(resumed.code, 0, "{}", resumed.stdout);
    destination.merge(&resumed);
    for stream in INCREMENTAL.iter().copied() {
        destination.assert_equals_server(&server, stream, &[]);
    }
    let mut state = next_state(&state, &resumed);
    assert!(
        resumed
            .stdout
            .contains("customers: resuming from the checkpoint at page 2"),
        "the full read went on from its checkpoint"
    );

    // An incremental sync that fails midway (orders cannot be read): the streams that finished keep their
    // new cursor, orders keeps its old one, and the next sync catches up.
    server.change_round(1);
    server.clear_requests();
    server.push_fault(Fault::status("orders", 500).times(usize::MAX));
    let failed = read_with_env(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
        &env,
    );
    failed.compliant();
    assert_ne!(failed.code, 0);
    assert!(
        failed
            .statuses("orders")
            .contains(&"INCOMPLETE".to_string())
    );
    destination.merge(&failed);
    state = next_state(&state, &failed);
    server.clear_faults();
    server.change_round(2);
    let caught_up = read(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
    );
    caught_up.compliant();
    assert_eq!(caught_up.code, 0, "{}", caught_up.stdout);
    destination.merge(&caught_up);
    for stream in INCREMENTAL.iter().copied() {
        destination.assert_equals_server(&server, stream, &[]);
    }
}

#[test]
fn without_events_read_incremental_streams_are_read_in_full_and_check_says_why() {
    let mut options = Options::with_records(150);
    options.scopes = Some(
        STREAMS
            .iter()
            .filter(|stream| **stream != "events")
            .map(|stream| format!("{stream}:read"))
            .collect(),
    );
    let server = FakePolar::start(options);
    let files = Files::new();
    let config = config_file(&files, &server);
    let check = run(&[&"check", &"--config", &config], &[]);
    check.compliant();
    let status = &check.of_type("CONNECTION_STATUS")[0]["connectionStatus"];
    assert_eq!(status["status"], "SUCCEEDED");
    let note = status["message"].as_str().unwrap();
    assert!(
        note.contains("'events:read'")
            && note.contains("customers, orders, subscriptions and refunds cannot track"),
        "{note}"
    );

    let without_events: Vec<&str> = INCREMENTAL
        .iter()
        .copied()
        .filter(|stream| *stream != "events")
        .collect();
    let catalog = files.json("catalog.json", &incremental_catalog_of(&without_events));
    let first = read(&config, Some(&catalog), None);
    first.compliant();
    assert_eq!(first.code, 0, "{}", first.stdout);
    server.change_round(0);
    let state = files.json("state.json", &first.last_states());
    let second = read(&config, Some(&catalog), Some(&state));
    second.compliant();
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert!(
        second.stdout.contains(
            "lacks the 'events:read' scope, so the changes of customers, orders, subscriptions, refunds \
             cannot be tracked: they are read in full this sync"
        ) && second.stdout.contains("customers deleted in Polar stay in a deduplicating destination"),
        "a WARN says why, and what is not seen: {}",
        second.stdout
    );
    for stream in FOLLOWING_EVENTS.iter().copied() {
        // Read in full, so every current record arrives (deleted customers are simply absent).
        assert_same_records(&second, &server, stream);
    }
    // The streams whose lists show their changes need no events: they still sync only what changed.
    for stream in ["checkouts", "customer_meters"] {
        let records = second.records(stream).len();
        assert!(
            records < server.objects(stream).len() / 2,
            "{stream}: {records} records, read incrementally"
        );
        assert!(
            !second.records(stream).is_empty(),
            "{stream}: the round's changes arrive"
        );
    }
}

#[test]
fn incremental_states_from_elsewhere_start_afresh_or_are_refused() {
    let server = FakePolar::start(Options::with_records(150));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental_catalog());
    let state_of = |stream_state: Value| {
        files.json(
            "state.json",
            &json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": stream_state}}]),
        )
    };

    // A full refresh's state: one full read, said in a LOG, then a cursor.
    let from_full_refresh = read(
        &config,
        Some(&catalog),
        Some(&state_of(json!({"__ab_full_refresh_sync_complete": true}))),
    );
    from_full_refresh.compliant();
    assert_eq!(from_full_refresh.code, 0);
    assert!(from_full_refresh.stdout.contains(
        "orders: the input state is a full refresh's state, not an incremental one: reading the \
                 stream in full once, then incrementally from the next sync"
    ));
    assert_same_records(&from_full_refresh, &server, "orders");

    // A cursor that is not a time: a config error naming the stream, before any request.
    server.clear_requests();
    let bad = read(
        &config,
        Some(&catalog),
        Some(&state_of(json!({"cursor": "last tuesday"}))),
    );
    bad.compliant();
    assert_eq!(bad.code, 1);
    let error = bad.trace_errors()[0];
    assert_eq!(error["failure_type"], "config_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("'orders'") && message.contains("RFC 3339"),
        "{message}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_deletion_dated_before_the_records_last_change_still_removes_it() {
    let server = FakePolar::start(Options::with_records(0).count("customers", 300));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental_catalog_of(&["customers"]));
    let mut destination = Destination::default();
    let first = read(&config, Some(&catalog), None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    destination.merge(&first);
    // The customer changes (its cursor is now), and the destination gets that version.
    let id = server
        .update("customers", 5, Duration::ZERO)
        .expect("a customer");
    let state = next_state(&json!([]), &first);
    let second = read(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
    );
    assert_eq!(second.code, 0, "{}", second.stdout);
    destination.merge(&second);
    assert!(destination.rows("customers").contains_key(&id));
    // Then it is deleted, and Polar dates the event 90 s earlier than the change the destination holds.
    assert_eq!(
        server
            .delete_customer(5, Duration::from_secs(90))
            .as_deref(),
        Some(id.as_str())
    );
    let state = next_state(&state, &second);
    let third = read(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
    );
    third.compliant();
    assert_eq!(third.code, 0, "{}", third.stdout);
    let deletion = third
        .records("customers")
        .into_iter()
        .find(|record| record["id"] == id.as_str())
        .expect("a deletion record");
    assert!(
        deletion["_ab_cdc_updated_at"].as_str() > deletion["_ab_cdc_deleted_at"].as_str(),
        "the cursor passes the version delivered before: {deletion}"
    );
    destination.merge(&third);
    assert!(
        !destination.rows("customers").contains_key(&id),
        "the deleted customer left the destination"
    );
    destination.assert_equals_server(&server, "customers", &[]);
}

#[test]
fn an_incremental_pass_by_key_checkpoints_as_it_goes() {
    // A backlog of new events after a pause, read by key: a stop midway keeps what was delivered, and the
    // next sync goes on from there instead of reading the whole backlog again.
    let server = FakePolar::start(Options::with_records(0).count("events", 300));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog = files.json("catalog.json", &incremental_catalog_of(&["events"]));
    let mut destination = Destination::default();
    let first = read(&config, Some(&catalog), None);
    first.compliant();
    assert_eq!(first.code, 0, "{}", first.stdout);
    destination.merge(&first);
    let state = next_state(&json!([]), &first);
    let old_cursor = state[0]["stream"]["stream_state"]["cursor"].clone();
    for _ in 0..450 {
        server.create("events", Duration::ZERO);
    }
    // Polar stops answering after two pages of the backlog.
    server.clear_requests();
    server.push_fault(
        Fault::status("events", 503)
            .after_requests(2)
            .times(usize::MAX),
    );
    let env = [("SOURCE_POLAR_MAX_ATTEMPTS", "1")];
    let broken = read_with_env(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
        &env,
    );
    broken.compliant();
    assert_ne!(broken.code, 0);
    destination.merge(&broken);
    let state = next_state(&state, &broken);
    let events_state = &state[0]["stream"]["stream_state"];
    assert_eq!(events_state["cursor"], old_cursor, "the old cursor is kept");
    let reached = events_state["created_after"]
        .as_str()
        .unwrap_or_else(|| panic!("a checkpoint of the pass: {events_state}"))
        .to_owned();
    assert!(broken.records("events").len() >= 150, "two pages arrived");
    // The next sync goes on from the checkpoint.
    server.clear_faults();
    server.clear_requests();
    let resumed = read(
        &config,
        Some(&catalog),
        Some(&files.json("state.json", &state)),
    );
    resumed.compliant();
    assert_eq!(resumed.code, 0, "{}", resumed.stdout);
    destination.merge(&resumed);
    destination.assert_equals_server(&server, "events", &[]);
    let requests = server.requests();
    let first_request = requests
        .iter()
        .find(|request| request.stream == "events")
        .expect("events are read");
    assert_eq!(
        first_request.created_after.as_deref(),
        Some(reached.as_str())
    );
    assert!(
        resumed.records("events").len() < 450,
        "the backlog is not read again from the start"
    );
    let counted = resumed.state_record_count("events") as usize;
    assert_eq!(
        counted,
        resumed.records("events").len(),
        "STATEs count each record once"
    );
}
