//! Request labels: which request a message is about, by kind, as it reads there ("GET /v1/orders/ page 7").

use std::fmt;
use std::sync::Arc;

use super::PAGE_SIZE;

/// The request a message is about. Every kind the connector sends is one variant: a check's probe and the
/// change log's feed are list pages too (of one record, of `/v1/events/`), and read as such.
#[derive(Debug, Clone)]
pub enum RequestLabel {
    /// Page `page` of a list: "GET /v1/orders/ page 7", with its limit when it is not [`PAGE_SIZE`] and its
    /// filters.
    Page {
        path: &'static str,
        page: u32,
        limit: u32,
        /// The creation filter and its value, when paging by key.
        after: Option<(&'static str, Arc<str>)>,
        /// The listing's first fixed filter and how many values it has ("customer_id x20").
        filter: Option<(&'static str, usize)>,
    },
    /// One record read by id: "GET /v1/customers/<id>".
    Record { path: &'static str, id: Arc<str> },
    /// Polar's metrics over a span of dates: "GET /v1/metrics/ 2025-01-01 to 2025-12-31".
    Metrics { path: &'static str, span: Arc<str> },
    /// The metrics' limits: "GET /v1/metrics/limits".
    Limits { path: &'static str },
}

impl RequestLabel {
    /// The path requested (without the id of a record read by id).
    pub fn path(&self) -> &'static str {
        match self {
            RequestLabel::Page { path, .. }
            | RequestLabel::Record { path, .. }
            | RequestLabel::Metrics { path, .. }
            | RequestLabel::Limits { path } => path,
        }
    }

    /// Whether this reads one record by id (where Polar's 404 means the record is gone).
    pub fn is_record_read(&self) -> bool {
        matches!(self, RequestLabel::Record { .. })
    }
}

impl fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestLabel::Record { path, id } => write!(f, "GET {path}{id}"),
            RequestLabel::Metrics { path, span } if span.is_empty() => write!(f, "GET {path}"),
            RequestLabel::Metrics { path, span } => write!(f, "GET {path} {span}"),
            RequestLabel::Limits { path } => write!(f, "GET {path}"),
            RequestLabel::Page {
                path,
                page,
                limit,
                after,
                filter,
            } => {
                write!(f, "GET {path} page {page}")?;
                if *limit != PAGE_SIZE {
                    write!(f, " (limit {limit})")?;
                }
                if let Some((filter, value)) = after {
                    write!(f, " ({filter} {value})")?;
                }
                if let Some((filter, count)) = filter {
                    write!(f, " ({filter} x{count})")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_as_it_always_has() {
        let page = |limit, after: Option<&str>, filter| RequestLabel::Page {
            path: "/v1/orders/",
            page: 7,
            limit,
            after: after.map(|value| ("created_after", Arc::from(value))),
            filter,
        };
        let rows = [
            (page(PAGE_SIZE, None, None), "GET /v1/orders/ page 7"),
            (page(1, None, None), "GET /v1/orders/ page 7 (limit 1)"),
            (
                page(PAGE_SIZE, Some("2025-01-01T00:00:00Z"), None),
                "GET /v1/orders/ page 7 (created_after 2025-01-01T00:00:00Z)",
            ),
            (
                page(50, Some("t"), Some(("customer_id", 20))),
                "GET /v1/orders/ page 7 (limit 50) (created_after t) (customer_id x20)",
            ),
            (
                RequestLabel::Record {
                    path: "/v1/customers/",
                    id: Arc::from("c-1"),
                },
                "GET /v1/customers/c-1",
            ),
            (
                RequestLabel::Metrics {
                    path: "/v1/metrics/",
                    span: Arc::from("2025-01-01 to 2025-12-31"),
                },
                "GET /v1/metrics/ 2025-01-01 to 2025-12-31",
            ),
            (
                RequestLabel::Metrics {
                    path: "/v1/metrics/",
                    span: Arc::from(""),
                },
                "GET /v1/metrics/",
            ),
            (
                RequestLabel::Limits {
                    path: "/v1/metrics/limits",
                },
                "GET /v1/metrics/limits",
            ),
        ];
        for (label, text) in rows {
            assert_eq!(label.to_string(), text);
            assert!(text.starts_with(&format!("GET {}", label.path())));
        }
    }
}
