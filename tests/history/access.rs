//! `sysmon history` run by a user who may not read the file (it is 0600 in
//! a 0700 state_dir, sysmon's user's): exit 1 and an error that names the
//! file and the fix (run as root or as sysmon's user), not a bare EACCES.

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::{points, served, start};

#[test]
fn an_unprivileged_reader_is_told_how_to_read_the_file() {
    if !is_root("(the file is root's and `sysmon history` runs as nobody)") {
        return;
    }
    if !have_tool("setpriv", "running `sysmon history` as nobody") {
        return;
    }
    let dir = TempDir::new("history-access");
    let mut daemon = start(&dir);
    wait_for(Duration::from_secs(30), || {
        (!points(&served(&daemon), "cpu").is_empty()).then_some(())
    })
    .unwrap_or_else(|| panic!("nothing recorded\n{}", daemon.dump()));
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    // nobody may read the config and reach state_dir, not the file in it.
    let config = dir.join("sysmon.conf");
    let status = Command::new("chmod")
        .args(["755", dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let inner = sysmon(&["history", "--config", config.to_str().unwrap()]);
    let out = run(as_nobody(&inner));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let db = dir.join("state/history.db");
    assert!(
        stderr.contains(&format!("{}: open: Permission denied", db.display())),
        "{stderr}"
    );
    assert!(stderr.contains("sudo sysmon history"), "{stderr}");
    assert!(stderr.contains("sudo -u sysmon"), "{stderr}");
}
