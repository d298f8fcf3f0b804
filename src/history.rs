//! Recent history of a few figures per sample, for the dashboard's sparklines
//! and `GET /history.json`.
//!
//! Invariant: all storage is allocated when the [`History`] is made (the time
//! axis) or when a series is first seen (its values, sized to the same
//! capacity); [`History::record`] never allocates otherwise, and memory never
//! grows past `capacity * (4 + 4 * MAX_SERIES)` bytes.
//!
//! The time axis is a ring indexed by tick: the sample taken at
//! `start + k * interval` (to the nearest tick, on the monotonic clock) goes
//! to slot `k % capacity`, and the slot remembers `k`. A slot whose tick is
//! not the one a reader expects is a gap (before the daemon started, or a
//! sample the loop missed), so gaps need no bookkeeping and a clock step
//! cannot reorder the series. A value of NaN is a gap in one series only
//! (no swap configured, a disk not mounted at the time).
//!
//! Adding a series is one `put` line in [`History::record`]; per-device
//! series use [`Writer::put_keyed`] with a prefix (`disk:` + mount point).

use std::fmt::Write;
use std::time::{Duration, Instant};

pub use crate::config::history::{MAX_POINTS, points_for};
use crate::float_text::Shortest;
use crate::sample::Sample;

/// Most series kept at once: cpu, memory, swap, each disk, and later one per
/// network interface and block device direction. Further keys are dropped
/// (logged once) unless a series has gone quiet for a whole window, whose
/// storage is then reused.
pub const MAX_SERIES: usize = 64;

/// The tick a never-written slot holds.
const NEVER: u32 = u32::MAX;

pub struct Series {
    /// `cpu`, `memory`, `swap`, `disk:/home`, ...
    key: String,
    /// `values[slot]`; NaN where the series had no value at that tick.
    values: Box<[f32]>,
    /// The newest tick at which this series had a value.
    last_tick: u32,
}

pub struct History {
    epoch: Instant,
    interval: Duration,
    /// `ticks[slot]` is the tick whose values the slot holds, or [`NEVER`].
    ticks: Box<[u32]>,
    /// The newest tick recorded, and the unix time (ms) it was taken at.
    newest: Option<(u32, u64)>,
    series: Vec<Series>,
    /// A key was dropped because [`MAX_SERIES`] were in use (logged once).
    overflowed: bool,
}

/// Writes one tick's values; obtained from [`History::begin`].
pub struct Writer<'a> {
    history: &'a mut History,
    tick: u32,
    slot: usize,
}

/// How `?points=N` folds several samples into one point.
pub const AGGREGATE: &str = "max";

impl History {
    /// A history covering `window` at one point per `interval`, made at
    /// `epoch` (the daemon's start: tick 0). The capacity is clamped to
    /// 2..=[`MAX_POINTS`].
    pub fn new(epoch: Instant, interval: Duration, window: Duration) -> History {
        let capacity = points_for(interval, window).clamp(2, MAX_POINTS);
        History {
            epoch,
            interval,
            ticks: vec![NEVER; capacity].into_boxed_slice(),
            newest: None,
            series: Vec::with_capacity(MAX_SERIES),
            overflowed: false,
        }
    }

    pub fn capacity(&self) -> usize {
        self.ticks.len()
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The series keys, in the order they first appeared.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|s| s.key.as_str())
    }

    /// Records the figures of `sample`, taken at `now` (unix time in
    /// `sample.time_unix_s`, refined to ms by `unix_ms`).
    pub fn record(&mut self, now: Instant, unix_ms: u64, sample: &Sample) {
        let Some(mut w) = self.begin(now, unix_ms) else {
            return;
        };
        for_each_series(sample, |prefix, name, value| {
            w.put_keyed(prefix, name, Some(value))
        });
    }

    /// Starts the tick nearest `now`: clears its slot in every series.
    /// `None` if `now` is before the epoch or past the tick range (136 years
    /// at 1 s).
    pub fn begin(&mut self, now: Instant, unix_ms: u64) -> Option<Writer<'_>> {
        let elapsed = now.checked_duration_since(self.epoch)?;
        let tick = (elapsed.as_nanos() + self.interval.as_nanos() / 2) / self.interval.as_nanos();
        let tick = u32::try_from(tick).ok().filter(|t| *t != NEVER)?;
        let slot = tick as usize % self.ticks.len();
        self.ticks[slot] = tick;
        for s in &mut self.series {
            s.values[slot] = f32::NAN;
        }
        if self.newest.is_none_or(|(t, _)| tick >= t) {
            self.newest = Some((tick, unix_ms));
        }
        Some(Writer {
            history: self,
            tick,
            slot,
        })
    }

    /// Index of the series `prefix + name`, creating it if there is room.
    /// Allocates only when it creates.
    fn series_index(&mut self, prefix: &str, name: &str) -> Option<usize> {
        let found = self.series.iter().position(|s| {
            s.key.len() == prefix.len() + name.len()
                && s.key.starts_with(prefix)
                && s.key.ends_with(name)
        });
        if found.is_some() {
            return found;
        }
        let newest = self.newest.map_or(0, |(t, _)| t);
        let capacity = self.ticks.len();
        // Named only where it is kept: a series left out (full) comes back
        // at every record, and must cost nothing there.
        let key = || [prefix, name].concat();
        if self.series.len() < MAX_SERIES {
            self.series.push(Series {
                key: key(),
                values: vec![f32::NAN; capacity].into_boxed_slice(),
                last_tick: newest,
            });
            return Some(self.series.len() - 1);
        }
        // Full: reuse a series with no value left in the window.
        let stale = self
            .series
            .iter()
            .position(|s| newest.saturating_sub(s.last_tick) as usize >= capacity);
        match stale {
            Some(i) => {
                let s = &mut self.series[i];
                s.key = key();
                s.values.fill(f32::NAN);
                s.last_tick = newest;
                Some(i)
            }
            None => {
                if !self.overflowed {
                    self.overflowed = true;
                    crate::log::warn(format_args!(
                        "history: more than {MAX_SERIES} series; not recording {prefix}{name}"
                    ));
                }
                None
            }
        }
    }

    /// Samples folded into each point of [`History::render_json`] for
    /// `points`: the one figure of the query the body depends on, so two
    /// queries with the same fold get the same body from the same window.
    pub fn per_point(&self, points: Option<usize>) -> usize {
        let capacity = self.capacity();
        points.map_or(1, |p| capacity.div_ceil(p.clamp(1, capacity)))
    }

    /// The window as `/history.json`, into `out` (cleared first). With
    /// `points`, each output point is the maximum of `ceil(capacity /
    /// points)` consecutive samples, the last point ending at the newest
    /// sample. Series without any value in the window are left out.
    pub fn render_json(&self, points: Option<usize>, out: &mut String) {
        out.clear();
        let capacity = self.capacity();
        let per_point = self.per_point(points);
        let n = capacity.div_ceil(per_point);
        let interval_s = self.interval.as_secs_f64() * per_point as f64;
        let (newest_tick, end_ms) = self.newest.unwrap_or((0, 0));
        let _ = write!(
            out,
            "{{\"interval_s\":{},\"end\":{},\"points\":{n},\"aggregate\":\"{AGGREGATE}\",\"series\":{{",
            Shortest(round3(interval_s)),
            Shortest(round3(end_ms as f64 / 1000.0))
        );
        let mut first = true;
        for s in &self.series {
            let in_window = self.newest.is_some()
                && (newest_tick.saturating_sub(s.last_tick) as usize) < capacity;
            if !in_window {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            json_string(out, &s.key);
            out.push_str(":[");
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                // Point i covers ticks (newest - (n-1-i)*per_point - per_point, ...].
                let last = i64::from(newest_tick) - ((n - 1 - i) * per_point) as i64;
                let value = (last - per_point as i64 + 1..=last)
                    .filter_map(|tick| self.value_at(s, tick))
                    .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))));
                match value {
                    Some(v) => {
                        let _ = write!(out, "{}", Shortest(round1(v)));
                    }
                    None => out.push_str("null"),
                }
            }
            out.push(']');
        }
        out.push_str("}}");
    }

    /// The value of `series` at `tick`, if that tick is still in the ring
    /// and the series had a value then.
    fn value_at(&self, series: &Series, tick: i64) -> Option<f32> {
        let tick = u32::try_from(tick).ok()?;
        let slot = tick as usize % self.capacity();
        let v = series.values[slot];
        (self.ticks[slot] == tick && !v.is_nan()).then_some(v)
    }
}

impl Writer<'_> {
    /// Sets the value of series `key` at this tick; `None` leaves a gap.
    pub fn put(&mut self, key: &str, value: Option<f64>) {
        self.put_keyed(key, "", value);
    }

    /// Sets the value of series `prefix + name` (e.g. `disk:` + `/home`).
    pub fn put_keyed(&mut self, prefix: &str, name: &str, value: Option<f64>) {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return;
        };
        let Some(i) = self.history.series_index(prefix, name) else {
            return;
        };
        let s = &mut self.history.series[i];
        s.values[self.slot] = value as f32;
        s.last_tick = s.last_tick.max(self.tick);
    }
}

/// Calls `f(prefix, name, value)` for each series a sample gives (the key
/// is `prefix + name`), the one list both [`History`] and the history file
/// ([`crate::history_file`]) record. Values are finite; a series without a
/// value at this sample is not called.
pub fn for_each_series(sample: &Sample, mut f: impl FnMut(&str, &str, f64)) {
    let mut put = |prefix: &str, name: &str, value: Option<f64>| {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            f(prefix, name, v);
        }
    };
    put("cpu", "", Some(sample.cpu.busy));
    put("memory", "", Some(sample.memory.used_percent()));
    let swap = sample.memory.swap_total_bytes > 0;
    put("swap", "", swap.then(|| sample.memory.swap_percent()));
    for disk in &sample.disks {
        let percent = disk.used_percent().map(|p| p as f64);
        put("disk:", &disk.mount_point, percent);
    }
    // Rates in bytes per second. Loopback and partitions are left out:
    // they would only spend the series cap on what other series show.
    for n in sample.network.iter().filter(|n| n.device != "lo") {
        put("net_rx:", &n.device, Some(n.rx_bytes_per_s));
        put("net_tx:", &n.device, Some(n.tx_bytes_per_s));
    }
    for d in sample.disk_io.iter().filter(|d| d.whole_disk) {
        put("disk_read:", &d.device, Some(d.read_bytes_per_s));
        put("disk_write:", &d.device, Some(d.write_bytes_per_s));
    }
}

fn round1(v: f32) -> f64 {
    (f64::from(v) * 10.0).round() / 10.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `s` as a JSON string literal (mount points may hold any byte but NUL).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    /// The series `key` from rendered JSON, as Option<f64> per point.
    fn series(json: &str, key: &str) -> Vec<Option<f64>> {
        let marker = format!("\"{key}\":[");
        let start = json
            .find(&marker)
            .unwrap_or_else(|| panic!("{key} in {json}"))
            + marker.len();
        let end = start + json[start..].find(']').unwrap();
        json[start..end]
            .split(',')
            .map(|v| {
                if v == "null" {
                    None
                } else {
                    Some(v.parse().unwrap())
                }
            })
            .collect()
    }

    fn render(h: &History, points: Option<usize>) -> String {
        let mut out = String::new();
        h.render_json(points, &mut out);
        // Always valid JSON.
        miniserde::json::from_str::<miniserde::json::Value>(&out).unwrap();
        out
    }

    /// Pushes value v at tick t (a plain series "x").
    fn push(h: &mut History, epoch: Instant, t: u64, v: f64) {
        let mut w = h
            .begin(epoch + SEC * t as u32, 1_000_000 + t * 1000)
            .unwrap();
        w.put("x", Some(v));
    }

    #[test]
    fn gaps_before_start_and_for_missed_samples() {
        let epoch = Instant::now();
        let mut h = History::new(epoch, SEC, SEC * 5);
        assert_eq!(h.capacity(), 5);
        push(&mut h, epoch, 0, 1.0);
        push(&mut h, epoch, 1, 2.0);
        // tick 2 missed; tick 3 slightly late still lands on 3.
        let mut w = h
            .begin(epoch + SEC * 3 + Duration::from_millis(400), 1_003_400)
            .unwrap();
        w.put("x", Some(4.0));
        let json = render(&h, None);
        assert_eq!(
            series(&json, "x"),
            [None, Some(1.0), Some(2.0), None, Some(4.0)]
        );
        assert!(
            json.starts_with("{\"interval_s\":1,\"end\":1003.4,\"points\":5,"),
            "{json}"
        );
    }

    #[test]
    fn ring_wraps_keeping_the_newest_window() {
        let epoch = Instant::now();
        let mut h = History::new(epoch, SEC, SEC * 4);
        for t in 0..11 {
            push(&mut h, epoch, t, t as f64);
        }
        assert_eq!(
            series(&render(&h, None), "x"),
            [Some(7.0), Some(8.0), Some(9.0), Some(10.0)]
        );
        // A long pause: everything older than the window is a gap, not stale data.
        push(&mut h, epoch, 13, 13.0);
        assert_eq!(
            series(&render(&h, None), "x"),
            [Some(10.0), None, None, Some(13.0)]
        );
    }

    #[test]
    fn a_series_missing_from_a_tick_has_a_gap_there() {
        let epoch = Instant::now();
        let mut h = History::new(epoch, SEC, SEC * 3);
        for t in 0..3u64 {
            let mut w = h.begin(epoch + SEC * t as u32, t * 1000).unwrap();
            w.put("x", Some(1.0));
            if t != 1 {
                w.put_keyed("disk:", "/a \"b\"", Some(50.0));
            }
            w.put("swap", None);
        }
        let json = render(&h, None);
        assert_eq!(
            series(&json, "disk:/a \\\"b\\\""),
            [Some(50.0), None, Some(50.0)]
        );
        assert!(
            !json.contains("swap"),
            "a series that never had a value is left out"
        );
    }

    /// Downsampling against a naive oracle: the grid of the whole window,
    /// cut into buckets of ceil(capacity / points) ending at the newest tick.
    #[test]
    fn downsampling_matches_a_naive_oracle() {
        let epoch = Instant::now();
        for (capacity, pushed, points, missing) in [
            (10, 25, 3, vec![]),
            (10, 7, 4, vec![2, 3]),
            (12, 40, 5, vec![30, 31, 32, 33, 34, 35, 36]),
            (7, 7, 7, vec![]),
            (7, 9, 100, vec![8]),
            (100, 350, 1, vec![]),
        ] {
            let mut h = History::new(epoch, SEC, SEC * capacity);
            // Values that are not monotonic, so max is not just "the last".
            let value = |t: u64| ((t * 37) % 11) as f64;
            let mut grid = vec![None; 0];
            for t in 0..pushed as u64 {
                if !missing.contains(&t) {
                    push(&mut h, epoch, t, value(t));
                }
            }
            let newest = (0..pushed as u64)
                .rev()
                .find(|t| !missing.contains(t))
                .unwrap() as i64;
            for tick in newest - capacity as i64 + 1..=newest {
                let present = tick >= 0 && !missing.contains(&(tick as u64));
                grid.push(present.then(|| value(tick as u64)));
            }
            let per = (capacity as usize).div_ceil(points.min(capacity as usize));
            let mut oracle = Vec::new();
            let mut end = grid.len();
            while end > 0 {
                let start = end.saturating_sub(per);
                let bucket = grid[start..end].iter().flatten().copied();
                oracle.push(bucket.reduce(f64::max));
                end = start;
            }
            oracle.reverse();
            let json = render(&h, Some(points));
            assert_eq!(
                series(&json, "x"),
                oracle,
                "{capacity} {pushed} {points} {json}"
            );
            assert!(json.contains(&format!("\"interval_s\":{per},")), "{json}");
        }
    }

    #[test]
    fn series_are_capped_and_stale_ones_reused() {
        let epoch = Instant::now();
        let mut h = History::new(epoch, SEC, SEC * 3);
        {
            let mut w = h.begin(epoch, 0).unwrap();
            for i in 0..MAX_SERIES + 5 {
                w.put_keyed("disk:", &format!("/d{i}"), Some(1.0));
            }
        }
        assert_eq!(h.keys().count(), MAX_SERIES);
        // Three ticks later every old series is out of the window.
        let mut w = h.begin(epoch + SEC * 3, 3000).unwrap();
        w.put_keyed("disk:", "/new", Some(2.0));
        assert_eq!(h.keys().count(), MAX_SERIES);
        assert!(h.keys().any(|k| k == "disk:/new"));
        assert_eq!(
            series(&render(&h, None), "disk:/new"),
            [None, None, Some(2.0)]
        );
    }

    #[test]
    fn capacity_is_fixed_at_start() {
        let h = History::new(
            Instant::now(),
            Duration::from_millis(100),
            Duration::from_secs(3600),
        );
        assert_eq!(h.capacity(), 36_000);
        let h = History::new(Instant::now(), SEC, Duration::from_secs(86_400 * 30));
        assert_eq!(h.capacity(), MAX_POINTS);
        assert_eq!(
            points_for(Duration::from_secs(5), Duration::from_secs(3600)),
            720
        );
    }
}
