//! SIGHUP re-reads the config; an invalid new one is refused with a
//! FILE:LINE log line and the old one stays in force (issue #5). (SIGTERM
//! during a backup is proven in `tests/backup/daemon.rs`.)
use crate::common::*;
use std::time::Duration;

fn interval_s(daemon: &Daemon) -> f64 {
    let data = daemon.get("/data.json");
    assert_eq!(data.status, 200, "{}", daemon.dump());
    let text = data.body_text();
    let rest = text
        .split("\"interval_s\":")
        .nth(1)
        .unwrap_or_else(|| panic!("no interval_s in {text}"));
    rest.split([',', '}']).next().unwrap().parse().unwrap()
}

#[test]
fn sighup_applies_a_valid_config_and_refuses_an_invalid_one() {
    let dir = TempDir::new("sighup");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 5s");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(interval_s(&daemon), 5.0);

    // Valid: the new interval shows in /data.json.
    dir.config("backup = off\nupdate_manager = none\ninterval = 2s");
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert_eq!(interval_s(&daemon), 2.0);

    // Invalid: refused with the file and line, the 2 s interval stays, it still serves.
    dir.config("backup = off\nupdate_manager = none\ninterval = often");
    daemon.signal(1);
    let wanted = format!("{}:6: interval", config.display());
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "no `{wanted}` logged\n{}",
        daemon.dump()
    );
    assert!(
        daemon.wait_log("keeping the running configuration", Duration::from_secs(1)),
        "{}",
        daemon.dump()
    );
    assert_eq!(interval_s(&daemon), 2.0);
    assert_eq!(daemon.get("/").status, 200);
    assert_eq!(daemon.logged("configuration reloaded"), 1);
}
