//! Signals sysmon has no use for: SIGUSR1 and SIGUSR2 (a logrotate
//! `postrotate` habit, `kill -USR1`), SIGALRM, SIGVTALRM, SIGPROF, SIGIO,
//! SIGPWR, SIGSTKFLT, SIGXCPU and the real-time signals ended the process
//! by their default action (exit by signal, no history batch written, no
//! `stopped` in the boot log). They are caught, logged (a line a minute
//! per signal at most) and ignored; SIGTERM still stops it cleanly.
use crate::common::*;
use std::time::Duration;

fn stops_cleanly(mut daemon: Daemon) {
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "a clean stop after them\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("stopped", Duration::from_secs(1)));
}

/// Sends `signal` (named `name` in the log) and waits for its `ignored`
/// line; the daemon still answers.
fn is_ignored_and_still_serving(daemon: &Daemon, signal: libc::c_int, name: &str) {
    daemon.signal(signal);
    let wanted = format!("{name} ignored");
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "no `{wanted}` logged\n{}",
        daemon.dump()
    );
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
}

#[test]
fn sigusr1_and_sigusr2_are_logged_and_ignored() {
    let dir = TempDir::new("sigusr");
    let daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    for (signal, name) in [(libc::SIGUSR1, "SIGUSR1"), (libc::SIGUSR2, "SIGUSR2")] {
        is_ignored_and_still_serving(&daemon, signal, name);
    }
    stops_cleanly(daemon);
}

/// Every signal whose default action ends the process and that is no
/// request to stop: the daemon keeps answering, and logs one line for
/// each. The real-time signals from 35 (musl keeps 32 to 34 for itself,
/// glibc 32 and 33) to 64. The build before died of the first (SIGALRM).
#[test]
fn every_signal_that_asks_nothing_is_logged_once_and_ignored() {
    let dir = TempDir::new("sig-others");
    let daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    let named = [
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
        (libc::SIGXCPU, "SIGXCPU"),
    ];
    for (signal, name) in named {
        is_ignored_and_still_serving(&daemon, signal, name);
    }
    for signal in 35..=64 {
        daemon.signal(signal);
        let lines = named.len() + (signal - 34) as usize;
        let logged = wait_for(Duration::from_secs(5), || {
            (daemon.logged(" ignored (") == lines).then_some(())
        });
        assert!(
            logged.is_some(),
            "signal {signal}: not one line each\n{}",
            daemon.dump()
        );
        assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    }
    assert!(daemon.logged("SIGRTMIN+") >= 29, "{}", daemon.dump());
    stops_cleanly(daemon);
}

/// A storm of 10,000 SIGUSR1 is one line (a line a minute at most), not
/// one per loop turn that saw one as in the build before: here 20 bursts
/// of 500, each followed by a request (a turn of the loop), were 20 lines.
#[test]
fn a_storm_of_sigusr1_is_one_line() {
    let dir = TempDir::new("sig-storm");
    let daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    for _ in 0..20 {
        let burst = sh(&format!(
            "i=0; while [ $i -lt 500 ]; do kill -USR1 {} || exit 1; i=$((i+1)); done",
            daemon.pid()
        ));
        assert!(burst.status.success(), "{burst:?}\n{}", daemon.dump());
        assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    }
    // One more turn of the loop after the last signal: all of it seen.
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    let lines = daemon.logged("SIGUSR1 ignored");
    assert!(
        (1..=2).contains(&lines),
        "{lines} lines for one storm\n{}",
        daemon.dump()
    );
    stops_cleanly(daemon);
}

/// The count of a storm's last burst was logged only if the same signal
/// came again a minute later: stopped before that, the daemon said
/// nothing of it. At a clean stop the counts not yet logged are written,
/// a line per signal. A real-time signal, since those are queued (each
/// sent is one arrival; SIGUSR1s sent together may merge into one).
#[test]
fn a_storm_not_yet_logged_is_counted_at_a_clean_stop() {
    let dir = TempDir::new("sig-storm-stop");
    let mut daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    let signal = 40;
    daemon.signal(signal);
    assert!(
        daemon.wait_log(" ignored (", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let burst = sh(&format!(
        "i=0; while [ $i -lt 300 ]; do kill -{signal} {} || exit 1; i=$((i+1)); done",
        daemon.pid()
    ));
    assert!(burst.status.success(), "{burst:?}\n{}", daemon.dump());
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    assert_eq!(daemon.logged(" ignored ("), 1, "within the minute");
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.dump());
    assert!(daemon.wait_log("stopped", Duration::from_secs(1)));
    assert_eq!(daemon.logged(" ignored ("), 2, "{}", daemon.dump());
    assert_eq!(
        daemon.logged(" ignored (x300 since the last line"),
        1,
        "{}",
        daemon.dump()
    );
}
