//! What an idle sample asks of the kernel, counted with `strace` on the
//! loop's thread: sysmon's own open-descriptor count is one `fstat` of the
//! kept-open /proc/self/fd (its size is the count since Linux 6.2), not a
//! getdents listing of it, which was an idle sample's costliest call (147 µs
//! on a cold cache for 145 descriptors, issue #16).
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn an_idle_sample_counts_its_descriptors_without_listing_them() {
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
    let log = dir.join("strace.log");
    // The loop's thread only (no -f): the pid is the main thread's id.
    let mut strace = Command::new("strace")
        .args(["-qq", "-e", "trace=getdents64,fstat,newfstatat,statx", "-o"])
        .arg(&log)
        .args(["-p", &daemon.pid().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace");
    std::thread::sleep(Duration::from_millis(4500));
    // SIGINT: strace detaches and flushes its log.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let calls = |name: &str| text.lines().filter(|l| l.starts_with(name)).count();
    let stats = calls("fstat(") + calls("newfstatat(") + calls("statx(");
    eprintln!(
        "in 4.5 s at 1 s sampling: {stats} stat calls, {} getdents64\n{text}",
        calls("getdents64(")
    );
    assert_eq!(
        calls("getdents64("),
        0,
        "an idle sample listed a directory:\n{text}"
    );
    assert!(
        stats >= 3,
        "the loop sampled without counting its descriptors (or strace saw nothing)\n{text}\n{}",
        daemon.dump()
    );
}
