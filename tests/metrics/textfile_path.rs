//! `textfile_path` across reloads and kills: the file sysmon wrote goes
//! when the path changes or is turned off (node_exporter would export its
//! last values for good), a file someone else put there stays, and the
//! temporaries of an earlier sysmon killed mid-write are removed at start.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SIGHUP: i32 = 1;
const WAIT: Duration = Duration::from_secs(10);

/// The daemon on the basic fixture with `textfile_path = PATH` (or `off`).
fn start(dir: &TempDir, path: &str) -> Daemon {
    Daemon::on_fixture(dir, &format!("textfile_path = {path}"))
}

/// Rewrites the config as [`start`] wrote it, with another path, and
/// sends SIGHUP.
fn reload(dir: &TempDir, daemon: &Daemon, path: &str) {
    dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\ntextfile_path = {path}"
    ));
    daemon.signal(SIGHUP);
}

fn wait_exists(daemon: &Daemon, path: &Path, exists: bool) {
    let reached = wait_for(WAIT, || (path.exists() == exists).then_some(()));
    assert!(
        reached.is_some(),
        "{} still {}; {}",
        path.display(),
        if exists { "missing" } else { "there" },
        daemon.dump()
    );
}

/// `tf/a.prom` and `tf/b.prom` under `dir`, and a daemon that has written
/// the first.
fn writing_the_first_of_two_paths(dir: &TempDir) -> (PathBuf, PathBuf, Daemon) {
    std::fs::create_dir_all(dir.join("tf")).unwrap();
    let (first, second) = (dir.join("tf/a.prom"), dir.join("tf/b.prom"));
    let daemon = start(dir, first.to_str().unwrap());
    wait_exists(&daemon, &first, true);
    (first, second, daemon)
}

/// Review of 2026-12-04: a reload that moved `textfile_path` or turned it
/// off left the old file, and node_exporter exported its last series
/// (`sysmon_backup_running 1` of a backup running at the reload) for good.
#[test]
fn a_reload_that_moves_or_drops_textfile_path_removes_the_old_file() {
    let dir = TempDir::new("textfile-path-reload");
    let (first, second, daemon) = writing_the_first_of_two_paths(&dir);
    reload(&dir, &daemon, second.to_str().unwrap());
    wait_exists(&daemon, &second, true);
    wait_exists(&daemon, &first, false);
    let removed = format!(
        "textfile: removed {}: no longer textfile_path",
        first.display()
    );
    assert!(daemon.wait_log(&removed, WAIT), "{}", daemon.dump());
    reload(&dir, &daemon, "off");
    wait_exists(&daemon, &second, false);
    // The writer's thread logs after its unlink: wait for the line itself
    // (CI once counted 1 here, the line written a moment later).
    let removed = format!(
        "textfile: removed {}: no longer textfile_path",
        second.display()
    );
    assert!(daemon.wait_log(&removed, WAIT), "{}", daemon.dump());
    assert_eq!(files_below(&dir.join("tf")), Vec::<String>::new());
    assert_eq!(daemon.logged("textfile: removed"), 2, "{}", daemon.dump());
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
}

/// A file put at the old path by someone else (another inode), or a
/// symlink there to the very file sysmon wrote, is never removed.
#[test]
fn a_reload_leaves_a_file_someone_else_put_at_the_old_path() {
    let dir = TempDir::new("textfile-path-replaced");
    let (first, second, daemon) = writing_the_first_of_two_paths(&dir);
    // Replaced through a rename: same name, another inode.
    std::fs::write(dir.join("tf/other"), "theirs 1\n").unwrap();
    std::fs::rename(dir.join("tf/other"), &first).unwrap();
    reload(&dir, &daemon, second.to_str().unwrap());
    let kept = format!(
        "textfile: {} left in place: no longer the file sysmon wrote",
        first.display()
    );
    assert!(daemon.wait_log(&kept, WAIT), "{}", daemon.dump());
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "theirs 1\n");
    // sysmon's own file moved away, a symlink to it left at its name.
    wait_exists(&daemon, &second, true);
    let moved = dir.join("tf/moved");
    std::fs::rename(&second, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &second).unwrap();
    reload(&dir, &daemon, "off");
    let kept = format!(
        "textfile: {} left in place: no longer the file sysmon wrote",
        second.display()
    );
    assert!(daemon.wait_log(&kept, WAIT), "{}", daemon.dump());
    assert!(std::fs::symlink_metadata(&second).unwrap().is_symlink());
    assert!(std::fs::read_to_string(&moved).unwrap().contains("sysmon_"));
    assert_eq!(daemon.logged("textfile: removed"), 0, "{}", daemon.dump());
}

/// A sysmon killed (SIGKILL, power loss) mid-write left `.NAME.tmp-PID`,
/// which no later sysmon removed (its PID is not theirs). At start the
/// regular files of exactly that pattern are removed, each logged once;
/// look-alikes, another NAME's temporaries and a symlink stay.
#[test]
fn temporaries_of_a_killed_sysmon_are_removed_at_start() {
    let dir = TempDir::new("textfile-path-leftovers");
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    for name in [
        ".sysmon.prom.tmp-4242",
        ".sysmon.prom.tmp-77",
        ".sysmon.prom.tmp-4242x",
        ".sysmon.prom.tmp-",
        ".other.prom.tmp-4242",
        "sysmon.prom.tmp-4242",
        "victim",
    ] {
        std::fs::write(tf.join(name), "left\n").unwrap();
    }
    std::os::unix::fs::symlink(tf.join("victim"), tf.join(".sysmon.prom.tmp-99")).unwrap();
    std::fs::create_dir(tf.join(".sysmon.prom.tmp-98")).unwrap();
    let prom = tf.join("sysmon.prom");
    let daemon = start(&dir, prom.to_str().unwrap());
    wait_exists(&daemon, &prom, true);
    for gone in [".sysmon.prom.tmp-4242", ".sysmon.prom.tmp-77"] {
        let line = format!(
            "textfile: removed {}: left by an earlier sysmon",
            tf.join(gone).display()
        );
        assert!(daemon.wait_log(&line, WAIT), "{}", daemon.dump());
        assert_eq!(daemon.logged(&line), 1, "{}", daemon.dump());
    }
    assert_eq!(
        files_below(&tf),
        [
            ".other.prom.tmp-4242",
            ".sysmon.prom.tmp-",
            ".sysmon.prom.tmp-4242x",
            ".sysmon.prom.tmp-99",
            "sysmon.prom",
            "sysmon.prom.tmp-4242",
            "victim",
        ],
        "{}",
        daemon.dump()
    );
    assert!(tf.join(".sysmon.prom.tmp-98").is_dir());
    assert_eq!(
        std::fs::read_to_string(tf.join("victim")).unwrap(),
        "left\n"
    );
    assert_eq!(daemon.logged("textfile: removed"), 2, "{}", daemon.dump());
}
