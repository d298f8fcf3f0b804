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

/// The retry tests' directories: each daemon's `state_dir` is
/// `PARENT/state`, where the first's PARENT is `in-the-way`, a file (so its
/// lock cannot be made at start) that a test may later replace by a link
/// to `shared`, the second's.
struct BlockedStateDir {
    dir: TempDir,
    blocked: std::path::PathBuf,
    shared: std::path::PathBuf,
}

impl BlockedStateDir {
    fn new(name: &str) -> Self {
        let dir = TempDir::new(name);
        let blocked = dir.join("in-the-way");
        std::fs::write(&blocked, "a file\n").unwrap();
        let shared = dir.join("shared");
        std::fs::create_dir(&shared).unwrap();
        BlockedStateDir {
            dir,
            blocked,
            shared,
        }
    }

    /// Writes config `name`: state_dir under `parent`, backup and audit
    /// off, `/` sampled every 100 ms, then `extra` lines.
    fn config(&self, name: &str, parent: &std::path::Path, extra: &str) -> std::path::PathBuf {
        let path = self.dir.join(name);
        std::fs::write(
            &path,
            format!(
                "backup_dir = {d}/backups\nlog_dir = {d}/logs\nstate_dir = {p}/state\n\
                 backup = off\nupdate_manager = none\nmounts = /\ninterval = 100ms\n{extra}",
                d = self.dir.path().display(),
                p = parent.display()
            ),
        )
        .unwrap();
        path
    }
}

/// Starts a daemon on `config` (its state_dir under `in-the-way`, so its
/// lock cannot be made) with the retry knobs `env`, once it says it runs
/// without the lock.
fn start_unguarded(config: &std::path::Path, env: &[(&str, &str)]) -> Daemon {
    let daemon = Daemon::start_with(&["--config", config.to_str().unwrap()], |cmd| {
        for (name, value) in env {
            cmd.env(name, value);
        }
    });
    assert!(
        daemon.wait_log(
            "running without the one-daemon-per-state_dir check",
            Duration::from_secs(10)
        ),
        "{}",
        daemon.dump()
    );
    daemon
}

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

/// A daemon that could not make its lock at start (`state_dir` not
/// there yet and not creatable: here a regular file in its way, as a disk
/// not yet mounted at boot leaves none) ran unguarded for its whole
/// uptime. The lock is now tried again at a sample (every 10 minutes,
/// here shortened) and, once taken, refuses a second daemon as at start.
#[test]
fn a_lock_that_could_not_be_made_at_start_is_taken_later() {
    let dir = TempDir::new("state-lock-retry");
    let state = dir.join("state");
    std::fs::write(&state, "in the way\n").unwrap();
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 100ms\nhistory_tiers = off\n",
    );
    let config = config.to_str().unwrap();
    let daemon = Daemon::start_with(&["--config", config], |cmd| {
        cmd.env("SYSMON_TEST_STATE_LOCK_RETRY_MS", "200");
    });
    assert!(
        daemon.wait_log(
            "running without the one-daemon-per-state_dir check",
            Duration::from_secs(10)
        ),
        "{}",
        daemon.dump()
    );
    std::fs::remove_file(&state).unwrap();
    let lock = state.join("sysmon.lock");
    let taken = wait_for(Duration::from_secs(10), || {
        (std::fs::read_to_string(&lock).ok()? == format!("{}\n", daemon.pid())).then_some(())
    });
    assert!(
        taken.is_some(),
        "the lock was never tried again\n{}",
        daemon.dump()
    );
    let out = sysmon(&["run", "--listen", "127.0.0.1:0", "--config", config])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("pid {}", daemon.pid())), "{said}");
}

/// The lock tried again is found held: another sysmon started on the
/// same `state_dir` while this one ran unguarded, and took it. This one
/// says so (an error naming the other's PID, once) and runs on without
/// writing in that `state_dir`: no boot log opened there (its retry
/// would have recorded this boot over the other's record), and no
/// "stopped" written at its stop.
#[test]
fn a_lock_found_held_on_retry_is_an_error_and_the_state_is_left_alone() {
    let dirs = BlockedStateDir::new("state-lock-retry-held");
    // The first's state_dir is `in-the-way/state`, not creatable while
    // `in-the-way` is a file; it becomes the second's once `in-the-way`
    // is a link to the second's parent.
    let (blocked, shared_parent) = (dirs.blocked.clone(), dirs.shared.clone());
    let config_for =
        |name: &str, parent: &std::path::Path| dirs.config(name, parent, "history_tiers = off\n");
    let first_config = config_for("first.conf", &blocked);
    let mut first = start_unguarded(
        &first_config,
        &[
            ("SYSMON_TEST_STATE_LOCK_RETRY_MS", "200"),
            ("SYSMON_TEST_BOOT_LOG_RETRY_MS", "200"),
        ],
    );
    let second_config = config_for("second.conf", &shared_parent);
    let second = Daemon::start(&["--config", second_config.to_str().unwrap()]);
    let boots = shared_parent.join("state/boots.log");
    let recorded = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&boots).ok()?;
        text.trim_end().ends_with(" up").then_some(text)
    })
    .unwrap_or_else(|| panic!("the second never recorded its boot\n{}", second.dump()));

    std::fs::remove_file(&blocked).unwrap();
    std::os::unix::fs::symlink(&shared_parent, &blocked).unwrap();
    let said = format!(
        "in use by another sysmon (pid {} holds sysmon.lock)",
        second.pid()
    );
    assert!(
        first.wait_log(&said, Duration::from_secs(10)),
        "the held lock was not reported\n{}",
        first.dump()
    );
    // Retries of the lock and the boot log would come every 200 ms.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(first.logged(&said), 1, "{}", first.dump());
    assert_eq!(first.logged("boot log: "), 1, "{}", first.dump());
    assert_eq!(std::fs::read_to_string(&boots).unwrap(), recorded);
    assert_eq!(first.get("/data.json").status, 200, "{}", first.dump());
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());
    assert_eq!(std::fs::read_to_string(&boots).unwrap(), recorded);
    assert_eq!(
        std::fs::read_to_string(shared_parent.join("state/sysmon.lock")).unwrap(),
        format!("{}\n", second.pid())
    );
    assert_eq!(second.get("/data.json").status, 200, "{}", second.dump());
}

/// The history file's and the boot log's retries run on timers of their
/// own: one that came due at a sample where the lock's did not opened
/// its file in a `state_dir` that another sysmon had taken meanwhile (its
/// `history.db` made over the other's, whose rename then failed; this
/// boot recorded in the other's `boots.log`). A due retry of either now
/// tries the lock first. Here the lock's own retry is out of reach, the
/// others' 200 ms.
#[test]
fn a_state_file_retry_tries_the_pending_lock_first() {
    let dirs = BlockedStateDir::new("state-lock-retry-first");
    let (blocked, shared_parent) = (dirs.blocked.clone(), dirs.shared.clone());
    let config_for = |name: &str, parent: &std::path::Path| dirs.config(name, parent, "");
    let first_config = config_for("first.conf", &blocked);
    let first = start_unguarded(
        &first_config,
        &[
            ("SYSMON_TEST_STATE_LOCK_RETRY_MS", "600000"),
            ("SYSMON_TEST_BOOT_LOG_RETRY_MS", "200"),
            ("SYSMON_TEST_HISTORY_RETRY_MS", "200"),
        ],
    );
    let second_config = config_for("second.conf", &shared_parent);
    let second = Daemon::start(&["--config", second_config.to_str().unwrap()]);
    let state = shared_parent.join("state");
    let history = format!("history: {}", state.join("history.db").display());
    assert!(
        second.wait_log(&history, Duration::from_secs(10)),
        "{}",
        second.dump()
    );
    let boots = state.join("boots.log");
    let recorded = std::fs::read_to_string(&boots).unwrap();
    std::fs::remove_file(&blocked).unwrap();
    std::os::unix::fs::symlink(&shared_parent, &blocked).unwrap();
    let said = format!(
        "in use by another sysmon (pid {} holds sysmon.lock)",
        second.pid()
    );
    assert!(
        first.wait_log(&said, Duration::from_secs(10)),
        "the lock was not tried at the other retries\n{}",
        first.dump()
    );
    let in_the_way = format!("{}", blocked.join("state/history.db").display());
    assert_eq!(first.logged(&in_the_way), 0, "{}", first.dump());
    assert_eq!(std::fs::read_to_string(&boots).unwrap(), recorded);
    assert_eq!(second.logged("error"), 0, "{}", second.dump());
}

/// A reload that changes `history_tiers` opens the history file at once:
/// while the lock was pending, it did so without it, in a `state_dir`
/// another sysmon may have taken meanwhile (here one with no history
/// file of its own: `history.db` was made in its `state_dir`). The
/// pending lock is now tried first, as before any opening.
#[test]
fn a_reload_of_history_tiers_tries_the_pending_lock_first() {
    let dirs = BlockedStateDir::new("state-lock-retry-reload");
    let (blocked, shared_parent) = (dirs.blocked.clone(), dirs.shared.clone());
    let config_for = |name: &str, parent: &std::path::Path, tiers: &str| {
        dirs.config(name, parent, &format!("history_tiers = {tiers}\n"))
    };
    let first_config = config_for("first.conf", &blocked, "1m:2d");
    let first = Daemon::start_with(&["--config", first_config.to_str().unwrap()], |cmd| {
        cmd.env("SYSMON_TEST_STATE_LOCK_RETRY_MS", "600000")
            .env("SYSMON_TEST_BOOT_LOG_RETRY_MS", "600000")
            .env("SYSMON_TEST_HISTORY_RETRY_MS", "600000");
    });
    assert!(
        first.wait_log("error: history: ", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    let second_config = config_for("second.conf", &shared_parent, "off");
    let second = Daemon::start(&["--config", second_config.to_str().unwrap()]);
    let state = shared_parent.join("state");
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(
            state.join("sysmon.lock")
        )
        .ok()
        .filter(|pid| *pid == format!("{}\n", second.pid())))
        .is_some(),
        "{}",
        second.dump()
    );
    std::fs::remove_file(&blocked).unwrap();
    std::os::unix::fs::symlink(&shared_parent, &blocked).unwrap();
    config_for("first.conf", &blocked, "1m:1d");
    first.signal(libc::SIGHUP);
    assert!(
        first.wait_log("SIGHUP: configuration reloaded", Duration::from_secs(10)),
        "{}",
        first.dump()
    );
    let said = format!(
        "in use by another sysmon (pid {} holds sysmon.lock)",
        second.pid()
    );
    assert_eq!(
        first.logged(&said),
        1,
        "the lock was not tried\n{}",
        first.dump()
    );
    assert!(
        !state.join("history.db").exists(),
        "history.db made in the other's state_dir\n{}",
        first.dump()
    );
}

/// The lock found held on retry was never tried again: once the other
/// sysmon stopped, this one ran on for its whole uptime with no history
/// file and no boot log, and no daemon kept the `state_dir` (a crash of
/// the machine then went unseen by the next start's unclean-end check).
/// It is now tried again every 10 minutes (here shortened) while held,
/// said once, and taken when its holder lets go: the history file and
/// boot log are opened again there at once.
#[test]
fn a_lock_held_elsewhere_is_taken_when_its_holder_stops() {
    let dirs = BlockedStateDir::new("state-lock-retry-released");
    let (blocked, shared_parent) = (dirs.blocked.clone(), dirs.shared.clone());
    let config_for = |name: &str, parent: &std::path::Path| dirs.config(name, parent, "");
    let first_config = config_for("first.conf", &blocked);
    let mut first = start_unguarded(
        &first_config,
        &[
            ("SYSMON_TEST_STATE_LOCK_RETRY_MS", "200"),
            ("SYSMON_TEST_BOOT_LOG_RETRY_MS", "200"),
            ("SYSMON_TEST_HISTORY_RETRY_MS", "200"),
        ],
    );
    let second_config = config_for("second.conf", &shared_parent);
    let mut second = Daemon::start(&["--config", second_config.to_str().unwrap()]);
    let state = shared_parent.join("state");
    let boots = state.join("boots.log");
    assert!(
        wait_for(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(&boots).ok()?;
            text.trim_end().ends_with(" up").then_some(())
        })
        .is_some(),
        "the second never recorded its boot\n{}",
        second.dump()
    );
    std::fs::remove_file(&blocked).unwrap();
    std::os::unix::fs::symlink(&shared_parent, &blocked).unwrap();
    let said = format!(
        "in use by another sysmon (pid {} holds sysmon.lock)",
        second.pid()
    );
    assert!(
        first.wait_log(&said, Duration::from_secs(10)),
        "the held lock was not reported\n{}",
        first.dump()
    );
    second.signal(libc::SIGTERM);
    assert!(second.wait_exit(Duration::from_secs(10)).is_some());
    let left = std::fs::read_to_string(&boots).unwrap();
    let lock = state.join("sysmon.lock");
    let taken = wait_for(Duration::from_secs(10), || {
        (std::fs::read_to_string(&lock).ok()? == format!("{}\n", first.pid())).then_some(())
    });
    assert!(
        taken.is_some(),
        "the lock its holder let go was never taken\n{}",
        first.dump()
    );
    let history = format!("history: {}", blocked.join("state/history.db").display());
    assert!(
        first.wait_log(&history, Duration::from_secs(10)),
        "the history file was not opened again\n{}",
        first.dump()
    );
    assert!(
        wait_for(Duration::from_secs(10), || {
            (std::fs::read_to_string(&boots).ok()? != left).then_some(())
        })
        .is_some(),
        "the boot log was not opened again\n{}",
        first.dump()
    );
    assert_eq!(first.logged(&said), 1, "{}", first.dump());
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());
    let stopped = std::fs::read_to_string(&boots).unwrap();
    assert!(
        stopped.trim_end().ends_with("stopped"),
        "{stopped}\n{}",
        first.dump()
    );
}

/// A second daemon on a fixed port fails at the bind, before the lock
/// (binding may need root; the lock comes after the privilege drop), and
/// said only "address in use". When the port is in use and the
/// `state_dir`'s lock is held, the error now names the holder, read
/// without taking the lock; a port held by something else beside a lock
/// file that no one holds (a PID left by a daemon gone) adds nothing.
#[test]
fn a_second_daemon_on_the_same_port_names_the_lock_holder() {
    let dir = TempDir::new("state-lock-port");
    let config = dir.config("backup = off\nupdate_manager = none\nhistory_tiers = off\n");
    let config = config.to_str().unwrap();
    let first = Daemon::start(&["--config", config]);
    let lock = dir.join("state/sysmon.lock");
    let held = std::fs::read(&lock).unwrap();
    let listen = first.addr.to_string();
    let out = sysmon(&["run", "--listen", &listen, "--config", config])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    for needed in [
        format!("cannot listen on {listen}: "),
        format!(
            "another sysmon, pid {}, holds {}",
            first.pid(),
            lock.display()
        ),
    ] {
        assert!(said.contains(&needed), "no `{needed}` in: {said}");
    }
    assert_eq!(said.lines().count(), 1, "{said}");
    // Read, not taken: the first holds it still, and it says the same.
    assert_eq!(std::fs::read(&lock).unwrap(), held);
    assert_eq!(first.get("/data.json").status, 200, "{}", first.dump());

    // A port held by another program; a lock file no one holds.
    let other = TempDir::new("state-lock-port-stale");
    let config = other.config("backup = off\nupdate_manager = none\nhistory_tiers = off\n");
    std::fs::create_dir(other.join("state")).unwrap();
    std::fs::write(other.join("state/sysmon.lock"), "4194000\n").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let out = sysmon(&["run", "--listen", &listen, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("cannot listen on {listen}: ")),
        "{said}"
    );
    assert!(!said.contains("another sysmon"), "{said}");
    assert!(!said.contains("4194000"), "{said}");
}
