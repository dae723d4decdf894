//! Keeping credentials out of everything the connector prints.
//!
//! A [`Redactor`] knows the access token and cuts out of a message every word that carries it whole or any
//! eight-character piece of its secret part (a proxy may echo `Authorization`, URL-encode it, or cut it), and
//! every word shaped like a Polar credential (`polar_oat_...`, `polar_pat_...`, ...). It works on text, and on
//! serialized JSON lines where it touches only the insides of strings, so a redacted line stays valid JSON.
//! Records get the cheaper check for the whole token only (a record may legitimately hold `polar_c_...`
//! checkout secrets, which are the merchant's data).

use std::collections::HashSet;

use memchr::memmem;

/// How an organization access token begins: what the config requires, and a credential redaction knows.
pub const TOKEN_PREFIX: &str = "polar_oat_";

/// What replaces a word that carries a secret.
pub const REDACTED: &str = "[redacted]";

/// The length of the pieces of the token that are recognised on their own.
const PIECE: usize = 8;
/// A word holding `polar_` followed by this many characters or more is taken for a credential.
const CREDENTIAL_TAIL: usize = 14;

/// Finds and cuts out the access token and credential-shaped words.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// The token, and its secret part (after the `polar_xxx_` prefix), as found in records.
    whole: Vec<Vec<u8>>,
    /// Every eight-byte piece of the token's secret part.
    pieces: HashSet<[u8; PIECE], foldhash::fast::RandomState>,
}

impl Redactor {
    /// A redactor for `token` (trimmed; a token shorter than a piece is only recognised whole).
    pub fn for_token(token: &str) -> Redactor {
        let token = token.trim();
        let mut redactor = Redactor::default();
        if token.is_empty() {
            return redactor;
        }
        let secret = secret_part(token);
        // Shorter than a piece, a token is too likely to be a part of ordinary text (or of `[redacted]`).
        if token.len() >= PIECE {
            redactor.whole.push(token.as_bytes().to_vec());
        }
        if secret.len() >= PIECE && secret.len() < token.len() {
            redactor.whole.push(secret.as_bytes().to_vec());
        }
        let source = if secret.len() >= PIECE { secret } else { token };
        for window in source.as_bytes().windows(PIECE) {
            redactor
                .pieces
                .insert(window.try_into().expect("windows of PIECE bytes"));
        }
        redactor
    }

    /// `text` with every word carrying a secret replaced by [`REDACTED`].
    pub fn text(&self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        self.bytes_in(&mut bytes, false, true);
        String::from_utf8(bytes).expect("only ASCII words are replaced, by ASCII")
    }

    /// Redacts one or more serialized JSON lines in place, inside strings only.
    pub fn json_lines(&self, lines: &mut Vec<u8>) {
        self.bytes_in(lines, true, true);
    }

    /// Whether a record's JSON text holds the whole token (or its secret part).
    pub fn record_leaks(&self, record: &[u8]) -> bool {
        self.whole
            .iter()
            .any(|secret| memmem::find(record, secret).is_some())
    }

    /// A record's JSON text with the token cut out of its strings.
    pub fn record(&self, record: &[u8]) -> Vec<u8> {
        let mut bytes = record.to_vec();
        self.bytes_in(&mut bytes, true, false);
        bytes
    }

    /// Cuts out the words that carry a secret, then (a token with characters outside words is not found by
    /// its pieces) the whole token wherever it is left, in one forward pass.
    fn bytes_in(&self, bytes: &mut Vec<u8>, json: bool, shapes: bool) {
        self.words_in(bytes, json, shapes);
        for secret in &self.whole {
            replace_all(bytes, secret);
        }
    }

    /// Replaces the words (runs of `[A-Za-z0-9_-]`) that carry a piece of the token, or (with `shapes`) look
    /// like a Polar credential; with `json`, only inside JSON strings.
    fn words_in(&self, bytes: &mut Vec<u8>, json: bool, shapes: bool) {
        let mut words: Vec<(usize, usize)> = Vec::new();
        let mut in_string = !json;
        let mut escaped = false;
        let mut start: Option<usize> = None;
        for (index, &byte) in bytes.iter().enumerate() {
            let word_byte = byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
            if in_string && word_byte && !escaped {
                start.get_or_insert(index);
            } else {
                if let Some(from) = start.take() {
                    words.push((from, index));
                }
                if json {
                    if escaped {
                        escaped = false;
                    } else if in_string && byte == b'\\' {
                        escaped = true;
                    } else if byte == b'"' {
                        in_string = !in_string;
                    }
                }
            }
        }
        if let Some(from) = start {
            words.push((from, bytes.len()));
        }
        let secret: Vec<(usize, usize)> = words
            .into_iter()
            .filter(|&(from, to)| {
                let word = &bytes[from..to];
                (shapes && looks_like_credential(word)) || self.carries_piece(word)
            })
            .collect();
        for &(from, to) in secret.iter().rev() {
            bytes.splice(from..to, REDACTED.bytes());
        }
    }

    fn carries_piece(&self, word: &[u8]) -> bool {
        !self.pieces.is_empty()
            && word.windows(PIECE).any(|window| {
                self.pieces
                    .contains(<&[u8; PIECE]>::try_from(window).expect("windows of PIECE bytes"))
            })
    }
}

/// Replaces every occurrence of `secret` in `bytes` by [`REDACTED`], scanning forward once (what replaced an
/// occurrence is never searched again).
fn replace_all(bytes: &mut Vec<u8>, secret: &[u8]) {
    if secret.is_empty() || memmem::find(bytes, secret).is_none() {
        return;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for at in memmem::find_iter(bytes.as_slice(), secret) {
        if at < from {
            continue;
        }
        out.extend_from_slice(&bytes[from..at]);
        out.extend_from_slice(REDACTED.as_bytes());
        from = at + secret.len();
    }
    out.extend_from_slice(&bytes[from..]);
    *bytes = out;
}

/// The part of a Polar token after its `polar_xxx_` prefix (the whole token when it has none).
fn secret_part(token: &str) -> &str {
    let Some(rest) = token.strip_prefix("polar_") else {
        return token;
    };
    // `polar_oat_x`, `polar_at_o_x`: the prefix is lowercase letters and underscores.
    let mut cut = 0;
    for (index, part) in rest.split_inclusive('_').enumerate() {
        if index < 2
            && part.ends_with('_')
            && part.len() <= 5
            && part[..part.len() - 1]
                .bytes()
                .all(|byte| byte.is_ascii_lowercase())
        {
            cut += part.len();
        } else {
            break;
        }
    }
    &rest[cut..]
}

/// `polar_oat_` followed by anything, or another `polar_` followed by a long enough tail, anywhere in the word
/// (`Bearer%20polar_oat_...` is one word).
fn looks_like_credential(word: &[u8]) -> bool {
    memmem::find_iter(word, b"polar_").any(|at| {
        let tail = &word[at..];
        (tail.starts_with(TOKEN_PREFIX.as_bytes()) && tail.len() > TOKEN_PREFIX.len())
            || tail.len() - "polar_".len() >= CREDENTIAL_TAIL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "polar_oat_FAKE0123456789abcdefghijklmnopqrstuvwx";

    proptest::proptest! {
        /// Whatever surrounds the token, in text or in a JSON line, it is cut out, and so is any eight
        /// characters of its secret.
        #[test]
        fn no_message_keeps_the_token_or_a_piece_of_it(
            secret in "[A-Za-z0-9]{16,48}",
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            cut in 0usize..8,
        ) {
            let token = format!("polar_oat_{secret}");
            let redactor = Redactor::for_token(&token);
            let piece = &secret[cut..cut + 8];
            for echoed in [
                format!("{before}{token}{after}"),
                format!("{before} Bearer {token}{after}"),
                format!("{before}{piece}{after}"),
            ] {
                let clean = redactor.text(&echoed);
                proptest::prop_assert!(!clean.contains(piece), "{clean:?}");
                let mut line = serde_json::to_vec(&serde_json::json!({"m": echoed})).unwrap();
                redactor.json_lines(&mut line);
                let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
                proptest::prop_assert!(!value["m"].as_str().unwrap().contains(piece));
            }
        }
    }

    #[test]
    fn tokens_that_are_part_of_the_replacement_or_tiny_end() {
        for token in [
            "e",
            "d",
            "[redacted]",
            "polar_oat_redacted",
            "redacted",
            "1",
        ] {
            let redactor = Redactor::for_token(token);
            let mut line = br#"{"n":1,"ok":true,"m":"[redacted] e d 1 redacted"}"#.to_vec();
            redactor.json_lines(&mut line);
            let value: serde_json::Value = serde_json::from_slice(&line).expect("still JSON");
            assert_eq!(value["n"], 1, "{token}");
            let _ = redactor.text("e d [redacted] polar_oat_redacted");
            let _ = redactor.record(br#"{"id":"redacted"}"#);
        }
    }

    #[test]
    fn the_secret_part_follows_the_prefix() {
        assert_eq!(secret_part(TOKEN), "FAKE0123456789abcdefghijklmnopqrstuvwx");
        assert_eq!(secret_part("polar_at_o_abcdef"), "abcdef");
        assert_eq!(secret_part("plain"), "plain");
    }

    #[test]
    fn the_token_whole_cut_or_encoded_is_redacted_from_text() {
        let redactor = Redactor::for_token(TOKEN);
        for echoed in [
            format!("Bearer {TOKEN}"),
            format!("Bearer%20{TOKEN}"),
            "token ends ...qrstuvwx".to_owned(),
            "FAKE0123456789abcdef".to_owned(),
            format!("{{\"authorization\":\"Bearer {TOKEN}\"}}"),
        ] {
            let clean = redactor.text(&echoed);
            assert!(!clean.contains("FAKE0123"), "{clean}");
            assert!(!clean.contains("qrstuvwx"), "{clean}");
            assert!(clean.contains(REDACTED), "{clean}");
        }
        assert_eq!(
            redactor.text("GET /v1/orders/ page 7"),
            "GET /v1/orders/ page 7"
        );
    }

    #[test]
    fn credential_shapes_are_redacted_without_a_token() {
        let redactor = Redactor::default();
        let clean =
            redactor.text("seen polar_pat_abcdefghijklmnop0123 and polar_at_o_QWERTYUIOPASDFGH.");
        assert_eq!(clean, "seen [redacted] and [redacted].");
        assert_eq!(
            redactor.text("polar_oat_"),
            "polar_oat_",
            "a prefix alone is no secret"
        );
    }

    #[test]
    fn json_lines_stay_valid_json_and_numbers_are_left_alone() {
        let redactor = Redactor::for_token("polar_oat_12345678abcdefgh");
        let line = serde_json::json!({
            "total": 12345678,
            "message": format!("echo: {{\"h\": \"Bearer polar_oat_12345678abcdefgh\"}} \\u0070olar"),
        })
        .to_string();
        let mut bytes = format!("{line}\n{line}\n").into_bytes();
        redactor.json_lines(&mut bytes);
        let text = String::from_utf8(bytes).unwrap();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("still JSON");
            assert_eq!(value["total"], 12345678);
            let message = value["message"].as_str().unwrap();
            assert!(!message.contains("12345678"), "{message}");
            assert!(message.contains(REDACTED));
        }
    }

    #[test]
    fn records_lose_the_token_but_keep_checkout_secrets() {
        let redactor = Redactor::for_token(TOKEN);
        let record = format!(
            "{{\"client_secret\":\"polar_c_ZYXWVUTSRQPONMLK9876543\",\"note\":\"{TOKEN}\"}}"
        );
        assert!(redactor.record_leaks(record.as_bytes()));
        let clean = String::from_utf8(redactor.record(record.as_bytes())).unwrap();
        let value: serde_json::Value = serde_json::from_str(&clean).unwrap();
        assert_eq!(value["client_secret"], "polar_c_ZYXWVUTSRQPONMLK9876543");
        assert_eq!(value["note"], REDACTED);
        assert!(!redactor.record_leaks(b"{\"id\":\"polar_c_abcdefghijklmnop\"}"));
    }
}
