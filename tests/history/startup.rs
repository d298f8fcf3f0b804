//! The port answers before the history file is made or scanned: the file is
//! opened at the first sample after start (or the first `/history.json`
//! request, if sooner), not before the first answer. Making it writes 8 MB
//! of zeros and syncs them; scanning it reads every slot: 5–12 ms that
//! start-up used to spend before the port answered (issue 16's
//! "start -> first data").

use std::time::Duration;

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
    assert!(db.exists());
    assert!(daemon.wait_log("history: ", Duration::from_secs(5)));
    let listening = line_of(&daemon, "listening on").expect("listening line");
    let opened = line_of(&daemon, "history: ").unwrap();
    assert!(listening < opened, "{}", daemon.dump());
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
