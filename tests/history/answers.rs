//! `/history.json` bodies are kept per query until what they show changes
//! (`src/history_answers.rs`): a flood of one query costs one render per
//! sample, not one per request, and a flood of many does not hold other
//! clients behind it (`HISTORY_ANSWER_SLICE` in `src/daemon.rs`). Counted
//! with the daemon's own `sysmon_history_json_renders_total`; the last test
//! is timed, against a bound far from both builds' figures.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use miniserde::json::Value;

use crate::common::*;
use crate::{TIERS, num};

/// `sysmon_history_json_renders_total` from /metrics, if there.
fn renders_shown(daemon: &Daemon) -> Option<u64> {
    let metrics = daemon.get("/metrics").body_text();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("sysmon_history_json_renders_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// `sysmon_history_json_renders_total` from /metrics.
fn renders(daemon: &Daemon) -> u64 {
    renders_shown(daemon).unwrap_or_else(|| {
        panic!(
            "no sysmon_history_json_renders_total in /metrics: {}",
            daemon.dump()
        )
    })
}

/// The body of `target`, which must be answered 200.
fn body(daemon: &Daemon, target: &str) -> String {
    let r = daemon.get(target);
    assert_eq!(r.status, 200, "{target}: {}\n{}", r.head, daemon.dump());
    r.body_text()
}

/// `end` of a /history.json body (the bucket a range ends with, or the
/// window's newest sample).
fn end(json: &str) -> f64 {
    let v: Value =
        miniserde::json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {e}: {json}"));
    field(&v, &["end"])
        .and_then(num)
        .unwrap_or_else(|| panic!("no end in {json}"))
}

/// The daemon with the tests' tiers (a range of 1 h is read from a tier of
/// 3 s steps) and `extra`, its files in memory; `/history.json?range=1h`
/// asked once and the file's opening waited for, so that what follows
/// sees a store that changes only at samples.
fn start_with_file(dir: &TempDir, extra: &str) -> Daemon {
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\n{TIERS}\n{extra}"
    ));
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    body(&daemon, "/history.json?range=1h");
    assert!(
        daemon.wait_log("points kept)", Duration::from_secs(10)),
        "the history file never opened: {}",
        daemon.dump()
    );
    daemon
}

/// With no sample due (interval = 1h), 40 requests of one range are one
/// render per bucket they end with (the wall clock moves a range's end
/// every 3 s here, and a cached body must move with it), a `points` that
/// folds alike shares the body, another fold is one render more, and the
/// in-memory window, which only samples change, is one render for 40. The
/// build before rendered every request.
#[test]
fn a_query_is_rendered_once_until_a_sample_or_its_bucket_changes_it() {
    let dir = TempDir::in_memory("history-answers-once");
    let daemon = start_with_file(&dir, "interval = 1h");
    let before = renders(&daemon);
    let bodies: Vec<String> = (0..40)
        .map(|_| body(&daemon, "/history.json?range=1h&points=600"))
        .collect();
    let ends: BTreeSet<u64> = bodies.iter().map(|b| end(b) as u64).collect();
    let after = renders(&daemon);
    eprintln!(
        "40 x range=1h&points=600: {} render(s), {} distinct end(s)",
        after - before,
        ends.len()
    );
    assert_eq!(after - before, ends.len() as u64, "ends {ends:?}");
    assert!(ends.len() <= 2, "40 quick requests over {ends:?}");

    // 1200 buckets: 600 and 601 points both fold 2 a point.
    let last = bodies.last().unwrap();
    let alike = body(&daemon, "/history.json?range=1h&points=601");
    let renders_alike = renders(&daemon) - after;
    if end(&alike) == end(last) {
        assert_eq!(&alike, last);
        assert_eq!(renders_alike, 0);
    } else {
        assert_eq!(renders_alike, 1);
    }
    let other_fold = renders(&daemon);
    body(&daemon, "/history.json?range=1h&points=300");
    assert_eq!(renders(&daemon) - other_fold, 1);

    let window_before = renders(&daemon);
    let windows: BTreeSet<String> = (0..40)
        .map(|_| body(&daemon, "/history.json?points=60"))
        .collect();
    assert_eq!(windows.len(), 1);
    assert_eq!(renders(&daemon) - window_before, 1);

    // The wall clock enters the range's next bucket: its end moves, as a
    // fresh render's would, with no sample in between.
    std::thread::sleep(Duration::from_millis(3_100));
    let moved_before = renders(&daemon);
    let moved = body(&daemon, "/history.json?range=1h&points=600");
    assert!(end(&moved) > end(last), "{moved}\nafter\n{last}");
    assert_eq!(renders(&daemon) - moved_before, 1);
}

/// Each sample changes the window (its `end` is the newest sample's time):
/// over 2.5 s of requests at `interval = 500ms`, the bodies seen change
/// with the samples and each distinct body was rendered once.
#[test]
fn a_new_sample_is_in_the_next_answer() {
    let dir = TempDir::in_memory("history-answers-sample");
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 500ms\nhistory_tiers = off",
    );
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let before = renders(&daemon);
    let mut bodies = BTreeSet::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2_500) {
        bodies.insert(body(&daemon, "/history.json?points=60"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let rendered = renders(&daemon) - before;
    eprintln!(
        "2.5 s at interval = 500ms: {} distinct bodies, {rendered} render(s)",
        bodies.len()
    );
    assert!(bodies.len() >= 3, "{} distinct bodies", bodies.len());
    assert_eq!(rendered, bodies.len() as u64);
}

/// Keeps asking `targets` in turn on one kept-alive connection until
/// `stop`; returns the answers it got.
fn flood(addr: std::net::SocketAddr, targets: Vec<String>, stop: Arc<AtomicBool>) -> usize {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut answered = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for target in targets.iter().cycle() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            break;
        }
        // One answer: the head, then Content-Length bytes.
        let mut got = Vec::new();
        let head_end = loop {
            if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return answered,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while got.len() < head_end + length {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return answered,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        answered += 1;
    }
    answered
}

/// 90 clients asking for a year's range in a loop, each with `points` of
/// its own (182 folds, each a body of its own: far more than the cache
/// keeps, so nearly every request is a render): a probe's `/metrics` is
/// still answered within 1 s, each time. The renders of a turn stop after
/// `HISTORY_ANSWER_SLICE` and the rest wait, so the probe waits for one
/// render, not for one per flooding client queued ahead of it as in the
/// build before (90 renders of 30 ms in a debug build).
#[test]
fn a_flood_of_range_requests_leaves_room_for_other_clients() {
    const CLIENTS: usize = 90;
    let dir = TempDir::in_memory("history-answers-flood");
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 1s\n\
         history_tiers = 1h:365d\nclient_timeout = 60s",
    );
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    body(&daemon, "/history.json?range=1y");
    assert!(
        daemon.wait_log("points kept)", Duration::from_secs(10)),
        "{}",
        daemon.dump()
    );
    let one = Instant::now();
    body(&daemon, "/history.json?range=1y&points=1499");
    let one_render = one.elapsed();
    // A year is 8760 buckets of 1 h; `points` p folds ceil(8760 / p) a
    // point, which falls as p grows: each p where it changes is a body of
    // its own (182 of them up to 1500).
    let folds_apart: Vec<usize> = (1..=1500usize)
        .filter(|&p| p == 1 || 8760usize.div_ceil(p) != 8760usize.div_ceil(p - 1))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let targets = folds_apart
                .iter()
                .skip(i)
                .step_by(CLIENTS)
                .map(|p| format!("/history.json?range=1y&points={p}"))
                .collect();
            let (addr, stop) = (daemon.addr, Arc::clone(&stop));
            std::thread::spawn(move || flood(addr, targets, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Read, not required: the build before had no such counter.
    let renders_from = renders_shown(&daemon);
    let mut probes = Vec::new();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(3) {
        let start = Instant::now();
        let r = daemon.get("/metrics");
        probes.push((r.status, start.elapsed()));
    }
    let rendered = renders_shown(&daemon)
        .zip(renders_from)
        .map(|(to, from)| to - from);
    stop.store(true, Ordering::Relaxed);
    let flooded: usize = flooders.into_iter().map(|t| t.join().unwrap()).sum();
    let worst = probes.iter().map(|(_, t)| *t).max().unwrap();
    let answered = probes.iter().filter(|(s, _)| *s == 200).count();
    eprintln!(
        "{CLIENTS} clients on range=1y, each its own points: one render alone {one_render:?}; \
         in 3 s the probe got {answered} /metrics answers of {}, the slowest {worst:?}; \
         renders meanwhile {rendered:?}, {flooded} flood answers in all",
        probes.len()
    );
    assert_eq!(answered, probes.len(), "a probe refused: {probes:?}");
    assert!(
        worst < Duration::from_secs(1),
        "the slowest /metrics took {worst:?}: {probes:?}"
    );
}
