//! Signals sysmon has no use for: SIGUSR1 and SIGUSR2, which a logrotate
//! `postrotate` habit (`kill -USR1`) sends to daemons to reopen their
//! logs, ended the process by their default action (exit by signal, no
//! history batch written, no `stopped` in the boot log). They are caught,
//! logged and ignored now; SIGTERM still stops it cleanly.
use crate::common::*;
use std::time::Duration;

#[test]
fn sigusr1_and_sigusr2_are_logged_and_ignored() {
    let dir = TempDir::new("sigusr");
    let mut daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    for (signal, name) in [(libc::SIGUSR1, "SIGUSR1"), (libc::SIGUSR2, "SIGUSR2")] {
        daemon.signal(signal);
        let wanted = format!("{name} ignored");
        assert!(
            daemon.wait_log(&wanted, Duration::from_secs(5)),
            "no `{wanted}` logged\n{}",
            daemon.dump()
        );
        assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    }
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
