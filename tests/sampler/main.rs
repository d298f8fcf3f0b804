//! The sampler's figures are right: the /proc parsers, `cpu::percent` and
//! the `Sampler` against hand-worked answers on recorded fixtures, the fast
//! parsers against a naive oracle, and the live daemon against the kernel's
//! own files on this machine.
#[path = "../common/mod.rs"]
mod common;

mod accuracy; // live figures against /proc/meminfo, df and raw /proc/stat
mod mounts_live; // a mount made while the daemon runs shows up; one whose statvfs hangs does not stop it
mod oracle; // fast parsers against a naive oracle; random bytes
mod parsers; // each /proc parser and cpu::percent: hand-worked answers
mod roots; // the Sampler over whole fixture roots
mod top_processes; // the top processes: fixture trees with vanishing and reused pids

// Reading the recorded /proc fixtures, shared by parsers, roots and oracle.

use std::path::PathBuf;

use sysmon::proc::stat::{self, CpuTicks, Stat};
use sysmon::sample::cpu::CpuPercent;

/// These tests are about /proc: an absent sysfs leaves the /sys sources out.
const NO_SYS_PATH: &str = "/nonexistent-sysfs";

const KIB: u64 = 1024;

fn fixtures() -> PathBuf {
    crate::common::fixture("proc")
}

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_stat(rel: &str) -> Stat {
    let mut out = Stat::default();
    stat::parse(&read(rel), &mut out).unwrap_or_else(|e| panic!("{rel}: {e}"));
    out
}

fn ticks(v: [u64; 10]) -> CpuTicks {
    let [
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    ] = v;
    CpuTicks {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    }
}

#[track_caller]
fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        got.is_finite() && (got - want).abs() < 1e-9,
        "{what}: got {got}, want {want}"
    );
}

#[track_caller]
fn assert_percent(got: CpuPercent, busy: f64, iowait: f64, steal: f64, what: &str) {
    assert_close(got.busy, busy, &format!("{what} busy"));
    assert_close(got.iowait, iowait, &format!("{what} iowait"));
    assert_close(got.steal, steal, &format!("{what} steal"));
}

#[track_caller]
fn assert_sane(p: CpuPercent, what: &str) {
    for (name, v) in [("busy", p.busy), ("iowait", p.iowait), ("steal", p.steal)] {
        assert!(
            v.is_finite() && (0.0..=100.0).contains(&v),
            "{what} {name} = {v}"
        );
    }
}

/// The files of fixture dir `dir` named `prefix` or `prefix.N`, sorted.
fn files_in(dir: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n == prefix || n.starts_with(&format!("{prefix}.")))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}
