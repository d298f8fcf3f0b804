//! The fast /proc parsers agree with a naive oracle (plain
//! `split_whitespace` + `str::parse`) on every fixture and on randomly
//! generated /proc texts, and random garbage never makes any parser panic.

use super::*;
use sysmon::proc::stat::{CpuTicks, Stat};
use sysmon::proc::{loadavg, meminfo, mounts, stat, uptime};
use sysmon::sample::cpu;

// ------------------------------------------------------------ naive oracle

/// (aggregate columns, (id, columns) per core, btime)
type NaiveStat = ([u64; 10], Vec<(u32, [u64; 10])>, Option<u64>);

/// The obviously-correct reading of /proc/stat: a line whose label (or
/// CPU number) came before is skipped unread, the first kept; cores come
/// out in ascending CPU order.
fn naive_stat(text: &str) -> Option<NaiveStat> {
    let mut total = None;
    let mut cores: Vec<(u32, [u64; 10])> = Vec::new();
    let mut btime = None;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some((&label, rest)) = cols.split_first() else {
            continue;
        };
        if let Some(number) = label.strip_prefix("cpu") {
            let id: Option<u32> = if number.is_empty() {
                None
            } else {
                Some(number.parse().ok()?)
            };
            let repeat = match id {
                None => total.is_some(),
                Some(id) => cores.iter().any(|c| c.0 == id),
            };
            if repeat {
                continue;
            }
            if rest.len() < 4 {
                return None;
            }
            let mut v = [0u64; 10];
            for (slot, col) in v.iter_mut().zip(rest) {
                *slot = col.parse().ok()?;
            }
            match id {
                None => total = Some(v),
                Some(id) => cores.push((id, v)),
            }
        } else if label == "btime" && btime.is_none() {
            btime = Some(rest.first()?.parse().ok()?);
        }
    }
    cores.sort_by_key(|c| c.0);
    Some((total?, cores, btime))
}

/// The obviously-correct reading of /proc/meminfo, in bytes.
fn naive_meminfo(text: &str) -> Option<[Option<u64>; 10]> {
    const KEYS: [&str; 10] = [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SReclaimable",
        "Active(file)",
        "Inactive(file)",
        "SwapTotal",
        "SwapFree",
    ];
    let mut out = [None; 10];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        // A key seen before is skipped unread: the first one counts.
        let Some(i) = KEYS.iter().position(|k| *k == key) else {
            continue;
        };
        if out[i].is_some() {
            continue;
        }
        let cols: Vec<&str> = value.split_whitespace().collect();
        let n: u64 = cols.first()?.parse().ok()?;
        out[i] = Some(match cols.get(1) {
            Some(&"kB") => n.checked_mul(1024)?,
            _ => return None,
        });
    }
    out[0]?;
    out[1]?;
    Some(out)
}

fn fast_meminfo(info: &meminfo::MemInfo) -> [Option<u64>; 10] {
    [
        Some(info.total_bytes),
        Some(info.free_bytes),
        info.available_bytes,
        Some(info.buffers_bytes),
        Some(info.cached_bytes),
        info.slab_reclaimable_bytes,
        info.active_file_bytes,
        info.inactive_file_bytes,
        Some(info.swap_total_bytes),
        Some(info.swap_free_bytes),
    ]
}

/// Fields the naive reading leaves `None` but the fast parser defaults to 0.
fn fill_defaults(mut v: [Option<u64>; 10]) -> [Option<u64>; 10] {
    for i in [3, 4, 8, 9] {
        v[i] = Some(v[i].unwrap_or(0));
    }
    v
}

#[track_caller]
fn check_stat_against_oracle(text: &str, what: &str) {
    let mut fast = Stat::default();
    let fast_result = stat::parse(text.as_bytes(), &mut fast);
    match naive_stat(text) {
        Some((total, cores, btime)) => {
            fast_result.unwrap_or_else(|e| {
                panic!("{what}: fast parser failed ({e}) on valid text:\n{text}")
            });
            assert_eq!(fast.total, ticks(total), "{what}");
            let fast_cores: Vec<(u32, CpuTicks)> =
                fast.cores.iter().map(|c| (c.id, c.ticks)).collect();
            let naive_cores: Vec<(u32, CpuTicks)> =
                cores.into_iter().map(|(id, v)| (id, ticks(v))).collect();
            assert_eq!(fast_cores, naive_cores, "{what}");
            assert_eq!(fast.boot_time_s, btime, "{what}");
        }
        None => assert!(
            fast_result.is_err(),
            "{what}: naive reading refuses, fast parser accepts:\n{text}"
        ),
    }
}

#[track_caller]
fn check_meminfo_against_oracle(text: &str, what: &str) {
    let fast = meminfo::parse(text.as_bytes());
    match naive_meminfo(text) {
        Some(naive) => {
            let fast = fast.unwrap_or_else(|e| {
                panic!("{what}: fast parser failed ({e}) on valid text:\n{text}")
            });
            assert_eq!(fast_meminfo(&fast), fill_defaults(naive), "{what}");
        }
        None => assert!(
            fast.is_err(),
            "{what}: naive reading refuses, fast parser accepts {fast:?}:\n{text}"
        ),
    }
}

fn all_fixture_files(name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        // Fixture roots are directories; notes such as SOURCE-* sit beside them.
        if !entry.path().is_dir() {
            continue;
        }
        let dir = entry.file_name().to_string_lossy().into_owned();
        for rel in files_in(&dir, name) {
            let bytes = read(&rel);
            // The oracle works on text; garbage bytes are covered below.
            if let Ok(text) = String::from_utf8(bytes) {
                out.push((rel, text));
            }
        }
    }
    assert!(out.len() >= 10, "only {} {name} fixtures found", out.len());
    out
}

#[test]
fn oracle_agrees_on_every_fixture() {
    for (rel, text) in all_fixture_files("stat") {
        check_stat_against_oracle(&text, &rel);
    }
    for (rel, text) in all_fixture_files("meminfo") {
        check_meminfo_against_oracle(&text, &rel);
    }
    for (rel, text) in all_fixture_files("loadavg") {
        let naive: Option<[f64; 3]> = (|| {
            let cols: Vec<&str> = text.split_whitespace().collect();
            let (r, t) = cols.get(3)?.split_once('/')?;
            r.parse::<u64>().ok()?;
            t.parse::<u64>().ok()?;
            let mut load = [0.0; 3];
            for (slot, col) in load.iter_mut().zip(&cols) {
                let digits = col.bytes().all(|b| b.is_ascii_digit() || b == b'.');
                *slot = col
                    .parse::<f64>()
                    .ok()
                    .filter(|v| digits && v.is_finite() && *v >= 0.0)?;
            }
            Some(load)
        })();
        match (naive, loadavg::parse(text.as_bytes())) {
            (Some(want), Ok(got)) => {
                for (g, w) in got.load.iter().zip(want) {
                    assert_close(*g, w, &rel);
                }
            }
            (None, Err(_)) => {}
            (naive, fast) => panic!("{rel}: naive {naive:?}, fast {fast:?}"),
        }
    }
}

/// xorshift64*: deterministic, dependency-free randomness for the tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A counter value: mostly modest, sometimes huge, sometimes zero.
    fn counter(&mut self) -> u64 {
        match self.below(4) {
            0 => 0,
            1 => self.next(),
            _ => self.below(10_000_000_000),
        }
    }
    fn spaces(&mut self) -> &'static str {
        [" ", " ", "  ", "\t", "   "][self.below(5) as usize]
    }
}

fn random_stat(rng: &mut Rng) -> String {
    let columns = 4 + rng.below(8) as usize; // 4..=11: a future kernel may add one
    let cores = 1 + rng.below(130) as usize;
    let line = |rng: &mut Rng, label: String| {
        let mut s = label;
        for _ in 0..columns {
            s.push_str(rng.spaces());
            s.push_str(&rng.counter().to_string());
        }
        s.push('\n');
        s
    };
    let mut text = line(rng, "cpu".into());
    let mut id = 0u64;
    for _ in 0..cores {
        id += 1 + rng.below(3) * rng.below(2); // gaps where a core is offline
        text.push_str(&line(rng, format!("cpu{}", id - 1)));
    }
    let extras = [
        "intr 1 2 3 4 5",
        "ctxt 12345",
        "processes 99",
        "procs_running 3",
        "procs_blocked 0",
        "softirq 1 2 3",
        "page 1 2",
        "disk_io: (3,0):(1,2,3,4,5)",
    ];
    for _ in 0..rng.below(6) {
        text.push_str(extras[rng.below(extras.len() as u64) as usize]);
        text.push('\n');
    }
    if rng.below(2) == 0 {
        text.push_str(&format!("btime {}\n", rng.counter()));
    }
    if rng.below(5) == 0 {
        text.pop(); // no final newline
    }
    text
}

fn random_meminfo(rng: &mut Rng) -> String {
    let keys = [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SwapCached",
        "Active",
        "Inactive",
        "Active(file)",
        "Inactive(file)",
        "SwapTotal",
        "SwapFree",
        "Slab",
        "SReclaimable",
        "SUnreclaim",
        "HugePages_Total",
        "Hugepagesize",
        "DirectMap2M",
    ];
    let mut order: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| matches!(*k, "MemTotal" | "MemFree") || rng.below(3) != 0)
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut text = String::new();
    if rng.below(4) == 0 {
        text.push_str("        total:    used:    free:  shared: buffers:  cached:\nMem:  1055760384 1004974080 50786304 0 1 2\n");
    }
    for key in order {
        let value = rng.below(u64::MAX / 1024);
        let value = if rng.below(2) == 0 {
            value % 100_000_000
        } else {
            value
        };
        let unit = if key.starts_with("HugePages_") {
            ""
        } else {
            " kB"
        };
        text.push_str(&format!(
            "{key}:{}{value}{unit}\n",
            " ".repeat(1 + rng.below(12) as usize)
        ));
    }
    text
}

#[test]
fn oracle_agrees_on_random_valid_texts() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let text = random_stat(&mut rng);
        assert!(
            naive_stat(&text).is_some(),
            "generator made an invalid /proc/stat:\n{text}"
        );
        check_stat_against_oracle(&text, &format!("random stat #{round}"));
        let text = random_meminfo(&mut rng);
        assert!(
            naive_meminfo(&text).is_some(),
            "generator made an invalid /proc/meminfo:\n{text}"
        );
        check_meminfo_against_oracle(&text, &format!("random meminfo #{round}"));
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // Bytes drawn mostly from what /proc text is made of, so the parsers get
    // deep before they fail.
    let alphabet: &[&[u8]] = &[
        b"0",
        b"7",
        b"9",
        b"1844674407370955161",
        b" ",
        b"\t",
        b"\n",
        b"cpu",
        b"cpu1",
        b":",
        b"kB",
        b".",
        b"/",
        b"\\",
        b"\\040",
        b"MemTotal",
        b"MemFree",
        b"\xff",
        b"\0",
        b"-",
    ];
    let mut stat_out = Stat::default();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in [
        "basic",
        "synthetic-96core",
        "linux-2.4-4col-1core",
        "mounts-zoo",
    ] {
        for f in ["stat", "meminfo", "loadavg", "uptime", "self/mounts"] {
            if let Ok(bytes) = std::fs::read(fixtures().join(dir).join(f)) {
                seeds.push(bytes);
            }
        }
    }
    for _ in 0..20_000 {
        let buf: Vec<u8> = match rng.below(3) {
            // Random tokens.
            0 => (0..rng.below(200))
                .flat_map(|_| alphabet[rng.below(alphabet.len() as u64) as usize].to_vec())
                .collect(),
            // Raw random bytes.
            1 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            // A real file, cut somewhere and with a few bytes flipped.
            _ => {
                let seed = &seeds[rng.below(seeds.len() as u64) as usize];
                let mut b = seed[..rng.below(seed.len() as u64 + 1) as usize].to_vec();
                for _ in 0..rng.below(4) {
                    if !b.is_empty() {
                        let i = rng.below(b.len() as u64) as usize;
                        b[i] = rng.next() as u8;
                    }
                }
                b
            }
        };
        let _ = stat::parse(&buf, &mut stat_out);
        let _ =
            meminfo::parse(&buf).map(|m| (m.available_bytes(rng.next()), m.buffers_cached_bytes()));
        let _ = loadavg::parse(&buf);
        if let Ok(u) = uptime::parse(&buf) {
            assert!(u.is_finite() && u >= 0.0);
        }
        for entry in mounts::entries(&buf).flatten() {
            let _ = mounts::is_real_filesystem(&entry);
            let _ = mounts::unescape(entry.mount_point);
        }
        let _ = mounts::unescape(&buf);
        if let Ok(l) = loadavg::parse(&buf) {
            assert!(l.load.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        // Arbitrary tick pairs: always in range.
        let a = ticks(std::array::from_fn(|_| rng.counter()));
        let b = ticks(std::array::from_fn(|_| rng.counter()));
        if let Some(p) = cpu::percent(&a, &b) {
            assert_sane(p, "random ticks");
        }
    }
}
