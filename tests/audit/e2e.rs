//! The audit through the real binary (issue #4): the daemon keeps serving
//! /data.json while a manager hangs, kills it at `update_timeout` and says
//! so; SIGTERM mid-audit leaves no child behind; `sysmon audit` exits
//! 0 / 100 / 1 and prints the same `updates` object with `--json`.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::support::{Shims, shimmed};

fn pids(shims: &Shims, tool: &str) -> Vec<u32> {
    shims
        .calls(tool)
        .iter()
        .flat_map(|c| {
            c.split(' ')
                .filter_map(|f| {
                    f.strip_prefix("pid=")
                        .or_else(|| f.strip_prefix("grandchild="))?
                        .parse()
                        .ok()
                })
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Running, not a zombie waiting for its parent.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// The daemon's threads named `name` (`/proc/PID/task/*/comm`).
fn threads_named(d: &Daemon, name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", d.pid())) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .count()
}

fn updates(d: &Daemon) -> miniserde::json::Value {
    let data = d.data();
    let miniserde::json::Value::Object(o) = data else {
        panic!("not an object")
    };
    o.get("updates").cloned().expect("updates object")
}

fn field(v: &miniserde::json::Value, key: &str) -> String {
    let miniserde::json::Value::Object(o) = v else {
        panic!("not an object: {v:?}")
    };
    match o.get(key) {
        Some(miniserde::json::Value::String(s)) => s.clone(),
        Some(other) => miniserde::json::to_string(other),
        None => panic!("no {key} in {}", miniserde::json::to_string(v)),
    }
}

/// The daemon on the `basic` fixture with `config` lines, `shims` alone on
/// PATH, and `adjust` for the rest of its environment.
fn daemon_with_shims(
    dir: &TempDir,
    shims: &Shims,
    config: &str,
    adjust: impl FnOnce(&mut std::process::Command),
) -> Daemon {
    let config = dir.config(config);
    let proc_root = fixture("proc/basic");
    let path = shims.path();
    Daemon::start_with(
        &[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            proc_root.to_str().unwrap(),
        ],
        |cmd| {
            cmd.env("PATH", &path);
            adjust(cmd);
        },
    )
}

/// Polls /data.json until the audit has failed (within 15 s), each answer
/// within 2 s (the liveness bound: the daemon answers while the
/// child hangs). The last `updates`, and whether it was ever `running`.
fn until_failed(daemon: &Daemon) -> (miniserde::json::Value, bool) {
    let start = Instant::now();
    let mut saw_running = false;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no result; {}",
            daemon.dump()
        );
        let asked = Instant::now();
        let u = updates(daemon);
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "slow answer during the audit; {}",
            daemon.dump()
        );
        let state = field(&u, "state");
        saw_running |= state == "running";
        if state == "failed" {
            return (u, saw_running);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hanging_manager_is_killed_at_the_timeout_while_the_daemon_serves() {
    let (dir, shims) = shimmed("audit-e2e-hang");
    shims.tool("checkupdates", "pacman/hang");
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = pacman\nupdate_timeout = 1s\nmounts = /",
        |cmd| {
            cmd.env("LC_ALL", "de_DE.UTF-8")
                .env("LANG", "de_DE.UTF-8")
                .env("LANGUAGE", "de");
        },
    );
    let (final_state, saw_running) = until_failed(&daemon);
    assert!(saw_running, "the state was `running` while the child ran");
    let error = field(&final_state, "error");
    assert!(
        error.contains("timed out after 1s") && error.contains("process group was killed"),
        "{error}"
    );
    assert!(
        daemon.wait_log("timed out after 1s", Duration::from_secs(2)),
        "{}",
        daemon.dump()
    );
    let calls = shims.calls("checkupdates");
    assert!(
        calls[0].starts_with("LC_ALL=C LANG=unset LANGUAGE=unset "),
        "{calls:?}"
    );
    let pids = pids(&shims, "checkupdates");
    assert_eq!(pids.len(), 2, "{calls:?}");
    std::thread::sleep(Duration::from_millis(100));
    for pid in pids {
        assert!(!running(pid), "pid {pid} survived the timeout");
    }
    // The log says so too.
    let logs = crate::support::logs(&dir.join("logs"));
    assert_eq!(logs.len(), 1);
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        log.contains("exit: timed out after 1s; its process group was killed"),
        "{log}"
    );
    assert_eq!(daemon.get("/data.json").status, 200);
    daemon.signal(15);
    assert!(
        daemon
            .wait_exit(Duration::from_secs(2))
            .is_some_and(|s| s.success())
    );
}

/// A recorded run that takes `delay_s` seconds, then prints `stdout` and
/// exits 0: `cases/NAME` under `dir`, for [`Shims::tool_args`].
fn slow_case(dir: &TempDir, name: &str, delay_s: &str, stdout: &str) -> String {
    let case = dir.path().join("cases").join(name);
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(case.join("delay"), delay_s).unwrap();
    std::fs::write(case.join("stdout"), stdout).unwrap();
    std::fs::write(case.join("exit"), "0\n").unwrap();
    case.display().to_string()
}

const XBPS_UPDATE: &str = "firefox-128.0.3_1 update x86_64 https://repo-default.voidlinux.org/current 253424640 70184428\n";

/// The daemon auditing xbps with `update_refresh = on` and
/// `update_timeout = 2s`: the list `xbps-install -Mun` answered by the
/// replay case `list`, firefox's installed version by `xbps-query` (the
/// refresh `xbps-install -S` is the caller's to set).
fn xbps_refreshing_in_2s(dir: &TempDir, shims: &Shims, list: &str) -> Daemon {
    shims.tool_args("xbps-install", "-Mun", list);
    shims.tool_output(
        "xbps-query",
        "ii firefox-128.0.2_1 Mozilla Firefox\n",
        "",
        0,
    );
    daemon_with_shims(
        dir,
        shims,
        "backup = off\nupdate_manager = xbps\nupdate_refresh = on\nupdate_timeout = 2s\nmounts = /",
        |_| {},
    )
}

/// `update_timeout` is for the whole audit (README: "the audit child is
/// killed after this"): it was applied per step, so an audit of several
/// steps ran for several times it. Here the refresh takes 0.4 s (within
/// the half of the timeout a refresh is given) and the list 1.9 s against
/// a 2 s timeout: the build before ran both to their end (2.3 s) and
/// answered "1 update, ok"; now the list is killed when the 2 s run out,
/// and the error says which step and after how long.
#[test]
fn update_timeout_is_for_the_whole_audit_not_each_step() {
    let (dir, shims) = shimmed("audit-e2e-deadline");
    let refresh = slow_case(&dir, "refresh", "0.4", "");
    let list = slow_case(&dir, "list", "1.9", XBPS_UPDATE);
    shims.tool_args("xbps-install", "-S", &refresh);
    let mut daemon = xbps_refreshing_in_2s(&dir, &shims, &list);
    let (failed, _) = until_failed(&daemon);
    let error = field(&failed, "error");
    assert!(
        error.contains("xbps-install -Mun`: timed out after ")
            && error.contains("the 2s timeout is for all the steps, and those before it took ")
            && error.contains("its process group was killed"),
        "{error}"
    );
    assert_eq!(shims.calls("xbps-install").len(), 2);
    assert!(
        shims.calls("xbps-query").is_empty(),
        "started after the deadline"
    );
    let logs = crate::support::logs(&dir.join("logs"));
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        log.contains("xbps-install -S\n  exit: exit status 0")
            && log.contains("xbps-install -Mun\n  exit: timed out after "),
        "{log}"
    );
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(2)).is_some());
}

/// A refresh of its own is given half of `update_timeout`, so that a
/// refresh that hangs (a mirror that stops answering) still leaves the
/// list the time to run from the lists on disk: a stale answer with the
/// refresh's failure as its reason, as before the whole-audit deadline.
/// With the deadline alone, the hung refresh took all of it and the list
/// was not started: the audit failed.
#[test]
fn a_refresh_that_hangs_leaves_the_list_half_of_update_timeout() {
    let (dir, shims) = shimmed("audit-e2e-refresh-share");
    shims.tool_args("xbps-install", "-S", "pacman/hang");
    let list = slow_case(&dir, "list", "0", XBPS_UPDATE);
    let mut daemon = xbps_refreshing_in_2s(&dir, &shims, &list);
    let start = Instant::now();
    let stale = loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no answer; {}",
            daemon.dump()
        );
        let u = updates(&daemon);
        match field(&u, "state").as_str() {
            "stale" => break u,
            "failed" => panic!("the audit failed: {}", field(&u, "error")),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(field(&stale, "count"), "1");
    let error = field(&stale, "error");
    assert!(
        error.contains("refreshing the package lists failed: `")
            && error.contains("xbps-install -S`: timed out after 1s; its process group was killed")
            && error.contains("(a refresh is given half of update_timeout, the list the rest)"),
        "{error}"
    );
    let calls = shims.calls("xbps-install");
    let started: Vec<&String> = calls.iter().filter(|c| c.contains(" args=")).collect();
    assert!(
        started.len() == 2
            && started[0].ends_with(" args=-S")
            && started[1].ends_with(" args=-Mun"),
        "the refresh, then the list: {calls:?}"
    );
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(2)).is_some());
}

/// The audit's log is written off the loop: the daemon answers while a
/// large log is being written. The build before rendered and wrote it (an
/// atomic write: the file and its directory fsynced) on the loop, in
/// `finish`: 12-50 ms for 20,000 packages, more for a 64 MB log, and no
/// request was answered meanwhile. Here dnf lists one package 1,000 times
/// and 20,000 advisories name it, so the log holds 1,000 notes of 64 KiB.
/// The log's thread is held before its write (a debug build's gate, as a
/// hung disk would): /data.json must be answered while it exists. (This
/// test once raced: it asked once the temporary appeared and failed when
/// the thread renamed the log before the answer came, or wrote it whole
/// between two looks.)
#[test]
fn the_audit_log_is_written_while_the_daemon_answers() {
    let (dir, shims) = shimmed("audit-e2e-log-off-loop");
    shims.tool_output("dnf", &"big.x86_64 2-1 updates\n".repeat(1000), "", 100);
    let mut advisories = String::new();
    for i in 0..20_000 {
        advisories.push_str(&format!(
            "FEDORA-2024-{i:010} Important/Sec. big-2-1.x86_64\n"
        ));
    }
    let case = dir.path().join("cases").join("advisories");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(case.join("stdout"), advisories).unwrap();
    shims.tool_args(
        "dnf",
        "-q updateinfo list --security --available",
        case.to_str().unwrap(),
    );
    shims.tool_output("rpm", "big.x86_64 0:1-1\n", "", 0);
    let gate = dir.join("log-gate");
    std::fs::write(&gate, "").unwrap();
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = dnf\nmounts = /",
        |cmd| {
            cmd.env("SYSMON_TEST_AUDIT_LOG_GATE", &gate);
        },
    );
    let logs = dir.join("logs");
    wait_for(Duration::from_secs(30), || {
        (threads_named(&daemon, "audit-log") == 1).then_some(())
    })
    .unwrap_or_else(|| panic!("no log thread; {}", daemon.dump()));
    assert_eq!(
        field(&updates(&daemon), "state"),
        "running",
        "answered while the log is held"
    );
    assert!(
        crate::support::logs(&logs).is_empty(),
        "written past the gate"
    );
    std::fs::remove_file(&gate).unwrap();
    // And the log is complete once the audit is published.
    let log = wait_for(Duration::from_secs(30), || {
        (field(&updates(&daemon), "state") == "ok").then(|| crate::support::logs(&logs))
    })
    .unwrap_or_else(|| panic!("no result; {}", daemon.dump()));
    let text = std::fs::read_to_string(&log[0]).unwrap();
    assert!(
        text.ends_with(
            "summary: 1000 updates pending (1000 security), 1000 notes, 0 unparsed lines\n"
        ),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(text.len() > 60 << 20, "{}", text.len());
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
}

/// `textfile_path` is written off the loop. The build before wrote and
/// fsynced it on the loop (`update_textfile`): on a slow or hung disk no
/// request was answered meanwhile. With the writer held at its write (a
/// debug build's gate, as a hung disk would), the daemon answers through a
/// whole audit, the jobs' changes start no second writer, and once the
/// gate opens the file holds the newest text: the audit's result.
#[test]
fn the_textfile_is_written_while_the_daemon_answers() {
    let (dir, shims) = shimmed("audit-e2e-textfile-off-loop");
    shims.tool("checkupdates", "pacman/updates");
    let gate = dir.join("textfile-gate");
    std::fs::write(&gate, "").unwrap();
    let prom = dir.join("sysmon.prom");
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        &format!(
            "backup = off\nupdate_manager = pacman\nmounts = /\ntextfile_path = {}",
            prom.display()
        ),
        |cmd| {
            cmd.env("SYSMON_TEST_TEXTFILE_GATE", &gate);
        },
    );
    wait_for(Duration::from_secs(30), || {
        (field(&updates(&daemon), "state") == "ok").then_some(())
    })
    .unwrap_or_else(|| panic!("no result while the textfile is held; {}", daemon.dump()));
    assert!(!prom.exists(), "written past the gate");
    assert_eq!(
        threads_named(&daemon, "sysmon-textfile"),
        1,
        "one writer in flight; {}",
        daemon.dump()
    );
    std::fs::remove_file(&gate).unwrap();
    let text = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(&prom)
            .ok()
            .filter(|t| t.contains("\nsysmon_updates_pending 5\n"))
    })
    .unwrap_or_else(|| panic!("the audit's result never written; {}", daemon.dump()));
    assert!(text.contains("\nsysmon_backup_running 0\n"), "{text}");
    wait_for(Duration::from_secs(30), || {
        (threads_named(&daemon, "sysmon-textfile") == 0).then_some(())
    })
    .unwrap_or_else(|| panic!("the writer did not end; {}", daemon.dump()));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("sysmon.prom"))
        .collect();
    assert_eq!(names, ["sysmon.prom"], "no temporary left behind");
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
}

#[test]
fn sigterm_mid_audit_kills_and_reaps_the_child() {
    let (dir, shims) = shimmed("audit-e2e-term");
    shims.tool("checkupdates", "pacman/hang");
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = pacman\nupdate_timeout = 5m\nmounts = /",
        |_| {},
    );
    let start = Instant::now();
    while pids(&shims, "checkupdates").len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(field(&updates(&daemon), "state"), "running");
    daemon.signal(15);
    let status = daemon
        .wait_exit(Duration::from_secs(2))
        .expect("exits promptly on SIGTERM mid-audit");
    assert!(status.success(), "{status:?}");
    for pid in pids(&shims, "checkupdates") {
        assert!(!running(pid), "pid {pid} outlived the daemon");
    }
}

/// A `checkupdates` that leaves its process group: it starts a helper
/// (which stays in the group sysmon made for it), then moves itself into
/// the group of its parent, sysmon, and sleeps; both pids go to
/// `escaped.pids`.
fn install_group_leaver(shims: &Shims) {
    let script = shims.dir.join("checkupdates");
    let pids = shims.dir.join("escaped.pids");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/python3\n\
             import os, time\n\
             helper = os.fork()\n\
             if helper == 0:\n    time.sleep(300)\n    os._exit(0)\n\
             os.setpgid(0, os.getpgid(os.getppid()))\n\
             with open({pids:?}, 'w') as f:\n    f.write('%d %d\\n' % (os.getpid(), helper))\n\
             time.sleep(300)\n",
            pids = pids.to_str().unwrap()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn escaped_pids(shims: &Shims) -> Vec<u32> {
    std::fs::read_to_string(shims.dir.join("escaped.pids"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A manager that moves itself out of the process group sysmon made for it
/// (into sysmon's own, its helper staying behind) is still killed at
/// `update_timeout`: the group's SIGKILL reached only the helper, and the
/// build before then waited for the child for ever, on the loop: no
/// answer, SIGTERM ignored. Now the daemon answers throughout, reports the
/// timeout, leaves neither process running and stops on SIGTERM.
#[test]
fn a_manager_that_leaves_its_process_group_is_killed_at_the_timeout() {
    if !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: no /usr/bin/python3 for the group-leaving shim (.ci/deps installs it)");
        return;
    }
    let (dir, shims) = shimmed("audit-e2e-leaves-group");
    install_group_leaver(&shims);
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = pacman\nupdate_timeout = 1s\nmounts = /",
        |_| {},
    );
    let (failed, _) = until_failed(&daemon);
    assert!(
        field(&failed, "error").contains("timed out after 1s"),
        "{}",
        field(&failed, "error")
    );
    let pids = escaped_pids(&shims);
    assert_eq!(pids.len(), 2, "{}", daemon.dump());
    // The daemon goes on answering after the kill.
    for _ in 0..5 {
        let asked = Instant::now();
        assert_eq!(daemon.get("/metrics").status, 200);
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{}",
            daemon.dump()
        );
    }
    let gone = Instant::now();
    while pids.iter().any(|&pid| running(pid)) {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "still running: {:?}",
            pids.iter().filter(|&&p| running(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.signal(15);
    let status = daemon
        .wait_exit(Duration::from_secs(2))
        .expect("exits promptly on SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// The same manager under `sysmon audit`: it ends at the timeout with exit
/// 1, where the build before waited for the child for ever.
#[test]
fn audit_command_ends_when_the_manager_leaves_its_process_group() {
    if !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: no /usr/bin/python3 for the group-leaving shim (.ci/deps installs it)");
        return;
    }
    let (dir, shims) = shimmed("audit-e2e-cli-leaves-group");
    install_group_leaver(&shims);
    let config = dir.config("backup = off\nupdate_manager = pacman\nupdate_timeout = 1s");
    let mut cmd = sysmon(&["audit", "--config", config.to_str().unwrap()]);
    cmd.env("PATH", shims.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            for pid in escaped_pids(&shims) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            panic!("sysmon audit still waiting 15 s after a 1 s timeout");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("timed out after 1s"), "{err}");
    for pid in escaped_pids(&shims) {
        assert!(!running(pid), "pid {pid} outlived sysmon audit");
    }
}

/// `sysmon audit`'s list or JSON that cannot be written (stdout on a
/// full disk) is exit 1 naming stdout: the write's error was dropped, and
/// the exit status (100: updates pending) said the list was out there. A
/// reader that hangs up (`| head`) is still no error of the audit.
#[test]
fn audit_output_that_cannot_be_written_is_exit_1() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let (dir, shims) = shimmed("audit-e2e-cli-full");
    shims.tool("checkupdates", "pacman/updates");
    let config = dir.config("backup = off\nupdate_manager = pacman");
    for json in [false, true] {
        let mut args = vec!["audit", "--config", config.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let mut cmd = sysmon(&args);
        cmd.env("PATH", shims.path())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(std::process::Stdio::piped());
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "json {json}: {err}");
        assert!(
            err.contains("sysmon: error: stdout: No space left on device"),
            "json {json}: {err}"
        );
    }
}

fn audit_cli(dir: &TempDir, shims: &Shims, manager: &str, json: bool) -> std::process::Output {
    let config = dir.config(&format!("backup = off\nupdate_manager = {manager}"));
    let mut args = vec!["audit", "--config", config.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let mut cmd = sysmon(&args);
    cmd.env("PATH", shims.path());
    run(cmd)
}

#[test]
fn audit_command_exit_statuses_and_json() {
    let (dir, shims) = shimmed("audit-e2e-cli");

    shims.tool("checkupdates", "pacman/updates");
    let out = audit_cli(&dir, &shims, "pacman", false);
    assert_eq!(out.status.code(), Some(100), "updates pending");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 5);
    assert!(stdout.contains("zlib 1:1.3.1-1 -> 1:1.3.1-2\n"), "{stdout}");

    let out = audit_cli(&dir, &shims, "pacman", true);
    assert_eq!(out.status.code(), Some(100));
    let json: miniserde::json::Value =
        miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        (
            field(&json, "state"),
            field(&json, "count"),
            field(&json, "manager")
        ),
        ("ok".into(), "5".into(), "pacman".into())
    );

    shims.tool("checkupdates", "pacman/none");
    let out = audit_cli(&dir, &shims, "pacman", false);
    assert_eq!(out.status.code(), Some(0), "nothing pending");
    assert!(out.stdout.is_empty());

    // No network and no usable synced copy: an error, at once (no retries in the CLI).
    shims.tool("checkupdates", "pacman/sync-failed").tool_args(
        "checkupdates",
        "--nosync",
        "pacman/nosync-failed",
    );
    let out = audit_cli(&dir, &shims, "pacman", true);
    assert_eq!(out.status.code(), Some(1));
    let json: miniserde::json::Value =
        miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(field(&json, "state"), "failed");

    let out = audit_cli(&dir, &shims, "none", false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "disabled is an error for the command"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("disabled"));
    assert!(
        crate::support::logs(&dir.join("logs")).len() >= 4,
        "each run leaves a log"
    );
}

/// dnf's security flag through the binary: `sysmon audit --json` counts the
/// security updates, and the daemon exports them in /metrics and fires
/// `alert_updates_security`.
#[test]
fn dnf_security_updates_reach_json_metrics_and_alerts() {
    let (dir, shims) = shimmed("audit-e2e-dnf-security");
    shims
        .tool("dnf", "dnf/updates")
        .tool_args(
            "dnf",
            "-q updateinfo list --security --available",
            "dnf/security",
        )
        .tool("rpm", "dnf/installed");

    let out = audit_cli(&dir, &shims, "dnf", true);
    assert_eq!(out.status.code(), Some(100));
    let json: miniserde::json::Value =
        miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        (field(&json, "count"), field(&json, "security_count")),
        ("5".into(), "3".into())
    );
    let out = audit_cli(&dir, &shims, "dnf", false);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("openssl-libs.x86_64 1:3.2.1-2.fc40 -> 1:3.2.2-3.fc40 [security]\n"),
        "{stdout}"
    );

    let daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = dnf\nmounts = /\nalert_updates_security = 3",
        |_| {},
    );
    let metrics = wait_for(Duration::from_secs(15), || {
        let text = daemon.get("/metrics").body_text();
        text.contains("\nsysmon_updates_pending 5\n")
            .then_some(text)
    })
    .unwrap_or_else(|| panic!("no audit result; {}", daemon.dump()));
    assert!(
        metrics.contains("\nsysmon_updates_security_pending 3\n"),
        "{metrics}"
    );
    // A clean answer: not stale, and its time is the last success's.
    let checked_at = field(&updates(&daemon), "checked_at");
    for line in [
        "\nsysmon_updates_stale 0\n".to_string(),
        format!("\nsysmon_updates_last_success_timestamp_seconds {checked_at}\n"),
    ] {
        assert!(metrics.contains(&line), "{line:?} in {metrics}");
    }
    assert!(
        wait_for(Duration::from_secs(10), || daemon
            .get("/metrics")
            .body_text()
            .contains("\nsysmon_alert_firing{alert=\"updates_security\"} 1\n")
            .then_some(()))
        .is_some(),
        "{}",
        daemon.dump()
    );
}

/// The hostile-input sweep: output the parser did not understand, or an
/// exit status it contradicts, was "0 updates, ok" (`sysmon audit` exit 0,
/// `sysmon_updates_pending 0` with a fresh last-success time). Now the audit
/// fails: exit 1, `state: failed`, an error naming the command, its exit
/// status and the first line at fault; /metrics has neither a pending count
/// nor a success time.
#[test]
fn output_not_understood_fails_the_audit_not_zero_updates() {
    let (dir, shims) = shimmed("audit-e2e-unreadable");
    let cases = [
        (
            "pacman",
            "checkupdates",
            "",
            "==> ERROR: Cannot fetch updates\n",
            0,
            "checkupdates`: exit status 0, which says updates are pending, but no update was understood; nothing on stdout; stderr: \"==> ERROR: Cannot fetch updates\"",
        ),
        (
            "pacman",
            "checkupdates",
            "error: something went very wrong\n<html><body>502 Bad Gateway</body></html>\n",
            "",
            0,
            "checkupdates`: exit status 0, but none of its 2 lines was understood; first: \"error: something went very wrong\"",
        ),
        (
            "pacman",
            "checkupdates",
            "linux 6.9.7.arch1-1 -> 6.9.8.arch1-1\n",
            "==> ERROR: partial\n",
            2,
            "exit status 2, which says no updates are pending, but it printed \"linux 6.9.7.arch1-1 -> 6.9.8.arch1-1\"",
        ),
        (
            "dnf",
            "dnf",
            "",
            "",
            100,
            "dnf -q --setopt=errorlevel=3 check-update`: exit status 100, which says updates are pending, but no update was understood; it printed nothing",
        ),
        (
            "apt",
            "apt-get",
            "Reading package lists...\n",
            "E: The package lists or status file could not be parsed or opened.\n",
            0,
            "dist-upgrade`: exit status 0, but apt reported an error: \"E: The package lists or status file could not be parsed or opened.\"",
        ),
        (
            "apk",
            "apk",
            "ERROR: Unable to lock database: Permission denied\n",
            "",
            0,
            "apk version -l '<'`: exit status 0, but its one line was not understood; first: \"ERROR: Unable to lock database: Permission denied\"",
        ),
        (
            "xbps",
            "xbps-install",
            "ERROR: [reposync] failed to fetch file\n",
            "",
            0,
            "xbps-install -Mun`: exit status 0, but its one line was not understood",
        ),
    ];
    for (manager, tool, stdout, stderr, exit, wanted) in cases {
        shims.tool_output(tool, stdout, stderr, exit);
        let out = audit_cli(&dir, &shims, manager, true);
        assert_eq!(out.status.code(), Some(1), "{manager}: {out:?}");
        let json: miniserde::json::Value =
            miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(
            (field(&json, "state"), field(&json, "count")),
            ("failed".into(), "null".into()),
            "{manager}"
        );
        let error = field(&json, "error");
        assert!(
            error.contains(wanted),
            "{manager}: {error}\nwanted {wanted}"
        );
    }

    shims.tool_output("checkupdates", "", "", 0);
    let daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = pacman\nmounts = /",
        |_| {},
    );
    wait_for(Duration::from_secs(15), || {
        (field(&updates(&daemon), "state") == "failed").then_some(())
    })
    .unwrap_or_else(|| panic!("no failure; {}", daemon.dump()));
    let metrics = daemon.get("/metrics").body_text();
    for absent in [
        "\nsysmon_updates_pending ",
        "\nsysmon_updates_last_success_timestamp_seconds ",
    ] {
        assert!(!metrics.contains(absent), "{absent:?} in {metrics}");
    }
}

/// The sweep: a `checkupdates` that is not executable, a directory, or a
/// dangling symlink was reported "checkupdates is not installed: install
/// pacman-contrib". `sysmon audit` now names the file and what is wrong.
#[test]
fn a_broken_checkupdates_is_named_not_reported_missing() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, shims) = shimmed("audit-e2e-broken");
    let program = shims.dir.join("checkupdates");
    let broken: [(&str, &dyn Fn()); 3] = [
        ("is not executable (mode 644)", &|| {
            std::fs::write(&program, "#!/bin/sh\nexit 2\n").unwrap();
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
        }),
        ("is a directory, not a program", &|| {
            std::fs::create_dir(&program).unwrap()
        }),
        (
            "is a dangling symlink (to /nonexistent/checkupdates)",
            &|| std::os::unix::fs::symlink("/nonexistent/checkupdates", &program).unwrap(),
        ),
    ];
    for (why, make) in broken {
        let _ = std::fs::remove_file(&program).or_else(|_| std::fs::remove_dir(&program));
        make();
        let out = audit_cli(&dir, &shims, "pacman", true);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let json: miniserde::json::Value =
            miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(
            field(&json, "error"),
            format!("{} {why}", program.display())
        );
    }
}

/// Two `sysmon audit`s finishing in the same second into one log_dir keep
/// both logs. The build before checked that `updates_STAMP.log` did not
/// exist and then renamed its temporary there: both checks passed, and the
/// second rename replaced the first audit's log. Both are held at the log's
/// write (a debug build's gate) and released together; a round whose two
/// audits took different seconds proves nothing and is run again.
#[test]
fn two_audits_in_the_same_second_keep_both_logs() {
    let (dir, shims) = shimmed("audit-e2e-cli-same-second");
    shims.tool("checkupdates", "pacman/updates");
    let config = dir.config("backup = off\nupdate_manager = pacman");
    let logs = dir.join("logs");
    for round in 0..5 {
        let _ = std::fs::remove_dir_all(&logs);
        let gate = dir.join("log-gate");
        std::fs::write(&gate, "").unwrap();
        let audits: Vec<_> = (0..2)
            .map(|_| {
                let mut cmd = sysmon(&["audit", "--config", config.to_str().unwrap()]);
                cmd.env("PATH", shims.path())
                    .env("SYSMON_TEST_AUDIT_LOG_GATE", &gate)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        // Both have run their manager (two calls of the shim) and wait at
        // the gate, or soon will: the stamp is taken before it.
        wait_for(Duration::from_secs(30), || {
            (shims.calls("checkupdates").len() >= 2 * (round + 1)).then_some(())
        });
        std::thread::sleep(Duration::from_millis(300));
        std::fs::remove_file(&gate).unwrap();
        let mut errors = String::new();
        for child in audits {
            let out = child.wait_with_output().unwrap();
            errors.push_str(&String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(100), "{errors}");
        }
        let names: Vec<String> = crate::support::logs(&logs)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let stamps: std::collections::BTreeSet<&str> =
            names.iter().map(|n| &n["updates_".len()..][..15]).collect();
        if names.len() == 2 && stamps.len() == 2 {
            continue; // two seconds: no race to see
        }
        assert_eq!(names.len(), 2, "a log was replaced: {names:?}\n{errors}");
        assert!(names.iter().any(|n| n.ends_with("_2.log")), "{names:?}");
        return;
    }
    panic!("five rounds, and the two audits never shared a second");
}

/// The package manager the daemon starts gets every signal at its default:
/// none ignored, none caught. The daemon catches SIGUSR1, SIGALRM, ... and
/// SIGXFSZ (an `exec` resets a caught signal), and ignores SIGPIPE (std
/// resets it in the child). The build before ignored SIGXFSZ (`SIG_IGN`,
/// which an `exec` keeps): a manager writing past a file-size limit got
/// `EFBIG` where it expected to be killed. (SIGPIPE ignored by the test
/// process itself, and whatever it inherited, pass through sysmon's own
/// start; only what sysmon adds counts.)
#[test]
fn the_audit_child_starts_with_default_signal_dispositions() {
    let (dir, shims) = shimmed("audit-e2e-child-signals");
    let status_copy = dir.join("child-status");
    let script = shims.dir.join("checkupdates");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec cat /proc/self/status > '{}'\n",
            status_copy.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut daemon = daemon_with_shims(
        &dir,
        &shims,
        "backup = off\nupdate_manager = pacman\nmounts = /",
        |_| {},
    );
    let status = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(&status_copy)
            .ok()
            .filter(|s| s.contains("SigCgt:"))
    })
    .unwrap_or_else(|| panic!("the manager never ran; {}", daemon.dump()));
    let mask = |status: &str, field: &str| {
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        u64::from_str_radix(line[field.len()..].trim(), 16).unwrap()
    };
    // What the test itself was started with passes through (a libc's own
    // signal ignored by whoever started cargo); sysmon adds nothing.
    let inherited = mask(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "SigIgn:",
    );
    let added = mask(&status, "SigIgn:") & !inherited;
    assert_eq!(added, 0, "the child ignores {added:#x}; {}", daemon.dump());
    assert_eq!(mask(&status, "SigCgt:"), 0, "nothing is caught after exec");
    assert_eq!(mask(&status, "SigBlk:"), 0, "nothing is blocked");
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(5)).is_some());
}
