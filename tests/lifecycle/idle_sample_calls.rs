//! What an idle sample asks of the kernel, counted with `strace` on the
//! loop's thread (issue #16):
//! - sysmon's own footprint (/proc/self/stat and its open-descriptor
//!   count) is read only when an answer shows it, at most once per sample:
//!   an idle daemon never reads it;
//! - the count is one `fstat` of the kept-open /proc/self/fd (its size is
//!   the count since Linux 6.2), not a getdents listing of it, which was an
//!   idle sample's costliest call (147 µs on a cold cache for 145
//!   descriptors);
//! - a file the kernel lacks (pressure, net/dev, diskstats) is tried once,
//!   then left alone for a minute, not looked for at every sample.
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The loop thread's calls among `calls` over `seconds`, with descriptors
/// shown as paths (`-y`), while `during` runs (every 250 ms).
fn traced(pid: i32, log: &std::path::Path, seconds: f64, mut during: impl FnMut()) -> String {
    // The loop's thread only (no -f): the pid is the main thread's id.
    let mut strace = Command::new("strace")
        .args(["-qq", "-y", "-e"])
        .arg("trace=getdents64,fstat,newfstatat,statx,pread64")
        .arg("-o")
        .arg(log)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace");
    // strace attaches in a few ms; what it misses at the start is only
    // fewer calls counted.
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        during();
        std::thread::sleep(Duration::from_millis(250));
    }
    // SIGINT: strace detaches and flushes its log.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn own_figures_are_read_only_when_asked_and_counted_without_a_listing() {
    if !have_tool("strace", "the system calls of an idle sample") {
        return;
    }
    let size = std::fs::metadata("/proc/self/fd").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.size()
    });
    if !size.is_ok_and(|s| s > 0) {
        eprintln!(
            "SKIPPED: st_size of /proc/self/fd is 0 on this kernel (before 6.2): \
             sysmon lists the directory there, as it must"
        );
        return;
    }
    let dir = TempDir::new("idle-sample-calls");
    // Nothing but the samples: no services, no top processes, no history
    // file (each lists a directory of its own when it runs).
    let daemon = Daemon::on_fixture(
        &dir,
        "interval = 1s\nhistory_tiers = off\nservices = off\ntop_processes = 0\n",
    );
    std::thread::sleep(Duration::from_millis(1500));
    let pid = daemon.pid();
    let own_stat = format!("</proc/{pid}/stat>");
    let count = |text: &str, what: &dyn Fn(&str) -> bool| text.lines().filter(|l| what(l)).count();
    // strace -y shows the fixture's real path (`basic` is a link).
    let fixture_stat = format!(
        "{}/stat>",
        std::fs::canonicalize(fixture("proc/basic"))
            .unwrap()
            .display()
    );
    let samples = |text: &str| count(text, &|l| l.contains(&fixture_stat));
    let own_reads = |text: &str| count(text, &|l| l.contains(&own_stat));
    let is_stat = |l: &str| {
        l.starts_with("fstat(") || l.starts_with("newfstatat(") || l.starts_with("statx(")
    };
    let stats = |text: &str| count(text, &|l| is_stat(l));
    // The count of descriptors: a stat of the kept /proc/PID/fd.
    let own_fd_dir = format!("</proc/{pid}/fd>");
    let fd_counts = |text: &str| count(text, &|l| is_stat(l) && l.contains(&own_fd_dir));
    // Every other stat is the regular-file check of a file opened on first
    // use (own stat, pressure): once per file, whenever strace caught the
    // first request.
    let stats_twice_of_one_file = |text: &str| {
        let mut seen = std::collections::HashSet::new();
        text.lines()
            .filter(|l| is_stat(l) && !l.contains(&own_fd_dir))
            .filter_map(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_string()))
            .filter(|path| !seen.insert(path.clone()))
            .collect::<Vec<_>>()
    };
    let listings = |text: &str| count(text, &|l| l.starts_with("getdents64("));

    let idle = traced(pid, &dir.join("idle.log"), 3.5, || {});
    eprintln!("idle, 3.5 s at 1 s sampling:\n{idle}");
    assert!(
        samples(&idle) >= 2,
        "no samples seen (or strace saw nothing):\n{idle}\n{}",
        daemon.dump()
    );
    assert_eq!(
        (own_reads(&idle), stats(&idle), listings(&idle)),
        (0, 0, 0),
        "an idle sample read its own figures ({own_stat}, fstat, getdents64):\n{idle}"
    );

    let asked = traced(pid, &dir.join("asked.log"), 4.5, || {
        assert_eq!(daemon.get("/data.json").status, 200);
    });
    eprintln!("/data.json every 250 ms, 4.5 s at 1 s sampling:\n{asked}");
    let (n, own, counted) = (samples(&asked), own_reads(&asked), fd_counts(&asked));
    assert_eq!(
        stats_twice_of_one_file(&asked),
        Vec::<String>::new(),
        "a file other than /proc/{pid}/fd was stat'ed twice (opened again?):\n{asked}"
    );
    assert_eq!(listings(&asked), 0, "descriptors listed:\n{asked}");
    assert!(
        own >= 3 && counted >= 3,
        "{own} reads of {own_stat} and {counted} stat calls of {own_fd_dir} for {n} samples:\n{asked}"
    );
    // 18 requests, but one reading per sample (and the start-up sample's
    // if the first request came before the next sample).
    assert!(
        own <= n + 1 && counted <= n + 1,
        "{own} reads of {own_stat} and {counted} stat calls of {own_fd_dir} for {n} samples:\n{asked}"
    );
}

/// A kernel without PSI, /proc/net/dev or /proc/diskstats (the Linux 3.2
/// fixture has none of them): the sampler tries each such file once and
/// then leaves it alone for a minute (`RECHECK_ABSENT`), instead of a
/// failed `openat` (2–4 µs each) at every sample and every answer.
#[test]
fn files_the_kernel_lacks_are_not_looked_for_at_every_sample() {
    if !have_tool("strace", "the system calls of a sample") {
        return;
    }
    let dir = TempDir::new("absent-files");
    let root = fixture("proc/linux-3.2-1core-estimate-odd");
    let daemon = Daemon::on_roots(
        &dir,
        &root,
        None,
        "interval = 1s\nhistory_tiers = off\nservices = off\ntop_processes = 0\n",
    );
    // The first answer asks for pressure too, before strace attaches.
    assert_eq!(daemon.get("/data.json").status, 200);
    let pid = daemon.pid();
    let mut strace = Command::new("strace")
        .args(["-qq", "-e", "trace=openat,pread64", "-o"])
        .arg(dir.join("absent.log"))
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace");
    let mut answers = 0;
    let end = Instant::now() + Duration::from_secs_f64(4.5);
    while Instant::now() < end {
        let data = daemon.data();
        let absent = |path: &[&str]| match field(&data, path) {
            Some(miniserde::json::Value::Null) => true,
            Some(miniserde::json::Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        assert!(
            absent(&["pressure", "cpu_some_avg10"])
                && absent(&["pressure", "io_full_avg10"])
                && absent(&["network"])
                && absent(&["disk_io"]),
            "the absent sources show as absent:\n{}",
            daemon.get("/data.json").body_text()
        );
        answers += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let log = std::fs::read_to_string(dir.join("absent.log")).unwrap_or_default();
    eprintln!("{answers} answers, 4.5 s at 1 s sampling:\n{log}");
    // Each sample reads the fixture's stat (pread of a kept descriptor).
    let samples = log
        .lines()
        .filter(|l| l.starts_with("pread64(") && l.contains("cpu "))
        .count();
    assert!(samples >= 3, "{samples} samples seen:\n{log}");
    let looked_for = |rel: &str| {
        log.lines()
            .filter(|l| l.starts_with("openat(") && l.contains(rel))
            .count()
    };
    let tries: Vec<(&str, usize)> = ["pressure/", "net/dev", "diskstats"]
        .into_iter()
        .map(|rel| (rel, looked_for(rel)))
        .collect();
    assert!(
        tries.iter().all(|&(_, n)| n == 0),
        "absent files opened again within a minute over {samples} samples and {answers} \
         answers: {tries:?}\n{log}"
    );
}
