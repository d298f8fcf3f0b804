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
    // `run --listen` set the address: the file's default `listen` does not
    // replace it, and no reload warns that it waits for a restart.
    assert_eq!(daemon.logged("at the next restart"), 0, "{}", daemon.dump());

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

/// A setting another key makes pointless (`alert_service_failed = on`
/// with `services = off`) was accepted silently: `run` warns at start and
/// at each reload, naming both lines, and keeps running.
#[test]
fn run_warns_of_settings_without_effect_at_start_and_on_reload() {
    let dir = TempDir::new("sighup-no-effect");
    let config = dir
        .config("backup = off\nupdate_manager = none\nservices = off\nalert_service_failed = on");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let wanted = format!(
        "warning: {}:7: alert_service_failed = on has no effect with services = off (line 6)",
        config.display()
    );
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "no `{wanted}` logged\n{}",
        daemon.dump()
    );
    dir.config("backup = off\nupdate_manager = none\nservices = off\ninterval = 2s\nalert_service_failed = on");
    daemon.signal(1);
    let wanted = format!(
        "SIGHUP: {}:8: alert_service_failed = on has no effect with services = off (line 6)",
        config.display()
    );
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "no `{wanted}` logged\n{}",
        daemon.dump()
    );
    assert_eq!(daemon.logged("has no effect"), 2, "{}", daemon.dump());
    assert_eq!(interval_s(&daemon), 2.0);
}

/// The reload scope is the key table's (`restart` in the README's
/// configuration table): a changed `max_connections` waits for a restart and
/// the warning names that key alone, while `interval` in the same reload
/// applies at once. (Before the table, every reload that touched one of
/// listen, client_timeout, max_connections named all three.)
#[test]
fn sighup_names_only_the_changed_keys_that_wait_for_a_restart() {
    let dir = TempDir::new("sighup-scope");
    let port = free_port();
    let base = format!("listen = 127.0.0.1:{port}\nbackup = off\nupdate_manager = none\n");
    let config = dir.config(&format!("{base}interval = 5s\nmax_connections = 100"));
    let daemon = Daemon::start_as_configured(&["--config", config.to_str().unwrap()], |_| {});
    assert_eq!(interval_s(&daemon), 5.0);

    dir.config(&format!("{base}interval = 2s\nmax_connections = 50"));
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert_eq!(interval_s(&daemon), 2.0);
    let log = daemon.log.lock().unwrap().clone();
    let deferred: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("at the next restart"))
        .collect();
    assert_eq!(deferred.len(), 1, "{log:#?}");
    assert!(
        deferred[0].contains("SIGHUP: max_connections takes effect at the next restart"),
        "{log:#?}"
    );
    for unchanged in ["listen", "client_timeout", "interval"] {
        assert!(!deferred[0].contains(unchanged), "{log:#?}");
    }
}

/// `allow`, `auth_user` and `auth_password_file` are live keys: a reload
/// applies them (the policy used to be built once at start, so a reload
/// that turned auth on or tightened `allow` was logged as applied and did
/// nothing), the password file is read and checked again, and a password
/// file the reload refuses keeps the whole running configuration.
#[test]
fn sighup_applies_access_changes_and_rechecks_the_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("sighup-access");
    let base = "backup = off\nupdate_manager = none\ninterval = 5s";
    let config = dir.config(base);
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let get_as = |authorization: Option<&str>| {
        let header = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        http(
            daemon.addr,
            &format!(
                "GET /data.json HTTP/1.0\r\nHost: {}\r\n{header}\r\n",
                daemon.addr
            ),
        )
        .status
    };
    assert_eq!(get_as(None), 200);

    // Auth turned on by a reload: a client without the password is refused.
    let password = dir.join("password");
    std::fs::write(&password, "first\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let auth = format!(
        "{base}\nauth_user = admin\nauth_password_file = {}",
        password.display()
    );
    dir.config(&auth);
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let first = "Basic YWRtaW46Zmlyc3Q="; // admin:first
    let second = "Basic YWRtaW46c2Vjb25k"; // admin:second
    assert_eq!(get_as(None), 401, "{}", daemon.dump());
    assert_eq!(get_as(Some(first)), 200);

    // The password changed in the file: the next reload reads it again.
    std::fs::write(&password, "second\n").unwrap();
    daemon.signal(1);
    wait_for(Duration::from_secs(5), || {
        (daemon.logged("configuration reloaded") == 2).then_some(())
    })
    .unwrap_or_else(|| panic!("no second reload\n{}", daemon.dump()));
    assert_eq!(get_as(Some(first)), 401);
    assert_eq!(get_as(Some(second)), 200);

    // A password file others can read is refused on reload as at start:
    // the running configuration (auth with `second`, interval 5 s) stays.
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    dir.config(&auth.replace("interval = 5s", "interval = 2s"));
    daemon.signal(1);
    let wanted = format!("auth_password_file {}: mode 644", password.display());
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "no `{wanted}` logged\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("keeping the running configuration", Duration::from_secs(1)));
    assert_eq!(get_as(None), 401);
    assert_eq!(get_as(Some(second)), 200);
    assert_eq!(daemon.logged("configuration reloaded"), 2);

    // `allow` tightened by a reload: this client (127.0.0.1) is refused.
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir.config(&format!("{auth}\nallow = 127.0.0.2/32"));
    daemon.signal(1);
    wait_for(Duration::from_secs(5), || {
        (daemon.logged("configuration reloaded") == 3).then_some(())
    })
    .unwrap_or_else(|| panic!("no third reload\n{}", daemon.dump()));
    assert_eq!(get_as(Some(second)), 403);
}

/// A GET of `/data.json` answered 200 within 2 s: the loop is not stuck.
fn answers_within_two_seconds(daemon: &Daemon) {
    let asked = std::time::Instant::now();
    let status = daemon.get("/data.json").status;
    let took = asked.elapsed();
    assert!(
        status == 200 && took < Duration::from_secs(2),
        "status {status} after {took:?}\n{}",
        daemon.dump()
    );
}

/// Waits for the reload's refusal naming `reason`, on one line with
/// "keeping the running configuration".
fn wait_refusal(daemon: &Daemon, reason: &str) {
    let refused = wait_for(Duration::from_secs(5), || {
        let log = daemon.log.lock().unwrap();
        log.iter()
            .any(|l| {
                l.contains("SIGHUP: ")
                    && l.contains(reason)
                    && l.contains("keeping the running configuration")
            })
            .then_some(())
    });
    assert!(
        refused.is_some(),
        "no refusal naming `{reason}`\n{}",
        daemon.dump()
    );
}

/// The config (and the password file it names) is read by the loop on
/// SIGHUP: a FIFO put in its place stopped the loop (no HTTP answer) until
/// someone wrote into it, and a symlink to /dev/zero made it allocate until
/// it died. Each is refused by name and the running configuration stays.
#[test]
fn sighup_refuses_a_fifo_or_device_as_the_config_or_password_file_and_keeps_serving() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("sighup-fifo");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 5s");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let mkfifo = |path: &std::path::Path| {
        let _ = std::fs::remove_file(path);
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
    };

    mkfifo(&config);
    daemon.signal(1);
    std::thread::sleep(Duration::from_millis(200));
    answers_within_two_seconds(&daemon);
    wait_refusal(
        &daemon,
        &format!(
            "{}: cannot read: a FIFO, not a regular file",
            config.display()
        ),
    );

    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    daemon.signal(1);
    std::thread::sleep(Duration::from_millis(200));
    answers_within_two_seconds(&daemon);
    wait_refusal(
        &daemon,
        "cannot read: a character device, not a regular file",
    );

    // A FIFO of mode 600 as the password file passes the mode check.
    std::fs::remove_file(&config).unwrap();
    let password = dir.join("password");
    mkfifo(&password);
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 2s\nauth_user = admin\nauth_password_file = {}",
        password.display()
    ));
    daemon.signal(1);
    std::thread::sleep(Duration::from_millis(200));
    answers_within_two_seconds(&daemon);
    wait_refusal(
        &daemon,
        &format!(
            "auth_password_file {}: a FIFO, not a regular file",
            password.display()
        ),
    );
    // Nothing of the refused files took: no auth, the 5 s interval.
    assert_eq!(interval_s(&daemon), 5.0);
    assert_eq!(daemon.logged("configuration reloaded"), 0);
}

/// An editor that truncates the file and then writes it can be caught
/// between the two by a SIGHUP: an empty file (or one of blanks and
/// comments) was applied as the defaults, moving `state_dir` and `log_dir`
/// to /var/lib/sysmon and /var/log/sysmon. It is refused and logged; the
/// next complete file is applied as usual.
#[test]
fn sighup_refuses_an_empty_config_and_keeps_the_running_one() {
    let dir = TempDir::new("sighup-empty");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 2s");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(interval_s(&daemon), 2.0);

    for (round, empty) in ["", "# being saved\n\n   \n"].into_iter().enumerate() {
        std::fs::write(&config, empty).unwrap();
        daemon.signal(1);
        let wanted = format!(
            "SIGHUP: {}: empty; keeping the running configuration",
            config.display()
        );
        wait_for(Duration::from_secs(5), || {
            (daemon.logged(&wanted) == round + 1).then_some(())
        })
        .unwrap_or_else(|| panic!("no `{wanted}` logged\n{}", daemon.dump()));
        assert!(
            daemon
                .log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("error") && l.contains(&wanted)),
            "not logged as an error\n{}",
            daemon.dump()
        );
    }
    // The running configuration stays: the interval, and state_dir (the
    // default one, where the boot log and history file would move, is
    // never named).
    assert_eq!(interval_s(&daemon), 2.0);
    assert_eq!(daemon.logged("/var/lib/sysmon"), 0, "{}", daemon.dump());
    assert_eq!(daemon.logged("configuration reloaded"), 0);

    dir.config("backup = off\nupdate_manager = none\ninterval = 3s");
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert_eq!(interval_s(&daemon), 3.0);
}

/// A SIGHUP that moves `state_dir` to a place sysmon cannot use (a regular
/// file here) is refused before anything is applied: the history file and
/// the boot log stay where they work, and the interval changed in the same
/// file is not applied either. The build before applied the reload,
/// logged `running without the history file` and `running without the
/// boot log`, and /data.json's `boots` became null.
#[test]
fn sighup_refuses_a_state_dir_it_cannot_use_and_keeps_the_running_one() {
    let dir = TempDir::new("sighup-state-dir");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 2s");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(interval_s(&daemon), 2.0);
    assert!(
        !matches!(
            field(&daemon.data(), &["boots"]),
            Some(miniserde::json::Value::Null) | None
        ),
        "a boot log to begin with\n{}",
        daemon.dump()
    );
    let not_a_dir = dir.join("a-file");
    std::fs::write(&not_a_dir, "not a directory").unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            &format!("state_dir = {}/state", dir.path().display()),
            &format!("state_dir = {}", not_a_dir.display()),
        )
        .replace("interval = 2s", "interval = 3s");
    std::fs::write(&config, text).unwrap();
    daemon.signal(1);
    let wanted = format!(
        "SIGHUP: state_dir: {}: exists and is not a directory; keeping the running configuration",
        not_a_dir.display()
    );
    assert!(
        daemon.wait_log(&wanted, Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert!(daemon.logged("keeping the running configuration") >= 1);
    assert_eq!(daemon.logged("configuration reloaded"), 0);
    assert_eq!(daemon.logged("running without the history file"), 0);
    assert_eq!(daemon.logged("running without the boot log"), 0);
    assert_eq!(interval_s(&daemon), 2.0);
    assert!(
        !matches!(
            field(&daemon.data(), &["boots"]),
            Some(miniserde::json::Value::Null) | None
        ),
        "{}",
        daemon.dump()
    );
    assert!(dir.join("state/boots.log").is_file());
}
