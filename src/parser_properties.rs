//! Property tests: random JSON (and random bytes) fed to every input parser never panics, and every
//! rejection is a message naming the file.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::config::Config;
use crate::page::Page;
use crate::{catalog, input, state};

/// Arbitrary JSON, biased towards the shapes these parsers look into.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just(json!("polar_oat_x")),
            Just(json!("full_refresh")),
            Just(json!("incremental")),
            Just(json!("orders")),
            Just(json!("STREAM")),
            Just(json!("http://127.0.0.1:1")),
        ],
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            "[a-z_]{1,10}",
            Just("streams".to_owned()),
            Just("stream".to_owned()),
            Just("name".to_owned()),
            Just("sync_mode".to_owned()),
            Just("organization_access_token".to_owned()),
            Just("base_url".to_owned()),
            Just("requests_per_minute".to_owned()),
            Just("stream_descriptor".to_owned()),
            Just("stream_state".to_owned()),
            Just("global".to_owned()),
            Just("stream_states".to_owned()),
            Just("state".to_owned()),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsers_never_panic_on_random_json(value in json_value()) {
        let _ = Config::from_json(&value);
        if let Err(error) = catalog::parse_configured("catalog.json", &value) {
            prop_assert!(error.to_string().contains("catalog.json"));
        }
        if let Err(error) = state::parse("state.json", &value) {
            prop_assert!(error.to_string().contains("state.json"));
        }
        let _ = crate::state::checkpoint::resume_point(&crate::streams::STREAMS[0], 100, Some(&value));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = input::parse_json("config", "config.json", &bytes) {
            prop_assert!(error.to_string().contains("config.json"));
        }
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = Page::parse(text, &["created_at"]);
        }
    }

    /// Whatever the records and however the page is laid out, each item's text is exactly that record and
    /// its `id` is found; random JSON in place of a page is rejected or read, never a panic.
    #[test]
    fn pages_yield_each_record_verbatim(
        records in prop::collection::vec(json_value(), 0..6),
        pretty in any::<bool>(),
        anything in json_value(),
    ) {
        let records: Vec<Value> = records
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let mut object = match value {
                    Value::Object(object) => object,
                    other => [("value".to_owned(), other)].into_iter().collect(),
                };
                object.insert("id".into(), json!(format!("id-{index}")));
                Value::Object(object)
            })
            .collect();
        let envelope = json!({
            "items": records,
            "pagination": {"total_count": records.len(), "max_page": 1},
        });
        let body = if pretty {
            serde_json::to_string_pretty(&envelope).unwrap()
        } else {
            serde_json::to_string(&envelope).unwrap()
        };
        let page = Page::parse(body, &["created_at", "name"]).unwrap();
        prop_assert_eq!(page.items.len(), records.len());
        for (index, (item, record)) in page.items.iter().zip(&records).enumerate() {
            let text: Value = serde_json::from_str(page.text(item)).unwrap();
            prop_assert_eq!(&text, record);
            prop_assert_eq!(page.id_json(item), format!("\"id-{index}\""));
        }
        let _ = Page::parse(anything.to_string(), &["created_at"]);
    }
}
