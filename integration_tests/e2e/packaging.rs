//! The image and the platform's launch convention, without Docker: metadata.yaml against Airbyte's schema, the
//! Dockerfile's labels and entrypoint against metadata.yaml, and the binary launched exactly as the platform
//! launches it (`sh -c 'eval "$AIRBYTE_ENTRYPOINT read ..."'`, as uid 1000, from a read-only working directory).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::*;

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).expect("the Dockerfile")
}

/// The value of `ENV AIRBYTE_ENTRYPOINT=...` in the Dockerfile.
fn dockerfile_entrypoint_env() -> String {
    let text = dockerfile();
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("ENV AIRBYTE_ENTRYPOINT"))
        .expect("ENV AIRBYTE_ENTRYPOINT");
    let value = line.split_once('=').expect("ENV NAME=value").1.trim();
    value.trim_matches('"').to_owned()
}

fn label(name: &str) -> String {
    let text = dockerfile();
    let at = text
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("label {name}"));
    text[at + name.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

fn metadata() -> Value {
    let text = std::fs::read_to_string(repo().join("metadata.yaml")).expect("metadata.yaml");
    serde_yaml::from_str(&text).expect("metadata.yaml is YAML")
}

#[test]
fn metadata_is_valid_and_agrees_with_the_dockerfile() {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(airbyte_file("metadata-schema.json")).unwrap(),
    )
    .unwrap();
    drop_invalid_types(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("the metadata schema compiles");
    let metadata = metadata();
    let errors: Vec<String> = validator
        .iter_errors(&metadata)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "metadata.yaml: {errors:?}");
    let data = &metadata["data"];
    assert_eq!(
        label("io.airbyte.name"),
        data["dockerRepository"].as_str().unwrap()
    );
    assert_eq!(
        label("io.airbyte.version"),
        data["dockerImageTag"].as_str().unwrap()
    );
    assert_eq!(data["dockerImageTag"], env!("CARGO_PKG_VERSION"));
    let hosts: Vec<&str> = data["allowedHosts"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(hosts.contains(&"api.polar.sh") && hosts.contains(&"sandbox-api.polar.sh"));
    // Suggested streams are streams of the catalog.
    let discovered = run(
        &[
            &"discover",
            &"--config",
            &repo().join("integration_tests/sample_config.json"),
        ],
        &[],
    );
    let names: Vec<&str> = discovered.of_type("CATALOG")[0]["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| stream["name"].as_str().unwrap())
        .collect();
    let suggested = data["suggestedStreams"]["streams"].as_array().unwrap();
    assert!(!suggested.is_empty());
    for stream in suggested {
        assert!(
            names.contains(&stream.as_str().unwrap()),
            "{stream} is not a stream"
        );
    }
    // No wait of the connector's defaults (the retry budget, plus a request's timeout) outlasts the silence
    // the platform allows.
    let tuning = source_polar::tuning::Tuning::default();
    let longest = tuning.max_retry_wait + tuning.request_timeout;
    assert!(data["maxSecondsBetweenMessages"].as_u64().unwrap() >= longest.as_secs());
    let entrypoint = dockerfile()
        .lines()
        .find(|l| l.starts_with("ENTRYPOINT"))
        .unwrap()
        .to_owned();
    assert_eq!(
        entrypoint,
        format!("ENTRYPOINT [\"{}\"]", dockerfile_entrypoint_env()),
        "ENTRYPOINT equals AIRBYTE_ENTRYPOINT"
    );
    assert!(dockerfile().contains("USER 1000"));
}

/// Airbyte's metadata schema says `"type": "ConnectorMetric"` in one place (a generator's slip: not a JSON
/// Schema type), which a strict validator refuses to compile. Such a `type` constrains nothing for a validator
/// that would accept it, so it is removed; everything else stays as published.
fn drop_invalid_types(schema: &mut Value) {
    const TYPES: [&str; 7] = [
        "array", "boolean", "integer", "null", "number", "object", "string",
    ];
    match schema {
        Value::Object(object) => {
            if object
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| !TYPES.contains(&kind))
            {
                object.remove("type");
            }
            object.values_mut().for_each(drop_invalid_types);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_invalid_types),
        _ => {}
    }
}

/// Runs `command` through the platform's `sh -c 'eval ...'`, as uid 1000 when we are root and `setpriv` exists.
fn platform_run(entrypoint: &Path, workdir: &Path, command: &str) -> (i32, String, String) {
    let script = format!("eval \"$AIRBYTE_ENTRYPOINT {command}\"");
    let setpriv = Path::new("/usr/bin/setpriv");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut process = if is_root && setpriv.exists() {
        let mut process = Command::new(setpriv);
        process.args([
            "--reuid=1000",
            "--regid=1000",
            "--clear-groups",
            "sh",
            "-c",
            &script,
        ]);
        process
    } else {
        let mut process = Command::new("sh");
        process.args(["-c", &script]);
        process
    };
    let output = process
        .current_dir(workdir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("AIRBYTE_ENTRYPOINT", entrypoint)
        .output()
        .expect("run sh");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_platform_launch_convention_works() {
    let server = FakePolar::start(Options::with_records(130).count("organizations", 1));
    let files = Files::new();
    let root = files.path("root");
    // The binary where the Dockerfile puts it, under a scratch root: the test breaks if the two drift apart.
    let declared = dockerfile_entrypoint_env();
    let entrypoint = root.join(declared.trim_start_matches('/'));
    std::fs::create_dir_all(entrypoint.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_source-polar"), &entrypoint).unwrap();
    let source = files.path("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("connectorConfig.json"),
        server.config().to_string(),
    )
    .unwrap();
    std::fs::write(source.join("catalog.json"), catalog(STREAMS).to_string()).unwrap();
    std::fs::write(source.join("inputState.json"), "[]").unwrap();
    let workdir = files.path("job");
    std::fs::create_dir_all(&workdir).unwrap();
    // Everything readable by uid 1000; the working directory read-only.
    for dir in [files.path(""), root.clone(), source.clone()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut dir = entrypoint.parent().unwrap().to_path_buf();
    while dir.starts_with(&root) {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir = dir.parent().unwrap().to_path_buf();
    }
    std::fs::set_permissions(&workdir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let config = source.join("connectorConfig.json");
    let catalog_path = source.join("catalog.json");
    let state = source.join("inputState.json");
    for command in [
        "spec".to_owned(),
        format!("check --config {}", config.display()),
        format!("discover --config {}", config.display()),
        format!(
            "read --config {} --catalog {} --state {}",
            config.display(),
            catalog_path.display(),
            state.display()
        ),
    ] {
        let (code, stdout, stderr) = platform_run(&entrypoint, &workdir, &command);
        assert_eq!(code, 0, "{command}: {stdout}{stderr}");
        assert!(
            stderr.is_empty(),
            "{command}: nothing on stderr, got {stderr}"
        );
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert!(!lines.is_empty());
        if command.starts_with("check") {
            assert!(stdout.contains("\"SUCCEEDED\""), "{stdout}");
        }
        if command.starts_with("read") {
            let records = lines.iter().filter(|m| m["type"] == "RECORD").count();
            assert_eq!(records, (STREAMS.len() - 1) * 130 + 1);
        }
    }
}

/// The rows of the markdown table that follows `heading` in `page`, as cells.
fn table_after(page: &str, heading: &str) -> Vec<Vec<String>> {
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} is missing"));
    page[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_documentation_page_agrees_with_the_connector() {
    let page = std::fs::read_to_string(repo().join("docs/integrations/sources/polar.md")).unwrap();
    let files = Files::new();
    let config = files.json(
        "config.json",
        &serde_json::json!({"organization_access_token": "polar_oat_x"}),
    );
    let discovered = run(&[&"discover", &"--config", &config], &[]);
    let streams = discovered.of_type("CATALOG")[0]["catalog"]["streams"]
        .as_array()
        .unwrap()
        .clone();
    let spec = run(&[&"spec"], &[]);
    let spec = &spec.of_type("SPEC")[0]["spec"];
    let token_help =
        spec["connectionSpecification"]["properties"]["organization_access_token"]["description"]
            .as_str()
            .unwrap();

    let rows = table_after(&page, "## Supported Streams");
    assert_eq!(rows.len(), streams.len(), "one row per stream");
    for (row, stream) in rows.iter().zip(&streams) {
        let name = stream["name"].as_str().unwrap();
        assert_eq!(row[0], name);
        assert_eq!(row[1], format!("`GET /v1/{}/`", name.replace('_', "-")));
        // The spec lists each scope with the streams that need it: "customers:read (customers), ...".
        let scope = row[2].trim_matches('`');
        let needs = token_help
            .split(&format!("{scope} ("))
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_default();
        assert!(
            needs.split(", ").any(|stream| stream == name),
            "{name}: the page says {scope}, the connector asks for {token_help}"
        );
        let key: Vec<&str> = stream["source_defined_primary_key"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|part| part.as_str().unwrap())
            .collect();
        assert_eq!(row[3], format!("`{}`", key.join(".")));
        let modes: Vec<&str> = stream["supported_sync_modes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|mode| mode.as_str().unwrap())
            .collect();
        assert_eq!(row[4], modes.join(", "), "{name}");
    }
    let features = table_after(&page, "## Supported sync modes");
    let incremental = features
        .iter()
        .find(|row| row[0] == "Incremental Sync")
        .unwrap();
    let supports = spec["supportsIncremental"].as_bool().unwrap_or(false);
    assert_eq!(incremental[1], if supports { "Yes" } else { "No" });

    let version = env!("CARGO_PKG_VERSION");
    let changelog = table_after(&page, "## Changelog");
    assert_eq!(
        changelog[0][0], version,
        "the docs page's changelog starts with this version"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert_eq!(table_after(&readme, "## Changelog")[0][0], version);
    let documentation = metadata()["data"]["documentationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        documentation.ends_with("/integrations/sources/polar"),
        "{documentation}"
    );

    // The README's tables agree with discover: sync modes per stream, and one row of the incremental table, with
    // what the stream table says it catches, per incremental stream.
    let synced = table_after(&readme, "## What it syncs");
    let incremental = table_after(&readme, "## Incremental syncs");
    let mut incremental_names = Vec::new();
    for stream in &streams {
        let name = stream["name"].as_str().unwrap();
        let row = synced.iter().find(|row| row[0] == name).unwrap();
        let modes = stream["supported_sync_modes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|mode| mode.as_str().unwrap().replace('_', " "))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(row[3], modes, "README: {name}'s sync modes");
        if let Some(definition) = source_polar::streams::find(name).unwrap().incremental {
            incremental_names.push(name);
            let row = incremental
                .iter()
                .find(|row| row[0] == name)
                .unwrap_or_else(|| panic!("README: no incremental row for {name}"));
            assert_eq!(row[3], definition.catches, "README: what {name} catches");
        }
    }
    assert_eq!(incremental.len(), incremental_names.len());
}
