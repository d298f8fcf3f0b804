//! The loop's thread asks for a short scheduler slice (issue #16, the
//! busy-box tail): on Linux ≥ 6.12 (EEVDF) `/proc/PID/sched` shows
//! `se.slice` at `LOOP_SLICE` (100 µs) for the loop's thread, set by the
//! daemon itself as an unprivileged user, with reset-on-fork so that the
//! threads and children it starts get the default back. Before, the loop
//! ran at the base slice (0.75 ms × (1 + log2 CPUs): 1.4 ms on 2 CPUs).
use crate::common::*;
use std::time::Duration;

/// The slice the daemon asks for, in ns (`daemon::LOOP_SLICE`).
const LOOP_SLICE_NS: u64 = 100_000;

/// `se.slice` in `/proc/PID/task/TID/sched`, or None where the kernel
/// shows none.
fn slice_ns(pid: i32, tid: i32) -> Option<u64> {
    let path = format!("/proc/{pid}/task/{tid}/sched");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("se.slice"))
        .and_then(|rest| rest.trim_start_matches([' ', ':']).trim().parse().ok())
}

/// Linux ≥ 6.12: where `sched_setattr` takes a fair thread's slice.
fn kernel_has_custom_slices() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 12)
}

/// `SCHED_FLAG_RESET_ON_FORK` in the thread's `sched_getattr` flags.
fn resets_on_fork(tid: i32) -> bool {
    // struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes): the flags are
    // the u64 at byte 8.
    let mut attr = [0u64; 7];
    // SAFETY: sched_getattr writes at most 56 bytes (the size passed) into
    // `attr`, which is 56 bytes and ours.
    let rc = unsafe { libc::syscall(libc::SYS_sched_getattr, tid, attr.as_mut_ptr(), 56u32, 0u32) };
    assert_eq!(
        rc,
        0,
        "sched_getattr({tid}): {}",
        std::io::Error::last_os_error()
    );
    attr[1] & 1 == 1
}

#[test]
fn the_loop_runs_with_a_short_slice_that_its_children_do_not_inherit() {
    if !kernel_has_custom_slices() {
        eprintln!(
            "SKIPPED: the loop's scheduler slice: this kernel ({}) is older than 6.12, \
             which ignores a fair thread's sched_runtime",
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
        );
        return;
    }
    let dir = TempDir::new("slice");
    let config = dir.config("backup = off\nupdate_manager = none\n");
    // As nobody when we are root: a normal user may set its own slice.
    let Some(daemon) = Daemon::start_unprivileged(&["--config", config.to_str().unwrap()]) else {
        return; // SKIPPED printed
    };
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    let pid = daemon.pid();
    let Some(loop_slice) = slice_ns(pid, pid) else {
        eprintln!("SKIPPED: the loop's scheduler slice: /proc/{pid}/sched shows no se.slice");
        return;
    };
    assert_eq!(
        loop_slice,
        LOOP_SLICE_NS,
        "the loop's thread runs at the default slice\n{}",
        daemon.dump()
    );
    assert!(
        resets_on_fork(pid),
        "the slice is set without SCHED_FLAG_RESET_ON_FORK: children would inherit it"
    );
    // The signal thread was started before and keeps the default.
    let threads: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for tid in threads.iter().filter(|&&t| t != pid) {
        assert_ne!(slice_ns(pid, *tid), Some(LOOP_SLICE_NS), "thread {tid}");
    }
    // Nothing about it is worth a log line on a kernel that takes it.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !daemon.dump().contains("scheduler slice"),
        "{}",
        daemon.dump()
    );
}
