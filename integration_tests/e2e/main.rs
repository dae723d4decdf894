//! End-to-end tests: the real `source-polar` binary against the Polar-like server (`fake-polar`) over HTTP
//! on 127.0.0.1. Every run goes through one compliance check (`harness::Run::compliant`): each stdout line is
//! an Airbyte message valid against the protocol's JSON schema, and the access token appears nowhere.

mod harness;

mod bad_input;
mod commands;
mod edges;
mod faults;
mod hostile;
mod incremental;
mod live;
mod metrics;
mod packaging;
mod read;
mod resume;
