//! The top processes over a fixture /proc tree (tests/fixtures/proc/
//! top-processes, see its SOURCE) read by the real `Sampler` on a fake
//! clock: names with spaces and parentheses, kernel threads, processes
//! that vanish mid-read, a reused pid, and CPU shares that stay within
//! 0..=cores × 100 whatever the ticks say.
use std::path::Path;
use std::time::{Duration, Instant};

use sysmon::sample::{MountSelection, Sample, Sampler, TopProcess};

use crate::common::TempDir;

const PAGE: u64 = 4096;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A stat line as Linux 6.1 prints it (52 fields).
fn stat_line(
    pid: u32,
    comm: &str,
    flags: u64,
    utime: u64,
    stime: u64,
    start: u64,
    rss: u64,
) -> String {
    format!(
        "{pid} ({comm}) S 1 {pid} {pid} 0 -1 {flags} 300 0 0 0 {utime} {stime} 0 0 20 0 1 0 {start} 8888888 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

fn process(
    dir: &Path,
    pid: u32,
    comm: &str,
    utime: u64,
    stime: u64,
    start: u64,
    rss: u64,
    uid: u32,
    cmdline: &[u8],
) {
    let d = dir.join(pid.to_string());
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("stat"),
        stat_line(pid, comm, 4194560, utime, stime, start, rss),
    )
    .unwrap();
    std::fs::write(
        d.join("status"),
        format!(
            "Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("cmdline"), cmdline).unwrap();
}

fn rows(list: &[TopProcess]) -> Vec<(u32, String, String, f64, u64, String)> {
    list.iter()
        .map(|p| {
            (
                p.pid,
                p.name.as_str().to_string(),
                p.user.as_str().to_string(),
                p.cpu_percent,
                p.rss_bytes / PAGE,
                p.command.as_str().to_string(),
            )
        })
        .collect()
}

fn row(
    pid: u32,
    name: &str,
    user: &str,
    cpu: f64,
    pages: u64,
    command: &str,
) -> (u32, String, String, f64, u64, String) {
    (pid, name.into(), user.into(), cpu, pages, command.into())
}

#[test]
fn top_lists_over_a_fixture_tree_with_vanishing_and_reused_pids() {
    if sysmon::sys::clock_ticks_per_second() != 100 || sysmon::sys::page_size() != PAGE {
        println!("SKIPPED: the fixture assumes 100 clock ticks per second and 4 KiB pages");
        return;
    }
    let dir = TempDir::new("top-fixture");
    let proc_root = dir.join("proc");
    copy_tree(&crate::common::fixture("proc/top-processes"), &proc_root);
    let passwd = crate::common::fixture("rootfs/top-processes/etc/passwd");
    let mut sampler = Sampler::new(
        &proc_root,
        Path::new(super::NO_SYS_PATH),
        MountSelection::Auto,
    );
    sampler.set_top_processes(5, &passwd);
    let mut out = Sample::default();
    let t0 = Instant::now();
    sampler.sample_at(t0, 0, &mut out);
    assert_eq!(out.cores.len(), 2);
    assert!(out.top.enabled);
    // No interval yet: nothing ranked by CPU.
    assert_eq!(rows(&out.top.by_cpu), []);
    // 5002 has the largest RSS but exited before its status was read: its
    // row is dropped. 5000 (no stat) and 5001 (stat cut short) are skipped.
    assert_eq!(
        rows(&out.top.by_memory),
        [
            row(6000, "burner", "4321", 0.0, 51200, "burner --hot"),
            row(1, "systemd", "root", 0.0, 3384, "/sbin/init splash"),
            row(900, "(sd-pam)", "alice", 0.0, 1200, "(sd-pam)"),
            row(4242, "a) b", "alice", 0.0, 250, "./a) b --flag"),
        ]
    );
    assert_eq!(out.top.processes, 7, "1 2 900 4242 6000 7000 5002");

    // One second later (uptime 480.76 s):
    let tree = proc_root.as_path();
    std::fs::write(tree.join("uptime"), "480.76 843.00\n").unwrap();
    // +10 ticks: 10 %.
    process(
        tree,
        1,
        "systemd",
        185,
        210,
        8,
        3384,
        0,
        b"/sbin/init\0splash\0",
    );
    // +150 ticks: 150 % (one and a half cores).
    process(
        tree,
        6000,
        "burner",
        550,
        0,
        30000,
        51200,
        4321,
        b"burner\0--hot\0",
    );
    // +500 ticks in 1 s on 2 cores is impossible: capped at 200 %.
    process(
        tree,
        4242,
        "a) b",
        517,
        9,
        20000,
        250,
        1000,
        b"./a) b\0--flag\0",
    );
    // Pid 7000 reused: a new process (started at tick 48000, after the
    // previous reading at 47976) with 30 ticks, fewer than the old one's
    // 100: 30 %, not 0 and not negative.
    process(tree, 7000, "new", 30, 0, 48000, 100, 33, b"new\0");
    // Never seen before, yet started long ago (missed by the previous
    // listing): its 900,000 ticks are not an interval's, so it is not
    // ranked by CPU at all.
    process(tree, 7001, "missed", 900_000, 0, 100, 10, 0, b"missed\0");
    // The kernel thread: +5 ticks, shown as [kthreadd].
    let kthread = stat_line(2, "kthreadd", 2129984, 0, 8, 8, 0);
    std::fs::write(tree.join("2/stat"), kthread).unwrap();
    std::fs::remove_dir_all(tree.join("5002")).unwrap();
    sampler.sample_at(t0 + Duration::from_secs(1), 0, &mut out);
    assert_eq!(
        rows(&out.top.by_cpu),
        [
            row(4242, "a) b", "alice", 200.0, 250, "./a) b --flag"),
            row(6000, "burner", "4321", 150.0, 51200, "burner --hot"),
            row(7000, "new", "www-data", 30.0, 100, "new"),
            row(1, "systemd", "root", 10.0, 3384, "/sbin/init splash"),
            row(2, "kthreadd", "root", 5.0, 0, "[kthreadd]"),
        ]
    );
    let pids: Vec<u32> = out.top.by_memory.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [6000, 1, 900, 4242, 7000]);
    for p in out.top.by_cpu.iter().chain(&out.top.by_memory) {
        assert!((0.0..=200.0).contains(&p.cpu_percent), "{p:?}");
    }

    // Every process gone at once (only stat and uptime left): empty
    // lists, no panic, and no figure carried over.
    for entry in std::fs::read_dir(tree).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    sampler.sample_at(t0 + Duration::from_secs(2), 0, &mut out);
    assert_eq!(
        (
            out.top.by_cpu.len(),
            out.top.by_memory.len(),
            out.top.processes
        ),
        (0, 0, 0)
    );

    // Turned off: empty and disabled.
    sampler.set_top_processes(0, &passwd);
    sampler.sample_at(t0 + Duration::from_secs(3), 0, &mut out);
    assert!(!out.top.enabled && out.top.by_memory.is_empty());
}

/// The live /proc of this machine: over many readings, every share is in
/// 0..=cores × 100 and every row is a process that existed, while
/// processes start and exit around it (this test starts some).
#[test]
fn live_shares_stay_within_the_cores() {
    let mut sampler = Sampler::new(Path::new("/proc"), Path::new("/sys"), MountSelection::Auto);
    sampler.set_top_processes(10, Path::new("/etc/passwd"));
    let mut out = Sample::default();
    let mut churn = Vec::new();
    for round in 0..30 {
        churn.push(std::process::Command::new("true").spawn().unwrap());
        if round % 3 == 0 {
            for mut c in churn.drain(..) {
                let _ = c.wait();
            }
        }
        sampler.sample(round, &mut out);
        let ceiling = 100.0 * out.cores.len() as f64;
        for p in out.top.by_cpu.iter().chain(&out.top.by_memory) {
            assert!(
                p.cpu_percent.is_finite() && (0.0..=ceiling).contains(&p.cpu_percent),
                "{p:?}"
            );
            assert!(!p.command.is_empty() && !p.user.is_empty(), "{p:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!out.top.by_memory.is_empty() && out.top.processes > 1);
    for mut c in churn {
        let _ = c.wait();
    }
}
