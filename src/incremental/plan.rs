//! The incremental plan of one stream, with no I/O: whether its changes are read again or the stream is read
//! in full, and how the changed records are read again (batches through a list filter, or one by one). The
//! driver (`read_changes`) fetches what this decides.

use std::collections::HashMap;

use super::changes::{self, CUSTOMERS_PER_REQUEST, IDS_PER_REQUEST, StreamChanges};
use crate::streams::Refetch;

/// A list filter's values, in the order they are sent.
pub type Filters = Vec<(&'static str, String)>;

/// Why the stream is read in full instead of its changes, when it is.
pub fn in_full_because(
    changes: &StreamChanges,
    refetch: Option<Refetch>,
    full_pages: Option<u64>,
    max_changes: usize,
) -> Option<String> {
    let cheaper = changes.overflow
        || refetch
            .zip(full_pages)
            .is_some_and(|(refetch, pages)| changes::cheaper_in_full(&refetch, changes, pages));
    cheaper.then(|| {
        let count = if changes.overflow {
            format!("more than {max_changes}")
        } else {
            changes.count().to_string()
        };
        format!("reading again the {count} records changed since the last sync would cost more")
    })
}

/// Whether what a full read costs must be asked (one request) before deciding: only when the changes cost
/// something and have not overflowed already.
pub fn asks_full_cost(changes: &StreamChanges, refetch: Option<Refetch>) -> bool {
    let cost = refetch.map_or(0, |refetch| changes::refetch_cost(&refetch, changes));
    !changes.overflow && cost > 0
}

/// Once what was spent and what is left reach what a full read costs, the stream is read in full instead.
pub fn over_budget(full_pages: Option<u64>, spent: u64, left: u64) -> bool {
    full_pages.is_some_and(|pages| spent + left > pages)
}

/// One request of records read again: the list filter's values, and the ids it should bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub filters: Filters,
    pub ids: Vec<String>,
}

/// How the changed records are read again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rereads {
    pub batches: Vec<Batch>,
    /// Read one by one (`GET <path><id>`).
    pub singles: Vec<String>,
}

/// How `wanted` (changed records not read already, each with the customer its event named) are read again.
/// By id: up to [`IDS_PER_REQUEST`] ids a request. By customer: the customers sorted, up to
/// [`CUSTOMERS_PER_REQUEST`] a request, and a record whose event named no customer read on its own.
pub fn rereads(refetch: Refetch, wanted: Vec<(String, Option<String>)>) -> Rereads {
    match refetch {
        Refetch::One => Rereads {
            batches: Vec::new(),
            singles: wanted.into_iter().map(|(id, _)| id).collect(),
        },
        Refetch::ById(filter) => Rereads {
            batches: wanted
                .chunks(IDS_PER_REQUEST)
                .map(|chunk| {
                    let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
                    Batch {
                        filters: ids.iter().map(|id| (filter, id.clone())).collect(),
                        ids,
                    }
                })
                .collect(),
            singles: Vec::new(),
        },
        Refetch::ByCustomer(filter) => {
            let mut singles = Vec::new();
            let mut by_customer: HashMap<String, Vec<String>> = HashMap::new();
            for (id, customer) in wanted {
                match customer {
                    Some(customer) => by_customer.entry(customer).or_default().push(id),
                    None => singles.push(id),
                }
            }
            let mut customers: Vec<(String, Vec<String>)> = by_customer.into_iter().collect();
            customers.sort();
            let batches = customers
                .chunks(CUSTOMERS_PER_REQUEST)
                .map(|chunk| Batch {
                    filters: chunk
                        .iter()
                        .map(|(customer, _)| (filter, customer.clone()))
                        .collect(),
                    ids: chunk
                        .iter()
                        .flat_map(|(_, ids)| ids.iter().cloned())
                        .collect(),
                })
                .collect();
            Rereads { batches, singles }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn changes_of(changed: &[(&str, Option<&str>)]) -> StreamChanges {
        StreamChanges {
            changed: changed
                .iter()
                .map(|(id, customer)| (id.to_string(), customer.map(str::to_owned)))
                .collect(),
            ..StreamChanges::default()
        }
    }

    #[test]
    fn a_stream_is_read_in_full_when_its_changes_cost_more() {
        let by_customer = Some(Refetch::ByCustomer("customer_id"));
        // Three customers: one request, plus the window's; a stream of two pages is cheaper read in full.
        let changes = changes_of(&[("a", Some("c1")), ("b", Some("c2")), ("c", Some("c3"))]);
        assert!(asks_full_cost(&changes, by_customer));
        assert_eq!(in_full_because(&changes, by_customer, Some(5), 100), None);
        let why = in_full_because(&changes, by_customer, Some(1), 100).unwrap();
        assert!(why.contains("the 3 records changed"), "{why}");
        // Overflowed: in full, without asking what a full read costs.
        let overflow = StreamChanges {
            overflow: true,
            ..StreamChanges::default()
        };
        assert!(!asks_full_cost(&overflow, by_customer));
        let why = in_full_because(&overflow, by_customer, None, 100).unwrap();
        assert!(why.contains("more than 100"), "{why}");
        // Nothing changed, or nothing to read again (checkouts follow no events): no question to ask.
        assert!(!asks_full_cost(&StreamChanges::default(), by_customer));
        assert!(!asks_full_cost(&changes, None));
        assert_eq!(in_full_because(&changes, None, None, 100), None);
    }

    #[test]
    fn the_budget_is_a_full_reads_cost() {
        assert!(!over_budget(None, 1_000, 1_000), "no full cost known");
        assert!(!over_budget(Some(10), 4, 6));
        assert!(over_budget(Some(10), 5, 6));
    }

    #[test]
    fn records_read_again_by_customer_go_fifty_customers_a_request() {
        let mut wanted: Vec<(String, Option<String>)> = (0..120)
            .map(|k| (format!("o{k}"), Some(format!("c{:03}", k % 60))))
            .collect();
        wanted.push(("lost".into(), None));
        let plan = rereads(Refetch::ByCustomer("customer_id"), wanted);
        assert_eq!(plan.singles, ["lost"]);
        assert_eq!(plan.batches.len(), 2, "60 customers");
        assert_eq!(plan.batches[0].filters.len(), 50);
        assert_eq!(
            plan.batches[0].filters[0],
            ("customer_id", "c000".to_owned())
        );
        assert_eq!(plan.batches[0].ids.len(), 100, "two orders each");
        assert_eq!(plan.batches[1].filters.len(), 10);
    }

    #[test]
    fn records_read_again_by_id_go_a_hundred_a_request_or_one_by_one() {
        let wanted: Vec<(String, Option<String>)> =
            (0..250).map(|k| (format!("r{k}"), None)).collect();
        let plan = rereads(Refetch::ById("id"), wanted.clone());
        assert!(plan.singles.is_empty());
        let sizes: Vec<usize> = plan.batches.iter().map(|batch| batch.ids.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(plan.batches[2].filters[0], ("id", "r200".to_owned()));
        let one = rereads(Refetch::One, wanted);
        assert!(one.batches.is_empty());
        assert_eq!(one.singles.len(), 250);
    }

    proptest! {
        #[test]
        fn every_record_is_read_again_exactly_once_within_the_request_limits(
            wanted in proptest::collection::vec((0u32..400, proptest::option::of(0u32..90)), 0..400),
            kind in 0u8..3,
        ) {
            let mut wanted: Vec<(String, Option<String>)> = wanted
                .into_iter()
                .map(|(id, customer)| (format!("r{id}"), customer.map(|c| format!("c{c}"))))
                .collect();
            wanted.sort();
            wanted.dedup_by(|a, b| a.0 == b.0);
            let refetch = match kind {
                0 => Refetch::One,
                1 => Refetch::ById("id"),
                _ => Refetch::ByCustomer("customer_id"),
            };
            let plan = rereads(refetch, wanted.clone());
            let mut planned: Vec<&String> =
                plan.batches.iter().flat_map(|batch| &batch.ids).chain(&plan.singles).collect();
            planned.sort();
            let mut expected: Vec<&String> = wanted.iter().map(|(id, _)| id).collect();
            expected.sort();
            prop_assert_eq!(planned, expected);
            for batch in &plan.batches {
                let cap = if kind == 1 { IDS_PER_REQUEST } else { CUSTOMERS_PER_REQUEST };
                prop_assert!(!batch.filters.is_empty() && batch.filters.len() <= cap);
                if kind == 2 {
                    // Each id's customer is among its batch's filter values.
                    for id in &batch.ids {
                        let customer = wanted.iter().find(|(w, _)| w == id).unwrap().1.clone().unwrap();
                        prop_assert!(batch.filters.iter().any(|(_, value)| *value == customer));
                    }
                }
            }
            // What the plan costs is what deciding on it assumed.
            let changes = StreamChanges {
                changed: wanted.into_iter().collect(),
                ..StreamChanges::default()
            };
            prop_assert_eq!(
                changes::refetch_cost(&refetch, &changes),
                (plan.batches.len() + plan.singles.len()) as u64
            );
        }
    }
}
