//! Bad config, catalog and state files: a TRACE ERROR (config_error) naming the file and the problem, a
//! non-zero exit, never a panic.

use serde_json::json;

use crate::harness::*;

fn assert_config_error(run: &Run, expected: &[&str]) {
    run.compliant();
    assert_ne!(run.code, 0, "non-zero exit: {}", run.stdout);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let errors = run.trace_errors();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert_eq!(errors[0]["failure_type"], "config_error");
    let message = errors[0]["message"].as_str().unwrap();
    for part in expected {
        assert!(
            message.contains(part),
            "{message:?} should contain {part:?}"
        );
    }
}

#[test]
fn unusable_config_files_are_named() {
    let files = Files::new();
    let missing = files.path("absent.json");
    let empty = files.text("empty.json", "  \n");
    let not_json = files.text(
        "broken.json",
        "{\"organization_access_token\": \"polar_oat_secret123\"",
    );
    let array = files.text("array.json", "[1, 2]");
    let no_token = files.json("no-token.json", &json!({"server": "sandbox"}));
    let bad_prefix = files.json(
        "prefix.json",
        &json!({"organization_access_token": "sk_live_123"}),
    );
    let wrong_type = files.json(
        "type.json",
        &json!({"organization_access_token": "polar_oat_x", "server": 3}),
    );
    let huge = files.text(
        "huge.json",
        &format!("{{\"x\": \"{}\"}}", "a".repeat(17 * 1024 * 1024)),
    );
    let cases: Vec<(&std::path::Path, Vec<&str>)> = vec![
        (&missing, vec!["absent.json", "Cannot read the config file"]),
        (&empty, vec!["empty.json", "is empty"]),
        (&not_json, vec!["broken.json", "not valid JSON", "line 1"]),
        (&array, vec!["array.json", "must be a JSON object"]),
        (
            &no_token,
            vec!["no-token.json", "'organization_access_token' is missing"],
        ),
        (&bad_prefix, vec!["prefix.json", "polar_oat_"]),
        (&wrong_type, vec!["type.json", "'server' must be"]),
        (&huge, vec!["huge.json", "bytes"]),
    ];
    for (path, expected) in &cases {
        for command in ["discover", "read"] {
            let run = run(&[&command, &"--config", path], &[]);
            assert_config_error(&run, expected);
            assert!(
                !run.stdout.contains("polar_oat_secret123"),
                "a malformed config's token is not echoed"
            );
        }
    }
    // check: an unreadable file is an error; readable but invalid content is a FAILED status.
    let unreadable = run(&[&"check", &"--config", &missing], &[]);
    assert_config_error(&unreadable, &["absent.json"]);
    let invalid = run(&[&"check", &"--config", &no_token], &[]);
    invalid.compliant();
    assert_eq!(invalid.code, 0);
    assert_eq!(
        invalid.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"],
        "FAILED"
    );
}

#[test]
fn catalogs_that_would_sync_the_wrong_thing_are_refused() {
    let server = FakePolar::start(Options::with_records(5));
    let files = Files::new();
    let config = config_file(&files, &server);
    let unknown = files.json("unknown.json", &catalog(&["customers", "nope"]));
    let mut invalid_mode = catalog(&["orders"]);
    invalid_mode["streams"][0]["sync_mode"] = json!("INVALID");
    let invalid_mode = files.json("mode.json", &invalid_mode);
    let duplicate = files.json("dup.json", &catalog(&["orders", "refunds", "orders"]));
    let not_catalog = files.json("shape.json", &json!({"streams": "all"}));
    let garbage = files.text("garbage.json", "streams: [orders]");
    for (path, expected) in [
        (
            &unknown,
            vec!["unknown.json", "'nope'", "customers, products"],
        ),
        (&invalid_mode, vec!["mode.json", "'INVALID'", "orders"]),
        (&duplicate, vec!["dup.json", "'orders' twice"]),
        (&not_catalog, vec!["shape.json", "'streams' array"]),
        (&garbage, vec!["garbage.json", "not valid JSON"]),
    ] {
        let run = read(&config, Some(path), None);
        assert_config_error(&run, &expected);
        assert!(
            run.records("customers").is_empty(),
            "nothing is read with a bad catalog"
        );
    }
    assert!(server.requests().is_empty());
}

#[test]
fn every_state_form_clients_send_is_accepted() {
    let server = FakePolar::start(Options::with_records(30).count("organizations", 1));
    let files = Files::new();
    let config = config_file(&files, &server);
    let catalog_path = files.json("catalog.json", &catalog(&["orders", "organizations"]));
    let pyairbyte = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders", "namespace": null},
        "stream_state": {"__ab_full_refresh_sync_complete": true}}, "global_": null, "data": null, "sourceStats": null}]);
    for (name, state) in [
        ("empty-list", json!([])),
        ("empty-object", json!({})),
        ("pyairbyte", pyairbyte),
    ] {
        let path = files.json(&format!("{name}.json"), &state);
        let run = read(&config, Some(&catalog_path), Some(&path));
        run.compliant();
        assert_eq!(run.code, 0, "{name}: {}", run.stdout);
        assert_same_records(&run, &server, "orders");
    }
    let bad = files.text(
        "bad-state.json",
        "[{\"type\": \"STREAM\", \"stream\": {\"stream_state\": {}}}]",
    );
    assert_config_error(
        &read(&config, Some(&catalog_path), Some(&bad)),
        &["bad-state.json", "stream_descriptor"],
    );
    let not_json = files.text("not-json-state.json", "{");
    assert_config_error(
        &read(&config, Some(&catalog_path), Some(&not_json)),
        &["not-json-state.json", "not valid JSON"],
    );
}
