//! Two daemons on one `state_dir` (a `sysmon run --listen 127.0.0.1:0`
//! tried by hand beside the service, which the README suggests for a
//! free port): the build before let both open `history.db` and write
//! their batches over each other's pages. The file is `flock`ed by the
//! first; the second logs that it is in use and runs without it, and the
//! first's file is neither set aside nor replaced. It tries again later
//! (every 10 minutes; here shortened): a failure to open the file (held,
//! a full disk at boot, no descriptors left) left the whole uptime
//! without long history.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::common::*;
use crate::{TIERS, start};

#[test]
fn a_second_daemon_on_the_same_state_dir_leaves_the_history_file_alone() {
    let dir = TempDir::new("history-second");
    let first = start(&dir);
    assert!(
        first.wait_log("history: ", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    let db = dir.join("state/history.db");
    let inode = std::fs::metadata(&db).unwrap().ino();
    let second = start(&dir);
    assert!(
        second.wait_log("in use by another sysmon", Duration::from_secs(10)),
        "the second opened the first's file\n{}",
        second.dump()
    );
    assert!(second.wait_log("running without the history file", Duration::from_secs(1)));
    assert_eq!(second.get("/data.json").status, 200, "{}", second.dump());
    assert_eq!(std::fs::metadata(&db).unwrap().ino(), inode, "same file");
    assert_eq!(first.logged("history: "), 1, "{}", first.dump());
    assert_eq!(first.get("/history.json?range=1h").status, 200);
}

#[test]
fn the_second_takes_the_history_file_up_once_the_first_has_stopped() {
    let dir = TempDir::new("history-second-retry");
    let mut first = start(&dir);
    assert!(
        first.wait_log("history: ", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = /\n{TIERS}"
    ));
    let second = Daemon::start_with(&["--config", config.to_str().unwrap()], |cmd| {
        cmd.env("SYSMON_TEST_HISTORY_RETRY_MS", "500");
    });
    assert!(
        second.wait_log("in use by another sysmon", Duration::from_secs(10)),
        "{}",
        second.dump()
    );
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        second.wait_log("points kept)", Duration::from_secs(10)),
        "the second never took the file up\n{}",
        second.dump()
    );
    let range = second.get("/history.json?range=1h");
    assert!(
        range.body_text().contains("\"written_end\""),
        "{}",
        range.body_text()
    );
}
