//! The checks the fuzz targets in `fuzz/` run on arbitrary bytes, one per parser that faces untrusted input:
//! a page body and the headers from the network, the config, catalog and state files, and the redaction of
//! whatever a server echoes. Each must never panic, and each
//! checks what its parser promises. A unit test replays the committed corpus through the same checks, so CI
//! keeps every input the fuzzers found interesting without needing a fuzzer.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::page::{Envelope, Page};
use crate::state::checkpoint;
use crate::{catalog, config, input, state, streams};

/// A page body: parsed once; each item's text is the object Polar sent, with the id it reports (as a list page,
/// as the metrics' periods and as one document).
pub fn page(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for sorting in [
        &["created_at", "email"][..],
        &[][..],
        &["started_at", "customer", "amount"][..],
    ] {
        let Ok(page) = Page::parse(text.to_owned(), sorting) else {
            continue;
        };
        for item in &page.items {
            // Exactly one JSON object, as sent. (A lone surrogate escape such as `\ud800` is valid JSON text
            // and passes through, though serde_json's own `Value` refuses it.)
            let text = page.text(item);
            serde_json::from_str::<&RawValue>(text).expect("an item is one JSON value");
            assert!(
                text.starts_with('{') && text.ends_with('}'),
                "an item is an object"
            );
            let id = page.id_json(item);
            serde_json::from_str::<&RawValue>(id).expect("an id is one JSON value");
            assert_ne!(id, "null", "an item's id is never null");
            if let Ok(Value::Object(record)) = serde_json::from_str::<Value>(text) {
                assert!(record.contains_key("id"));
            }
            if let Some(first) = page.first_sort_json(item) {
                serde_json::from_str::<&RawValue>(first).expect("a sort value is one JSON value");
            }
        }
    }
    // The same body as the metrics' response (periods keyed by `timestamp`) and as their limits (one object).
    if let Ok(page) = Page::parse_envelope(text.to_owned(), &[], Envelope::PERIODS) {
        for item in &page.items {
            let text = page.text(item);
            assert!(
                text.starts_with('{') && text.ends_with('}'),
                "a period is an object"
            );
            let key = page.id_json(item);
            serde_json::from_str::<&RawValue>(key).expect("a timestamp is one JSON value");
            assert_ne!(key, "null", "a period's timestamp is never null");
        }
        assert_eq!(page.total_count, page.items.len() as u64);
    }
    if let Ok(page) = Page::parse_document(text.to_owned()) {
        assert_eq!(page.items.len(), 1);
        let whole = page.text(&page.items[0]);
        serde_json::from_str::<&RawValue>(whole).expect("a document is one JSON value");
    }
}

/// A config file: accepted or refused with a message that never quotes the token.
pub fn config(data: &[u8]) {
    let Ok(value) = input::parse_json("config", "config.json", data) else {
        return;
    };
    if let Err(error) = config::Config::from_json(&value) {
        let message = error.to_string();
        if let Some(token) = value
            .get("organization_access_token")
            .and_then(Value::as_str)
            .map(str::trim)
            // Only what looks like a token: anything else can be a word of the fixed texts themselves
            // ("organization_acces"). Tokens without the prefix are covered by `config`'s own tests.
            .filter(|token| {
                token.starts_with(config::TOKEN_PREFIX) && token.len() > config::TOKEN_PREFIX.len()
            })
        {
            assert!(
                !message.contains(token),
                "the message quotes the token: {message}"
            );
        }
        // The prefix alone is named in advice ("it must start with 'polar_oat_'"); a token goes on after it.
        let quotes_a_token = message
            .match_indices(config::TOKEN_PREFIX)
            .any(|(at, prefix)| {
                message[at + prefix.len()..]
                    .chars()
                    .next()
                    .is_some_and(|next| next.is_ascii_alphanumeric() || next == '_')
            });
        assert!(!quotes_a_token, "the message quotes a token: {message}");
    }
}

/// A configured catalog: accepted (only known streams, each once) or refused.
pub fn catalog(data: &[u8]) {
    let Ok(value) = input::parse_json("catalog", "catalog.json", data) else {
        return;
    };
    if let Ok(selected) = catalog::parse_configured("catalog.json", &value) {
        let mut names: Vec<&str> = selected
            .iter()
            .map(|selected| selected.stream.name)
            .collect();
        assert!(names.iter().all(|name| streams::find(name).is_some()));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), selected.len(), "a stream selected twice");
    }
}

/// A state file (JSON or JSON lines): each stream's checkpoint is used or refused with a reason.
pub fn state(data: &[u8]) {
    let value = match input::parse_json("state", "state.json", data) {
        Ok(value) => value,
        Err(_) => return,
    };
    let Ok(parsed) = state::parse("state.json", &value) else {
        return;
    };
    for stream in streams::STREAMS {
        if let Ok(Some(resume)) =
            checkpoint::resume_point(stream, 100, parsed.streams.get(stream.name))
        {
            assert!(resume.page >= 1);
        }
    }
}

/// What a server says in headers and error bodies: a `Retry-After` or a rate-limit reset is a wait of at most
/// a day, never a panic, and only Polar's own not-found body reads as a deleted record.
pub fn headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(wait) = crate::client::retry_after_value(text) {
        assert!(wait <= crate::client::MAX_WAIT, "{text:?} waits {wait:?}");
    }
    if let Ok(number) = text.trim().parse::<f64>()
        && number.is_finite()
        && number >= 0.0
    {
        assert!(crate::client::wait_until(number) <= crate::client::MAX_WAIT);
    }
    if crate::client::not_found_body(text) == crate::client::NotFoundBody::ResourceNotFound {
        let value: Value = serde_json::from_str(text).expect("Polar's body is JSON");
        assert_eq!(value["error"], "ResourceNotFound");
    }
}

/// Whatever a server echoes: the first line is taken as the token, the rest as text quoting it. No message
/// made of it shows the token or any eight characters of its secret, and a JSON line stays the same JSON
/// but for the words cut out.
pub fn redact(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (token, rest) = text.split_once('\n').unwrap_or((text, ""));
    let token = token.trim();
    // Only tokens a config accepts: ASCII without spaces, with Polar's prefix and a secret after it.
    if !token.starts_with(config::TOKEN_PREFIX)
        || token.len() < config::TOKEN_PREFIX.len() + 8
        || !token.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return;
    }
    let redactor = crate::redact::Redactor::for_token(token);
    let secret = &token[config::TOKEN_PREFIX.len()..];
    let echoed = format!("{rest} Bearer {token} {rest}");
    let clean = redactor.text(&echoed);
    assert!(!clean.contains(token), "the token survives in {clean:?}");
    let mut line =
        serde_json::to_vec(&serde_json::json!({"message": echoed, "n": 12345678})).unwrap();
    redactor.json_lines(&mut line);
    let value: Value = serde_json::from_slice(&line).expect("a redacted JSON line is JSON");
    assert_eq!(value["n"], 12345678, "numbers are left alone");
    let message = value["message"].as_str().expect("still a string");
    assert!(
        !message.contains(token),
        "the token survives in {message:?}"
    );
    // A secret of word characters is cut whole out of any word holding a piece of it.
    if secret
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    {
        for piece in secret.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).expect("ASCII");
            assert!(!clean.contains(piece), "{piece:?} survives in {clean:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every input in `fuzz/corpus/<target>/` goes through its check again.
    fn replay(target: &str, check: fn(&[u8])) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its check", path.display());
            count += 1;
        }
        count
    }

    #[test]
    fn the_fuzz_corpus_replays_clean() {
        for (target, check) in [
            ("page", super::page as fn(&[u8])),
            ("config", super::config),
            ("catalog", super::catalog),
            ("state", super::state),
            ("headers", super::headers),
            ("redact", super::redact),
        ] {
            let count = replay(target, check);
            assert!(count > 0, "the {target} corpus is empty");
        }
    }
}
