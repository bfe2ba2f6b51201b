//! Paging with drift detection (docs/fault-model.md R3). In: a way to fetch page N of a list (with its
//! `TotalCount` echo) and a key per item. Out: every item of one consistent walk, or a drift
//! error. A list that fits in one page is an atomic answer; a longer list is walked twice and
//! accepted only when two consecutive clean walks agree on `TotalCount` and the key set,
//! because an insert plus a delete between pages cannot be seen by counts alone. At most
//! [`MAX_WALKS`] walks. [`WalkRecord`] and [`judge`] are pure; [`collect`] drives them.

use grantguard_wire::models::PageInfo;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

/// Walks of one list before giving up (the first plus two re-walks).
pub const MAX_WALKS: usize = 3;

/// Why one walk cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// `TotalCount` changed between pages.
    TotalChanged {
        /// Page where it changed.
        page: u32,
        /// Earlier value.
        before: u64,
        /// New value.
        after: u64,
    },
    /// An item appeared twice.
    DuplicateKey {
        /// Page where it reappeared.
        page: u32,
        /// Its key.
        key: String,
    },
    /// A page before the last was not full.
    ShortPage {
        /// The page.
        page: u32,
        /// Items on it.
        got: usize,
        /// Items expected.
        expected: u32,
    },
    /// The walk ended with a different number of items than `TotalCount`.
    CountMismatch {
        /// Items collected.
        collected: u64,
        /// `TotalCount`.
        total: u64,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::TotalChanged {
                page,
                before,
                after,
            } => {
                write!(
                    f,
                    "TotalCount changed from {before} to {after} at page {page}"
                )
            }
            Drift::DuplicateKey { page, key } => write!(f, "{key} listed again on page {page}"),
            Drift::ShortPage {
                page,
                got,
                expected,
            } => write!(
                f,
                "page {page} held {got} items of {expected} but was not the last"
            ),
            Drift::CountMismatch { collected, total } => {
                write!(f, "collected {collected} items but TotalCount is {total}")
            }
        }
    }
}

/// What to do after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask for the next page.
    Next,
    /// This walk is over (complete or drifted).
    Done,
}

/// The state of one walk from page 1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkRecord {
    /// `TotalCount` of the first page.
    pub total: Option<u64>,
    /// Keys in the order listed.
    pub keys: BTreeSet<String>,
    /// Items collected (counting duplicates).
    pub collected: u64,
    /// Pages fetched.
    pub pages: u32,
    /// The first inconsistency seen, if any.
    pub drift: Option<Drift>,
}

impl WalkRecord {
    /// Records page `page` fetched with `page_size`, its echo and its item keys.
    pub fn push(&mut self, page: u32, page_size: u32, info: &PageInfo, keys: &[String]) -> Step {
        self.pages += 1;
        let total = *self.total.get_or_insert(info.total_count);
        if info.total_count != total {
            self.drift = Some(Drift::TotalChanged {
                page,
                before: total,
                after: info.total_count,
            });
            return Step::Done;
        }
        for key in keys {
            if !self.keys.insert(key.clone()) {
                self.drift = Some(Drift::DuplicateKey {
                    page,
                    key: key.clone(),
                });
                return Step::Done;
            }
        }
        self.collected += keys.len() as u64;
        if keys.is_empty() || self.collected >= total {
            if self.collected != total {
                self.drift = Some(Drift::CountMismatch {
                    collected: self.collected,
                    total,
                });
            }
            return Step::Done;
        }
        // A server that clamps PageSize says so in its echo; pages of that size are full.
        let expected = match info.page_size {
            Some(echo) if echo > 0 => echo.min(page_size),
            _ => page_size,
        };
        if (keys.len() as u64) < u64::from(expected) {
            self.drift = Some(Drift::ShortPage {
                page,
                got: keys.len(),
                expected,
            });
            return Step::Done;
        }
        Step::Next
    }

    fn is_clean(&self) -> bool {
        self.drift.is_none()
    }
}

/// What the walks so far allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The last walk is the answer.
    Accept,
    /// Walk again from page 1.
    WalkAgain,
    /// Give up: the list kept changing.
    Drift(String),
}

/// Decides after each walk: a clean one-page walk is atomic; otherwise the last two walks
/// must both be clean and agree on `TotalCount` and key set; after [`MAX_WALKS`] walks
/// without that, drift.
pub fn judge(walks: &[WalkRecord]) -> Verdict {
    let Some(last) = walks.last() else {
        return Verdict::WalkAgain;
    };
    if last.is_clean() && last.pages <= 1 {
        return Verdict::Accept;
    }
    if let [.., previous, last] = walks {
        if previous.is_clean()
            && last.is_clean()
            && previous.total == last.total
            && previous.keys == last.keys
        {
            return Verdict::Accept;
        }
    }
    if walks.len() < MAX_WALKS {
        return Verdict::WalkAgain;
    }
    let reason = match &last.drift {
        Some(drift) => drift.to_string(),
        None => "consecutive walks disagreed on TotalCount or the items listed".into(),
    };
    Verdict::Drift(format!(
        "the list changed while it was read ({reason}) in {} walks",
        walks.len()
    ))
}

/// Why [`collect`] failed.
#[derive(Debug)]
pub enum PagingError<E> {
    /// A page request failed.
    Call(E),
    /// The walks never agreed.
    Drift(String),
    /// More pages than the cap.
    PageCap(u32),
}

/// Walks a list with `fetch(page_number)` (pages of `page_size`), re-walking as [`judge`]
/// says, and returns the items of the accepted walk. `max_pages` bounds one walk.
pub async fn collect<T, E, F, Fut>(
    page_size: u32,
    max_pages: u32,
    key: impl Fn(&T) -> String,
    mut fetch: F,
) -> Result<Vec<T>, PagingError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(PageInfo, Vec<T>), E>>,
{
    let mut walks: Vec<WalkRecord> = Vec::new();
    loop {
        let mut record = WalkRecord::default();
        let mut items = Vec::new();
        for page in 1.. {
            if page > max_pages {
                return Err(PagingError::PageCap(max_pages));
            }
            let (info, page_items) = fetch(page).await.map_err(PagingError::Call)?;
            let keys: Vec<String> = page_items.iter().map(&key).collect();
            items.extend(page_items);
            if record.push(page, page_size, &info, &keys) == Step::Done {
                break;
            }
        }
        walks.push(record);
        match judge(&walks) {
            Verdict::Accept => return Ok(items),
            Verdict::WalkAgain => continue,
            Verdict::Drift(reason) => return Err(PagingError::Drift(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;

    fn info(total: u64) -> PageInfo {
        PageInfo {
            total_count: total,
            page_size: None,
            page_number: None,
        }
    }

    fn keys(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("k{i:03}")).collect()
    }

    fn walk(pages: &[(u64, Vec<String>)], size: u32) -> WalkRecord {
        let mut r = WalkRecord::default();
        for (i, (total, k)) in pages.iter().enumerate() {
            if r.push(i as u32 + 1, size, &info(*total), k) == Step::Done {
                break;
            }
        }
        r
    }

    #[test]
    fn one_page_is_atomic() {
        let w = walk(&[(3, keys(0..3))], 10);
        assert_eq!(w.drift, None);
        assert_eq!(judge(&[w]), Verdict::Accept);
        let empty = walk(&[(0, vec![])], 10);
        assert_eq!(judge(&[empty]), Verdict::Accept);
    }

    #[test]
    fn multi_page_needs_a_confirming_walk() {
        let pages = [(5, keys(0..2)), (5, keys(2..4)), (5, keys(4..5))];
        let w = walk(&pages, 2);
        assert_eq!(w.drift, None);
        assert_eq!(judge(std::slice::from_ref(&w)), Verdict::WalkAgain);
        assert_eq!(judge(&[w.clone(), w]), Verdict::Accept);
    }

    #[test]
    fn each_drift_kind_is_seen() {
        let changed = walk(&[(5, keys(0..2)), (6, keys(2..4))], 2);
        assert!(matches!(changed.drift, Some(Drift::TotalChanged { .. })));
        let dup = walk(&[(5, keys(0..2)), (5, keys(1..3))], 2);
        assert!(matches!(
            dup.drift,
            Some(Drift::DuplicateKey { page: 2, .. })
        ));
        let short = walk(&[(5, keys(0..1)), (5, keys(1..3))], 2);
        assert!(matches!(
            short.drift,
            Some(Drift::ShortPage { page: 1, .. })
        ));
        let mismatch = walk(&[(5, keys(0..2)), (5, vec![])], 2);
        assert!(matches!(
            mismatch.drift,
            Some(Drift::CountMismatch {
                collected: 2,
                total: 5
            })
        ));
        let one_page_mismatch = walk(&[(4, keys(0..3))], 10);
        assert!(one_page_mismatch.drift.is_some());
        assert_eq!(judge(&[one_page_mismatch]), Verdict::WalkAgain);
    }

    #[test]
    fn clamped_page_size_echo_is_not_short() {
        let mut r = WalkRecord::default();
        let echo = PageInfo {
            total_count: 4,
            page_size: Some(2),
            page_number: Some(1),
        };
        assert_eq!(r.push(1, 100, &echo, &keys(0..2)), Step::Next);
        assert_eq!(r.push(2, 100, &echo, &keys(2..4)), Step::Done);
        assert_eq!(r.drift, None);
    }

    #[test]
    fn disagreeing_walks_end_in_drift_after_three() {
        let a = walk(&[(4, keys(0..2)), (4, keys(2..4))], 2);
        let b = walk(&[(4, keys(1..3)), (4, keys(3..5))], 2);
        assert_eq!(judge(&[a.clone(), b.clone()]), Verdict::WalkAgain);
        assert!(matches!(judge(&[a.clone(), b, a]), Verdict::Drift(_)));
    }

    /// A server listing `state` in pages; `mutate` runs before request number `at`.
    struct Server {
        state: Vec<String>,
        after: Vec<String>,
        at: usize,
        requests: usize,
    }

    impl Server {
        fn page(&mut self, number: u32, size: u32) -> (PageInfo, Vec<String>) {
            self.requests += 1;
            if self.requests == self.at {
                self.state = self.after.clone();
            }
            let start = ((number - 1) * size) as usize;
            let items = self
                .state
                .iter()
                .skip(start)
                .take(size as usize)
                .cloned()
                .collect();
            (info(self.state.len() as u64), items)
        }
    }

    fn run_model(
        initial: Vec<String>,
        after: Vec<String>,
        at: usize,
        size: u32,
    ) -> (Result<Vec<String>, PagingError<()>>, usize) {
        let server = RefCell::new(Server {
            state: initial,
            after,
            at,
            requests: 0,
        });
        let result = futures::executor::block_on(collect(
            size,
            1000,
            |k: &String| k.clone(),
            |n| {
                let page = server.borrow_mut().page(n, size);
                std::future::ready(Ok::<_, ()>(page))
            },
        ));
        let requests = server.borrow().requests;
        (result, requests)
    }

    fn key_set() -> impl Strategy<Value = BTreeSet<String>> {
        proptest::collection::btree_set("[a-z]{1,3}", 0..30)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// P4: the pager returns either drift or a real snapshot of the list (before or after
        /// the one mutation), never a mixture and never a duplicate; with no mutation it
        /// returns the list.
        #[test]
        fn pager_agrees_with_the_model(
            initial in key_set(),
            after in key_set(),
            at in 1usize..20,
            size in 1u32..8,
        ) {
            let initial: Vec<String> = initial.into_iter().collect();
            let after: Vec<String> = after.into_iter().collect();
            let (result, requests) = run_model(initial.clone(), after.clone(), at, size);
            let pages_max = initial.len().max(after.len()) / size as usize + 2;
            prop_assert!(requests <= MAX_WALKS * pages_max + 3);
            match result {
                Ok(mut got) => {
                    let n = got.len();
                    got.sort();
                    got.dedup();
                    prop_assert_eq!(got.len(), n, "duplicates accepted");
                    prop_assert!(got == initial || got == after, "a mixture was accepted: {:?}", got);
                }
                Err(PagingError::Drift(_)) => {
                    prop_assert!(initial != after, "drift reported for an unchanged list");
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
            let (clean, _) = run_model(initial.clone(), initial.clone(), at, size);
            prop_assert_eq!(clean.unwrap(), initial);
        }
    }
}
