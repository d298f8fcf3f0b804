//! The history file's own lock. Two daemons on one `state_dir` both
//! opened `history.db` and wrote their batches over each other's pages;
//! a second daemon is now refused at start (`state_dir/sysmon.lock`,
//! `tests/lifecycle/state_dir_lock.rs`), and the file keeps its `flock`
//! as well: whoever holds it (here the test), the daemon logs that it is
//! in use and runs without it, the file neither set aside nor replaced,
//! and tries again later (every 10 minutes; here shortened): a failure to
//! open the file (held, a full disk at boot, no descriptors left) left the
//! whole uptime without long history.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::common::*;
use crate::{TIERS, start};

#[test]
fn a_held_history_file_is_left_alone_and_taken_up_once_released() {
    let dir = TempDir::new("history-held");
    let mut first = start(&dir);
    assert!(
        first.wait_log("history: ", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());
    let db = dir.join("state/history.db");
    let inode = std::fs::metadata(&db).unwrap().ino();
    let holder = std::fs::File::open(&db).unwrap();
    // SAFETY: flock on a descriptor `holder` keeps open.
    let locked = unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0);

    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = /\n{TIERS}"
    ));
    let daemon = Daemon::start_with(&["--config", config.to_str().unwrap()], |cmd| {
        cmd.env("SYSMON_TEST_HISTORY_RETRY_MS", "500");
    });
    assert!(
        daemon.wait_log("in use by another sysmon", Duration::from_secs(10)),
        "the daemon opened a held file\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("running without the history file", Duration::from_secs(1)));
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    assert_eq!(std::fs::metadata(&db).unwrap().ino(), inode, "same file");

    drop(holder);
    assert!(
        daemon.wait_log("points kept)", Duration::from_secs(10)),
        "the daemon never took the file up\n{}",
        daemon.dump()
    );
    assert_eq!(std::fs::metadata(&db).unwrap().ino(), inode, "same file");
    let range = daemon.get("/history.json?range=1h");
    assert!(
        range.body_text().contains("\"written_end\""),
        "{}",
        range.body_text()
    );
}
