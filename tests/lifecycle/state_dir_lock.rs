//! One daemon per `state_dir`: a second `sysmon run` on the same one (a
//! `--listen 127.0.0.1:0` tried by hand beside the service) shared
//! `boots.log`, `backup_last.json` and the audit's logs with the first:
//! stopped cleanly, it marked the boot "stopped" while the first ran on,
//! and both ran the boot backup and the audit. The first now holds
//! `state_dir/sysmon.lock` (`flock`) and the second exits 1 at start,
//! naming the state_dir and the first's PID, before it reads or writes any
//! state; once the first has stopped, a new one starts.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_second_daemon_on_the_same_state_dir_exits_naming_the_first() {
    let dir = TempDir::new("state-lock");
    let config = dir.config(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = /\n\
         history_tiers = 3s:1h\n",
    );
    let config = config.to_str().unwrap();
    let mut first = Daemon::start(&["--config", config]);
    assert!(
        first.wait_log("history: ", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    let state = dir.join("state");
    let boots = state.join("boots.log");
    let recorded = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&boots).ok()?;
        text.trim_end().ends_with(" up").then_some(text)
    })
    .unwrap_or_else(|| panic!("the first never recorded its boot\n{}", first.dump()));
    let history_inode = std::fs::metadata(state.join("history.db")).unwrap().ino();

    let mut second = sysmon(&["run", "--listen", "127.0.0.1:0", "--config", config])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while second.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if second.try_wait().unwrap().is_none() {
        // Stopped cleanly, as an admin would: the build before then
        // marked the boot stopped under the first.
        let _ = std::process::Command::new("kill")
            .arg(second.id().to_string())
            .status();
        let out = second.wait_with_output().unwrap();
        panic!(
            "the second ran beside the first on one state_dir\n--- its stderr\n{}\n--- boots.log\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&boots).unwrap_or_default()
        );
    }
    let out = second.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {said}");
    for needed in [
        state.to_str().unwrap(),
        &format!("pid {}", first.pid()),
        "another state_dir",
    ] {
        assert!(said.contains(needed), "no `{needed}` in: {said}");
    }

    // The first's state is as it left it, and it runs on.
    assert_eq!(std::fs::read_to_string(&boots).unwrap(), recorded);
    assert_eq!(
        std::fs::metadata(state.join("history.db")).unwrap().ino(),
        history_inode
    );
    assert_eq!(first.get("/data.json").status, 200, "{}", first.dump());
    let lock = std::fs::metadata(state.join("sysmon.lock")).unwrap();
    assert_eq!(lock.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(state.join("sysmon.lock")).unwrap(),
        format!("{}\n", first.pid())
    );

    // Stopped, it lets the next one start (the lock file stays).
    first.signal(libc::SIGTERM);
    assert_eq!(
        first
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0),
        "{}",
        first.dump()
    );
    let third = Daemon::start(&["--config", config]);
    assert!(
        third.wait_log("points kept)", Duration::from_secs(10)),
        "{}",
        third.dump()
    );
    assert_eq!(third.logged("in use"), 0, "{}", third.dump());
}

/// A SIGHUP whose file moves `state_dir` onto another running daemon's is
/// refused as a second start would be: the daemon keeps its own
/// `state_dir` (and its lock), and the other's boot log is not touched.
#[test]
fn a_reload_onto_another_daemons_state_dir_is_refused() {
    let first_dir = TempDir::new("state-lock-reload-a");
    let first_config =
        first_dir.config("backup = off\nupdate_manager = none\nhistory_tiers = off\n");
    let first = Daemon::start(&["--config", first_config.to_str().unwrap()]);
    let first_state = first_dir.join("state");
    let boots = first_state.join("boots.log");
    let recorded = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&boots).ok()?;
        text.trim_end().ends_with(" up").then_some(text)
    })
    .unwrap_or_else(|| panic!("the first never recorded its boot\n{}", first.dump()));

    let dir = TempDir::new("state-lock-reload-b");
    let config = dir.config("backup = off\nupdate_manager = none\nhistory_tiers = off\n");
    let mut second = Daemon::start(&["--config", config.to_str().unwrap()]);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("state_dir = {}/state", dir.path().display()),
        &format!("state_dir = {}", first_state.display()),
    );
    std::fs::write(&config, text).unwrap();
    second.signal(libc::SIGHUP);
    assert!(
        second.wait_log(
            &format!(
                "SIGHUP: state_dir {}: in use by another sysmon",
                first_state.display()
            ),
            Duration::from_secs(5)
        ),
        "moved onto the first's state_dir\n{}",
        second.dump()
    );
    assert!(second.logged("keeping the running configuration") >= 1);
    assert_eq!(
        second.logged("configuration reloaded"),
        0,
        "{}",
        second.dump()
    );
    // Its own stays locked: a third on it is refused.
    let out = sysmon(&["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.config("backup = off\nupdate_manager = none\nhistory_tiers = off\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Stopped cleanly, it marks only its own state_dir's boot stopped.
    second.signal(libc::SIGTERM);
    assert!(second.wait_exit(Duration::from_secs(10)).is_some());
    assert_eq!(std::fs::read_to_string(&boots).unwrap(), recorded);
    assert_eq!(first.get("/data.json").status, 200);
}
