//! The long history file (`state_dir/history.db`), end to end on the real
//! binary: a restart keeps what was recorded, kill -9 at 20 random moments
//! never leaves it unreadable and loses at most the unwritten buckets, and
//! flipped bytes, a cut file or a foreign header are detected at start,
//! logged, and never served or a reason to refuse to start.
#[path = "../common/mod.rs"]
mod common;

mod access; // `sysmon history` without the right to read the file
mod answers; // /history.json bodies kept per query until a sample
mod cli_points; // `sysmon history --points` as `?points=` takes it
mod corruption;
mod counters; // sysmon_history_file_* in /metrics // flipped bytes, a truncated file, a foreign header
mod crash; // kill -9 at 20 random moments while writing
mod reload; // SIGHUP with other tiers, or off
mod restart; // run, sample, stop, start: the old points are served
mod second_writer; // a history.db held by another is left alone, taken up once released
mod startup; // the port answers before the file is made or scanned

use std::collections::BTreeMap;

use miniserde::json::{Number, Value};

use common::*;

/// Tiers small enough for a test to fill: a point every 3 s for an hour
/// (1200 points: `?range=1h` serves each bucket as one point, as it folds
/// none below 1500), and one every 30 s for a day. Written in batches of
/// 4 steps of the finest tier: every 12 s.
pub const TIERS: &str = "history_tiers = 3s:1h 30s:1d";
pub const STEP_S: u64 = 3;
pub const BATCH_S: u64 = 12;

/// The daemon sampling every 100 ms on the real /proc, its history file in
/// `dir/state`.
pub fn start(dir: &TempDir) -> Daemon {
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = /\n{TIERS}"
    ));
    Daemon::start(&["--config", config.to_str().unwrap()])
}

/// (min, mean, max) of one point.
pub type Figures = (f64, f64, f64);

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(Number::U64(n)) => Some(*n as f64),
        Value::Number(Number::I64(n)) => Some(*n as f64),
        Value::Number(Number::F64(n)) => Some(*n),
        _ => None,
    }
}

/// The points of `series` in a `?range=` answer that are in the file (they
/// end by its `written_end`; later ones are the daemon's unwritten batch
/// and its step in progress), by their start time (unix s): only points
/// with a value.
pub fn points(json: &str, series: &str) -> BTreeMap<u64, Figures> {
    let end = written_end(json);
    let mut all = all_points(json, series);
    all.retain(|t, _| *t + STEP_S <= end);
    all
}

/// `written_end` of a `?range=` answer: points from there on are served
/// from the daemon's memory.
pub fn written_end(json: &str) -> u64 {
    let v: Value =
        miniserde::json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {e}: {json}"));
    field(&v, &["written_end"])
        .and_then(num)
        .unwrap_or_else(|| panic!("no written_end in {json}")) as u64
}

/// Every point of `series` with a value in a `?range=` answer, written or
/// held in memory, by start time.
pub fn all_points(json: &str, series: &str) -> BTreeMap<u64, Figures> {
    let v: Value =
        miniserde::json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {e}: {json}"));
    let get = |path: &[&str]| field(&v, path).unwrap_or_else(|| panic!("no {path:?} in {json}"));
    let end = num(get(&["end"])).unwrap() as u64;
    let interval = num(get(&["interval_s"])).unwrap() as u64;
    let Some(s) = field(&v, &["series", series]) else {
        return BTreeMap::new();
    };
    let list = |name: &str| -> Vec<Option<f64>> {
        match field(s, &[name]) {
            Some(Value::Array(a)) => a.iter().map(num).collect(),
            _ => panic!("no {series}.{name} in {json}"),
        }
    };
    let (min, mean, max) = (list("min"), list("mean"), list("max"));
    let n = mean.len() as u64;
    (0..mean.len())
        .filter_map(|i| {
            let t = end - (n - i as u64) * interval;
            Some((t, (min[i]?, mean[i]?, max[i]?)))
        })
        .collect()
}

/// `/history.json?range=1h` from the daemon.
pub fn served(daemon: &Daemon) -> String {
    let r = daemon.get("/history.json?range=1h");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    r.body_text()
}

/// `sysmon history --range 1h --json` on the config in `dir`: exit 0 and
/// its JSON.
pub fn read_by_cli(dir: &TempDir) -> String {
    let config = dir.join("sysmon.conf");
    let out = run(sysmon(&[
        "history",
        "--config",
        config.to_str().unwrap(),
        "--range",
        "1h",
        "--json",
    ]));
    assert!(out.status.success(), "sysmon history failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Every point of `before` is in `after` with the same figures.
pub fn assert_kept(before: &BTreeMap<u64, Figures>, after: &BTreeMap<u64, Figures>, what: &str) {
    for (t, f) in before {
        assert_eq!(
            after.get(t),
            Some(f),
            "{what}: the point at {t} changed or went missing"
        );
    }
}
