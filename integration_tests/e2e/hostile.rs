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
