//! A local server that behaves like Polar's list endpoints (API 2026-10), for the end-to-end tests, the
//! README's demo and the benchmark: data generated from polar-sdk's types (`data`, `templates/`), Polar's sorting and pagination
//! (`store`), and the HTTP behaviour with auth, scopes, rate limits, faults and churn (`server`).

pub mod data;
pub mod facts;
pub mod server;
pub mod store;

pub use server::{
    API_VERSION, Answer, Churn, FakePolar, Fault, FaultKind, FixedWindow, Hostile, LISTED_CHANGES,
    LoggedRequest, Options, TOKEN, TRACKED_STREAMS, TokenBucket, WindowStats,
};
