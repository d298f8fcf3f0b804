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

/// The check that the old file is still sysmon's and its removal were two
/// steps on one path: a file someone renamed there in between (node_exporter
/// reads a textfile dir others write too) was removed as if it were
/// sysmon's (review of 2026-12-04). The writer is held between the two
/// (a debug build's knob) while the file is replaced; it must stay.
#[test]
fn a_file_put_at_the_old_path_while_it_is_being_removed_stays() {
    let dir = TempDir::new("textfile-path-swapped");
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    let (first, second) = (tf.join("a.prom"), tf.join("b.prom"));
    let gate = dir.join("gate");
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\ntextfile_path = {}",
        first.display()
    ));
    let daemon = Daemon::start_with(
        &[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            fixture("proc/basic").to_str().unwrap(),
        ],
        |cmd| {
            cmd.env("SYSMON_TEST_TEXTFILE_REMOVE_GATE", &gate);
        },
    );
    wait_exists(&daemon, &first, true);
    std::fs::write(&gate, "").unwrap();
    reload(&dir, &daemon, second.to_str().unwrap());
    // The writer checked a.prom (sysmon's) and waits to remove it.
    wait_exists(&daemon, &dir.join("gate.waiting"), true);
    std::fs::write(tf.join("theirs"), "theirs 1\n").unwrap();
    std::fs::rename(tf.join("theirs"), &first).unwrap();
    std::fs::remove_file(&gate).unwrap();
    wait_exists(&daemon, &second, true);
    let kept = format!(
        "textfile: {} left in place: no longer the file sysmon wrote",
        first.display()
    );
    assert!(daemon.wait_log(&kept, WAIT), "{}", daemon.dump());
    assert_eq!(
        std::fs::read_to_string(&first).ok().as_deref(),
        Some("theirs 1\n"),
        "{}",
        daemon.dump()
    );
    assert_eq!(
        files_below(&tf),
        ["a.prom", "b.prom"],
        "nothing left aside: {}",
        daemon.dump()
    );
}

/// A pid no process has: a child's, once it has exited and been reaped
/// (reused only after the kernel's pids wrap, far from a test's time).
fn a_dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A sysmon killed (SIGKILL, power loss) mid-write left `.NAME.tmp-PID`,
/// which no later sysmon removed (its PID is not theirs). At start the
/// regular files of exactly that pattern whose PID is gone are removed,
/// each logged once; look-alikes, another NAME's temporaries and a symlink
/// stay. So does the temporary of a PID still alive (a second sysmon
/// writing to the same path, or one being restarted): removed, it made
/// that writer's rename fail (review of 2026-12-04: the PID was not
/// looked at).
#[test]
fn temporaries_of_a_killed_sysmon_are_removed_at_start() {
    let dir = TempDir::new("textfile-path-leftovers");
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    let dead = [a_dead_pid(), a_dead_pid()].map(|pid| format!(".sysmon.prom.tmp-{pid}"));
    // This test's own process: alive while the daemon starts.
    let live = format!(".sysmon.prom.tmp-{}", std::process::id());
    for name in [
        dead[0].as_str(),
        &dead[1],
        &live,
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
    for gone in &dead {
        let line = format!(
            "textfile: removed {}: left by an earlier sysmon",
            tf.join(gone).display()
        );
        assert!(daemon.wait_log(&line, WAIT), "{}", daemon.dump());
        assert_eq!(daemon.logged(&line), 1, "{}", daemon.dump());
    }
    let mut kept = vec![
        ".other.prom.tmp-4242".to_string(),
        ".sysmon.prom.tmp-".into(),
        ".sysmon.prom.tmp-4242x".into(),
        ".sysmon.prom.tmp-99".into(),
        live.clone(),
        "sysmon.prom".into(),
        "sysmon.prom.tmp-4242".into(),
        "victim".into(),
    ];
    kept.sort();
    assert_eq!(files_below(&tf), kept, "{}", daemon.dump());
    assert_eq!(std::fs::read_to_string(tf.join(&live)).unwrap(), "left\n");
    assert!(tf.join(".sysmon.prom.tmp-98").is_dir());
    assert_eq!(
        std::fs::read_to_string(tf.join("victim")).unwrap(),
        "left\n"
    );
    assert_eq!(daemon.logged("textfile: removed"), 2, "{}", daemon.dump());
}

/// A file someone else renamed onto the old path is moved aside with it
/// (sysmon's temporary name), found not sysmon's, and linked back; when a
/// newer file landed at the path meanwhile, the link back fails and the
/// other party's file stayed under `.NAME.tmp-PID`, where the next write
/// to that path (or the start-up sweep of a later sysmon, once this PID
/// is gone) deleted it (loose ends 3, 2026-12-04). It is kept as
/// `NAME.kept-PID-N` beside it, a name no cleanup touches, and the log
/// says so. Both windows are held open by a debug build's knobs.
#[test]
fn a_file_that_cannot_be_put_back_is_kept_under_a_name_no_cleanup_touches() {
    let dir = TempDir::new("textfile-path-not-put-back");
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    let (first, second) = (tf.join("a.prom"), tf.join("b.prom"));
    let (remove_gate, putback_gate) = (dir.join("gate"), dir.join("putback"));
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\ntextfile_path = {}",
        first.display()
    ));
    let daemon = Daemon::start_with(
        &[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            fixture("proc/basic").to_str().unwrap(),
        ],
        |cmd| {
            cmd.env("SYSMON_TEST_TEXTFILE_REMOVE_GATE", &remove_gate)
                .env("SYSMON_TEST_TEXTFILE_PUTBACK_GATE", &putback_gate);
        },
    );
    wait_exists(&daemon, &first, true);
    std::fs::write(&remove_gate, "").unwrap();
    std::fs::write(&putback_gate, "").unwrap();
    reload(&dir, &daemon, second.to_str().unwrap());
    // Checked a.prom (sysmon's); theirs is renamed there before the move.
    wait_exists(&daemon, &dir.join("gate.waiting"), true);
    std::fs::write(tf.join("theirs"), "theirs 1\n").unwrap();
    std::fs::rename(tf.join("theirs"), &first).unwrap();
    std::fs::remove_file(&remove_gate).unwrap();
    // Moved aside, found not sysmon's; a newer file lands before the link back.
    wait_exists(&daemon, &dir.join("putback.waiting"), true);
    std::fs::write(tf.join("newer"), "newer 2\n").unwrap();
    std::fs::rename(tf.join("newer"), &first).unwrap();
    std::fs::remove_file(&putback_gate).unwrap();
    wait_exists(&daemon, &second, true);
    let kept = tf.join(format!("a.prom.kept-{}-1", daemon.pid()));
    let said = format!("kept as {}", kept.display());
    assert!(daemon.wait_log(&said, WAIT), "{}", daemon.dump());
    assert_eq!(
        files_below(&tf),
        [
            "a.prom".to_string(),
            format!("a.prom.kept-{}-1", daemon.pid()),
            "b.prom".into()
        ],
        "{}",
        daemon.dump()
    );
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "newer 2\n");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "theirs 1\n");
    // A later write to the old path (its temporary was the name aside)
    // leaves the kept file alone.
    reload(&dir, &daemon, first.to_str().unwrap());
    let rewritten = wait_for(WAIT, || {
        std::fs::read_to_string(&first)
            .ok()
            .filter(|t| t.contains("sysmon_"))
    });
    assert!(rewritten.is_some(), "{}", daemon.dump());
    wait_exists(&daemon, &second, false);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "theirs 1\n");
    assert_eq!(daemon.logged(&said), 1, "{}", daemon.dump());
}
