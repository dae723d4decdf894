//! A local server that behaves like Polar's list endpoints.
pub mod data;
