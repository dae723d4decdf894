//! source-polar as a library: the connector's modules, for the `source-polar` binary (`main.rs`) and for the
//! fuzz targets in `fuzz/`, which feed the parsers that face untrusted input (pages, headers, config, catalog,
//! state) through `fuzzing`, built only for tests and with the `fuzzing` feature.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod client;
pub mod config;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod incremental;
pub mod input;
pub mod listing;
#[cfg(test)]
mod module_graph;
pub mod output;
pub mod page;
#[cfg(test)]
mod parser_properties;
pub mod periods;
pub mod protocol;
pub mod rate_limit;
pub mod reader;
pub mod redact;
pub mod signals;
pub mod state;
pub mod stream_facts;
pub mod streams;
pub mod sync;
pub mod sync_plan;
pub mod time;
pub mod tuning;
