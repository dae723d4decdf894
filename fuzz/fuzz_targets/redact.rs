//! Fuzz target: `source_polar::fuzzing::redact` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| source_polar::fuzzing::redact(data));
