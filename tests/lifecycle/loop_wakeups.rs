//! The idle loop sleeps until its next deadline: it wakes once per due
//! deadline (a sample, here), not on a timer, and a signal still reaches it
//! at once however far away the next deadline is. Counted, not timed: the
//! loop thread's voluntary context switches (each sleep that ended) over a
//! window. Issue #16 measured 151 per 30 s (a wake every 200 ms) before.
use crate::common::*;
use miniserde::json::Value;
use std::time::{Duration, Instant};

/// Voluntary context switches of the daemon's main thread (the loop).
fn loop_wakeups(pid: i32) -> u64 {
    let path = format!("/proc/{pid}/task/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no voluntary_ctxt_switches in {path}"))
}

#[test]
fn the_idle_loop_wakes_once_per_due_deadline() {
    let dir = TempDir::new("wakeups");
    // Without the history file: its page writes (a batch every 4 steps of
    // the finest tier, 4 minutes apart by default) block in write and
    // fdatasync, and each block is a voluntary switch too, so a batch
    // falling inside the window would count as wake-ups that are not (the
    // bench measures the file).
    let daemon = Daemon::on_fixture(&dir, "interval = 1s\nhistory_tiers = off");
    let (woke, elapsed) = settled_wakeups_over_10_s(&daemon);
    // One sample per second is due; allow one more for the window's edges
    // and one for a stray wake (a signal or a scheduler quirk).
    let due = elapsed.ceil() as u64;
    eprintln!("loop woke {woke} times in {elapsed:.1} s with {due} samples due");
    assert!(
        woke <= due + 2,
        "the idle loop woke {woke} times in {elapsed:.1} s, with {due} deadlines due\n{}",
        daemon.dump()
    );
    // And it did sample: the loop is asleep, not stuck.
    assert!(woke >= due.saturating_sub(2), "woke only {woke} times");
}

/// Periodic work whose period is a multiple of the interval shares the
/// samples' wake-ups (`src/period.rs`). Before, the services' reading (its
/// deadline set from the turn's `now`, a little after the sample's) woke
/// the loop again microseconds after each sample it fell on: 15 wake-ups a
/// minute for 12 samples at the defaults; here 10 more in 10 s at a reading per sample.
#[test]
fn periodic_readings_ride_on_the_samples() {
    let dir = TempDir::new("wakeups-periodic");
    let runit = dir.join("service");
    std::fs::create_dir_all(runit.join("idle")).unwrap();
    let daemon = Daemon::on_fixture(
        &dir,
        &format!(
            "interval = 1s\nhistory_tiers = off\nservices = runit\n\
             services_runit_dir = {}\nservices_every = 1s\n",
            runit.display()
        ),
    );
    let (woke, elapsed) = settled_wakeups_over_10_s(&daemon);
    let due = elapsed.ceil() as u64;
    eprintln!(
        "loop woke {woke} times in {elapsed:.1} s with {due} samples due, services every second"
    );
    assert!(
        woke <= due + 2,
        "the idle loop woke {woke} times in {elapsed:.1} s for {due} samples: the services' \
         reading every second took wake-ups of its own\n{}",
        daemon.dump()
    );
    // And the services were read all along: the last reading is recent.
    let data = daemon.data();
    let polled_at = match &data {
        Value::Object(top) => match top.get("services") {
            Some(Value::Object(services)) => match services.get("polled_at") {
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
    .and_then(|n| n.parse::<u64>().ok())
    .unwrap_or_else(|| panic!("no services.polled_at\n{}", daemon.dump()));
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        polled_at + 4 >= now_s,
        "services last read at {polled_at}, now {now_s}\n{}",
        daemon.dump()
    );
}

/// Each idle wake-up is one `epoll_wait` that timed out, not that and a
/// second one with a zero timeout: the vendored server's `recv_timeout`
/// turned its reactor again after a timed-out wait before it looked at
/// the deadline (tiny_http +sysmon.5, PATCHES.md). Counted with strace on
/// the loop's thread over 5 s of one sample a second.
#[test]
fn an_idle_wake_up_waits_in_epoll_once() {
    if !have_tool("strace", "counting the loop's epoll_wait calls") {
        return;
    }
    let dir = TempDir::new("wakeups-epoll");
    let daemon = Daemon::on_fixture(&dir, "interval = 1s\nhistory_tiers = off");
    std::thread::sleep(Duration::from_millis(1500));
    let log = dir.join("strace.log");
    let mut strace = std::process::Command::new("strace")
        .args([
            "-qq",
            "-e",
            "trace=epoll_wait,epoll_pwait,epoll_pwait2",
            "-o",
        ])
        .arg(&log)
        .args(["-p", &daemon.pid().to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace starts");
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    // SIGINT: strace detaches and leaves the daemon running.
    let _ = std::process::Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let elapsed = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let waits = text.lines().filter(|l| l.contains("epoll_")).count() as u64;
    let due = elapsed.ceil() as u64;
    eprintln!("{waits} epoll waits in {elapsed:.1} s, {due} samples due");
    assert!(
        waits >= due.saturating_sub(2),
        "strace saw only {waits} waits: was it attached?\n{text}"
    );
    assert!(
        waits <= due + 2,
        "{waits} epoll waits in {elapsed:.1} s for {due} wake-ups: more than one per wake-up\n{text}\n{}",
        daemon.dump()
    );
}

#[test]
fn signals_reach_a_loop_whose_next_deadline_is_an_hour_away() {
    let dir = TempDir::new("wake-signals");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1h");
    let mut daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(3)),
        "SIGHUP was not seen while the loop slept\n{}",
        daemon.dump()
    );
    daemon.signal(15);
    let status = daemon.wait_exit(Duration::from_secs(3));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM did not end a sleeping loop: {status:?}\n{}",
        daemon.dump()
    );
}

/// The loop thread's wake-ups over 10 s, counted after 1.5 s for start-up
/// (first sample, thread starts) to settle, and the window's length in s.
fn settled_wakeups_over_10_s(daemon: &Daemon) -> (u64, f64) {
    std::thread::sleep(Duration::from_millis(1500));
    let before = loop_wakeups(daemon.pid());
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let woke = loop_wakeups(daemon.pid()) - before;
    (woke, started.elapsed().as_secs_f64())
}
