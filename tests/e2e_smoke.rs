//! The daemon starts on a fixture /proc, answers over real TCP, and stops on SIGTERM.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn serves_and_stops_on_sigterm() {
    let dir = TempDir::new("smoke");
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /");
    let proc_root = fixture("proc/basic");
    let mut daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ]);
    let index = daemon.get("/");
    assert_eq!(index.status, 200, "{}", daemon.dump());
    assert!(index.header("Content-Security-Policy").is_some());
    assert_eq!(daemon.get("/nope").status, 404);
    let data = daemon.get("/data.json");
    assert_eq!(data.header("Cache-Control").as_deref(), Some("no-store"));
    daemon.signal(15);
    let status = daemon
        .wait_exit(Duration::from_secs(1))
        .expect("exits within 1 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}
