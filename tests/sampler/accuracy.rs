//! sysmon's figures on this very machine equal the kernel's own files and
//! `df`, read independently by the test at the same moment (the figures of
//! issue #2).
//!
//! A live system drifts between two reads, so each comparison brackets
//! sysmon's reading between the test's own readings taken just before and
//! just after it, and accepts nothing outside that bracket.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use miniserde::json::{Number, Value};
use sysmon::sample::{MountSelection, Sample, Sampler};

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One `Key: N kB` field of /proc/meminfo, in bytes, read with plain std.
fn meminfo_bytes(text: &str, key: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/meminfo"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols.get(2), Some(&"kB"), "{line}");
    cols[1].parse::<u64>().unwrap() * 1024
}

#[test]
fn memory_matches_proc_meminfo() {
    let mut sampler = Sampler::new(Path::new("/proc"), Path::new("/sys"), MountSelection::Auto);
    let mut sample = Sample::default();
    for round in 0..5 {
        let before = std::fs::read_to_string("/proc/meminfo").unwrap();
        sampler.sample(now_s(), &mut sample);
        let after = std::fs::read_to_string("/proc/meminfo").unwrap();
        let m = &sample.memory;
        assert_eq!(m.total_bytes, meminfo_bytes(&before, "MemTotal"));
        assert_eq!(m.total_bytes, meminfo_bytes(&after, "MemTotal"));
        assert_eq!(m.swap_total_bytes, meminfo_bytes(&before, "SwapTotal"));
        let (a, b) = (
            meminfo_bytes(&before, "MemAvailable"),
            meminfo_bytes(&after, "MemAvailable"),
        );
        assert!(
            (a.min(b)..=a.max(b)).contains(&m.available_bytes),
            "round {round}: sysmon says {} available, /proc/meminfo said {a} before and {b} after",
            m.available_bytes
        );
        assert_eq!(m.used_bytes, m.total_bytes - m.available_bytes);
        let (fa, fb) = (
            meminfo_bytes(&before, "MemFree"),
            meminfo_bytes(&after, "MemFree"),
        );
        assert!(
            (fa.min(fb)..=fa.max(fb)).contains(&m.free_bytes),
            "round {round}: MemFree"
        );
    }
}

fn json_u64(v: &Value, key: &str) -> u64 {
    match v {
        Value::Object(o) => match o.get(key) {
            Some(Value::Number(Number::U64(n))) => *n,
            other => panic!("{key}: {other:?}"),
        },
        _ => panic!("not an object"),
    }
}

fn json_str<'a>(v: &'a Value, key: &str) -> &'a str {
    match v {
        Value::Object(o) => match o.get(key) {
            Some(Value::String(s)) => s,
            other => panic!("{key}: {other:?}"),
        },
        _ => panic!("not an object"),
    }
}

/// sysmon's disks: (mount, device, total, used, available, "N%").
fn sysmon_disks(config: &Path) -> Vec<(String, String, u64, u64, u64, String)> {
    let out = run(sysmon(&["sample", "--config", config.to_str().unwrap()]));
    assert!(out.status.success());
    let data: Value = miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let Value::Object(o) = &data else {
        panic!("not an object")
    };
    let Some(Value::Array(disks)) = o.get("disks") else {
        panic!("no disks array")
    };
    disks
        .iter()
        .map(|d| {
            (
                json_str(d, "mount").to_string(),
                json_str(d, "device").to_string(),
                json_u64(d, "total"),
                json_u64(d, "used"),
                json_u64(d, "available"),
                format!("{}%", json_u64(d, "percent")),
            )
        })
        .collect()
}

/// df's line for the filesystem at `mount`, in the same tuple shape.
fn df(mount: &str) -> (String, String, u64, u64, u64, String) {
    let out = run({
        let mut c = Command::new("df");
        c.args([
            "-B1",
            "--output=source,size,used,avail,pcent,target",
            "--",
            mount,
        ])
        .env("LC_ALL", "C");
        c
    });
    assert!(out.status.success(), "df {mount} failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("df printed no line for {mount}:\n{text}"));
    // The mount point is last and may contain spaces; the rest cannot.
    let mut cols: Vec<&str> = line.split_whitespace().collect();
    let target = cols.split_off(5).join(" ");
    let n = |i: usize| {
        cols[i]
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("df column {i} of {line:?}"))
    };
    (
        target,
        cols[0].to_string(),
        n(1),
        n(2),
        n(3),
        cols[4].to_string(),
    )
}

#[test]
fn disks_match_df() {
    if !have_tool("df", "disk figures are compared with df -B1") {
        return;
    }
    let dir = TempDir::new("accuracy-df");
    // mounts = auto: every real filesystem sysmon finds here.
    let config = dir.config("backup = off\nupdate_manager = none");
    let mut mismatches = Vec::new();
    // Up to 10 tries: on a busy filesystem (CI builds writing) used/avail
    // move between the two reads; an exact match on any try proves the
    // arithmetic, a systematic error never matches.
    for attempt in 0..10 {
        mismatches.clear();
        let disks = sysmon_disks(&config);
        assert!(
            disks.iter().any(|d| d.0 == "/"),
            "sysmon reports no disk for /: {disks:?}"
        );
        for disk in &disks {
            let reference = df(&disk.0);
            if *disk != reference {
                mismatches.push(format!("sysmon {disk:?}\n    df {reference:?}"));
            }
        }
        if mismatches.is_empty() {
            eprintln!(
                "attempt {attempt}: {} disk(s) identical to df: {disks:?}",
                disks.len()
            );
            break;
        }
        eprintln!("attempt {attempt}: differences:\n{}", mismatches.join("\n"));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        mismatches.is_empty(),
        "sysmon and df disagree on every try:\n{}",
        mismatches.join("\n")
    );
}

/// A core's (or the machine's) busy and total ticks from a /proc/stat line,
/// counted the way the issue defines CPU %: guest/guest_nice are inside
/// user/nice; idle and iowait are not busy.
#[derive(Clone, Copy, Debug, Default)]
struct Ticks {
    busy: u64,
    total: u64,
}

fn read_stat() -> Vec<(String, Ticks)> {
    let text = std::fs::read_to_string("/proc/stat").unwrap();
    text.lines()
        .filter(|l| l.starts_with("cpu"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let v: Vec<u64> = cols[1..]
                .iter()
                .map(|c| c.parse().unwrap())
                .chain(std::iter::repeat(0))
                .take(8)
                .collect();
            let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
            (
                cols[0].to_string(),
                Ticks {
                    busy,
                    total: busy + v[3] + v[4],
                },
            )
        })
        .collect()
}

fn find(stat: &[(String, Ticks)], label: &str) -> Option<Ticks> {
    stat.iter().find(|(l, _)| l == label).map(|(_, t)| *t)
}

#[test]
fn cpu_percent_lies_within_an_independent_reference() {
    let mut sampler = Sampler::new(Path::new("/proc"), Path::new("/sys"), MountSelection::Auto);
    let mut sample = Sample::default();
    let r0 = read_stat();
    sampler.sample(now_s(), &mut sample);
    let r1 = read_stat();
    let mut spinner = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let r2 = read_stat();
    sampler.sample(now_s(), &mut sample);
    let r3 = read_stat();
    spinner.kill().unwrap();
    spinner.wait().unwrap();

    // sysmon's window starts between r0 and r1 and ends between r2 and r3.
    // Counters only grow, so its busy ticks are at least r2-r1's and at most
    // r3-r0's, and likewise its total: busy% lies in
    // [busy(r1..r2) / total(r0..r3), busy(r0..r3) / total(r1..r2)].
    let bracket = |label: &str| -> Option<(f64, f64)> {
        let [a, b, c, d] = [&r0, &r1, &r2, &r3].map(|r| find(r, label));
        let (a, b, c, d) = (a?, b?, c?, d?);
        let inner = Ticks {
            busy: c.busy - b.busy,
            total: c.total - b.total,
        };
        let outer = Ticks {
            busy: d.busy - a.busy,
            total: d.total - a.total,
        };
        assert!(inner.total > 0, "{label}: no tick in 0.5 s");
        let low = inner.busy as f64 * 100.0 / outer.total as f64;
        let high = (outer.busy as f64 * 100.0 / inner.total as f64).min(100.0);
        Some((low, high))
    };
    let (low, high) = bracket("cpu").unwrap();
    eprintln!(
        "total: sysmon {:.3} %, reference [{low:.3}, {high:.3}]",
        sample.cpu.busy
    );
    assert!(
        (low - 1e-9..=high + 1e-9).contains(&sample.cpu.busy),
        "total {} not in [{low}, {high}]",
        sample.cpu.busy
    );
    assert!(!sample.cores.is_empty());
    for core in &sample.cores {
        let label = format!("cpu{}", core.id);
        let (low, high) =
            bracket(&label).unwrap_or_else(|| panic!("{label} came or went during the test"));
        eprintln!(
            "{label}: sysmon {:.3} %, reference [{low:.3}, {high:.3}]",
            core.percent.busy
        );
        assert!(
            (low - 1e-9..=high + 1e-9).contains(&core.percent.busy),
            "{label} {} not in [{low}, {high}]",
            core.percent.busy
        );
    }
    // The same cores, in the kernel's order.
    let kernel_cores: Vec<String> = r3
        .iter()
        .map(|(l, _)| l.clone())
        .filter(|l| l != "cpu")
        .collect();
    let sysmon_cores: Vec<String> = sample
        .cores
        .iter()
        .map(|c| format!("cpu{}", c.id))
        .collect();
    assert_eq!(sysmon_cores, kernel_cores);
}
