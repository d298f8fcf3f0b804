//! The cache against its oracle, [`render`] of the same state, with a fake
//! clock (an `Instant` base plus offsets, wall time chosen freely).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::history_file::parse_tiers;
use crate::sample::Sample;

/// 2026-12-02 00:00:00 UTC, in ms.
const T0_MS: u64 = 1_796_169_600_000;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "sysmon-history-answers-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small deterministic generator (no dependency for a test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 33) % n
    }
}

fn sample_with_cpu(busy: f64) -> Sample {
    let mut sample = Sample::default();
    sample.cpu.busy = busy;
    sample
}

/// The queries asked, as the route gives them: the window at several
/// folds (`points` 40 and 41 fold alike at 60 samples), ranges of both
/// tiers at several folds.
const QUERIES: [(Option<usize>, Option<u32>); 9] = [
    (None, None),
    (Some(40), None),
    (Some(41), None),
    (Some(7), None),
    (None, Some(600)),
    (Some(7), Some(600)),
    (Some(8), Some(600)),
    (None, Some(3600)),
    (Some(2), Some(3600)),
];

/// Samples every 7 s, wall time moving on between them (across the
/// tiers' buckets and the file's batches), requests of every query in
/// between: each body given equals a fresh render of the same state, and
/// many are given without one (the queries outnumber the entries, so not
/// most: the test is of what the cache gives, not of how often).
#[test]
fn cached_bodies_are_fresh_renders() {
    let dir = Dir::new("oracle");
    let tiers = parse_tiers("10s:10m 60s:1h").unwrap();
    let base = Instant::now();
    let mut history = History::new(base, Duration::from_secs(7), Duration::from_secs(420));
    let (mut store, _) = Store::open(&dir.0.join("history.db"), &tiers, base, T0_MS).unwrap();
    let mut answers = HistoryAnswers::default();
    let mut rng = Lcg(7);
    let mut elapsed_ms = 0u64;
    // Off the tiers' buckets (10 s, 60 s), as a daemon's samples are: the
    // wall clock enters a new bucket between two samples.
    let mut next_sample_ms = 3_300u64;
    let mut requests = 0u64;
    let mut fresh = String::new();
    for _ in 0..4_000 {
        elapsed_ms += rng.below(300);
        if elapsed_ms >= next_sample_ms {
            next_sample_ms += 7_000;
            let now = base + Duration::from_millis(elapsed_ms);
            let sample = sample_with_cpu(rng.below(1000) as f64 / 10.0);
            history.record(now, T0_MS + elapsed_ms, &sample);
            store.record(now, T0_MS + elapsed_ms, &sample);
            answers.invalidate();
        }
        let (points, range_s) = QUERIES[rng.below(QUERIES.len() as u64) as usize];
        let file = (rng.below(8) != 0).then_some(&store);
        let sources = Sources {
            history: &history,
            file,
            wall_ms: T0_MS + elapsed_ms,
        };
        render(sources, points, range_s, &mut fresh);
        let cached = answers.body(sources, points, range_s);
        assert_eq!(
            cached,
            fresh,
            "{points:?} {range_s:?} at {elapsed_ms} ms (file: {})",
            file.is_some()
        );
        requests += 1;
    }
    let renders = answers.renders();
    eprintln!("{requests} requests, {renders} renders");
    assert!(
        renders * 3 < requests * 2,
        "{renders} renders of {requests}"
    );
}

/// A query asked again in the same generation is not rendered again; a
/// fold equal to another's takes its body; a new generation renders anew.
#[test]
fn one_render_per_query_and_generation() {
    let base = Instant::now();
    let mut history = History::new(base, Duration::from_secs(1), Duration::from_secs(300));
    history.record(base, T0_MS, &sample_with_cpu(12.5));
    let mut answers = HistoryAnswers::default();
    fn sources(history: &History) -> Sources<'_> {
        Sources {
            history,
            file: None,
            wall_ms: T0_MS,
        }
    }
    for _ in 0..10 {
        answers.body(sources(&history), Some(40), Some(3600));
    }
    assert_eq!(answers.renders(), 1);
    // 300 samples: 40 and 41 points both fold 8 samples a point.
    assert!(answers.holds(sources(&history), Some(41), None));
    answers.body(sources(&history), Some(41), None);
    assert_eq!(answers.renders(), 1);
    answers.body(sources(&history), Some(30), None);
    assert_eq!(answers.renders(), 2);
    history.record(
        base + Duration::from_secs(1),
        T0_MS + 1000,
        &sample_with_cpu(50.0),
    );
    answers.invalidate();
    assert!(!answers.holds(sources(&history), Some(40), None));
    let body = answers.body(sources(&history), Some(40), None).to_owned();
    assert_eq!(answers.renders(), 3);
    assert!(body.contains("50"), "{body}");
}

/// What the kept bodies hold: at most [`ENTRIES`], at most [`KEPT_BYTES`]
/// besides the newest, and a large stale body given back at the next
/// invalidation.
#[test]
fn the_bodies_kept_are_bounded() {
    let base = Instant::now();
    let window = Duration::from_secs(86_400);
    let mut history = History::new(base, Duration::from_secs(1), window);
    for s in 0..86_400u64 {
        let sample = sample_with_cpu((s % 1000) as f64 / 10.0);
        history.record(base + Duration::from_secs(s), T0_MS + s * 1000, &sample);
    }
    let sources = Sources {
        history: &history,
        file: None,
        wall_ms: T0_MS,
    };
    let mut answers = HistoryAnswers::default();
    let held = |answers: &HistoryAnswers| -> Vec<usize> {
        answers.entries.iter().map(|e| e.body.capacity()).collect()
    };
    let mut largest = 0;
    for points in [None, Some(43_200), Some(28_800), Some(21_600), Some(17_280)] {
        let len = answers.body(sources, points, None).len();
        largest = largest.max(len);
        let newest = answers.entries.iter().map(|e| e.used).max().unwrap();
        let others: usize = answers
            .entries
            .iter()
            .filter(|e| e.used != newest)
            .map(|e| e.body.capacity())
            .sum();
        assert!(
            others <= KEPT_BYTES,
            "{:?} after {points:?}",
            held(&answers)
        );
    }
    eprintln!(
        "a day at 1 s: the whole window's body {largest} bytes; held {:?}",
        held(&answers)
    );
    assert!(largest > KEEP_STALE_BYTES, "{largest}");
    answers.invalidate();
    assert!(
        held(&answers).iter().all(|&b| b <= KEEP_STALE_BYTES),
        "{:?}",
        held(&answers)
    );
}
