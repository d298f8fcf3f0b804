//! The port answers before the history file is made or scanned: the file is
//! opened at the first sample after start (or the first `/history.json`
//! request, if sooner), not before the first answer. Making it writes 8 MB
//! of zeros and syncs them; scanning it reads every slot: 5–12 ms that
//! start-up used to spend before the port answered (issue 16's
//! "start -> first data"). Both now run in slices, requests answered
//! between them.

use std::time::Duration;

use crate::all_points;
use crate::common::*;

/// The index of the first log line holding `needle`.
fn line_of(daemon: &Daemon, needle: &str) -> Option<usize> {
    daemon
        .log
        .lock()
        .unwrap()
        .iter()
        .position(|l| l.contains(needle))
}

#[test]
fn the_port_answers_before_the_history_file_is_opened() {
    let dir = TempDir::new("history-startup");
    // A sample a minute away: only a /history.json request can open the
    // file before then.
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1m\nmounts = /");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let db = dir.join("state/history.db");
    assert_eq!(daemon.get("/data.json").status, 200);
    assert!(
        !db.exists(),
        "made before the first sample or range request"
    );
    assert_eq!(line_of(&daemon, "history: "), None, "{}", daemon.dump());

    // A range request opens (here: makes) it, and is answered from it.
    let r = daemon.get("/history.json?range=1h");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    assert!(
        r.body_text().contains("\"written_end\""),
        "{}",
        r.body_text()
    );
    // Made whole (its zeros in slices, then renamed) before its log line.
    assert!(daemon.wait_log("history: ", Duration::from_secs(5)));
    assert!(db.exists());
    let listening = line_of(&daemon, "listening on").expect("listening line");
    let opened = line_of(&daemon, "history: ").unwrap();
    assert!(listening < opened, "{}", daemon.dump());
}

/// A range request whose target is in absolute form
/// (`GET http://HOST/history.json?range=1h`, RFC 9112 §3.2.2) opens it too:
/// the daemon looked for `/history.json` at the start of the target, and
/// answered without the file until the first sample.
#[test]
fn an_absolute_form_range_request_opens_it_too() {
    let dir = TempDir::new("history-startup-absolute");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1m\nmounts = /");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let target = format!("http://{}/history.json?range=1h", daemon.addr);
    let r = http(daemon.addr, &format!("GET {target} HTTP/1.0\r\n\r\n"));
    assert_eq!(r.status, 200, "{}", daemon.dump());
    assert!(
        r.body_text().contains("\"written_end\""),
        "{}",
        r.body_text()
    );
    assert!(daemon.wait_log("history: ", Duration::from_secs(5)));
    assert!(dir.join("state/history.db").exists());
}

/// Without a request, the first sample opens it.
#[test]
fn the_first_sample_opens_the_history_file() {
    let dir = TempDir::new("history-first-sample");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 300ms\nmounts = /");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert!(
        daemon.wait_log("history: ", Duration::from_secs(10)),
        "{}",
        daemon.dump()
    );
    assert!(dir.join("state/history.db").exists());
}

/// The check of an existing file runs in slices with requests answered
/// between them (issue 16: in one piece it held the loop 5–12 ms warm and
/// about 50 ms cold). The test knob makes each slice one page and pauses
/// 20 ms between slices (180 pages: ~3.6 s): `/history.json?range=` and
/// `/data.json` asked meanwhile are answered, the range answers say
/// `"opening":true` and serve the points of the file, which are the points
/// served once the opening ends. Counted, not timed.
#[test]
fn requests_are_answered_while_the_history_file_is_checked() {
    let dir = TempDir::new("history-opening");
    let config = |interval: &str| {
        dir.config(&format!(
            "backup = off\nupdate_manager = none\nmounts = /\ninterval = {interval}\n\
             history_tiers = 1m:1d"
        ))
    };
    {
        // A file with points: a run that records for a while and stops.
        let config = config("100ms");
        let mut daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
        assert!(
            daemon.wait_log("points kept", Duration::from_secs(10)),
            "{}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(500));
        daemon.signal(15);
        assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    }
    // No sample for a minute: only the first range request opens the file.
    let config = config("1m");
    let daemon = Daemon::start_with(&["--config", config.to_str().unwrap()], |cmd| {
        cmd.env("SYSMON_TEST_HISTORY_OPENING_PAUSE_MS", "20");
    });
    let range = || {
        let r = daemon.get("/history.json?range=1d");
        assert_eq!(r.status, 200, "{}", daemon.dump());
        r.body_text()
    };
    let mut during = Vec::new();
    let mut data_answers = 0;
    for _ in 0..2_000 {
        let json = range();
        if json.contains("\"opening\":true") {
            during.push(json);
        } else if daemon.logged("points kept") > 0 {
            break;
        }
        assert_eq!(daemon.get("/data.json").status, 200);
        data_answers += 1;
    }
    assert!(
        during.len() >= 5,
        "{} range answers while the file was checked\n{}",
        during.len(),
        daemon.dump()
    );
    assert!(data_answers >= during.len());
    let after = range();
    assert!(!after.contains("opening"), "{after}");
    let points = all_points(&after, "cpu");
    assert!(!points.is_empty(), "{after}");
    for json in &during {
        assert_eq!(all_points(json, "cpu"), points, "{json}");
    }
}

/// Fuzzing found a history file that could not be made for a full disk
/// (`state_dir` on a 2 MB tmpfs, the file 8 MB) leaving `history.db.new`
/// behind, and the log naming `history.db`, which was never written. The
/// temporary is removed, the error names it, and the daemon serves on.
#[test]
fn a_full_disk_leaves_no_half_made_history_file() {
    if !is_root("(state_dir is a 2 MB tmpfs mounted in a mount namespace)")
        || !have_tool("unshare", "a mount namespace for the small tmpfs")
        || !have_tool("nsenter", "listing the tmpfs inside the namespace")
    {
        return;
    }
    let dir = TempDir::new("history-full-disk");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 300ms\nmounts = /");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=2m,mode=0700 tmpfs '{}' && exec '{BIN}' run --listen 127.0.0.1:0 --config '{}'",
        state.display(),
        config.display()
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    let daemon = Daemon::spawn(cmd);
    let tmp = state.join("history.db.new");
    let failed = format!("history: {}: write: ", tmp.display());
    assert!(
        daemon.wait_log(&failed, Duration::from_secs(30)),
        "{failed}\n{}",
        daemon.dump()
    );
    let pid = daemon.pid().to_string();
    let mut ls = std::process::Command::new("nsenter");
    ls.args(["-t", &pid, "-m", "ls", "-A"]).arg(&state);
    let listing = run(ls);
    assert!(listing.status.success());
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(!names.contains("history.db"), "{names}");
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
}
