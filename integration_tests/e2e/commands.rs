//! spec, discover and check.

use serde_json::{Value, json};

use crate::harness::*;

/// Keywords Airbyte's acceptance tests forbid in a spec or a stream schema.
fn assert_acceptable_schema(schema: &Value, at: &str) {
    match schema {
        Value::Object(object) => {
            for forbidden in [
                "$ref",
                "allOf",
                "anyOf",
                "oneOf",
                "not",
                "patternProperties",
            ] {
                assert!(!object.contains_key(forbidden), "{at}: has {forbidden}");
            }
            if let Some(additional) = object.get("additionalProperties") {
                assert!(
                    additional != &json!(false),
                    "{at}: additionalProperties false"
                );
            }
            for (key, value) in object {
                assert_acceptable_schema(value, &format!("{at}/{key}"));
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_acceptable_schema(item, at)),
        _ => {}
    }
}

#[test]
fn spec_follows_airbyte_rules() {
    let run = run(&[&"spec"], &[]);
    run.compliant();
    assert_eq!(run.code, 0);
    assert_eq!(run.messages.len(), 1);
    let spec = &run.messages[0]["spec"];
    assert!(
        spec["documentationUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let connection = &spec["connectionSpecification"];
    assert_acceptable_schema(connection, "spec");
    assert_eq!(connection["required"], json!(["organization_access_token"]));
    let token = &connection["properties"]["organization_access_token"];
    assert_eq!(token["airbyte_secret"], true);
    let description = token["description"].as_str().unwrap();
    for scope in [
        "benefits",
        "checkouts",
        "customers",
        "orders",
        "organizations",
        "products",
        "refunds",
        "subscriptions",
    ] {
        assert!(
            description.contains(&format!("{scope}:read")),
            "token description names {scope}:read"
        );
    }
    assert_eq!(
        connection["properties"]["server"]["enum"],
        json!(["production", "sandbox"])
    );
    assert_eq!(connection["properties"]["server"]["default"], "production");
    assert_eq!(connection["properties"]["base_url"]["type"], "string");
    assert_eq!(
        connection["properties"]["requests_per_minute"]["type"],
        "integer"
    );
}

#[test]
fn discover_announces_every_stream_with_its_schema_and_sync_modes() {
    let files = Files::new();
    let config = files.json(
        "config.json",
        &json!({"organization_access_token": "polar_oat_x"}),
    );
    let run = run(&[&"discover", &"--config", &config], &[]);
    run.compliant();
    assert_eq!(run.code, 0);
    let streams = run.of_type("CATALOG")[0]["catalog"]["streams"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [STREAMS, &PERIODS].concat());
    for stream in &streams {
        let name = stream["name"].as_str().unwrap();
        let incremental = INCREMENTAL.contains(&name);
        // Records are identified by `id`; a metrics period (not a list) by its day's `timestamp`.
        let key = if PERIODS.contains(&name) {
            "timestamp"
        } else {
            "id"
        };
        assert_eq!(stream["source_defined_primary_key"], json!([[key]]));
        assert_eq!(stream["is_resumable"], true);
        assert!(stream["description"].as_str().unwrap().len() > 20);
        let mut file: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join(format!("schemas/{name}.json"))).unwrap(),
        )
        .unwrap();
        if incremental {
            assert_eq!(
                stream["supported_sync_modes"],
                json!(["full_refresh", "incremental"])
            );
            assert_eq!(stream["source_defined_cursor"], true);
            assert_eq!(
                stream["default_cursor_field"],
                json!(["_ab_cdc_updated_at"])
            );
            // Airbyte's CDC fields are declared on top of the file's schema.
            let properties = stream["json_schema"]["properties"].as_object().unwrap();
            for field in ["_ab_cdc_updated_at", "_ab_cdc_deleted_at"] {
                assert_eq!(properties[field]["format"], "date-time", "{name}.{field}");
                file["properties"][field] = properties[field].clone();
            }
        } else {
            assert_eq!(stream["supported_sync_modes"], json!(["full_refresh"]));
        }
        assert_eq!(
            stream["json_schema"], file,
            "{name}: the embedded schema is schemas/{name}.json"
        );
        assert_acceptable_schema(&stream["json_schema"], name);
        assert_eq!(
            stream["json_schema"]["properties"][key]["type"],
            json!(["null", "string"])
        );
        // When the record was created: `created_at`, an event's or a period's `timestamp`.
        let properties = &stream["json_schema"]["properties"];
        let created = if properties["created_at"].is_object() {
            &properties["created_at"]
        } else {
            &properties["timestamp"]
        };
        assert_eq!(created["format"], "date-time", "{name}");
    }
}

fn check(server: &FakePolar, config: Value) -> Run {
    let files = Files::new();
    let path = files.json("config.json", &config);
    let run = run(
        &[&"check", &"--config", &path],
        &[("SOURCE_POLAR_MAX_ATTEMPTS", "2")],
    );
    run.compliant();
    assert_eq!(run.code, 0, "check exits 0: {}", run.stdout);
    let _ = server;
    run
}

fn status(run: &Run) -> (String, String) {
    let status = &run.of_type("CONNECTION_STATUS")[0]["connectionStatus"];
    (
        status["status"].as_str().unwrap().to_owned(),
        status["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn check_succeeds_with_a_working_token() {
    let server = FakePolar::start(Options::with_records(3));
    assert_eq!(status(&check(&server, server.config())).0, "SUCCEEDED");
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        STREAMS.len() + PERIODS.len() + 1,
        "one request per stream (the metrics' limits for metrics), and one of the change log"
    );
    assert!(requests.iter().all(|r| r.polar_version == "2026-10"
        && (r.limit == 1 || (r.stream == "metrics" && r.record.as_deref() == Some("limits")))));
}

#[test]
fn check_names_an_invalid_token() {
    let server = FakePolar::start(Options::with_records(3));
    let mut config = server.config();
    config["organization_access_token"] = json!("polar_oat_revoked");
    let (status, message) = status(&check(&server, config));
    assert_eq!(status, "FAILED");
    assert!(
        message.contains("401") && message.contains("invalid, expired or revoked"),
        "{message}"
    );
}

#[test]
fn check_passes_a_token_that_reads_some_streams_and_names_the_others_with_their_scopes() {
    let mut options = Options::with_records(3);
    options.scopes = Some(vec![
        "customers:read".into(),
        "products:write".into(),
        "orders:read".into(),
        "benefits:read".into(),
        "organizations:read".into(),
        "checkouts:read".into(),
        "events:read".into(),
    ]);
    let server = FakePolar::start(options);
    let run = check(&server, server.config());
    let (status, message) = status(&run);
    assert_eq!(status, "SUCCEEDED");
    let unreadable = message
        .split("cannot read these streams: ")
        .nth(1)
        .and_then(|rest| rest.split(". ").next())
        .expect("a stream list");
    // Every stream whose scope the token lacks (`products:write` covers `products:read`), in the table's order.
    let readable = [
        "customers:read",
        "products:read",
        "orders:read",
        "benefits:read",
        "organizations:read",
        "checkouts:read",
        "events:read",
    ];
    let expected: Vec<String> = source_polar::streams::STREAMS
        .iter()
        .filter(|stream| !readable.contains(&stream.scope))
        .map(|stream| format!("{} (needs {})", stream.name, stream.scope))
        .collect();
    assert!(expected.len() >= 11, "{expected:?}");
    assert_eq!(unreadable, expected.join(", "), "{message}");
    assert!(
        message.contains("create a token that also has those scopes"),
        "{message}"
    );
    assert!(run.stdout.contains("\"WARN\""), "the note is a WARN too");
}

#[test]
fn check_fails_a_token_that_reads_no_stream() {
    let mut options = Options::with_records(3);
    options.scopes = Some(vec!["webhooks:read".into()]);
    let server = FakePolar::start(options);
    let (status, message) = status(&check(&server, server.config()));
    assert_eq!(status, "FAILED");
    assert!(
        message.contains("can read none of the streams"),
        "{message}"
    );
    for stream in STREAMS {
        let scope = source_polar::streams::find(stream).unwrap().scope;
        assert!(message.contains(&format!("{scope} (")), "{message}");
    }
}

#[test]
fn check_says_when_polar_is_unreachable() {
    let server = FakePolar::start(Options::with_records(1));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config =
        json!({"organization_access_token": TOKEN, "base_url": format!("http://127.0.0.1:{port}")});
    let (status, message) = status(&check(&server, config));
    assert_eq!(status, "FAILED");
    assert!(
        message.contains("cannot reach Polar at http://127.0.0.1:"),
        "{message}"
    );
}

#[test]
fn check_recognises_an_api_version_polar_does_not_serve() {
    let mut options = Options::with_records(1);
    options.served_version = "2027-01".into();
    let server = FakePolar::start(options);
    let (status, message) = status(&check(&server, server.config()));
    assert_eq!(status, "FAILED");
    assert!(
        message.contains("does not accept API version 2026-10"),
        "{message}"
    );
}

#[test]
fn check_reports_config_problems_as_failed() {
    let server = FakePolar::start(Options::with_records(1));
    for (config, expected) in [
        (json!({}), "'organization_access_token' is missing"),
        (
            json!({"organization_access_token": "polar_pat_abc"}),
            "must start with 'polar_oat_'",
        ),
        (
            json!({"organization_access_token": TOKEN, "base_url": "ftp//nope"}),
            "'base_url' is not a valid URL",
        ),
        (
            json!({"organization_access_token": TOKEN, "base_url": "http://example.com"}),
            "must use https",
        ),
    ] {
        let (status, message) = status(&check(&server, config));
        assert_eq!(status, "FAILED");
        assert!(message.contains(expected), "{message}");
    }
    assert!(
        server.requests().is_empty(),
        "an invalid config never calls Polar"
    );
}

#[test]
fn the_help_names_every_stream() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_source-polar"))
        .arg("--help")
        .output()
        .expect("run source-polar --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for stream in source_polar::streams::STREAMS {
        assert!(
            help.contains(stream.name),
            "--help does not name {}",
            stream.name
        );
    }
}
