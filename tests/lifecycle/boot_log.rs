//! The boot log (`state_dir/boots.log`, issue 14): a sequence of fake boots
//! (a fixture /proc whose `boot_id` the test rewrites between daemon runs)
//! ended by SIGTERM or SIGKILL gives `unexpected_reboot` exactly when a new
//! boot follows one that sysmon was not stopped cleanly in: in /data.json,
//! /metrics and through `alert_command`; the file stays within 100 boots;
//! a file that is not a boot log is set aside, never a reason not to start.
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miniserde::json::Value;

use crate::common::*;

/// A copy of the basic fixture /proc whose boot id the test sets.
struct FakeBoots {
    proc_root: PathBuf,
}

impl FakeBoots {
    fn new(dir: &TempDir) -> FakeBoots {
        let proc_root = dir.join("proc");
        copy_dir(&fixture("proc/basic"), &proc_root);
        FakeBoots { proc_root }
    }

    /// Boot number `n`: a new `boot_id` (what a reboot changes).
    fn boot(&self, n: u32) -> String {
        let id = boot_id(n);
        std::fs::write(
            self.proc_root.join("sys/kernel/random/boot_id"),
            format!("{id}\n"),
        )
        .unwrap();
        id
    }
}

fn boot_id(n: u32) -> String {
    format!("{n:08x}-b007-4000-8000-000000000000")
}

fn array(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        other => panic!("not an array: {other:?}"),
    }
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn alert_names(data: &Value) -> Vec<String> {
    array(field(data, &["alerts"]))
        .iter()
        .filter_map(|a| text(a, &["name"]))
        .collect()
}

/// Previous boots in /data.json, newest first: (boot_id, clean).
fn previous(data: &Value) -> Vec<(String, bool)> {
    array(field(data, &["boots", "previous"]))
        .iter()
        .map(|b| {
            (
                text(b, &["boot_id"]).unwrap(),
                boolean(field(b, &["clean"])).unwrap(),
            )
        })
        .collect()
}

/// The boot log's records: (boot_id, end).
fn records(state: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(state.join("boots.log")).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("# sysmon boot log"),
        "{text}"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].to_string(), f[3].to_string())
        })
        .collect()
}

/// A daemon on the fake boots, once its start's record is in the file: the
/// record is written by a thread of its own while the port already answers
/// (issue 16), so a kill right after `listening on` could come before it.
fn start(dir: &TempDir, boots: &FakeBoots, extra: &str) -> Daemon {
    let daemon = Daemon::on_roots(dir, &boots.proc_root, None, extra);
    let id = std::fs::read_to_string(boots.proc_root.join("sys/kernel/random/boot_id")).unwrap();
    let log = dir.join("state").join("boots.log");
    let recorded = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).ok()?;
        let last = text.lines().last()?;
        (last.starts_with(id.trim()) && last.ends_with(" up")).then_some(())
    });
    assert!(
        recorded.is_some(),
        "this boot never recorded\n{}",
        daemon.dump()
    );
    daemon
}

/// The same with the start's record held back for `pause_ms` (a debug
/// build's knob): what the daemon does before the record is on disk.
fn start_with_record_held_back(dir: &TempDir, boots: &FakeBoots, pause_ms: u32) -> Daemon {
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\n");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        boots.proc_root.to_str().unwrap(),
    ];
    Daemon::start_with(&args, |cmd| {
        cmd.env("SYSMON_TEST_BOOT_LOG_PAUSE_MS", pause_ms.to_string());
    })
}

fn stop_cleanly(mut daemon: Daemon) {
    daemon.signal(15);
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.dump());
}

fn kill(mut daemon: Daemon) {
    daemon.signal(9);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
}

/// The environment `alert_command` saw for `alert` in `state`, once written.
fn alert_env(dir: &TempDir, alert: &str, state: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(&format!("alert.{alert}.{state}"))).ok()
}

#[test]
fn a_reboot_without_a_clean_stop_fires_unexpected_reboot_and_a_clean_one_does_not() {
    let dir = TempDir::new("bootlog-seq");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    // Each event's environment in a file of its own.
    let extra = format!(
        "interval = 200ms\nalert_unexpected_reboot = 3s\n\
         alert_command = env | grep ^SYSMON_ > {d}/alert.$SYSMON_ALERT.$SYSMON_ALERT_STATE.tmp \
         && mv {d}/alert.$SYSMON_ALERT.$SYSMON_ALERT_STATE.tmp {d}/alert.$SYSMON_ALERT.$SYSMON_ALERT_STATE",
        d = dir.path().display()
    );

    // Boot 1, the first sysmon has seen: nothing to compare with.
    let a = boots.boot(1);
    let daemon = start(&dir, &boots, &extra);
    let data = daemon.data();
    assert_eq!(
        text(&data, &["boots", "current", "boot_id"]),
        Some(a.clone())
    );
    assert!(previous(&data).is_empty());
    assert!(!alert_names(&data).contains(&"unexpected_reboot".to_string()));
    let mode = std::fs::metadata(state.join("boots.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // SIGTERM, as an init system shuts the box down.
    stop_cleanly(daemon);
    assert_eq!(records(&state), [(a.clone(), "stopped".to_string())]);

    // Boot 2 after a clean stop: not unexpected.
    let b = boots.boot(2);
    let daemon = start(&dir, &boots, &extra);
    let data = daemon.data();
    assert_eq!(previous(&data), [(a.clone(), true)]);
    assert!(alert_names(&data).is_empty(), "{}", daemon.dump());
    let metrics = daemon.get("/metrics").body_text();
    assert!(
        metrics.contains("\nsysmon_last_boot_clean 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\nsysmon_alert_firing{alert=\"unexpected_reboot\"} 0\n"));
    kill(daemon);

    // sysmon killed and started again within boot 2: a restart, not a reboot.
    let daemon = start(&dir, &boots, &extra);
    assert!(daemon.wait_log("sysmon restarted, not a reboot", Duration::from_secs(5)));
    let data = daemon.data();
    assert_eq!(previous(&data), [(a.clone(), true)]);
    assert!(alert_names(&data).is_empty(), "{}", daemon.dump());
    kill(daemon);
    assert_eq!(
        records(&state),
        [(a.clone(), "stopped".into()), (b.clone(), "up".into())]
    );

    // Boot 3 after boot 2 ended with sysmon never stopped: unexpected.
    let c = boots.boot(3);
    let daemon = start(&dir, &boots, &extra);
    let data = daemon.data();
    assert_eq!(
        text(&data, &["boots", "current", "boot_id"]),
        Some(c.clone())
    );
    assert_eq!(previous(&data), [(b.clone(), false), (a.clone(), true)]);
    assert!(
        matches!(
            field(&data, &["boots", "unclean"]),
            Some(Value::Number(miniserde::json::Number::U64(1)))
        ),
        "{:?}",
        field(&data, &["boots"])
    );
    assert_eq!(
        alert_names(&data),
        ["unexpected_reboot"],
        "{}",
        daemon.dump()
    );
    let metrics = daemon.get("/metrics").body_text();
    for line in [
        "\nsysmon_last_boot_clean 0\n",
        "\nsysmon_boots_unclean 1\n",
        "\nsysmon_boots_recorded 3\n",
        "\nsysmon_alert_firing{alert=\"unexpected_reboot\"} 1\n",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    if have_tool("promtool", "the boot log's /metrics families") {
        assert_promtool_accepts(metrics.as_bytes());
    }
    // alert_command heard it start, then end once alert_unexpected_reboot passed.
    let env = wait_for(Duration::from_secs(10), || {
        alert_env(&dir, "unexpected_reboot", "firing")
    })
    .unwrap_or_else(|| panic!("no alert_command for firing\n{}", daemon.dump()));
    assert!(env.contains("SYSMON_ALERT=unexpected_reboot\n"), "{env}");
    assert!(env.contains("SYSMON_ALERT_STATE=firing\n"), "{env}");
    assert!(
        env.contains(&format!(
            "SYSMON_ALERT_MESSAGE=the previous boot ({b}) ended without a clean stop"
        )),
        "{env}"
    );
    let env = wait_for(Duration::from_secs(15), || {
        alert_env(&dir, "unexpected_reboot", "resolved")
    })
    .unwrap_or_else(|| panic!("never resolved\n{}", daemon.dump()));
    assert!(env.contains("SYSMON_ALERT_STATE=resolved\n"), "{env}");
    assert!(alert_names(&daemon.data()).is_empty());
    stop_cleanly(daemon);
    assert_eq!(
        records(&state),
        [
            (a, "stopped".into()),
            (b, "unclean".into()),
            (c, "stopped".into())
        ]
    );
    // One firing and one resolved, both from boot 3: boot 2 and the restart raised none.
    let files: Vec<String> = files_below(dir.path())
        .into_iter()
        .filter(|f| f.contains("alert."))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
}

/// Issue 16: the port answers before the start's record is synced (it
/// cost 1.2 ms of a 3.4 ms start), and the record keeps its place: a clean
/// stop while it is held back still leaves this boot `stopped` (the stop's
/// write waits for the start's), and a kill -9 then leaves the log as it
/// was, whole, for the next start to read. Fails on the code before: the
/// record was on disk before the port answered.
#[test]
fn the_port_answers_before_the_start_is_recorded_and_the_records_keep_their_order() {
    let dir = TempDir::new("bootlog-later");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    let log = state.join("boots.log");
    // A long pause: the test's requests come well within it.
    let a = boots.boot(1);
    let daemon = start_with_record_held_back(&dir, &boots, 4000);
    let data = daemon.data();
    assert_eq!(
        text(&data, &["boots", "current", "boot_id"]),
        Some(a.clone())
    );
    assert!(
        !log.exists(),
        "the record was written before the port answered\n{}",
        daemon.dump()
    );
    stop_cleanly(daemon);
    assert_eq!(records(&state), [(a.clone(), "stopped".to_string())]);

    // Killed while the next boot's record is held back: the old log stays
    // as it was (not set aside), and the boot after reads it.
    let before = std::fs::read(&log).unwrap();
    boots.boot(2);
    let daemon = start_with_record_held_back(&dir, &boots, 4000);
    assert_eq!(previous(&daemon.data()), [(a.clone(), true)]);
    kill(daemon);
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let c = boots.boot(3);
    let daemon = start(&dir, &boots, "");
    let data = daemon.data();
    assert_eq!(previous(&data), [(a.clone(), true)], "{}", daemon.dump());
    assert!(!alert_names(&data).contains(&"unexpected_reboot".to_string()));
    stop_cleanly(daemon);
    assert_eq!(
        records(&state),
        [(a, "stopped".to_string()), (c, "stopped".to_string())]
    );
    assert!(files_below(&state).iter().all(|f| !f.contains("aside")));
}

#[test]
fn the_boot_log_keeps_the_last_hundred_of_150_boots() {
    let dir = TempDir::new("bootlog-bound");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    let mut largest = 0;
    for n in 0..150 {
        boots.boot(n);
        let daemon = start(&dir, &boots, "");
        // Half end with SIGTERM (clean), half with SIGKILL (unclean).
        if n % 2 == 0 {
            stop_cleanly(daemon);
        } else {
            kill(daemon);
        }
        let len = std::fs::metadata(state.join("boots.log")).unwrap().len();
        largest = largest.max(len);
        assert_eq!(records(&state).len(), (n as usize + 1).min(100));
    }
    let records = records(&state);
    let ids: Vec<&str> = records.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (50..150).map(boot_id).collect();
    assert_eq!(ids, want);
    // Every SIGKILLed boot followed by another is unclean; SIGTERMed ones stopped.
    for (i, (_, end)) in records.iter().enumerate() {
        let n = 50 + i;
        let expected = match (n % 2, n) {
            (_, 149) => "up",
            (0, _) => "stopped",
            _ => "unclean",
        };
        assert_eq!(end, expected, "boot {n}");
    }
    // 100 records of 36 + 1 + 10 + 1 + 10 + 1 + up to 7 + 1 bytes, and the header.
    assert!(largest <= 7_000, "boots.log reached {largest} bytes");
    eprintln!("boots.log at 100 boots: {largest} bytes");
}

#[test]
fn a_corrupt_boot_log_is_set_aside_and_the_daemon_starts() {
    let dir = TempDir::new("bootlog-corrupt");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let garbage = b"\x00\x01 not a boot log\nsecond line\n";
    std::fs::write(state.join("boots.log"), garbage).unwrap();
    let a = boots.boot(1);
    let daemon = start(&dir, &boots, "");
    assert!(
        daemon.wait_log("set aside as", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let aside: Vec<String> = files_below(&state)
        .into_iter()
        .filter(|f| f.contains("boots.log.aside-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = std::fs::read(state.join(aside[0].rsplit('/').next().unwrap())).unwrap();
    assert_eq!(kept, garbage, "set aside as it was, never rewritten");
    let data = daemon.data();
    assert_eq!(
        text(&data, &["boots", "current", "boot_id"]),
        Some(a.clone())
    );
    assert!(alert_names(&data).is_empty());
    stop_cleanly(daemon);
    assert_eq!(records(&state), [(a, "stopped".to_string())]);
}

#[test]
fn last_seen_alive_is_written_at_its_cadence_not_at_every_sample() {
    let dir = TempDir::new("bootlog-cadence");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    boots.boot(1);
    let daemon = start(&dir, &boots, "interval = 100ms\nboot_log_every = 1s");
    let log = state.join("boots.log");
    let last_seen = || -> u64 {
        let text = std::fs::read_to_string(&log).unwrap();
        text.lines()
            .nth(1)
            .unwrap()
            .split(' ')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = last_seen();
    // Each write makes a new version of the file (a new inode when
    // replaced whole, a new modification time when written in place):
    // count the versions seen.
    let version = |m: &std::fs::Metadata| (m.ino(), m.mtime(), m.mtime_nsec());
    let mut inodes = vec![version(&std::fs::metadata(&log).unwrap())];
    let until = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < until {
        if let Ok(m) = std::fs::metadata(&log) {
            if !inodes.contains(&version(&m)) {
                inodes.push(version(&m));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let samples = 3500 / 100;
    eprintln!(
        "{} versions of boots.log in 3.5 s ({samples} samples at 100 ms)",
        inodes.len()
    );
    assert!(
        (2..=6).contains(&inodes.len()),
        "{} versions of boots.log in 3.5 s at boot_log_every = 1s ({samples} samples)",
        inodes.len()
    );
    assert!(
        last_seen() >= first + 2,
        "last seen {first} -> {}",
        last_seen()
    );
    drop(daemon);
}

/// `sysmon sample` prints the boot log as the daemon would show it at a
/// start now, and changes nothing: no record written, no state directory
/// made, a corrupt file neither read nor set aside (`boots` is null then).
#[test]
fn sysmon_sample_shows_the_boot_log_without_writing_it() {
    let dir = TempDir::new("bootlog-sample");
    let boots = FakeBoots::new(&dir);
    let state = dir.join("state");
    let config = dir.config("");
    let sample = || {
        let out = sysmon(&["sample", "--config"])
            .arg(&config)
            .arg("--proc-root")
            .arg(&boots.proc_root)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{:?} {stderr}", out.status);
        let json = String::from_utf8(out.stdout).unwrap();
        miniserde::json::from_str::<Value>(&json).unwrap_or_else(|e| panic!("{e:?}: {json}"))
    };

    // No daemon has run: this boot alone, and no state directory made.
    let a = boots.boot(1);
    let data = sample();
    assert_eq!(
        text(&data, &["boots", "current", "boot_id"]),
        Some(a.clone())
    );
    assert!(previous(&data).is_empty());
    assert!(!state.exists(), "sample made {}", state.display());

    // Boot 1's daemon killed, then boot 2: the sample sees boot 1 as
    // unclean, as the daemon's next start will, and leaves the file alone.
    kill(start(&dir, &boots, ""));
    let written = std::fs::read(state.join("boots.log")).unwrap();
    let b = boots.boot(2);
    let data = sample();
    assert_eq!(text(&data, &["boots", "current", "boot_id"]), Some(b));
    assert_eq!(previous(&data), [(a.clone(), false)]);
    assert_eq!(std::fs::read(state.join("boots.log")).unwrap(), written);
    assert_eq!(records(&state), [(a, "up".to_string())]);

    // Not a boot log: null, and the file stays where it is.
    std::fs::write(state.join("boots.log"), "not a boot log\n").unwrap();
    let data = sample();
    assert!(
        matches!(field(&data, &["boots"]), Some(Value::Null)),
        "{data:?}"
    );
    assert_eq!(
        std::fs::read_to_string(state.join("boots.log")).unwrap(),
        "not a boot log\n"
    );
    let names: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "sysmon.lock") // the daemon's, kept
        .collect();
    assert_eq!(names, ["boots.log"], "set aside?");
}

/// A boot log that could not be opened at start (here `state_dir` is a
/// regular file: no place for it, as a disk not yet mounted at boot
/// leaves none) stayed off for the whole uptime. It is tried again at a
/// sample (every 10 minutes; here shortened), a retry that fails as the
/// last did is not logged again, and one that works records this boot.
#[test]
fn a_boot_log_that_could_not_be_opened_is_tried_again() {
    let dir = TempDir::new("bootlog-retry");
    let boots = FakeBoots::new(&dir);
    let id = boots.boot(1);
    let state = dir.join("state");
    std::fs::write(&state, "in the way\n").unwrap();
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 100ms\nhistory_tiers = off\n",
    );
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        boots.proc_root.to_str().unwrap(),
    ];
    let daemon = Daemon::start_with(&args, |cmd| {
        cmd.env("SYSMON_TEST_BOOT_LOG_RETRY_MS", "200");
    });
    assert!(
        daemon.wait_log("running without the boot log", Duration::from_secs(10)),
        "{}",
        daemon.dump()
    );
    // Several retries fail the same way: said once.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        daemon.logged("running without the boot log"),
        1,
        "{}",
        daemon.dump()
    );
    std::fs::remove_file(&state).unwrap();
    let log = state.join("boots.log");
    let recorded = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).ok()?;
        let last = text.lines().last()?;
        (last.starts_with(&id) && last.ends_with(" up")).then_some(())
    });
    assert!(
        recorded.is_some(),
        "the boot log was never tried again\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("recorded (1 boots kept)", Duration::from_secs(5)));
    assert_eq!(daemon.logged("recorded (1 boots kept)"), 1);
    let data = daemon.data();
    assert_eq!(text(&data, &["boots", "current", "boot_id"]), Some(id));
}
