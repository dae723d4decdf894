//! Request labels: which request a message is about, as it reads there ("GET /v1/orders/ page 7").

use std::fmt;
use std::sync::Arc;

use super::PAGE_SIZE;

/// Which page of which stream a request asked for, for messages: "GET /v1/orders/ page 7".
#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub path: &'static str,
    pub page: u32,
    pub limit: u32,
    /// The creation filter and its value, when paging by key.
    pub after: Option<(&'static str, Arc<str>)>,
    /// The listing's first fixed filter and how many values it has ("customer_id x20").
    pub filter: Option<(&'static str, usize)>,
    /// For a read of one record by id: the id (`page` and `limit` then mean nothing).
    pub record: Option<Arc<str>>,
    /// For a request that is not a list page: what it asks for ("2025-01-01 to 2025-12-31"; `page` and
    /// `limit` then mean nothing).
    pub span: Option<Arc<str>>,
}

impl RequestLabel {
    /// The label of a request that is not a list page: `path`, asking for `span` (may be empty).
    pub fn other(path: &'static str, span: &str) -> RequestLabel {
        RequestLabel {
            path,
            page: 1,
            limit: 1,
            after: None,
            filter: None,
            record: None,
            span: Some(Arc::from(span)),
        }
    }
}

impl fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.record {
            return write!(f, "GET {}{id}", self.path);
        }
        if let Some(span) = &self.span {
            return match &**span {
                "" => write!(f, "GET {}", self.path),
                span => write!(f, "GET {} {span}", self.path),
            };
        }
        write!(f, "GET {} page {}", self.path, self.page)?;
        if self.limit != PAGE_SIZE {
            write!(f, " (limit {})", self.limit)?;
        }
        if let Some((filter, value)) = &self.after {
            write!(f, " ({filter} {value})")?;
        }
        if let Some((filter, count)) = &self.filter {
            write!(f, " ({filter} x{count})")?;
        }
        Ok(())
    }
}
