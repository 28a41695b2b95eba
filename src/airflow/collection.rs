//! Reading a whole Airflow collection through its pages, when items may come and go meanwhile.

use super::model::Page;

/// How many times a collection is read again when it changed while being read.
pub const READ_ATTEMPTS: usize = 3;

/// The most items one collection may hold: a server whose pages never reach the total it claims
/// (or claims a total past any real one) must not keep a deploy reading until memory runs out.
pub const MAX_ITEMS: usize = 1_000_000;

/// A whole collection; `complete` is false when it never added up to the total Airflow reported.
#[derive(Debug)]
pub struct Collection<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub complete: bool,
}

/// Reads a collection page by page through `fetch(offset)`. Pages may be shorter than asked
/// (the server's cap): the offset advances by what arrived, and an empty page ends the reading
/// so that a server that miscounts cannot keep it going forever. Offsets shift when an item
/// leaves the collection meanwhile (a run finishing), which can skip another item: when the
/// total changed or the pages do not add up to it, the whole collection is read again.
pub fn read_all<T, E>(
    mut fetch: impl FnMut(u64) -> Result<Page<T>, E>,
    too_many: impl Fn(u64) -> E,
) -> Result<Collection<T>, E> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let read = read_once(&mut fetch, &too_many)?;
        if read.complete || attempt == READ_ATTEMPTS {
            return Ok(read);
        }
    }
}

fn read_once<T, E>(
    fetch: &mut impl FnMut(u64) -> Result<Page<T>, E>,
    too_many: &impl Fn(u64) -> E,
) -> Result<Collection<T>, E> {
    let first = fetch(0)?;
    let total = first.total;
    if total > MAX_ITEMS as u64 {
        return Err(too_many(total));
    }
    let mut steady = true;
    let mut items = first.items;
    while (items.len() as u64) < total {
        let page = fetch(items.len() as u64)?;
        steady &= page.total == total;
        if page.items.is_empty() {
            break;
        }
        items.extend(page.items);
    }
    Ok(Collection {
        complete: steady && items.len() as u64 == total,
        items,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = Result<Page<String>, ()>;

    fn runs(ids: std::ops::Range<u64>) -> Vec<String> {
        ids.map(|i| format!("run_{i}")).collect()
    }

    /// A server holding `items`, sending at most `cap` per page.
    fn server(items: Vec<String>, cap: usize) -> impl FnMut(u64) -> Read {
        move |offset| {
            let start = (offset as usize).min(items.len());
            let end = (start + cap).min(items.len());
            Ok(Page {
                items: items[start..end].to_vec(),
                total: items.len() as u64,
            })
        }
    }

    #[test]
    fn pages_capped_below_the_limit_are_all_read() {
        let mut offsets = Vec::new();
        let mut fake = server(runs(0..300), 100);
        let read = read_all(
            |offset| {
                offsets.push(offset);
                fake(offset)
            },
            |_| (),
        )
        .unwrap();
        assert_eq!(read.items, runs(0..300));
        assert!(read.complete);
        assert_eq!(offsets, vec![0, 100, 200]);
    }

    #[test]
    fn an_empty_page_ends_the_reading_of_a_miscounting_server() {
        let mut calls = 0;
        let read = read_all(
            |offset| -> Read {
                calls += 1;
                Ok(Page {
                    items: if offset == 0 { runs(0..3) } else { Vec::new() },
                    total: 10,
                })
            },
            |_| (),
        )
        .unwrap();
        assert_eq!(read.items.len(), 3);
        assert!(!read.complete);
        assert_eq!(
            calls,
            2 * READ_ATTEMPTS,
            "two pages per attempt, then given up"
        );
    }

    #[test]
    fn a_collection_that_changed_while_read_is_read_again() {
        // First reading: run_0 finishes after the first page, shifting the rest left by one,
        // so run_100 would be skipped. Second reading: steady.
        let mut reading = 0;
        let read = read_all(
            |offset| {
                if offset == 0 {
                    reading += 1;
                }
                let items = if reading == 1 && offset > 0 {
                    runs(1..150)
                } else {
                    runs(0..150)
                };
                server(items, 100)(offset)
            },
            |_| (),
        )
        .unwrap();
        assert_eq!(reading, 2);
        assert!(read.complete);
        assert_eq!(read.items, runs(0..150));
    }

    #[test]
    fn a_total_past_any_real_listing_stops_at_the_first_page() {
        // A broken server or proxy claims more than a listing may hold: its pages would never
        // reach the total. (Below the bound, reading stops at the total or an empty page.)
        let mut calls = 0;
        let claimed = read_all(
            |_| -> Result<Page<String>, u64> {
                calls += 1;
                Ok(Page {
                    items: runs(0..100),
                    total: MAX_ITEMS as u64 + 1,
                })
            },
            |count| count,
        );
        assert!(matches!(claimed, Err(count) if count == MAX_ITEMS as u64 + 1));
        assert_eq!(calls, 1);
    }
}
