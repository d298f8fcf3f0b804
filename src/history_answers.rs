//! `/history.json` bodies: rendered from the in-memory window
//! ([`History`]) or the history file ([`Store`]), and kept per distinct
//! query until what they show changes.
//!
//! Why a cache: a `?range=1y` body is read from the file and folded anew
//! for every request (about 5 ms in a release build, `30d` 3.4 ms; 26–35
//! ms for a full year on the loaded 2-core test VM), and the loop answers
//! requests one after another, so clients asking for it in a loop held
//! every other client behind them (a hostile-input sweep: 400 connections
//! looping on `?range=1y`, a `/metrics` beside them timed out after 2 s).
//! `/metrics` and `/data.json` had their caches already. A flood of
//! distinct queries (`points` makes many) is not the cache's to stop: the
//! daemon bounds the time a loop turn spends rendering
//! (`daemon::HISTORY_ANSWER_SLICE`).
//!
//! Invariants:
//! - A body served from here is byte for byte the one [`render`] gives
//!   at the same state. An entry answers a query only if it was rendered
//!   for the same [`Query`] (the parameters as far as the body depends on
//!   them, time included: see [`Query`]) and in the current generation.
//!   The owner calls [`HistoryAnswers::invalidate`] whenever what a body
//!   is rendered from may have changed: a sample recorded (the in-memory
//!   window and the file's tiers, whose batch writes, steps and clock
//!   steps all happen in `Store::record`), the file opened, a slice of its
//!   opening run, the file dropped, a reload. The test
//!   `cached_bodies_are_fresh_renders` holds it to [`render`] over random
//!   sequences of those.
//! - At most [`ENTRIES`] bodies are kept, and together they hold at most
//!   [`KEPT_BYTES`] beyond the newest one (least recently used given back
//!   first). At [`HistoryAnswers::invalidate`] a stale body larger than
//!   [`KEEP_STALE_BYTES`] is given back: the bytes of a burst of large
//!   answers are held until the next sample, not while idle.
//! - Nothing is allocated on a hit, nor by `invalidate`.

use crate::history::History;
use crate::history_file::{RangeKey, Store};
use crate::log;

/// Distinct queries kept at once. The dashboard asks for one (its range at
/// its fixed `points`, every minute per open page); a handful covers a few
/// pages on different ranges and a script beside them.
pub const ENTRIES: usize = 4;

/// Bytes the bodies besides the newest may hold together: four year-long
/// `?range=1y` bodies (300–530 KB each at 1,500 points, with 10 series)
/// fit; four windows of `history = 24h` at `interval = 1s` (4.7 MB each)
/// do not, and only the newest is kept.
pub const KEPT_BYTES: usize = 2 * 1024 * 1024;

/// A stale body larger than this is given back at the next invalidation
/// (what the daemon kept of one answer before the cache).
pub const KEEP_STALE_BYTES: usize = 256 * 1024;

/// What a body depends on besides the state it is rendered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// The in-memory window, `per_point` samples folded into each point
    /// ([`History::per_point`]: `?points=` normalised).
    Window { per_point: usize },
    /// A range of the history file ([`Store::range_key`]: the range, the
    /// fold, and the bucket the range ends with, which the wall clock
    /// moves).
    Range(RangeKey),
}

/// Where bodies are rendered from, and when.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub history: &'a History,
    /// The history file, if there is one (open or opening).
    pub file: Option<&'a Store>,
    /// The wall clock (unix ms) a range ends at.
    pub wall_ms: u64,
}

impl Sources<'_> {
    /// The query `points` and `range_s` (the route's parameters) make: a
    /// range of the file when one is asked for and there is a file, else
    /// the window.
    pub fn query(&self, points: Option<usize>, range_s: Option<u32>) -> Query {
        match (range_s, self.file) {
            (Some(range_s), Some(store)) => {
                Query::Range(store.range_key(u64::from(range_s), points, self.wall_ms))
            }
            _ => self.window_query(points),
        }
    }

    fn window_query(&self, points: Option<usize>) -> Query {
        Query::Window {
            per_point: self.history.per_point(points),
        }
    }
}

/// Renders the answer to `points` and `range_s` into `out` (cleared
/// first), uncached; returns the query the body answers. A range the file
/// cannot be read for is logged and answered with the window, as without
/// a file.
pub fn render(
    sources: Sources<'_>,
    points: Option<usize>,
    range_s: Option<u32>,
    out: &mut String,
) -> Query {
    let query = sources.query(points, range_s);
    if let (Query::Range(_), Some(range_s), Some(store)) = (query, range_s, sources.file) {
        match store.render_range(u64::from(range_s), points, sources.wall_ms, out) {
            Ok(()) => return query,
            Err(e) => log::error(format_args!(
                "history: {}: read: {e}",
                store.path().display()
            )),
        }
    }
    sources.history.render_json(points, out);
    sources.window_query(points)
}

#[derive(Default)]
struct Entry {
    /// What `body` answers, in generation `generation`; `None`: nothing.
    query: Option<Query>,
    generation: u64,
    /// When it last answered, in [`HistoryAnswers::uses`].
    used: u64,
    body: String,
}

impl Entry {
    fn answers(&self, query: Query, generation: u64) -> bool {
        self.query == Some(query) && self.generation == generation
    }
}

/// The bodies kept (see the module's invariants).
#[derive(Default)]
pub struct HistoryAnswers {
    entries: [Entry; ENTRIES],
    /// Bumped by [`HistoryAnswers::invalidate`].
    generation: u64,
    /// Answers given, the clock of `Entry::used`.
    uses: u64,
    /// Bodies rendered (misses) since start.
    renders: u64,
}

impl HistoryAnswers {
    /// What the bodies were rendered from may have changed: none answers
    /// again. Large stale bodies are given back.
    pub fn invalidate(&mut self) {
        self.generation += 1;
        for entry in &mut self.entries {
            if entry.body.capacity() > KEEP_STALE_BYTES {
                *entry = Entry::default();
            }
        }
    }

    /// Bodies rendered since start: one per distinct query and
    /// generation asked for, at most.
    pub fn renders(&self) -> u64 {
        self.renders
    }

    /// Whether the answer to `points` and `range_s` would be taken from
    /// here (no render).
    pub fn holds(&self, sources: Sources<'_>, points: Option<usize>, range_s: Option<u32>) -> bool {
        let query = sources.query(points, range_s);
        self.entries
            .iter()
            .any(|e| e.answers(query, self.generation))
    }

    /// The body answering `points` and `range_s` now: kept, or rendered
    /// (and kept).
    pub fn body(
        &mut self,
        sources: Sources<'_>,
        points: Option<usize>,
        range_s: Option<u32>,
    ) -> &str {
        self.uses += 1;
        let query = sources.query(points, range_s);
        let i = match self.position(query) {
            Some(i) => i,
            None => self.render_into_free_entry(sources, points, range_s),
        };
        self.entries[i].used = self.uses;
        &self.entries[i].body
    }

    fn position(&self, query: Query) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.answers(query, self.generation))
    }

    /// Renders into the entry least worth keeping (empty, stale, else the
    /// least recently used), then gives back what the others hold past
    /// [`KEPT_BYTES`]. Returns the entry.
    fn render_into_free_entry(
        &mut self,
        sources: Sources<'_>,
        points: Option<usize>,
        range_s: Option<u32>,
    ) -> usize {
        let generation = self.generation;
        let worth = |e: &Entry| match e.query {
            None => (0, 0),
            Some(_) if e.generation != generation => (1, e.used),
            Some(_) => (2, e.used),
        };
        let i = (0..ENTRIES)
            .min_by_key(|&i| worth(&self.entries[i]))
            .expect("ENTRIES > 0");
        self.renders += 1;
        let entry = &mut self.entries[i];
        // A file that cannot be read answers with the window: kept under
        // the window's query, which is what it is (another entry may hold
        // the same bytes under it already: either answers).
        entry.query = Some(render(sources, points, range_s, &mut entry.body));
        entry.generation = generation;
        self.trim_others(i);
        i
    }

    /// Gives back the bodies other than `newest`, least recently used
    /// first, until they hold at most [`KEPT_BYTES`] together.
    fn trim_others(&mut self, newest: usize) {
        loop {
            let held: usize = (0..ENTRIES)
                .filter(|&i| i != newest)
                .map(|i| self.entries[i].body.capacity())
                .sum();
            if held <= KEPT_BYTES {
                return;
            }
            let oldest = (0..ENTRIES)
                .filter(|&i| i != newest && self.entries[i].body.capacity() > 0)
                .min_by_key(|&i| self.entries[i].used)
                .expect("bytes held by some entry");
            self.entries[oldest] = Entry::default();
        }
    }
}

#[cfg(test)]
mod tests;
