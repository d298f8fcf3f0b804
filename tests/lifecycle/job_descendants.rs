//! Nothing an audit or alert command starts outlives its job (issue 11):
//! a background grandchild that would exit by itself later, and one that
//! called `setsid` to leave the process group killed at the timeout, are
//! both gone (killed and reaped) once the job ends, and whatever runs when
//! sysmon is stopped is gone once it exited. Each check is by pid, in
//! /proc; the grandchildren write their own pid before the job may end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// The pids a test started, killed at the end whatever happened, so a
/// failing run leaves nothing behind either.
struct Leftovers(Vec<u32>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// A shell line that starts `sleep 30` in the background (after `setsid`
/// when asked) as a process that first writes its pid to `file`.
fn grandchild(file: &Path, setsid: bool) -> String {
    format!(
        "{}sh -c 'echo $$ > {f}.tmp && mv {f}.tmp {f}; exec sleep 30' &",
        if setsid { "setsid " } else { "" },
        f = file.display()
    )
}

/// A shell line that waits until the grandchild has written `file`.
fn wait_for_file(file: &Path) -> String {
    format!("while [ ! -s {} ]; do sleep 0.01; done;", file.display())
}

fn read_pid(file: &Path, daemon: &Daemon, leftovers: &mut Leftovers) -> u32 {
    let pid = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    })
    .unwrap_or_else(|| panic!("{} never written\n{}", file.display(), daemon.dump()));
    leftovers.0.push(pid);
    pid
}

/// `(state, session id)` of `pid`, `None` once it is gone from /proc.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields[0].chars().next()?, fields[3].parse().ok()?))
}

fn assert_gone(pid: u32, when: &str, daemon: &Daemon) {
    let asked = std::time::Instant::now();
    let gone = wait_for(Duration::from_secs(5), || {
        proc_state(pid).is_none().then_some(())
    });
    eprintln!("{when}: pid {pid} gone after {:?}", asked.elapsed());
    assert!(
        gone.is_some(),
        "{when}: pid {pid} is still there: {:?}\n{}",
        proc_state(pid),
        daemon.dump()
    );
}

fn start(dir: &TempDir, extra: &str) -> Daemon {
    let config = dir.config(&format!("backup = off\nmounts = /\n{extra}"));
    Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/basic").to_str().unwrap(),
    ])
}

fn updates_state(daemon: &Daemon) -> String {
    text(&daemon.data(), &["updates", "state"]).unwrap_or_default()
}

fn wait_for_state(daemon: &Daemon, state: &str) {
    let reached = wait_for(Duration::from_secs(15), || {
        (updates_state(daemon) == state).then_some(())
    });
    assert!(
        reached.is_some(),
        "the audit never reached `{state}`\n{}",
        daemon.dump()
    );
}

fn pid_file(dir: &TempDir, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn background_grandchild_of_an_audit_is_killed_when_the_audit_ends() {
    let dir = TempDir::new("descendants-background");
    let mut leftovers = Leftovers(Vec::new());
    let file = pid_file(&dir, "grandchild");
    let mut daemon = start(
        &dir,
        &format!(
            "update_manager = command\nupdate_command = {} {} echo 'foo 1 -> 2'",
            grandchild(&file, false),
            wait_for_file(&file)
        ),
    );
    wait_for_state(&daemon, "ok");
    let pid = read_pid(&file, &daemon, &mut leftovers);
    assert_gone(pid, "after the audit ended", &daemon);
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
    assert_gone(pid, "after sysmon stopped", &daemon);
}

#[test]
fn setsid_grandchild_of_an_audit_is_killed_at_the_timeout() {
    let dir = TempDir::new("descendants-setsid");
    let mut leftovers = Leftovers(Vec::new());
    let file = pid_file(&dir, "grandchild");
    let mut daemon = start(
        &dir,
        &format!(
            "update_manager = command\nupdate_timeout = 1s\nupdate_command = {} sleep 30",
            grandchild(&file, true)
        ),
    );
    let pid = read_pid(&file, &daemon, &mut leftovers);
    // It really left the audit's group and session: the old kill missed it.
    let (_, sid) = proc_state(pid).expect("the grandchild runs");
    assert_eq!(sid, pid, "setsid made it lead its own session");
    wait_for_state(&daemon, "failed");
    assert_gone(pid, "after the timeout", &daemon);
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
    assert_gone(pid, "after sysmon stopped", &daemon);
}

#[test]
fn descendants_of_a_running_audit_are_killed_when_sysmon_stops() {
    let dir = TempDir::new("descendants-stop");
    let mut leftovers = Leftovers(Vec::new());
    let (plain, setsid) = (pid_file(&dir, "plain"), pid_file(&dir, "setsid"));
    let mut daemon = start(
        &dir,
        &format!(
            "update_manager = command\nupdate_timeout = 1h\nupdate_command = {} {} sleep 30",
            grandchild(&plain, false),
            grandchild(&setsid, true)
        ),
    );
    let pids = [
        read_pid(&plain, &daemon, &mut leftovers),
        read_pid(&setsid, &daemon, &mut leftovers),
    ];
    assert_eq!(updates_state(&daemon), "running");
    daemon.signal(15);
    let status = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.dump());
    for pid in pids {
        // Gone at exit already: sysmon reaped them before it returned.
        assert!(
            proc_state(pid).is_none(),
            "pid {pid} outlived sysmon: {:?}\n{}",
            proc_state(pid),
            daemon.dump()
        );
    }
}

#[test]
fn setsid_grandchild_of_an_alert_command_is_killed_when_the_command_ends() {
    let dir = TempDir::new("descendants-alert");
    let mut leftovers = Leftovers(Vec::new());
    let file = pid_file(&dir, "grandchild");
    let mut daemon = start(
        &dir,
        &format!(
            "update_manager = none\nalert_cpu = 0% for 0s\nalert_command = {} {} true",
            grandchild(&file, true),
            wait_for_file(&file)
        ),
    );
    let pid = read_pid(&file, &daemon, &mut leftovers);
    assert_gone(pid, "after the alert command ended", &daemon);
    daemon.signal(2);
    let status = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.dump());
    assert_gone(pid, "after sysmon stopped", &daemon);
}

#[test]
fn descendants_are_killed_after_sysmon_dropped_to_another_user() {
    // `user = NAME`: sysmon and its children run as that user; what they
    // leave behind is still reparented to sysmon and killed by it.
    if !is_root("user = nobody") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("descendants-user");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut leftovers = Leftovers(Vec::new());
    let (alert, audit) = (pid_file(&dir, "alert"), pid_file(&dir, "audit"));
    let mut daemon = start(
        &dir,
        &format!(
            "user = nobody\nupdate_manager = command\nupdate_timeout = 1s\n\
             update_command = {} sleep 30\n\
             alert_cpu = 0% for 0s\nalert_command = {} {} true",
            grandchild(&audit, true),
            grandchild(&alert, true),
            wait_for_file(&alert)
        ),
    );
    let alert_pid = read_pid(&alert, &daemon, &mut leftovers);
    let audit_pid = read_pid(&audit, &daemon, &mut leftovers);
    assert_eq!(
        proc_status_number(audit_pid as i32, "Uid:"),
        65534,
        "the grandchild runs as nobody"
    );
    assert_gone(alert_pid, "after the alert command ended", &daemon);
    wait_for_state(&daemon, "failed");
    assert_gone(audit_pid, "after the audit timed out", &daemon);
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
}

#[test]
fn a_setsid_orphan_waits_for_every_job_that_could_have_started_it() {
    // An alert command's grandchild leaves its group while an audit runs:
    // sysmon cannot tell which of the two started it, so it is killed once
    // both have ended, and not before (the documented rule).
    let dir = TempDir::new("descendants-waiting");
    let mut leftovers = Leftovers(Vec::new());
    let (file, release) = (pid_file(&dir, "grandchild"), pid_file(&dir, "release"));
    let mut daemon = start(
        &dir,
        &format!(
            "update_manager = command\nupdate_command = {} echo 'foo 1 -> 2'\n\
             alert_cpu = 0% for 0s\nalert_command = {} {} true",
            wait_for_file(&release),
            grandchild(&file, true),
            wait_for_file(&file)
        ),
    );
    let pid = read_pid(&file, &daemon, &mut leftovers);
    // The alert command has ended once its grandchild is sysmon's child;
    // give the loop a few turns to see that. The audit still runs, so the
    // orphan stays.
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let adopted = wait_for(Duration::from_secs(5), || {
        (parent(pid) == Some(daemon.pid() as u32)).then_some(())
    });
    assert!(
        adopted.is_some(),
        "never reparented to sysmon\n{}",
        daemon.dump()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(updates_state(&daemon), "running");
    assert!(
        matches!(proc_state(pid), Some((state, _)) if state != 'Z'),
        "killed while the audit that may have started it still ran: {:?}\n{}",
        proc_state(pid),
        daemon.dump()
    );
    std::fs::write(&release, "go").unwrap();
    wait_for_state(&daemon, "ok");
    assert_gone(pid, "after both jobs ended", &daemon);
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
}
