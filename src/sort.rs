//! One sort for the whole crate, compiled once.
//!
//! `slice::sort*` is generic: every element type and every comparator gets
//! its own copy of driftsort or ipnsort (quicksort, small-sort networks,
//! merges: 2–7 KB each), and sysmon's eleven element types cost about 60 KB
//! of a 1.5 MB binary. Here the algorithm is compiled once over indices,
//! behind `&mut dyn`, and a call site adds only its comparator and a swap.
//!
//! The algorithm is heapsort: in place (no allocation, nothing to size),
//! O(n log n) comparisons in the worst case, recursion-free. It is **not
//! stable**: elements that compare equal may end in any order. Every caller
//! sorts by a total order over distinct keys (names from one directory,
//! distinct ids) or values that are equal only when identical, so that
//! never shows; a caller that needs stability must add a tie-breaker to
//! its comparator.
//!
//! None of sysmon's sorts is on a hot path: the largest is one directory's
//! names in the backup walk, once per directory.

use std::cmp::Ordering;

#[cfg(test)]
thread_local! {
    /// The comparisons this thread's sorts have made: tests count the work of
    /// a caller (O(n log n), never O(n²)) instead of timing it.
    pub(crate) static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The slice as the algorithm sees it: compare and swap by index.
trait Indexed {
    fn less(&mut self, a: usize, b: usize) -> bool;
    fn swap(&mut self, a: usize, b: usize);
}

struct Slice<'a, T, F> {
    items: &'a mut [T],
    compare: F,
}

impl<T, F: FnMut(&T, &T) -> Ordering> Indexed for Slice<'_, T, F> {
    fn less(&mut self, a: usize, b: usize) -> bool {
        #[cfg(test)]
        COMPARISONS.with(|n| n.set(n.get() + 1));
        (self.compare)(&self.items[a], &self.items[b]) == Ordering::Less
    }
    fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
    }
}

/// Sorts `items` ascending by `compare` (not stable: see the module docs).
pub fn sort_by<T>(items: &mut [T], compare: impl FnMut(&T, &T) -> Ordering) {
    let len = items.len();
    heapsort(len, &mut Slice { items, compare });
}

/// Sorts `items` ascending by their `Ord` (not stable: equal elements are
/// indistinguishable to `Ord`, which is enough for sysmon's element types).
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// Sorts `items` ascending by the key `key` gives (not stable).
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// The one non-generic copy: a max-heap built in place, then the largest
/// moved to the end, one at a time.
fn heapsort(len: usize, s: &mut dyn Indexed) {
    for start in (0..len / 2).rev() {
        sift_down(s, start, len);
    }
    for end in (1..len).rev() {
        s.swap(0, end);
        sift_down(s, 0, end);
    }
}

/// Moves the element at `node` down until neither child below `end` is
/// larger.
fn sift_down(s: &mut dyn Indexed, mut node: usize, end: usize) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && s.less(child, child + 1) {
            child += 1;
        }
        if !s.less(node, child) {
            return;
        }
        s.swap(node, child);
        node = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator: the cases must not depend on a seed
    /// that changes from run to run.
    fn numbers(n: usize, modulo: u64, mut state: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) % modulo
            })
            .collect()
    }

    /// std's stable sort is the oracle: sorting by a total order, the
    /// result is the same sequence whatever the algorithm.
    #[test]
    fn sorts_like_std_on_every_shape() {
        let mut cases: Vec<Vec<u64>> = vec![vec![], vec![7], vec![2, 1], vec![1, 2]];
        for n in [3, 4, 5, 8, 9, 16, 17, 31, 100, 1000, 4097] {
            cases.push(numbers(n, u64::MAX, n as u64));
            cases.push(numbers(n, 3, n as u64 + 1)); // many duplicates
            cases.push((0..n as u64).collect()); // ascending
            cases.push((0..n as u64).rev().collect()); // descending
            cases.push(vec![5; n]); // all equal
        }
        for case in cases {
            let mut want = case.clone();
            want.sort();
            let mut got = case.clone();
            sort(&mut got);
            assert_eq!(got, want, "input {case:?}");
        }
    }

    #[test]
    fn sort_by_follows_the_comparator() {
        let mut names = vec!["b", "a", "c", "aa"];
        sort_by(&mut names, |a, b| b.cmp(a));
        assert_eq!(names, ["c", "b", "aa", "a"]);
        let mut pairs = vec![(2, "x"), (1, "y"), (3, "z")];
        sort_by_key(&mut pairs, |p| p.0);
        assert_eq!(pairs, [(1, "y"), (2, "x"), (3, "z")]);
    }

    /// Strings are what sysmon sorts most (directory listings): the same
    /// oracle over byte strings with shared prefixes.
    #[test]
    fn sorts_byte_strings_like_std() {
        let words: Vec<Vec<u8>> = numbers(2000, 50_000, 3)
            .into_iter()
            .map(|x| format!("d{:03}/f{x}", x % 37).into_bytes())
            .collect();
        let mut want = words.clone();
        want.sort();
        let mut got = words;
        sort(&mut got);
        assert_eq!(got, want);
    }
}
