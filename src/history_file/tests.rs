//! The history file against naive oracles, with a fake clock: time is a
//! parameter (`Instant` base + offsets, wall time in ms chosen freely).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;

/// 2026-12-02 00:00:00 UTC, in ms (a multiple of every test step).
const T0_MS: u64 = 1_796_169_600_000;
const DAY_S: u64 = 86_400;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("sysmon-histfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("history.db")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tiers(spec: &str) -> Vec<TierSpec> {
    parse_tiers(spec).unwrap()
}

/// A small deterministic generator (no dependency for a test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        self.0 >> 33
    }
}

fn values(pairs: &[(usize, f32)]) -> [f32; FILE_SERIES] {
    let mut v = [f32::NAN; FILE_SERIES];
    for (i, x) in pairs {
        v[*i] = *x;
    }
    v
}

/// Every valid slot of tier `k`, by bucket, read straight from the file.
fn slots_of(path: &Path, k: usize) -> (BTreeMap<u64, Vec<Option<Point>>>, u32) {
    let (file, tiers, _) = open_read_only(path).unwrap();
    let mut found = BTreeMap::new();
    let mut corrupt = 0;
    scan_tier(
        &file,
        &tiers[k],
        tier_offsets(&tiers)[k],
        |index, slot| match slot_state(slot) {
            SlotState::Valid { bucket } if bucket % u64::from(tiers[k].slots) == index => {
                found.insert(
                    bucket,
                    (0..FILE_SERIES).map(|i| slot_point(slot, i)).collect(),
                );
            }
            SlotState::Empty => {}
            _ => corrupt += 1,
        },
    )
    .unwrap();
    (found, corrupt)
}

/// (min, mean, max, count) of a list, the naive way.
fn oracle(xs: &[f32]) -> (f32, f64, f32, usize) {
    let min = xs.iter().copied().fold(f32::INFINITY, f32::min);
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mean = xs.iter().map(|x| f64::from(*x)).sum::<f64>() / xs.len() as f64;
    (min, mean, max, xs.len())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-3 * b.abs().max(1.0)
}

/// Each tier's min/mean/max/count per bucket equal those of the raw samples
/// that fell in it, over irregular sampling with gaps and a series that is
/// sometimes missing.
#[test]
fn tiers_match_a_naive_oracle_of_raw_samples() {
    let dir = Dir::new("oracle");
    let spec = tiers("10s:5m 60s:30m 300s:2h");
    let base = Instant::now();
    let (mut store, opened) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    assert!(opened.created);
    let mut rng = Lcg(7);
    let mut raw: Vec<(u64, usize, f32)> = Vec::new();
    let mut t_ms = 0u64;
    while t_ms < 3_600_000 {
        t_ms += 500 + rng.next() % 4_000;
        if rng.next() % 50 == 0 {
            t_ms += 90_000; // a pause of the loop
        }
        let a = (rng.next() % 1000) as f32 / 10.0;
        let b = (rng.next() % 100_000) as f32;
        let mut pairs = vec![(0, a)];
        if rng.next() % 3 != 0 {
            pairs.push((5, b));
        }
        for &(i, v) in &pairs {
            raw.push(((T0_MS + t_ms) / 1000, i, v));
        }
        store.record_values(
            base + Duration::from_millis(t_ms),
            T0_MS + t_ms,
            &values(&pairs),
        );
    }
    store.flush();
    for (k, tier) in spec.iter().enumerate() {
        let step = u64::from(tier.step_s);
        let (slots, corrupt) = slots_of(&dir.db(), k);
        assert_eq!(corrupt, 0);
        let newest = *slots.keys().last().unwrap();
        let oldest_kept = newest + 1 - u64::from(tier.slots);
        let mut checked = 0;
        for series in [0, 5] {
            let mut by_bucket: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
            for &(t, i, v) in &raw {
                if i == series && t / step >= oldest_kept {
                    by_bucket.entry(t / step).or_default().push(v);
                }
            }
            let served: Vec<u64> = slots
                .iter()
                .filter(|(b, p)| **b >= oldest_kept && p[series].is_some())
                .map(|(b, _)| *b)
                .collect();
            assert_eq!(
                served,
                by_bucket.keys().copied().collect::<Vec<_>>(),
                "tier {k}"
            );
            for (bucket, xs) in &by_bucket {
                let p = slots[bucket][series].unwrap();
                let (min, mean, max, count) = oracle(xs);
                assert_eq!(
                    (p.min, p.max, p.count as usize),
                    (min, max, count),
                    "tier {k} {bucket}"
                );
                assert!(
                    close(f64::from(p.mean), mean),
                    "tier {k} {bucket}: {} {mean}",
                    p.mean
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "tier {k}: only {checked} buckets checked");
    }
    // One page write per finished bucket, plus the name-free start.
    let finished: usize = (0..spec.len())
        .map(|k| slots_of(&dir.db(), k).0.len())
        .sum();
    assert!(store.stats().pages_written as usize >= finished);
}

/// A range answer folds buckets as the oracle folds the raw samples: min of
/// the samples, max of them, and their mean (weighted by sample count).
#[test]
fn range_answers_fold_buckets_like_the_oracle() {
    let dir = Dir::new("range");
    let spec = tiers("10s:10m 60s:1h");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    store.series_index("cpu", "").unwrap();
    let mut raw = Vec::new();
    let mut rng = Lcg(3);
    for t_s in (0..3_000u64).step_by(3) {
        let v = (rng.next() % 1000) as f32 / 10.0;
        raw.push((T0_MS / 1000 + t_s, v));
        store.record_values(
            base + Duration::from_secs(t_s),
            T0_MS + t_s * 1000,
            &values(&[(0, v)]),
        );
    }
    // The partial bucket too, so every sample is in the file.
    store.flush();
    let now_ms = T0_MS + 3_000_000;
    let parse = |json: &str| -> miniserde::json::Value { miniserde::json::from_str(json).unwrap() };
    for (range_s, points, tier_s) in [
        (600u64, None, 10u64),
        (600, Some(7), 10),
        (1800, Some(4), 60),
        (3600, Some(1000), 60),
    ] {
        let mut out = String::new();
        store
            .render_range(range_s, points, now_ms, &mut out)
            .unwrap();
        let _ = parse(&out);
        assert!(out.contains(&format!("\"tier_s\":{tier_s},")), "{out}");
        let buckets = range_s.div_ceil(tier_s) as usize;
        let n_points = points.unwrap_or(MAX_RANGE_POINTS).min(buckets);
        let per = buckets.div_ceil(n_points);
        let n = buckets.div_ceil(per);
        let last = now_ms / 1000 / tier_s;
        let mut mins = Vec::new();
        let mut means = Vec::new();
        let mut maxs = Vec::new();
        for i in 0..n {
            let hi = last - ((n - 1 - i) * per) as u64; // inclusive bucket
            let lo = (hi + 1).saturating_sub(per as u64);
            let xs: Vec<f32> = raw
                .iter()
                // Both tiers hold 60 buckets, the newest (flushed) being last - 1.
                .filter(|(t, _)| (lo..=hi).contains(&(t / tier_s)) && t / tier_s + 60 >= last)
                .map(|(_, v)| *v)
                .collect();
            if xs.is_empty() {
                mins.push(None);
                means.push(None);
                maxs.push(None);
            } else {
                let (min, mean, max, _) = oracle(&xs);
                mins.push(Some(f64::from(min)));
                means.push(Some(mean));
                maxs.push(Some(f64::from(max)));
            }
        }
        let field = |name: &str| -> Vec<Option<f64>> {
            let marker = format!("\"{name}\":[");
            let start = out.find(&marker).unwrap() + marker.len();
            let end = start + out[start..].find(']').unwrap();
            out[start..end]
                .split(',')
                .map(|v| (v != "null").then(|| v.parse().unwrap()))
                .collect()
        };
        let round = |v: Vec<Option<f64>>| -> Vec<Option<f64>> {
            v.into_iter()
                .map(|x| x.map(|x| (x * 10.0).round() / 10.0))
                .collect()
        };
        assert_eq!(field("min"), round(mins), "{range_s} {points:?}");
        assert_eq!(field("max"), round(maxs), "{range_s} {points:?}");
        let got = field("mean");
        let want = round(means);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            match (g, w) {
                (Some(g), Some(w)) => assert!((g - w).abs() <= 0.11, "{g} {w}"),
                (g, w) => assert_eq!(g, w),
            }
        }
    }
}

/// Stop, start: the partial bucket was written at stop and is taken up
/// again, so its samples add to those before the restart.
#[test]
fn a_restart_keeps_points_and_the_partial_bucket() {
    let dir = Dir::new("restart");
    let spec = tiers("60s:1h");
    let base = Instant::now();
    {
        let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
        for t in 0..90u64 {
            store.record_values(
                base + Duration::from_secs(t),
                T0_MS + t * 1000,
                &values(&[(0, t as f32)]),
            );
        }
        store.flush();
    }
    let base2 = Instant::now();
    let (mut store, opened) = Store::open(&dir.db(), &spec, base2, T0_MS + 95_000).unwrap();
    assert!(!opened.created);
    assert_eq!(opened.valid_slots[0], 2);
    store.record_values(base2, T0_MS + 95_000, &values(&[(0, 1000.0)]));
    store.flush();
    let (slots, _) = slots_of(&dir.db(), 0);
    let first = T0_MS / 60_000;
    let p0 = slots[&first][0].unwrap();
    assert_eq!((p0.min, p0.max, p0.count), (0.0, 59.0, 60));
    let p1 = slots[&(first + 1)][0].unwrap();
    assert_eq!((p1.min, p1.max, p1.count), (60.0, 1000.0, 31));
    assert_eq!(store.stats().held_back, 0);
}

fn filled(dir: &Dir, spec: &[TierSpec]) -> Store {
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), spec, base, T0_MS).unwrap();
    assert_eq!(store.series_index("a", ""), Some(0));
    assert_eq!(store.series_index("b", ""), Some(1));
    for t in 0..600u64 {
        store.record_values(
            base + Duration::from_secs(t),
            T0_MS + t * 1000,
            &values(&[(0, 50.0), (1, t as f32)]),
        );
    }
    store.flush();
    store
}

fn render(store: &Store, range_s: u64, now_ms: u64) -> String {
    let mut out = String::new();
    store.render_range(range_s, None, now_ms, &mut out).unwrap();
    miniserde::json::from_str::<miniserde::json::Value>(&out).unwrap();
    out
}

fn count_values(json: &str) -> usize {
    json.split(['[', ',', ']'])
        .filter(|v| v.parse::<f64>().is_ok())
        .count()
}

/// Flipped bytes in a slot: detected at start, that bucket is a gap, the
/// rest is served.
#[test]
fn flipped_bytes_are_detected_and_skipped() {
    let dir = Dir::new("flip");
    let spec = tiers("10s:1h");
    drop(filled(&dir, &spec));
    let offset = tier_offsets(&spec)[0];
    let bucket = T0_MS / 10_000 + 20;
    let at = offset + (bucket % 360) * SLOT as u64 + 20;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.db())
        .unwrap();
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, at).unwrap();
    file.write_all_at(&[b[0] ^ 0x40], at).unwrap();
    let (store, opened) = Store::open(&dir.db(), &spec, Instant::now(), T0_MS + 600_000).unwrap();
    assert_eq!(opened.corrupt_slots[0], 1);
    assert_eq!(opened.valid_slots[0], 59);
    let json = render(&store, 600, T0_MS + 599_000);
    // 60 buckets, two series, three figures each; one bucket gone.
    assert_eq!(count_values(&json), 59 * 2 * 3, "{json}");
}

/// A file cut short: detected, extended back to its size, what is intact
/// served; a cut inside the header sets the file aside.
#[test]
fn a_truncated_file_is_detected_and_served_as_far_as_intact() {
    let dir = Dir::new("truncate");
    let spec = tiers("10s:1h");
    drop(filled(&dir, &spec));
    let offset = tier_offsets(&spec)[0];
    let first_slot = (T0_MS / 10_000) % 360;
    let cut = offset + (first_slot + 30) * SLOT as u64 + 100;
    let file = OpenOptions::new().write(true).open(dir.db()).unwrap();
    file.set_len(cut).unwrap();
    drop(file);
    let (store, opened) = Store::open(&dir.db(), &spec, Instant::now(), T0_MS + 600_000).unwrap();
    assert_eq!(opened.truncated_from, Some(cut));
    assert_eq!(opened.valid_slots[0], 30);
    assert_eq!(opened.corrupt_slots[0], 1, "the slot cut in half");
    assert_eq!(std::fs::metadata(dir.db()).unwrap().len(), file_size(&spec));
    assert_eq!(
        count_values(&render(&store, 600, T0_MS + 599_000)),
        30 * 2 * 3
    );
    drop(store);

    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.db())
        .unwrap()
        .set_len(100)
        .unwrap();
    let (_, opened) = Store::open(&dir.db(), &spec, Instant::now(), T0_MS).unwrap();
    let (aside, why) = opened.set_aside.unwrap();
    assert!(why.contains("shorter than its header"), "{why}");
    assert_eq!(
        std::fs::metadata(&aside).unwrap().len(),
        100,
        "kept, not deleted"
    );
    assert_eq!(std::fs::metadata(dir.db()).unwrap().len(), file_size(&spec));
}

/// Fuzzing found a symlink left at `history.db.new` followed when the file
/// was made: its target became an 8 MB history file and `history.db` the
/// symlink. Whatever is there is removed and the file made anew.
#[test]
fn a_symlink_left_at_the_temporary_name_is_never_written_through() {
    let dir = Dir::new("new-symlink");
    let victim = dir.0.join("victim");
    std::fs::write(&victim, "not sysmon's").unwrap();
    let tmp = dir.db().with_extension("db.new");
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let (_, opened) = Store::open(&dir.db(), &tiers("10s:1h"), Instant::now(), T0_MS).unwrap();
    assert!(opened.created);
    assert_eq!(std::fs::read(&victim).unwrap(), b"not sysmon's");
    let made = std::fs::symlink_metadata(dir.db()).unwrap();
    assert!(made.file_type().is_file(), "{made:?}");
    assert_eq!(made.len(), file_size(&tiers("10s:1h")));
    assert!(
        std::fs::symlink_metadata(&tmp).is_err(),
        "no temporary left"
    );
}

/// Fuzzing found a failed making of the file (a full disk) leaving
/// `history.db.new` behind, and the error naming `history.db`, which was
/// not written. The temporary is removed and named in the error.
#[test]
fn a_file_that_cannot_be_made_leaves_no_temporary_and_names_it() {
    let dir = Dir::new("new-fails");
    let spec = tiers("10s:1h");
    let mut store = Store::begin(&dir.db(), &spec, Instant::now(), T0_MS).unwrap();
    let tmp = dir.db().with_extension("db.new");
    assert!(tmp.exists(), "begun under its temporary name");
    // Something in the way of the final rename: a directory, not empty.
    std::fs::create_dir(dir.db()).unwrap();
    std::fs::write(dir.db().join("x"), "").unwrap();
    store.run_opening(None);
    let err = store.take_opened().unwrap().unwrap_err();
    let expected = format!("{}: rename to {}: ", tmp.display(), dir.db().display());
    assert!(err.starts_with(&expected), "{err}");
    assert!(!tmp.exists(), "the temporary is removed");
}

/// Fuzzing found a header with a valid checksum but a step or a slot
/// count of 0 making `sysmon history` divide by zero; a step over a day or
/// more slots than `history_tiers` allows is as foreign. Each is refused
/// with its reason, and the daemon sets such a file aside.
#[test]
fn a_sealed_header_with_an_impossible_tier_is_refused_and_set_aside() {
    let dir = Dir::new("bad-tier");
    let good = TierSpec {
        step_s: 60,
        slots: 10,
    };
    let cases = [
        (
            TierSpec {
                step_s: 0,
                slots: 10,
            },
            "tier 2: step of 0 s (1 to 86400 s)",
        ),
        (
            TierSpec {
                step_s: 60,
                slots: 0,
            },
            "tier 2: 0 slots (1 to 1000000)",
        ),
        (
            TierSpec {
                step_s: 86_401,
                slots: 10,
            },
            "tier 2: step of 86401 s (1 to 86400 s)",
        ),
        (
            TierSpec {
                step_s: 60,
                slots: 1_000_001,
            },
            "tier 2: 1000001 slots (1 to 1000000)",
        ),
    ];
    for (bad, expected) in cases {
        let mut page = vec![0u8; PAGE];
        encode_header(&[good, bad], &mut page);
        assert_eq!(decode_header(&page), Err(expected.to_string()));

        std::fs::write(dir.db(), &page).unwrap();
        let (_, opened) = Store::open(&dir.db(), &[good], Instant::now(), T0_MS).unwrap();
        let (aside, why) = opened.set_aside.unwrap();
        assert_eq!(why, expected);
        assert!(opened.created);
        std::fs::remove_file(aside).unwrap();
        assert!(
            open_read_only(&dir.db()).is_ok(),
            "the fresh file is readable"
        );
        std::fs::write(dir.db(), &page).unwrap();
        let err = open_read_only(&dir.db()).unwrap_err();
        assert!(err.ends_with(expected), "{err}");
    }
}

/// Another shape (tiers changed) or another version: set aside, never
/// deleted; a fresh file is made.
#[test]
fn a_file_of_another_shape_or_version_is_set_aside() {
    let dir = Dir::new("shape");
    drop(filled(&dir, &tiers("10s:1h")));
    let (_, opened) = Store::open(&dir.db(), &tiers("10s:2h"), Instant::now(), T0_MS).unwrap();
    let (aside, why) = opened.set_aside.unwrap();
    assert!(why.contains("differ"), "{why}");
    assert_eq!(
        decode_header(&std::fs::read(&aside).unwrap()).unwrap(),
        tiers("10s:1h")
    );
    assert!(opened.created);

    // Version 2 (a later sysmon): set aside too.
    let mut page = std::fs::read(dir.db()).unwrap();
    page[8] = 2;
    seal(&mut page[..PAGE]);
    std::fs::write(dir.db(), &page).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a different aside name
    let (_, opened) = Store::open(&dir.db(), &tiers("10s:2h"), Instant::now(), T0_MS).unwrap();
    assert!(opened.set_aside.unwrap().1.contains("version 2"));
    let asides = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("aside")
        })
        .count();
    assert_eq!(asides, 2);
}

/// A torn write of the name table leaves the other copy.
#[test]
fn a_torn_name_table_falls_back_to_the_other_copy() {
    let dir = Dir::new("names");
    let spec = tiers("10s:1h");
    {
        let (mut store, _) = Store::open(&dir.db(), &spec, Instant::now(), T0_MS).unwrap();
        store.series_index("cpu", "").unwrap();
        assert!(store.write_names(&mut [f32::NAN; FILE_SERIES]));
        store.series_index("disk:", "/home").unwrap();
        assert!(store.write_names(&mut [f32::NAN; FILE_SERIES]));
    }
    // Generation 3 (both names) is in copy 2; tear it.
    let file = OpenOptions::new().write(true).open(dir.db()).unwrap();
    file.write_all_at(&[0xff; 100], 2 * PAGE as u64 + 10)
        .unwrap();
    let (_, _, names) = open_read_only(&dir.db()).unwrap();
    assert_eq!(names, ["cpu"], "generation 2, the last one intact");
}

/// The wall clock steps forward a year 150 s after start, before the first
/// batch was written: the samples in memory are re-timed by the monotonic
/// clock and move with it (the clock was a year behind), so every sample is
/// at its re-timed minute, none at the old time, none in the future.
#[test]
fn a_clock_step_forward_of_a_year() {
    let dir = Dir::new("forward");
    let spec = tiers("60s:2d 3600s:365d");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    let year_ms = 365 * DAY_S * 1000;
    for t in 0..300u64 {
        // The step happens at t = 150 s.
        let wall = T0_MS + t * 1000 + if t >= 150 { year_ms } else { 0 };
        store.record_values(
            base + Duration::from_secs(t),
            wall,
            &values(&[(0, t as f32)]),
        );
    }
    store.flush();
    assert_eq!(store.stats().clock_steps, 1);
    assert_eq!(store.stats().held_back, 0);
    assert_eq!(store.stats().retimed, 2 * 150, "150 samples, two tiers");
    let (slots, _) = slots_of(&dir.db(), 0);
    let after = (T0_MS + year_ms) / 60_000;
    let buckets: Vec<u64> = slots.keys().copied().collect();
    assert_eq!(buckets, [after, after + 1, after + 2, after + 3, after + 4]);
    let p = slots[&(after + 2)][0].unwrap();
    assert_eq!(
        (p.min, p.max, p.count),
        (120.0, 179.0, 60),
        "the minute of the step: 30 s re-timed, 30 s after"
    );
    let total: u32 = slots.values().map(|p| u32::from(p[0].unwrap().count)).sum();
    assert_eq!(total, 300, "every sample is in the minute tier");
    let (hours, _) = slots_of(&dir.db(), 1);
    assert_eq!(
        hours.keys().copied().collect::<Vec<_>>(),
        [(T0_MS + year_ms) / 3_600_000]
    );
    assert_eq!(hours.values().next().unwrap()[0].unwrap().count, 300);
    // Read at the new now: nothing after it.
    let now = T0_MS + year_ms + 300_000;
    let json = render(&store, 365 * DAY_S, now);
    assert!(
        json.contains(&format!("\"end\":{}", (now / 3_600_000 + 1) * 3600)),
        "{json}"
    );
}

/// The wall clock steps back a day after the first batch was written: the
/// written minutes stay (nothing overwritten), the minute in memory moves
/// back a day with the clock and, being older than the newest point, is
/// held back with the samples that follow; the points now "in the future"
/// are not served; a stop loses what is held (counted); once the clock
/// passes the newest point again, writing resumes.
#[test]
fn a_clock_step_back_of_a_day() {
    let dir = Dir::new("back");
    let spec = tiers("60s:2d");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    let day_ms = DAY_S * 1000;
    store.series_index("x", "").unwrap();
    for t in 0..600u64 {
        let wall = T0_MS + t * 1000 - if t >= 300 { day_ms } else { 0 };
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, 1.0)]));
    }
    let minute = T0_MS / 60_000;
    let written = slots_of(&dir.db(), 0).0;
    assert_eq!(
        written.keys().copied().collect::<Vec<_>>(),
        [minute, minute + 1, minute + 2, minute + 3],
        "the batch at 240 s"
    );
    let stats = store.stats();
    assert_eq!(stats.clock_steps, 1);
    assert_eq!(stats.retimed, 0, "minute 4 moved back, behind the newest");
    assert_eq!(stats.held_back, 60 + 300);
    store.flush();
    assert_eq!(store.stats().held_back_lost, 360, "lost at stop");
    assert_eq!(slots_of(&dir.db(), 0).0, written, "nothing overwritten");
    // Served at the stepped-back now: the newer points are in its future.
    let now = T0_MS - day_ms + 600_000;
    assert_eq!(count_values(&render(&store, DAY_S, now)), 0);
    // A restart while the clock is behind: still nothing overwritten.
    drop(store);
    let base2 = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base2, now).unwrap();
    store.record_values(base2, now, &values(&[(0, 9.0)]));
    store.flush();
    assert_eq!(store.stats().held_back, 1);
    assert_eq!(store.stats().held_back_lost, 1);
    assert_eq!(slots_of(&dir.db(), 0).0, written);
    // The clock reaches the old points again (a day later): they are
    // served, and new points follow them.
    let later = T0_MS + 600_000;
    store.record_values(
        base2 + Duration::from_millis(later - now),
        later,
        &values(&[(0, 9.0)]),
    );
    store.flush();
    let after = slots_of(&dir.db(), 0).0;
    assert_eq!(after.len(), 5);
    assert_eq!(count_values(&render(&store, 3600, later + 60_000)), 5 * 3);
}

/// A step back of a day and, two minutes later, forward again (the clock
/// put right): the samples held back while it was behind, and the minute
/// moved back with it, come back to their times; every sample is where the
/// monotonic clock says, in both tiers.
#[test]
fn a_step_back_and_forward_again_puts_every_sample_at_its_time() {
    let dir = Dir::new("back-forth");
    let spec = tiers("60s:1d 600s:2d");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    let day_ms = DAY_S * 1000;
    let mut raw = Vec::new();
    for t in (0..900u64).step_by(5) {
        let wrong = (300..420).contains(&t);
        let wall = T0_MS + t * 1000 - if wrong { day_ms } else { 0 };
        let v = (t % 97) as f32;
        raw.push((T0_MS / 1000 + t, v));
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, v)]));
    }
    store.flush();
    let stats = store.stats();
    assert_eq!(stats.clock_steps, 2);
    assert_eq!(stats.held_back_lost, 0);
    assert_eq!(stats.held_back_placed, stats.held_back);
    assert_oracle(&dir.db(), &spec, &raw);
}

/// The file's slots of every tier equal a naive oracle over `raw` (true
/// time in s, value of series 0): the same buckets, min, mean, max, count.
fn assert_oracle(path: &Path, spec: &[TierSpec], raw: &[(u64, f32)]) {
    for (k, tier) in spec.iter().enumerate() {
        let step = u64::from(tier.step_s);
        let mut by_bucket: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
        for &(t, v) in raw {
            by_bucket.entry(t / step).or_default().push(v);
        }
        let (slots, corrupt) = slots_of(path, k);
        assert_eq!(corrupt, 0);
        assert_eq!(
            slots.keys().copied().collect::<Vec<_>>(),
            by_bucket.keys().copied().collect::<Vec<_>>(),
            "tier {k}: buckets"
        );
        for (bucket, xs) in &by_bucket {
            let p = slots[bucket][0].unwrap();
            let (min, mean, max, count) = oracle(xs);
            assert_eq!(
                (p.min, p.max, p.count as usize),
                (min, max, count),
                "tier {k} bucket {bucket}"
            );
            assert!(close(f64::from(p.mean), mean), "tier {k} {bucket}");
        }
    }
}

/// Points from T0 - 30 min to T0, every 5 s, written (a stop): what the
/// box had before it rebooted. Returns the samples (time in s, value).
fn history_before_t0(dir: &Dir, spec: &[TierSpec]) -> Vec<(u64, f32)> {
    let base = Instant::now();
    let start_ms = T0_MS - 1_800_000;
    let (mut store, _) = Store::open(&dir.db(), spec, base, start_ms).unwrap();
    let mut raw = Vec::new();
    for t in (0..1800u64).step_by(5) {
        let v = 1000.0 + (t % 13) as f32;
        raw.push((start_ms / 1000 + t, v));
        store.record_values(
            base + Duration::from_secs(t),
            start_ms + t * 1000,
            &values(&[(0, v)]),
        );
    }
    store.flush();
    raw
}

/// A Raspberry Pi without an RTC (issue 13): the file has points up to T0;
/// the box boots with its clock a day in the past, samples every 5 s for
/// 10 minutes (all held back: older than every tier's newest), then NTP
/// steps the clock to the true time, T0 + 2 h. At the step the 10 minutes
/// are placed at their true buckets (step time minus their monotonic age)
/// and the batch the step begins writes them; nothing is in the future and
/// no older slot is overwritten. Each tier equals the oracle over the
/// samples at their true times.
#[test]
fn a_pi_without_rtc_booting_in_the_past_keeps_the_samples_until_ntp() {
    let dir = Dir::new("pi-rtc");
    let spec = tiers(DEFAULT_TIERS);
    let mut raw = history_before_t0(&dir, &spec);
    let before: Vec<_> = (0..spec.len()).map(|k| slots_of(&dir.db(), k).0).collect();
    let base = Instant::now();
    let boot_wall = T0_MS - DAY_S * 1000;
    let true_at_step = T0_MS + 2 * 3_600_000;
    let (mut store, _) = Store::open(&dir.db(), &spec, base, boot_wall).unwrap();
    let mut rng = Lcg(11);
    for t in (0..600u64).step_by(5) {
        let v = (rng.next() % 1000) as f32 / 10.0;
        raw.push(((true_at_step - 600_000) / 1000 + t, v));
        store.record_values(
            base + Duration::from_secs(t),
            boot_wall + t * 1000,
            &values(&[(0, v)]),
        );
    }
    assert_eq!(
        store.stats().held_back,
        120 * 3,
        "every tier held them back"
    );
    for (k, old) in before.iter().enumerate() {
        assert_eq!(&slots_of(&dir.db(), k).0, old, "tier {k}: nothing written");
    }
    // NTP: the clock steps to the true time.
    store.record_values(
        base + Duration::from_secs(600),
        true_at_step,
        &values(&[(0, 42.0)]),
    );
    raw.push((true_at_step / 1000, 42.0));
    let stats = store.stats();
    assert_eq!(stats.clock_steps, 1);
    assert_eq!(stats.held_back_placed, 120 * 3);
    assert_eq!(stats.held_back_lost, 0);
    // The step begins a batch: the ten minutes are in the file now.
    let (minutes, _) = slots_of(&dir.db(), 0);
    let first = (true_at_step - 600_000) / 60_000;
    for m in first..first + 10 {
        assert_eq!(minutes[&m][0].unwrap().count, 12, "minute {m}");
    }
    assert_eq!(
        *minutes.keys().last().unwrap(),
        first + 9,
        "none in the future"
    );
    for (k, old) in before.iter().enumerate() {
        let now = slots_of(&dir.db(), k).0;
        for (bucket, point) in old {
            assert_eq!(now.get(bucket), Some(point), "tier {k}: {bucket} kept");
        }
    }
    // Some more, then a stop: every tier equals the oracle.
    for t in (605..=900u64).step_by(5) {
        let v = (t % 7) as f32;
        let wall = true_at_step + (t - 600) * 1000;
        raw.push((wall / 1000, v));
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, v)]));
    }
    store.flush();
    assert_oracle(&dir.db(), &spec, &raw);
}

/// A Pi with fake-hwclock (issue 13): it boots with the clock a minute
/// after the file's newest point, but the true time is three hours later.
/// Two minutes of samples go into the tiers at the wrong time, in memory
/// (before the first batch is written); the step moves them to the true
/// time: the file has no point at T0 + 1 min .. T0 + 3 min in any tier.
#[test]
fn fake_hwclock_samples_move_to_the_true_time_at_the_step() {
    let dir = Dir::new("fake-hwclock");
    let spec = tiers(DEFAULT_TIERS);
    let mut raw = history_before_t0(&dir, &spec);
    let base = Instant::now();
    let boot_wall = T0_MS + 60_000;
    let true_at_step = T0_MS + 3 * 3_600_000;
    let (mut store, _) = Store::open(&dir.db(), &spec, base, boot_wall).unwrap();
    for t in (0..=180u64).step_by(5) {
        // The step at 120 s.
        let (wall, true_ms) = if t < 120 {
            (boot_wall + t * 1000, true_at_step - 120_000 + t * 1000)
        } else {
            let at = true_at_step + (t - 120) * 1000;
            (at, at)
        };
        let v = (t % 11) as f32;
        raw.push((true_ms / 1000, v));
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, v)]));
    }
    let stats = store.stats();
    assert_eq!((stats.clock_steps, stats.held_back), (1, 0));
    assert_eq!(stats.retimed, 24 * 3, "two minutes, three tiers");
    store.flush();
    for (k, tier) in spec.iter().enumerate() {
        let (slots, _) = slots_of(&dir.db(), k);
        let step_ms = u64::from(tier.step_s) * 1000;
        assert!(
            !slots
                .keys()
                .any(|b| b * step_ms + step_ms > T0_MS + 60_000 && b * step_ms < T0_MS + 180_000),
            "tier {k}: a point at the wrong time"
        );
    }
    assert_oracle(&dir.db(), &spec, &raw);
}

/// The same, but the step comes 6 minutes after boot: the batch at
/// T0 + 4 min wrote minutes 1 to 3 at the wrong time, and they stay (what
/// was written before the step stays where it was); the minutes still in
/// memory, and the coarser tiers' steps in progress, move. No sample is
/// lost and none is counted twice in any tier.
#[test]
fn what_was_written_before_a_step_stays_and_the_rest_moves() {
    let dir = Dir::new("written-stays");
    let spec = tiers(DEFAULT_TIERS);
    history_before_t0(&dir, &spec);
    let base = Instant::now();
    let boot_wall = T0_MS + 60_000;
    let true_at_step = T0_MS + 3 * 3_600_000;
    let (mut store, _) = Store::open(&dir.db(), &spec, base, boot_wall).unwrap();
    for t in (0..=360u64).step_by(5) {
        let wall = if t < 360 {
            boot_wall + t * 1000
        } else {
            true_at_step
        };
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, 1.0)]));
    }
    store.flush();
    let minute = T0_MS / 60_000;
    let (minutes, _) = slots_of(&dir.db(), 0);
    for m in 1..4 {
        assert_eq!(
            minutes[&(minute + m)][0].unwrap().count,
            12,
            "written at 4 min"
        );
    }
    for m in 4..7 {
        assert!(!minutes.contains_key(&(minute + m)), "minute {m} moved");
    }
    let moved_to = (true_at_step - 180_000) / 60_000;
    for m in 0..3 {
        assert_eq!(minutes[&(moved_to + m)][0].unwrap().count, 12);
    }
    assert_eq!(minutes[&(true_at_step / 60_000)][0].unwrap().count, 1);
    // The ten-minute and hour tiers wrote nothing before the step: all of
    // it moved. Every tier holds every sample once.
    for (k, tier) in spec.iter().enumerate() {
        let (slots, _) = slots_of(&dir.db(), k);
        let since_boot: u32 = slots
            .iter()
            .filter(|(b, _)| **b * u64::from(tier.step_s) >= T0_MS / 1000)
            .map(|(_, p)| u32::from(p[0].unwrap().count))
            .sum();
        assert_eq!(since_boot, 73, "tier {k}");
    }
    let (tens, _) = slots_of(&dir.db(), 1);
    assert!(!tens.contains_key(&(T0_MS / 600_000)));
}

/// Ten hours held back (the clock behind, no network): the journal keeps
/// the last 64 steps (64 minutes at the defaults) and drops the oldest,
/// counted; its memory is fixed. The step places what is kept.
#[test]
fn the_samples_held_back_are_bounded_and_the_oldest_dropped() {
    let dir = Dir::new("held-bound");
    let spec = tiers(DEFAULT_TIERS);
    history_before_t0(&dir, &spec);
    let base = Instant::now();
    let boot_wall = T0_MS - DAY_S * 1000;
    let (mut store, _) = Store::open(&dir.db(), &spec, base, boot_wall).unwrap();
    let hours = 10;
    let samples = hours * 720;
    for i in 0..samples {
        let t = i * 5;
        store.record_values(
            base + Duration::from_secs(t),
            boot_wall + t * 1000,
            &values(&[(0, 1.0)]),
        );
        assert!(store.journal.len() <= journal::STEPS);
    }
    assert_eq!(std::mem::size_of::<Step>(), 464);
    assert!(std::mem::size_of::<Step>() * journal::STEPS <= 32 * 1024);
    let kept = journal::STEPS as u64 * 12;
    let stats = store.stats();
    assert_eq!(stats.held_back, samples * 3);
    assert_eq!(stats.held_back_lost, (samples - kept) * 3, "the oldest");
    let true_at_step = T0_MS + 12 * 3_600_000;
    store.record_values(
        base + Duration::from_secs(samples * 5),
        true_at_step,
        &values(&[(0, 1.0)]),
    );
    assert_eq!(store.stats().held_back_placed, kept * 3);
    store.flush();
    let (minutes, _) = slots_of(&dir.db(), 0);
    let first = true_at_step / 60_000 - journal::STEPS as u64;
    let placed: Vec<u64> = minutes.keys().copied().filter(|m| *m >= first).collect();
    assert_eq!(
        placed,
        (first..=true_at_step / 60_000).collect::<Vec<_>>(),
        "the last 64 minutes and the minute of the step"
    );
}

/// The clock behind the file's newest point, by 5 minutes, with no step:
/// the samples are held back until the clock passes the newest point;
/// then the held ones can never be placed and are dropped (counted), and
/// the new ones are written after the newest.
#[test]
fn held_back_samples_are_dropped_when_the_clock_passes_the_newest_point() {
    let dir = Dir::new("held-pass");
    let spec = tiers("60s:1d");
    history_before_t0(&dir, &spec);
    let base = Instant::now();
    let boot_wall = T0_MS - 300_000;
    let (mut store, _) = Store::open(&dir.db(), &spec, base, boot_wall).unwrap();
    for t in (0..=400u64).step_by(5) {
        store.record_values(
            base + Duration::from_secs(t),
            boot_wall + t * 1000,
            &values(&[(0, 7.0)]),
        );
    }
    store.flush();
    let stats = store.stats();
    // Up to T0 - 1 min the minute tier's newest (T0 - 1 min) is ahead.
    assert_eq!(stats.held_back, 48);
    assert_eq!(stats.held_back_lost, 48);
    let (minutes, _) = slots_of(&dir.db(), 0);
    let newest_before = T0_MS / 60_000 - 1;
    // The newest minute is taken up again, not written over: its 12
    // samples from before the restart and the 12 now.
    let p = minutes[&newest_before][0].unwrap();
    assert_eq!((p.min, p.max, p.count), (7.0, 1012.0, 24));
    assert_eq!(minutes[&(newest_before + 1)][0].unwrap().count, 12);
}

#[test]
fn tiers_parse_and_print() {
    let t = parse_tiers(DEFAULT_TIERS).unwrap();
    assert_eq!(
        t,
        [
            TierSpec {
                step_s: 60,
                slots: 2880
            },
            TierSpec {
                step_s: 600,
                slots: 4320
            },
            TierSpec {
                step_s: 3600,
                slots: 8760
            },
        ]
    );
    assert_eq!(format_tiers(&t), "1m:2d 10m:30d 1h:365d");
    assert_eq!(file_size(&t), (3 + 360 + 540 + 1095) * 4096);
    assert_eq!(parse_tiers("off").unwrap(), []);
    for bad in [
        "",
        "1m",
        "1m:90s",
        "500ms:1h",
        "2d:4d",
        "1s:30d",
        "1m:1h 1m:1h 1m:1h 1m:1h 1m:1h 1m:1h 1m:1h 1m:1h 1m:1h",
    ] {
        assert!(parse_tiers(bad).is_err(), "{bad}");
    }
    assert_eq!(pick_tier(&t, 3600), 0);
    assert_eq!(pick_tier(&t, 7 * DAY_S), 1);
    assert_eq!(pick_tier(&t, 365 * DAY_S), 2);
    assert_eq!(pick_tier(&t, 3 * 365 * DAY_S), 2);
}

#[test]
fn crc32_is_the_ieee_one() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

/// Names made of several parts (`temp:` + chip + `/` + sensor) match only
/// the whole name; the table is written once for all the names a sample
/// brings.
#[test]
fn series_names_in_parts_match_whole_names_only() {
    let dir = Dir::new("parts");
    let (mut store, _) = Store::open(&dir.db(), &tiers("10s:1h"), Instant::now(), T0_MS).unwrap();
    let a = store.series_index_of(&["temp:", "coretemp", "/", "temp1"]);
    let b = store.series_index_of(&["temp:", "coretemp/", "temp1"]);
    let c = store.series_index_of(&["temp:", "coretemp", "/", "temp10"]);
    assert_eq!((a, b, c), (Some(0), Some(0), Some(1)));
    let (_, _, names) = open_read_only(&dir.db()).unwrap();
    assert!(names.is_empty(), "named, not yet written");
    assert!(store.write_names(&mut [f32::NAN; FILE_SERIES]));
    let (_, _, names) = open_read_only(&dir.db()).unwrap();
    assert_eq!(names, ["temp:coretemp/temp1", "temp:coretemp/temp10"]);
    for i in 2..FILE_SERIES {
        assert_eq!(store.series_index("s", &i.to_string()), Some(i));
    }
    assert_eq!(store.series_index("one", "-too-many"), None);
    assert_eq!(store.series_index("x", &"y".repeat(NAME_MAX)), None);
}

/// A day at the default tiers, sampled every 5 s on a fake clock: each
/// page is written once per batch (4 minutes), every tier's finished
/// bucket rides in the same batch, so a day costs 360 batches of 528 pages
/// in all (360 of the minute tier, 144 and 24 of the others), not one
/// write and sync per tier step (1608 of each).
#[test]
fn a_day_at_the_defaults_writes_each_page_once_per_batch() {
    let dir = Dir::new("batch-day");
    let spec = tiers(DEFAULT_TIERS);
    assert_eq!(batch_s(&spec), 240);
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    store.series_index("cpu", "").unwrap();
    // The name table's one write, before what is counted.
    store.record_values(base, T0_MS, &values(&[(0, 1.0)]));
    let start = store.stats();
    for t in (5..=DAY_S).step_by(5) {
        store.record_values(
            base + Duration::from_secs(t),
            T0_MS + t * 1000,
            &values(&[(0, (t % 100) as f32)]),
        );
    }
    let stats = store.stats();
    assert_eq!(stats.syncs - start.syncs, 360);
    assert_eq!(stats.pages_written - start.pages_written, 360 + 144 + 24);
    assert_eq!(stats.write_errors, 0);
    // Everything but the step in progress is in the file.
    let (minutes, _) = slots_of(&dir.db(), 0);
    assert_eq!(minutes.len(), 1440);
}

/// Between batches the finished steps and the step in progress are served
/// from memory (after `written_end`), and the file holds none of them
/// until the batch boundary; a stop writes them.
#[test]
fn the_unwritten_batch_and_the_step_in_progress_are_served() {
    let dir = Dir::new("batch-served");
    let spec = tiers("60s:1h");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    store.series_index("x", "").unwrap();
    // 0 to 3:30 into a batch of 4 minutes: three whole minutes and a half.
    for t in (0..=210u64).step_by(10) {
        store.record_values(
            base + Duration::from_secs(t),
            T0_MS + t * 1000,
            &values(&[(0, t as f32)]),
        );
    }
    let now_ms = T0_MS + 210_000;
    assert!(
        slots_of(&dir.db(), 0).0.is_empty(),
        "written before the batch"
    );
    let json = render(&store, 3600, now_ms);
    assert!(
        json.contains(&format!("\"written_end\":{},", T0_MS / 1000)),
        "{json}"
    );
    let max = |json: &str| -> Vec<String> {
        let at = json.find("\"max\":[").unwrap() + 7;
        let list = &json[at..at + json[at..].find(']').unwrap()];
        list.split(',')
            .filter(|v| *v != "null")
            .map(str::to_string)
            .collect()
    };
    // Minutes 0, 1, 2 whole and minute 3 so far (180..210 s).
    assert_eq!(max(&json), ["50", "110", "170", "210"], "{json}");
    // The batch boundary writes the three finished minutes in one page.
    let before = store.stats();
    store.record_values(
        base + Duration::from_secs(240),
        T0_MS + 240_000,
        &values(&[(0, 240.0)]),
    );
    assert_eq!(store.stats().pages_written - before.pages_written, 1);
    assert_eq!(store.stats().syncs - before.syncs, 1);
    assert_eq!(slots_of(&dir.db(), 0).0.len(), 4);
    let json = render(&store, 3600, T0_MS + 240_000);
    assert!(
        json.contains(&format!("\"written_end\":{},", T0_MS / 1000 + 240)),
        "{json}"
    );
    // A reader of the file alone sees what is written: not the minute in
    // progress (240 s), which the daemon serves from memory.
    assert_eq!(max(&json), ["50", "110", "170", "210", "240"], "{json}");
    let (file, specs, names) = open_read_only(&dir.db()).unwrap();
    let mut alone = String::new();
    render_range(
        &file,
        &specs,
        &names,
        3600,
        None,
        T0_MS + 240_000,
        Held::default(),
        &mut alone,
    )
    .unwrap();
    assert_eq!(max(&alone), ["50", "110", "170", "210"], "{alone}");
}

/// A full table (32 names) takes a new name at the index of the series
/// that has had no value for the longest tier's span (a veth that came and
/// went), never sooner; the new series' points are served under its name,
/// the old name's points never are, and the table survives a restart.
#[test]
fn a_full_table_gives_a_long_silent_series_index_to_a_new_name() {
    let dir = Dir::new("reuse");
    let spec = tiers("60s:1h 600s:2h");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    for i in 0..FILE_SERIES {
        assert_eq!(store.series_index("s", &i.to_string()), Some(i));
    }
    // Series 5 has values for the first 10 minutes only; the others always.
    let at = |store: &mut Store, t: u64, extra: Option<usize>| {
        let mut v = [1.0f32; FILE_SERIES];
        if t >= 600 {
            v[5] = f32::NAN;
        }
        if let Some(i) = extra {
            v[i] = 77.0;
        }
        store.record_values(base + Duration::from_secs(t), T0_MS + t * 1000, &v);
    };
    for t in (0..=7200u64).step_by(60) {
        at(&mut store, t, None);
    }
    // 1 h 50 min without a value: less than the longest span (2 h).
    assert_eq!(store.series_index("veth", "9"), None);
    for t in (7260..=7800u64).step_by(60) {
        at(&mut store, t, None);
    }
    // Now 2 h 10 min: index 5 is free.
    store.overflowed = false;
    assert_eq!(store.series_index("veth", "9"), Some(5));
    assert_eq!(store.series_index("veth", "9"), Some(5));
    assert_eq!(store.series_index("s", "5"), None, "the old name is gone");
    for t in (7860..=8100u64).step_by(60) {
        at(&mut store, t, Some(5));
    }
    store.flush();
    let now_ms = T0_MS + 8_100_000;
    let json = render(&store, 7200, now_ms);
    assert!(json.contains("\"veth9\":{"), "{json}");
    assert!(!json.contains("\"s5\":{"), "{json}");
    let veth = json.split("\"veth9\":{").nth(1).unwrap();
    let max = &veth[veth.find("\"max\":[").unwrap() + 7..];
    let max: Vec<&str> = max[..max.find(']').unwrap()]
        .split(',')
        .filter(|v| *v != "null")
        .collect();
    assert!(max.iter().all(|v| *v == "77"), "{max:?}");
    drop(store);
    let (_, _, names) = open_read_only(&dir.db()).unwrap();
    assert_eq!(names[5], "veth9");
    assert_eq!(names.len(), FILE_SERIES);
}

/// A step that is not a whole number of steps (2 h 20 s, 3 minutes after
/// start, before the first batch is written): each journal
/// step is placed whole at the bucket of its middle moved by the step, so
/// every sample lands in a bucket less than half a step (30 s) from its
/// true time; none is lost and each minute of samples stays one point.
#[test]
fn a_step_of_odd_seconds_places_each_sample_within_half_a_step() {
    let dir = Dir::new("odd-step");
    let spec = tiers("60s:1d");
    let base = Instant::now();
    let (mut store, _) = Store::open(&dir.db(), &spec, base, T0_MS).unwrap();
    let delta_ms = 2 * 3_600_000 + 20_000;
    let mut true_s = Vec::new();
    for t in (0..=180u64).step_by(5) {
        let wall = T0_MS + t * 1000 + if t == 180 { delta_ms } else { 0 };
        // One value per minute of the old clock: its samples stay together.
        let v = (t / 60) as f32;
        if t < 180 {
            true_s.push((T0_MS + delta_ms) / 1000 + t);
        }
        store.record_values(base + Duration::from_secs(t), wall, &values(&[(0, v)]));
    }
    store.flush();
    let (slots, _) = slots_of(&dir.db(), 0);
    for m in 0..3u64 {
        let (bucket, p) = slots
            .iter()
            .find(|(_, p)| p[0].unwrap().min == m as f32)
            .unwrap();
        let p = p[0].unwrap();
        assert_eq!((p.max, p.count), (m as f32, 12), "minute {m} whole");
        for t in &true_s[m as usize * 12..m as usize * 12 + 12] {
            assert!(
                bucket * 60 < t + 30 && *t < (bucket + 1) * 60 + 30,
                "minute {m}: {t} placed at {bucket}"
            );
        }
    }
}

/// A bucket of more than 65,535 samples (a daily tier at `interval = 1s`
/// takes 86,400) keeps its true mean; the slot's 16-bit count says 65,535.
/// Before, the count saturated while the sum went on: the mean of 65,535
/// zeros and 10,000 hundreds was written as 15.26 instead of 13.24.
#[test]
fn a_bucket_past_65535_samples_keeps_its_true_mean() {
    let mut acc = Acc::new(7);
    for _ in 0..65_535 {
        acc.add(0, 0.0);
    }
    for _ in 0..10_000 {
        acc.add(0, 100.0);
    }
    let mut slot = [0u8; SLOT];
    acc.encode(&mut slot);
    let p = slot_point(&slot, 0).unwrap();
    assert_eq!((p.min, p.max, p.count), (0.0, 100.0, u16::MAX));
    let truth = 1_000_000.0 / 75_535.0;
    assert!(
        (f64::from(p.mean) - truth).abs() < 1e-3,
        "{} vs {truth}",
        p.mean
    );
}

/// The journal's step stops summing at 65,535 samples with its count, so
/// what it folds into a tier is the mean of those, never a sum divided by
/// a saturated count.
#[test]
fn a_journal_step_past_65535_samples_folds_a_mean() {
    let mut step = Step::at(0, 86_400);
    for _ in 0..65_535 {
        step.add(0, 10.0);
    }
    for _ in 0..10_000 {
        step.add(0, 1000.0);
    }
    let mut acc = Acc::new(0);
    step.fold_into(&mut acc);
    let mut slot = [0u8; SLOT];
    acc.encode(&mut slot);
    let p = slot_point(&slot, 0).unwrap();
    assert_eq!((p.min, p.max, p.count), (10.0, 1000.0, u16::MAX));
    assert!((p.mean - 10.0).abs() < 1e-3, "{}", p.mean);
}

/// A range answer without what differs by design between a store still
/// opening and one opened: `"opening":true`, and `written_end` (the
/// opening store holds nothing in memory yet).
fn points_part(json: &str) -> String {
    let json = json.replace("\"opening\":true,", "");
    let at = json.find("\"written_end\":").expect("written_end");
    let end = at + json[at..].find(',').unwrap();
    format!("{}{}", &json[..at], &json[end + 1..])
}

/// The check of an existing file in slices (the daemon's way; here one
/// page per poll): requests asked between slices are answered from the
/// file as it stands (`"opening":true`, the same points as a store opened
/// in one piece serves), the samples recorded meanwhile wait and are then
/// placed, and the file ends byte for byte as with a one-piece opening and
/// the same samples; what the opening found is the same too (issue 16:
/// the loop was held 5–12 ms warm, ~50 ms cold, by the one-piece scan).
#[test]
fn an_opening_in_slices_answers_between_them_and_ends_as_one_piece() {
    let spec = tiers("10s:1h 60s:1d");
    let (one, sliced) = (Dir::new("open-one"), Dir::new("open-sliced"));
    drop(filled(&one, &spec));
    std::fs::copy(one.db(), sliced.db()).unwrap();
    // Opened inside the file's newest buckets, which are taken up again.
    let begun_ms = T0_MS + 595_500;
    let base = Instant::now();
    let at = |i: u64| (base + Duration::from_secs(5 * i), begun_ms + 5_000 * i);
    let sample = |i: u64| values(&[(0, 50.0 + i as f32), (1, 3.0 * i as f32)]);

    let (mut store, opened_one) = Store::open(&one.db(), &spec, base, begun_ms).unwrap();
    let before = points_part(&render(&store, DAY_S, begun_ms));
    for i in 0..40 {
        let (now, wall_ms) = at(i);
        store.record_values(now, wall_ms, &sample(i));
    }
    store.flush();
    drop(store);

    let mut store = Store::begin(&sliced.db(), &spec, base, begun_ms).unwrap();
    let (mut slices, mut answered, mut recorded) = (0, 0, 0);
    while store.is_opening() {
        store.poll_opening(Instant::now(), Duration::ZERO);
        slices += 1;
        if store.is_opening() {
            let json = render(&store, DAY_S, begun_ms);
            assert!(json.contains("\"opening\":true"), "{json}");
            assert_eq!(points_part(&json), before);
            answered += 1;
            if slices % 20 == 0 && recorded < 10 {
                let (now, wall_ms) = at(recorded);
                store.record_values(now, wall_ms, &sample(recorded));
                recorded += 1;
            }
        }
    }
    assert_eq!(slices, 45 + 180, "one page per slice");
    assert_eq!(answered, slices - 1);
    assert_eq!(recorded, 10, "samples recorded while it ran");
    assert_eq!(store.take_opened(), Some(Ok(opened_one)));
    assert_eq!(store.take_opened(), None, "given once");
    assert!(!render(&store, DAY_S, begun_ms).contains("opening"));
    for i in recorded..40 {
        let (now, wall_ms) = at(i);
        store.record_values(now, wall_ms, &sample(i));
    }
    store.flush();
    drop(store);
    assert!(
        std::fs::read(one.db()).unwrap() == std::fs::read(sliced.db()).unwrap(),
        "the files differ"
    );
}

/// A new file made in slices (its zeros 64 KiB a piece, then the sync and
/// the rename): `history.db` appears only when it is whole, a range asked
/// meanwhile is answered (nothing in it yet), and samples beyond the
/// queue's room end the opening at once rather than being lost; the file
/// is then byte for byte the one-piece one with the same samples.
#[test]
fn a_new_file_made_in_slices_is_the_one_piece_file() {
    let spec = tiers("10s:1h 60s:1d");
    let (one, sliced) = (Dir::new("make-one"), Dir::new("make-sliced"));
    let base = Instant::now();
    let at = |i: u64| (base + Duration::from_secs(5 * i), T0_MS + 5_000 * i);
    let sample = |i: u64| values(&[(0, i as f32)]);
    let (mut store, opened_one) = Store::open(&one.db(), &spec, base, T0_MS).unwrap();
    assert!(opened_one.created);
    for i in 0..30 {
        let (now, wall_ms) = at(i);
        store.record_values(now, wall_ms, &sample(i));
    }
    store.flush();
    drop(store);

    let mut store = Store::begin(&sliced.db(), &spec, base, T0_MS).unwrap();
    for _ in 0..3 {
        store.poll_opening(Instant::now(), Duration::ZERO);
        assert!(store.is_opening());
        assert!(!sliced.db().exists(), "made under its temporary name");
        let json = render(&store, 3600, T0_MS);
        assert!(json.contains("\"opening\":true,"), "{json}");
        assert!(json.ends_with("\"series\":{}}"), "{json}");
    }
    for i in 0..=opening::PENDING as u64 {
        assert!(store.is_opening(), "a sample waited: {i}");
        let (now, wall_ms) = at(i);
        store.record_values(now, wall_ms, &sample(i));
    }
    assert!(!store.is_opening(), "a full queue ends the opening");
    assert!(sliced.db().exists());
    assert_eq!(store.take_opened(), Some(Ok(opened_one)));
    for i in opening::PENDING as u64 + 1..30 {
        let (now, wall_ms) = at(i);
        store.record_values(now, wall_ms, &sample(i));
    }
    store.flush();
    drop(store);
    assert!(
        std::fs::read(one.db()).unwrap() == std::fs::read(sliced.db()).unwrap(),
        "the files differ"
    );
}
