//! History and alerts, end to end on the real binary (issue #6):
//! `/history.json` over TCP fills at the sampling interval (100 ms); the
//! CPU alert fires and clears on a fixture /proc whose stat file the test
//! rewrites between samples, with `alert_command` seeing its variables; and
//! a command that outlives `alert_timeout` is killed with its whole process
//! group, leaving no zombie behind.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use miniserde::json::{Number, Value};

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Object(o) => o.get(key).unwrap_or_else(|| panic!("no {key}")),
        _ => panic!("not an object looking for {key}"),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(Number::U64(n)) => Some(*n as f64),
        Value::Number(Number::I64(n)) => Some(*n as f64),
        Value::Number(Number::F64(n)) => Some(*n),
        Value::Null => None,
        other => panic!("not a number: {}", miniserde::json::to_string(other)),
    }
}

fn array(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {}", miniserde::json::to_string(other)),
    }
}

fn history(daemon: &Daemon, query: &str) -> Value {
    let r = daemon.get(&format!("/history.json{query}"));
    assert_eq!(r.status, 200, "{}", daemon.dump());
    assert_eq!(r.header("Cache-Control").as_deref(), Some("no-store"));
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("application/json")
    );
    miniserde::json::from_str(&r.body_text())
        .unwrap_or_else(|e| panic!("bad JSON {e}: {}", r.body_text()))
}

fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn history_json_over_tcp_fills_at_the_sampling_interval() {
    let dir = TempDir::new("history");
    let daemon = Daemon::on_fixture(&dir, "interval = 100ms\nhistory = 1m");
    let filled = |h: &Value| {
        array(field(field(h, "series"), "cpu"))
            .iter()
            .filter(|v| num(v).is_some())
            .count()
    };
    assert!(
        until(Duration::from_secs(10), || filled(&history(&daemon, ""))
            >= 10),
        "history never reached 10 points\n{}",
        daemon.dump()
    );
    let h = history(&daemon, "");
    assert_eq!(num(field(&h, "interval_s")), Some(0.1));
    assert_eq!(num(field(&h, "points")), Some(600.0), "1m at 100ms");
    let end = num(field(&h, "end")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - end).abs() < 60.0, "end {end} is not about now {now}");
    let series = field(&h, "series");
    for key in ["cpu", "memory", "disk:/"] {
        let values = array(field(series, key));
        assert_eq!(values.len(), 600, "{key}");
        // Oldest first: the window starts before the daemon did.
        assert!(matches!(values[0], Value::Null), "{key}");
        let last = num(&values[599]).unwrap_or_else(|| panic!("{key}: newest is null"));
        assert!((0.0..=100.0).contains(&last), "{key} = {last}");
    }
    // The fixture has no swap: no series rather than a line of zeros.
    assert!(
        matches!(series, Value::Object(o) if !o.contains_key("swap")),
        "{}",
        miniserde::json::to_string(&h)
    );
    // The fixture's memory figure, as /data.json reports it.
    let data = daemon.data();
    let mem = num(field(field(&data, "memory"), "percent")).unwrap();
    assert_eq!(
        num(array(field(series, "memory")).last().unwrap()),
        Some(mem)
    );

    let small = history(&daemon, "?points=60");
    assert_eq!(num(field(&small, "interval_s")), Some(1.0));
    assert_eq!(num(field(&small, "points")), Some(60.0));
    let cpu = array(field(field(&small, "series"), "cpu"));
    assert_eq!(cpu.len(), 60);
    assert!(num(&cpu[59]).is_some());

    let bad = daemon.get("/history.json?points=0");
    assert_eq!(bad.status, 400, "{}", bad.body_text());
    // The window stays the size fixed at start however long it runs.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(num(field(&history(&daemon, ""), "points")), Some(600.0));
}

/// A copy of the basic fixture whose `stat` the test drives: every 50 ms
/// all cores gain 5 ticks of user time (busy) or of idle time.
struct CpuDriver {
    busy: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl CpuDriver {
    fn start(proc_root: &Path) -> CpuDriver {
        crate::common::copy_dir(&fixture("proc/basic"), proc_root);
        let stat_path = proc_root.join("stat");
        let busy = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let write_stat = |user: u64, idle: u64| {
            // Fixed-width numbers: every version of the file has the same
            // length, so rewriting it in place never shows a truncated file
            // to the daemon, which keeps it open.
            let line = |name: &str, n: u64| {
                format!("{name} {:012} 0 0 {:012} 0 0 0 0 0 0\n", user * n, idle * n)
            };
            format!(
                "{}{}{}btime 1764000000\nprocs_running 1\nprocs_blocked 0\n",
                line("cpu ", 2),
                line("cpu0", 1),
                line("cpu1", 1)
            )
        };
        std::fs::write(&stat_path, write_stat(1000, 1000)).unwrap();
        let (b, s) = (busy.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&stat_path)
                .unwrap();
            let (mut user, mut idle) = (1000, 1000);
            while !s.load(Ordering::SeqCst) {
                if b.load(Ordering::SeqCst) {
                    user += 5;
                } else {
                    idle += 5;
                }
                file.seek(SeekFrom::Start(0)).unwrap();
                file.write_all(write_stat(user, idle).as_bytes()).unwrap();
                thread::sleep(Duration::from_millis(50));
            }
        });
        CpuDriver {
            busy,
            stop,
            thread: Some(thread),
        }
    }

    fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }
}

impl Drop for CpuDriver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn alerts(daemon: &Daemon) -> Vec<Value> {
    array(field(&daemon.data(), "alerts")).to_vec()
}

fn string(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        other => panic!("not a string: {}", miniserde::json::to_string(other)),
    }
}

#[test]
fn cpu_alert_fires_and_clears_running_alert_command_with_its_variables() {
    let dir = TempDir::new("alert-cpu");
    let proc_root = dir.join("proc");
    let driver = CpuDriver::start(&proc_root);
    let events = dir.join("events");
    let extra = format!(
        "interval = 100ms\n\
         alert_cpu = 50% for 500ms\nalert_timeout = 5s\n\
         alert_command = printf '%s|%s|%s|%s|%s|%s\\n' \"$SYSMON_ALERT\" \"$SYSMON_ALERT_STATE\" \
         \"$SYSMON_ALERT_VALUE\" \"$SYSMON_ALERT_THRESHOLD\" \"$SYSMON_ALERT_MESSAGE\" \
         \"$SYSMON_HOSTNAME\" >> {}",
        events.display()
    );
    let daemon = Daemon::on_roots(&dir, &proc_root, None, &extra);
    // Idle: no alert, and /metrics says so.
    thread::sleep(Duration::from_millis(800));
    assert!(alerts(&daemon).is_empty(), "{}", daemon.dump());
    assert!(
        daemon
            .get("/metrics")
            .body_text()
            .contains("\nsysmon_alert_firing{alert=\"cpu\"} 0\n")
    );

    driver.set_busy(true);
    let started = Instant::now();
    assert!(
        until(Duration::from_secs(10), || !alerts(&daemon).is_empty()),
        "cpu alert never fired\n{}",
        daemon.dump()
    );
    // It had to hold for 500 ms first (the liveness bound is generous).
    assert!(started.elapsed() >= Duration::from_millis(500));
    let alert = &alerts(&daemon)[0];
    assert_eq!(string(field(alert, "name")), "cpu");
    assert_eq!(num(field(alert, "threshold")), Some(50.0));
    let value = num(field(alert, "value")).unwrap();
    assert!(value >= 50.0, "{value}");
    let message = string(field(alert, "message"));
    assert!(
        message.starts_with("CPU at ") && message.ends_with(" (alert at 50% for 500ms)"),
        "{message}"
    );
    assert!(num(field(alert, "since")).unwrap() > 1.7e9);
    assert!(
        daemon
            .get("/metrics")
            .body_text()
            .contains("\nsysmon_alert_firing{alert=\"cpu\"} 1\n")
    );
    assert!(daemon.wait_log("alert cpu firing: CPU at", Duration::from_secs(2)));

    driver.set_busy(false);
    assert!(
        until(Duration::from_secs(10), || alerts(&daemon).is_empty()),
        "cpu alert never cleared\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("alert cpu resolved: CPU at", Duration::from_secs(2)));

    let hostname = std::fs::read_to_string(proc_root.join("sys/kernel/hostname")).unwrap();
    let read_events = || std::fs::read_to_string(&events).unwrap_or_default();
    assert!(
        until(Duration::from_secs(10), || read_events().lines().count()
            >= 2),
        "alert_command did not run twice: {:?}\n{}",
        read_events(),
        daemon.dump()
    );
    let lines: Vec<Vec<String>> = read_events()
        .lines()
        .map(|l| l.split('|').map(String::from).collect())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, state) in lines.iter().zip(["firing", "resolved"]) {
        assert_eq!(line.len(), 6, "{line:?}");
        assert_eq!((line[0].as_str(), line[1].as_str()), ("cpu", state));
        let v: f64 = line[2].parse().unwrap();
        assert!(
            if state == "firing" {
                v >= 50.0
            } else {
                v < 50.0
            },
            "{line:?}"
        );
        assert_eq!(line[3], "50");
        assert!(line[4].starts_with("CPU at "), "{line:?}");
        assert_eq!(line[5], hostname.trim());
    }
}

/// The children of `pid` (any state, zombies included) and the processes
/// of group `pgid` that are not zombies.
fn children_and_group(pid: i32, pgid: i32) -> (Vec<String>, Vec<String>) {
    let (mut children, mut group) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (state, ppid, pgrp) = (fields[0], fields[1], fields[2]);
        if ppid == pid.to_string() {
            children.push(format!("{head}) {state}"));
        }
        if pgrp == pgid.to_string() && state != "Z" {
            group.push(format!("{head}) {state}"));
        }
    }
    (children, group)
}

#[test]
fn alert_command_is_killed_with_its_group_after_the_timeout() {
    let dir = TempDir::new("alert-timeout");
    let pgid_file = dir.join("pgid");
    let extra = format!(
        "alert_cpu = 0% for 0s\nalert_timeout = 1s\n\
         alert_command = echo $$ > {}.tmp && mv {0}.tmp {0}; sleep 30 & sleep 30",
        pgid_file.display()
    );
    let daemon = Daemon::on_fixture(&dir, &extra);
    assert!(
        until(Duration::from_secs(10), || pgid_file.exists()),
        "alert_command never started\n{}",
        daemon.dump()
    );
    let pgid: i32 = std::fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The shell wrote the file before starting the sleeps: give it a moment.
    let mut running = (Vec::new(), Vec::new());
    let started = until(Duration::from_secs(5), || {
        running = children_and_group(daemon.pid(), pgid);
        running.0.len() == 1 && running.1.len() >= 2
    });
    let (children, group) = running;
    assert!(
        started,
        "while running: the shell (or the sleep it became) is the daemon's only child, with another sleep in its group: {children:?} {group:?}"
    );
    assert!(
        daemon.wait_log(
            "alert_command for cpu still running after 1s; killed",
            Duration::from_secs(10)
        ),
        "{}",
        daemon.dump()
    );
    let mut last = (Vec::new(), Vec::new());
    let gone = until(Duration::from_secs(5), || {
        last = children_and_group(daemon.pid(), pgid);
        last.0.is_empty() && last.1.is_empty()
    });
    assert!(
        gone,
        "after the timeout: children of the daemon {:?}, group {pgid} {:?}\n{}",
        last.0,
        last.1,
        daemon.dump()
    );
    // The alert keeps firing; the command is not started again for it.
    thread::sleep(Duration::from_millis(500));
    assert_eq!(alerts(&daemon).len(), 1);
    assert!(children_and_group(daemon.pid(), pgid).0.is_empty());
}

/// An alert command that leaves its process group (into the daemon's own,
/// a helper staying behind) is killed at the timeout too: the group's
/// SIGKILL reaches only the helper, and the build before left the command
/// itself running for ever (its instance "running", no later command for
/// that alert started).
#[test]
fn an_alert_command_that_leaves_its_process_group_is_killed_after_the_timeout() {
    if !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!(
            "SKIPPED: no /usr/bin/python3 for the group-leaving command (.ci/deps installs it)"
        );
        return;
    }
    let dir = TempDir::new("alert-leaves-group");
    let pids_file = dir.join("pids");
    let script = dir.join("leave.py");
    std::fs::write(
        &script,
        format!(
            "import os, time\n\
             helper = os.fork()\n\
             if helper == 0:\n    time.sleep(60)\n    os._exit(0)\n\
             os.setpgid(0, os.getpgid(os.getppid()))\n\
             with open({tmp:?}, 'w') as f:\n    f.write('%d %d\\n' % (os.getpid(), helper))\n\
             os.rename({tmp:?}, {done:?})\n\
             time.sleep(60)\n",
            tmp = format!("{}.tmp", pids_file.display()),
            done = pids_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let extra = format!(
        "alert_cpu = 0% for 0s\nalert_timeout = 1s\nalert_command = exec /usr/bin/python3 {}",
        script.display()
    );
    let daemon = Daemon::on_fixture(&dir, &extra);
    assert!(
        until(Duration::from_secs(10), || pids_file.exists()),
        "alert_command never started\n{}",
        daemon.dump()
    );
    let pids: Vec<u32> = std::fs::read_to_string(&pids_file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(
        daemon.wait_log(
            "alert_command for cpu still running after 1s; killed",
            Duration::from_secs(10)
        ),
        "{}",
        daemon.dump()
    );
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    let gone = until(Duration::from_secs(5), || !pids.iter().any(|&p| alive(p)));
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &pid in &left {
        // Not left behind by a failing test.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(
        gone,
        "still running after the timeout: {left:?} of {pids:?}\n{}",
        daemon.dump()
    );
}
